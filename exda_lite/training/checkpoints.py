"""Checkpoints: atomic files, weights with their model config (safetensors), full training state, resume checks.

``last.pt`` holds the whole training state (model, optimizer, scheduler, grad scaler, every
RNG, epoch and position inside the epoch) and is loaded with ``weights_only=True``;
``model.safetensors`` holds the weights plus the model config, for ``exda-lite eval/restore``.
Both are written atomically (temporary file, fsync, rename): a run killed while saving
leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from .. import files
from ..nn.configs import ExDAConfig
from ..nn.model import ExDA
from .config import RESUME_MUST_MATCH, TrainConfig
from .distributed import check_ranks_in_sync, unwrap
from .speed import ema_state, load_ema_state

if TYPE_CHECKING:  # the loop imports this module
    from .loop import Run

CHECKPOINT_FORMAT = "exda-lite-checkpoint-v1"


class CheckpointMismatchError(ValueError):
    """A checkpoint does not fit this run (another model, setting, batch size, ...)."""


def atomic_write(path: Path, write: Callable) -> None:
    """Call ``write(file)`` on a temporary file beside ``path``, fsync, then rename it over ``path``.

    A crash or an error leaves either the old file or the new one, never half of one, and no temporary file;
    a full disk raises ``exda_lite.files.DiskFullError`` (one line). See :func:`exda_lite.files.atomic_write`.
    """
    files.atomic_write(path, write)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    files.write_bytes(path, data)


def atomic_torch_save(obj, path: Path) -> None:
    """``torch.save`` through a temporary file and an atomic rename."""
    atomic_write(path, lambda f: torch.save(obj, f))


def model_description(model: nn.Module, name: str | None = None) -> dict:
    """What is needed to rebuild ``model``: its ExDAConfig as a dict (and the config's name if known)."""
    model = unwrap(model)
    if not isinstance(model, ExDA):
        return {"name": name or type(model).__name__, "config": None}
    return {"name": name, "config": model.config.to_dict()}


def save_weights(model: nn.Module, path, name: str | None = None, extra: dict | None = None) -> Path:
    """Save the weights as safetensors, with the model config in the metadata (atomic)."""
    from safetensors.torch import save as safetensors_bytes

    description = model_description(model, name)
    metadata = {"format": CHECKPOINT_FORMAT, "model_name": str(description["name"]),
                "model_config": json.dumps(description["config"]), "extra": json.dumps(extra or {})}
    tensors = {k: v.detach().cpu().contiguous() for k, v in unwrap(model).state_dict().items()}
    path = Path(path)
    atomic_write_bytes(path, safetensors_bytes(tensors, metadata=metadata))
    return path


def weights_file_problem(path: Path) -> str | None:
    """What is wrong with ``path`` as a weights file, in a few words (None: it looks like one)."""
    size = path.stat().st_size
    if size == 0:
        return "empty file (0 bytes)"
    with open(path, "rb") as f:
        head = f.read(16)
    if head[:2] == b"PK":  # torch.save's zip archive
        return None
    if size >= 8 and len(head) > 8 and head[8:9] == b"{":  # safetensors: 8-byte header length, then JSON
        header = int.from_bytes(head[:8], "little")
        return None if 8 + header <= size else f"truncated safetensors file ({size} bytes, header says >{8 + header})"
    if all(32 <= b < 127 or b in (9, 10, 13) for b in head):
        return "a text file, not weights (expected .safetensors or last.pt written by exda-lite)"
    return "not a safetensors or torch checkpoint file"


def checked_file(path) -> Path:
    """``path`` as a Path, after a one-line error for a missing file or one that cannot hold weights."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    problem = weights_file_problem(path)
    if problem:
        raise CheckpointMismatchError(f"{path}: {problem}")
    return path


def read_weights(path) -> tuple[dict, dict]:
    """(state_dict, info) from a ``.safetensors`` or a ``last.pt`` (its EMA weights if it has them);
    info has ``model_name``, ``model_config``. Unreadable files raise ``CheckpointMismatchError`` (one line)."""
    path = checked_file(path)
    with open(path, "rb") as f:
        is_torch_zip = f.read(2) == b"PK"
    if not is_torch_zip:
        return read_safetensors(path)
    checkpoint = load_checkpoint(path)
    state = checkpoint.get("ema") or checkpoint["model"]
    return state, {"model_name": checkpoint["model_name"], "model_config": checkpoint["model_config"],
                   "global_step": checkpoint["global_step"], "ema": "ema" in checkpoint}


def read_safetensors(path: Path) -> tuple[dict, dict]:
    from safetensors import safe_open
    from safetensors.torch import load_file

    try:
        with safe_open(str(path), "pt") as f:
            metadata = f.metadata() or {}
        state = load_file(str(path))
    except Exception as error:  # noqa: BLE001 - safetensors raises its own error types
        reason = str(error).splitlines()[0][:80]
        raise CheckpointMismatchError(f"{path}: unreadable safetensors file, truncated or corrupt ({reason})") from None
    if metadata.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointMismatchError(f"{path} has no exda-lite metadata (format {metadata.get('format')!r}); "
                                      "it was not written by exda-lite, so its model config is unknown")
    info = {"model_name": metadata["model_name"], "model_config": json.loads(metadata["model_config"]),
            **json.loads(metadata.get("extra", "{}"))}
    return state, info


def load_model(path, device="cpu") -> tuple[ExDA, dict]:
    """Rebuild the network stored in ``path`` (safetensors or last.pt) and load its weights; returns (model, info)."""
    state, info = read_weights(path)
    if info.get("model_config") is None:
        raise CheckpointMismatchError(f"{path} holds a {info.get('model_name')} that is not an ExDA model; "
                                      "build the model yourself and load the state dict")
    model = ExDA(ExDAConfig(**info["model_config"]))
    load_state_checked(model, state, path)
    return model.to(device).eval(), info


def load_state_checked(model: nn.Module, state: dict, path) -> None:
    """``load_state_dict`` with an error that names missing, unexpected and mis-shaped tensors."""
    own = unwrap(model).state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = [f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
              for k in own if k in state and state[k].shape != own[k].shape]
    if missing or unexpected or shapes:
        raise CheckpointMismatchError(
            f"{path} does not fit this model (weights of another model?): {len(missing)} missing tensors {missing[:3]}, "
            f"{len(unexpected)} unexpected {unexpected[:3]}, {len(shapes)} with other shapes {shapes[:3]}")
    unwrap(model).load_state_dict(state)


def load_checkpoint(path) -> dict:
    """Load a ``last.pt`` training checkpoint safely (``weights_only=True``: tensors and plain types only)."""
    path = checked_file(path)
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - zip, pickle and weights_only errors alike
        reason = str(error).splitlines()[0][:80]
        raise CheckpointMismatchError(f"{path}: unreadable torch checkpoint, truncated or corrupt ({reason})") from None
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointMismatchError(f"{path} is not an exda-lite training checkpoint")
    return checkpoint


def check_resume_compatible(checkpoint: dict, config: TrainConfig, model: nn.Module, world_size: int,
                            path) -> list[str]:
    """Raise ``CheckpointMismatchError`` if the checkpoint cannot continue this run; return harmless changes."""
    ours = model_description(model, config.model)
    if checkpoint["model_config"] != ours["config"]:
        theirs = checkpoint["model_config"] or {}
        mine = ours["config"] or {}
        differing = [f"{k}: checkpoint {theirs.get(k)!r} vs this run {mine.get(k)!r}"
                     for k in sorted(set(theirs) | set(mine)) if theirs.get(k) != mine.get(k)]
        raise CheckpointMismatchError(
            f"{path} was trained with model {checkpoint['model_name']!r}, this run builds {config.model!r}; "
            f"model config differs in {differing}. Resume with the same MODEL (and overrides), or start a fresh "
            f"run (resume='') in another out_dir, or use init_weights= for a compatible model")
    saved = checkpoint["train_config"]
    defaults = TrainConfig.__dataclass_fields__  # a checkpoint older than a field had its default
    saved = {k: saved.get(k, defaults[k].default) for k in RESUME_MUST_MATCH} | saved
    problems = [f"{k}: checkpoint {saved.get(k)!r} vs this run {getattr(config, k)!r}"
                for k in RESUME_MUST_MATCH if saved.get(k) != getattr(config, k)]
    if checkpoint["world_size"] != world_size:
        problems.append(f"processes: checkpoint {checkpoint['world_size']} vs this run {world_size}")
    if problems:
        raise CheckpointMismatchError(
            f"{path} cannot continue this run exactly, because the data order or the objective would change: "
            f"{problems}. Resume with the original values, or start a new run with init_weights={str(path)!r}")
    ignore = {"resume", "init_weights", "progress", "tensorboard", "num_workers", "device", "out_dir"}
    return [f"{k}: {saved.get(k)!r} -> {v!r}" for k, v in config.to_dict().items()
            if k not in ignore and k in saved and saved[k] != v]


def rng_state() -> dict:
    """Every RNG the loop might touch, as tensors and plain types (loadable with ``weights_only=True``)."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {"python": random.getstate(), "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), int(pos),
                                                    int(has_gauss), float(cached)),
             "torch": torch.get_rng_state(), "cuda": []}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


def resume_path(config: TrainConfig) -> Path | None:
    """The ``last.pt`` this run continues, or None for a fresh run."""
    path = Path(config.resume) if config.resume not in ("", "auto") else Path(config.out_dir) / "last.pt"
    return path if config.resume != "" and (config.resume != "auto" or path.exists()) else None


@dataclass(frozen=True)
class Position:
    """Where a resumed run picks up: the epoch and the batch within it, the optimizer steps done, the best PSNR."""

    epoch: int
    batch: int
    global_step: int
    best_psnr: float


def resume_or_initialise(run: Run) -> Position | None:
    """Load ``config.resume`` into the run's model, optimizer, schedule, scaler, EMA and RNGs and return the
    :class:`Position` to continue from; or load ``config.init_weights`` and return None (a fresh start)."""
    config, ctx = run.config, run.ctx
    path = resume_path(config)
    if path is not None:
        try:
            checkpoint = load_checkpoint(path)
        except CheckpointMismatchError as error:  # unreadable: name what else is there to continue from
            raise CheckpointMismatchError(f"{error}; {snapshot_hint(path)}") from None
        changes = check_resume_compatible(checkpoint, config, run.model, ctx.world_size, path)
        load_state_checked(run.model, checkpoint["model"], path)
        run.optimizer.load_state_dict(checkpoint["optimizer"])
        run.scheduler.load_state_dict(checkpoint["scheduler"])
        run.scheduler.base_lrs = [config.lr for _ in run.scheduler.base_lrs]
        run.scaler.load_state_dict(checkpoint["scaler"])
        if run.ema is not None and "ema" in checkpoint:
            load_ema_state(run.ema, {"weights": checkpoint["ema"], "n_averaged": checkpoint["ema_n_averaged"]})
        elif run.ema is not None:
            raise CheckpointMismatchError(f"{path} has no EMA weights, but this run asks for ema={config.ema}; "
                                          "resume without --ema, or start a new run with init_weights=")
        set_rng_state(checkpoint["rng"][ctx.rank] if ctx.rank < len(checkpoint["rng"]) else checkpoint["rng"][0])
        position = Position(checkpoint["epoch"], checkpoint["step_in_epoch"], checkpoint["global_step"],
                            checkpoint.get("best_val_psnr", float("-inf")))
        run.say(f"resumed from {path} at step {position.global_step} (epoch {position.epoch}, batch {position.batch})"
                + (f"; changed since then: {changes}" if changes else ""))
        return position
    if config.init_weights:
        state, info = read_weights(config.init_weights)
        load_state_checked(run.model, state, config.init_weights)
        run.say(f"initialised the weights from {config.init_weights} ({info.get('model_name')})")
    return None


def snapshot_hint(broken: Path) -> str:
    """What to do when ``broken`` (a last.pt) cannot be read: the newest intact weights file beside it, if any."""
    intact = [p for p in Path(broken).parent.glob("*.safetensors") if weights_file_problem(p) is None]
    snapshot = max(intact, key=lambda p: p.stat().st_mtime, default=None)
    if snapshot is None:
        return f"no earlier snapshot beside it; move {broken} away to start the run afresh"
    return (f"the previous snapshot {snapshot} is intact: start a new run from it with --init-weights {snapshot} "
            f"(the optimizer state is not in it), or move {broken} away to start afresh")


def save_training_state(run: Run, epoch: int, step_in_epoch: int) -> None:
    """Write ``last.pt`` (everything needed to continue exactly) and ``model.safetensors`` (rank 0)."""
    config, ctx, model = run.config, run.ctx, run.model
    check_ranks_in_sync(model, ctx)
    states = [rng_state()]
    if ctx.world_size > 1:  # every rank's RNG, so each resumes its own stream
        states = [None] * ctx.world_size
        dist.all_gather_object(states, rng_state())
    if not ctx.main:
        return
    atomic_torch_save({
        "format": CHECKPOINT_FORMAT, "model_name": config.model, "model_config": model_description(model)["config"],
        "train_config": config.to_dict(), "world_size": ctx.world_size,
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "optimizer": run.optimizer.state_dict(), "scheduler": run.scheduler.state_dict(),
        "scaler": run.scaler.state_dict(), "rng": states, "epoch": epoch, "step_in_epoch": step_in_epoch,
        "global_step": run.global_step, "total_steps": run.total_steps, "best_val_psnr": run.best_psnr,
        **({"ema": ema_state(run.ema)["weights"], "ema_n_averaged": run.ema.n_averaged.detach().cpu(),
            "ema_decay": config.ema} if run.ema is not None else {}),
    }, run.out_dir / "last.pt")
    save_weights(run.export_model, run.out_dir / "model.safetensors", config.model, extra=export_info(run))


def export_info(run: Run, **more) -> dict:
    """The metadata of an exported weights file: step, setting, whether the weights are the EMA's."""
    return {"global_step": run.global_step, "setting": run.config.setting, "ema": run.config.ema, **more}


def save_best(run: Run, epoch: int, scores: dict) -> None:
    """``best.safetensors``: the exported weights with the best mean validation PSNR so far."""
    save_weights(run.export_model, run.out_dir / "best.safetensors", run.config.model,
                 extra=export_info(run, epoch=epoch, val_psnr=scores["psnr"], val_ssim=scores["ssim"]))


def save_snapshot(run: Run, epoch: int) -> Path:
    """``epoch_NNNN.safetensors``: a kept copy of the exported weights after ``epoch`` (``--keep-every``)."""
    return save_weights(run.export_model, run.out_dir / f"epoch_{epoch:04d}.safetensors", run.config.model,
                        extra=export_info(run, epoch=epoch))

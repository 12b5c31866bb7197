"""Training ExDA with the paper's recipe: one loop for one CPU, one GPU, or many GPUs under torchrun.

The recipe (Appendix A.2-A.3), and where each sentence lives in this file:

* "we train the model with a batch size of 32"                  -> ``TrainConfig.batch_size``
* "a combination of L1 and Fourier loss" (Eq. 4, lambda = 0.1)  -> ``RestorationLoss(fourier_weight)``
* "Adam (initial learning rate of 2e-4, beta1 = 0.9, beta2 = 0.999)" -> ``lr``, ``beta1``, ``beta2``
* "and a cosine decay schedule"                                  -> :func:`lr_factor`, stepped every iteration
* "random cropping to 128 x 128 patches, along with horizontal and vertical flipping"
                                                                 -> the datasets (``patch_size``, dihedral flips)
* epochs: 130 (3deg), 150 (5deg, CDD11), 120 (WeatherBench), 300,000 iterations (AllWeather) -> ``PAPER_RECIPE``

What the paper leaves open, and our defaults: no warm-up (``warmup_steps``), cosine decay
to 0 (``min_lr``), no gradient clipping (``grad_clip``), fp32 (``precision``; bf16 autocast is
the usual GPU choice). The schedule is stepped per iteration, so a run can stop and resume
anywhere inside an epoch.

Usage::

    from exda_lite.train import TrainConfig, train
    result = train(TrainConfig(setting="demo", model="exda_nano", epochs=2, batch_size=8, patch_size=64))
    result.model, result.history, result.weights      # trained network, CSV rows, model.safetensors

Several GPUs: the same code under ``torchrun --nproc_per_node 4 -m exda_lite train ...``. The
loop reads RANK / WORLD_SIZE from the environment, wraps the model in DistributedDataParallel
and splits the data with a DistributedSampler; ``batch_size`` stays the *global* batch.

Files in ``out_dir``: ``last.pt`` (full training state: model, optimizer, scheduler, grad
scaler, RNG states, epoch and position inside the epoch; loaded with ``weights_only=True``),
``model.safetensors`` (the weights plus the model config, for ``exda-lite eval/restore``),
``train_log.csv`` / ``val_log.csv``, ``config.json`` and, if TensorBoard is installed, ``tb/``.
Both checkpoint files are written atomically (temporary file, fsync, rename): a run killed
while saving leaves the previous checkpoint intact.
"""

from __future__ import annotations

import csv
import json
import math
import os
import random
import resource
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler
from tqdm.auto import tqdm

from .configs import CONFIGS, ExDAConfig
from .losses import RestorationLoss
from .metrics import psnr
from .model import ExDA, build_model
from .utils import count_parameters, pick_device, seed_everything

SETTINGS = ("demo", "demo_medical", "3deg", "5deg", "cdd11", "allweather", "weatherbench", "medical")
"""``demo``/``demo_medical``: offline scikit-image photos; the others: the paper's six benchmarks (Tables 1-6)."""
PRECISIONS = ("fp32", "bf16", "fp16")
CHECKPOINT_FORMAT = "exda-lite-checkpoint-v1"

PAPER_RECIPE = {
    "common": {"batch_size": 32, "patch_size": 128, "lr": 2e-4, "beta1": 0.9, "beta2": 0.999,
               "fourier_weight": 0.1, "model": "exda_b"},
    "epochs": {"3deg": 130, "5deg": 150, "cdd11": 150, "weatherbench": 120},
    "max_steps": {"allweather": 300_000},
    "table": {"3deg": 1, "5deg": 2, "cdd11": 3, "allweather": 4, "weatherbench": 5, "medical": 6},
}
"""The paper's training recipe (App. A.1-A.2). Medical: the number of epochs is not stated.
Tables 1-6 report the 22M-parameter model (``exda_b``); App. A.2 quotes 42 GB of GPU memory for ExDA-T."""


# ----------------------------------------------------------------------------- configuration

@dataclass
class TrainConfig:
    """Everything that defines a training run, grouped by concern (all fields are CLI flags too)."""

    # I/O
    out_dir: str = "runs/exda"  # checkpoints, CSV logs, config.json, TensorBoard
    resume: str = ""  # "": fresh run; "auto": out_dir/last.pt if it exists; or a path to a last.pt
    init_weights: str = ""  # start from these weights (.safetensors or .pt) but a fresh optimizer/schedule
    log_every: int = 10  # steps per row of train_log.csv
    checkpoint_every: int = 0  # steps between checkpoints; 0: at the end of every epoch only
    val_every: int = 1  # epochs between validation PSNRs (0: never)
    tensorboard: bool = True  # also log to TensorBoard when it is installed
    progress: bool = True  # tqdm progress bars (rank 0 only)
    # data
    setting: str = "demo"  # see SETTINGS
    data_root: str = ""  # the setting's folder ("" -> $EXDA_DATA/<setting folder>)
    patch_size: int = 128  # random square crops (App. A.2: 128)
    batch_size: int = 32  # global batch (App. A.2: 32), split over processes under torchrun
    num_workers: int = 0  # DataLoader worker processes
    samples_per_degradation: int = 200  # demo settings only: epoch length per degradation
    val_crop: int = 128  # demo settings only: centre crop of the held-out photos for validation (0: full)
    # model
    model: str = "exda_t"  # restormer, exda_b, exda_s, exda_t, exda_nano
    model_overrides: dict = field(default_factory=dict)  # ExDAConfig fields, e.g. {"gst": False}
    # loss (Eq. 4-5)
    fourier_weight: float = 0.1  # lambda_fre; 0 switches the Fourier term off (and says so)
    # optimizer
    lr: float = 2e-4  # Adam's initial learning rate
    beta1: float = 0.9
    beta2: float = 0.999
    weight_decay: float = 0.0
    grad_clip: float = 0.0  # clip the global gradient norm to this value (0: off)
    # schedule
    epochs: int = 130  # passes over the training set
    max_steps: int = 0  # > 0: stop after this many iterations instead (AllWeather: 300,000)
    warmup_steps: int = 0  # linear warm-up iterations before the cosine decay
    min_lr: float = 0.0  # the cosine decays from lr to min_lr
    # system
    device: str = "auto"  # auto, cpu, cuda, cuda:N, mps (under torchrun: cuda:LOCAL_RANK or cpu)
    precision: str = "fp32"  # fp32, bf16 (autocast), fp16 (autocast + GradScaler, CUDA only)
    seed: int = 0  # model initialisation, data order, patches
    deterministic: bool = False  # ask torch for deterministic kernels (slower on GPU)

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        """Clear errors for invalid values (called on construction)."""
        problems = []
        if self.setting not in SETTINGS:
            problems.append(f"setting={self.setting!r} (choose from {', '.join(SETTINGS)})")
        if self.model not in CONFIGS:
            problems.append(f"model={self.model!r} (choose from {', '.join(CONFIGS)})")
        if self.precision not in PRECISIONS:
            problems.append(f"precision={self.precision!r} (choose from {', '.join(PRECISIONS)})")
        for name in ("patch_size", "batch_size", "epochs", "log_every"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                problems.append(f"{name}={getattr(self, name)!r} (a positive integer)")
        for name in ("checkpoint_every", "val_every", "max_steps", "warmup_steps", "num_workers",
                     "samples_per_degradation", "val_crop"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 0:
                problems.append(f"{name}={getattr(self, name)!r} (an integer >= 0)")
        for name in ("lr", "fourier_weight", "weight_decay", "grad_clip", "min_lr"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0 or not math.isfinite(value):
                problems.append(f"{name}={value!r} (a finite number >= 0)")
        if not 0 <= self.beta1 < 1 or not 0 <= self.beta2 < 1:
            problems.append(f"beta1={self.beta1}, beta2={self.beta2} (each in [0, 1))")
        if problems:
            raise ValueError("invalid training configuration: " + "; ".join(problems))

    @property
    def channels(self) -> int:
        """Image channels of the setting: 1 for the medical tracks, else 3."""
        return 1 if self.setting in ("medical", "demo_medical") else 3

    def to_dict(self) -> dict:
        return asdict(self)

    def recipe_differences(self) -> list[str]:
        """Where this run departs from the paper's recipe for its setting (empty for the demo settings)."""
        if self.setting.startswith("demo"):
            return []
        diffs = [f"{name}={getattr(self, name)!r} (paper: {value!r})"
                 for name, value in PAPER_RECIPE["common"].items() if getattr(self, name) != value]
        epochs = PAPER_RECIPE["epochs"].get(self.setting)
        if epochs is not None and (self.epochs != epochs or self.max_steps):
            diffs.append(f"epochs={self.epochs}, max_steps={self.max_steps} (paper: {epochs} epochs)")
        steps = PAPER_RECIPE["max_steps"].get(self.setting)
        if steps is not None and self.max_steps != steps:
            diffs.append(f"max_steps={self.max_steps} (paper: {steps:,} iterations)")
        return diffs


# Fields that fix the data order and the objective: a resumed run must keep them.
RESUME_MUST_MATCH = ("setting", "patch_size", "batch_size", "seed", "samples_per_degradation", "fourier_weight")


class NonFiniteLossError(FloatingPointError):
    """The loss or the gradient became NaN/inf: training stops instead of writing garbage."""


class CheckpointMismatchError(ValueError):
    """A checkpoint does not fit this run (another model, setting, batch size, ...)."""


# ----------------------------------------------------------------------------- schedule

def lr_factor(step: int, total: int, warmup: int = 0, min_ratio: float = 0.0) -> float:
    """Multiplier of the base learning rate at iteration ``step`` (0-based) of ``total``.

    Linear warm-up ``(step + 1) / warmup`` for the first ``warmup`` steps, then cosine decay
    ``min_ratio + (1 - min_ratio) * 0.5 * (1 + cos(pi * t))`` with ``t = (step - warmup) / (total - warmup)``.
    """
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


# ----------------------------------------------------------------------------- data

def build_datasets(config: TrainConfig) -> tuple[Dataset, Dataset | None]:
    """The training set of ``config.setting`` and a small validation set (demo settings only)."""
    from . import datasets, demo_data

    root = config.data_root or None
    if config.setting in ("demo", "demo_medical"):
        medical = config.setting == "demo_medical"
        degradations = demo_data.MEDICAL_DEGRADATIONS if medical else demo_data.DEMO_DEGRADATIONS
        train_set = demo_data.DemoAllInOne(degradations, patch_size=config.patch_size,
                                           samples_per_degradation=config.samples_per_degradation,
                                           seed=config.seed, channels=config.channels)
        val_set = demo_data.DemoAllInOneTest(degradations, crop=config.val_crop or None, channels=config.channels)
        return train_set, val_set
    common = {"patch_size": config.patch_size, "seed": config.seed}
    if config.setting in ("3deg", "5deg"):
        return datasets.AllInOneTrain(root, setting=config.setting, **common), None
    if config.setting == "cdd11":
        return datasets.CDD11(root, split="train", **common), None
    if config.setting == "allweather":
        return datasets.AllWeather(root, split="train", **common), None
    if config.setting == "weatherbench":
        return datasets.WeatherBench(root, split="train", **common), None
    return datasets.MedicalAMIR(root, split="train", **common), None


class SkipSampler(Sampler):
    """Yield the indices of ``sampler`` after dropping the first ``skip`` (resuming inside an epoch)."""

    def __init__(self, sampler: Sampler, skip: int = 0):
        self.sampler, self.skip = sampler, skip

    def __iter__(self) -> Iterator[int]:
        iterator = iter(self.sampler)
        for _ in range(self.skip):
            next(iterator, None)
        return iterator

    def __len__(self) -> int:
        return max(0, len(self.sampler) - self.skip)


# ----------------------------------------------------------------------------- distributed

@dataclass
class DistContext:
    """Where this process sits: rank, world size, its device; ``owns_group`` if we initialised it."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    owns_group: bool = False

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world_size > 1:
            dist.barrier()

    def mean(self, tensor: torch.Tensor) -> torch.Tensor:
        if self.world_size > 1:
            tensor = tensor.clone()
            dist.all_reduce(tensor)
            tensor /= self.world_size
        return tensor


def setup_distributed(device: str = "auto") -> DistContext:
    """Read torchrun's RANK / WORLD_SIZE / LOCAL_RANK; initialise the process group (NCCL on GPUs, else gloo)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistContext(device=pick_device(device))
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", os.environ["RANK"]))
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} requested under torchrun but CUDA is not available; use 'cpu'")
    use_cuda = torch.cuda.is_available() and (device == "auto" or device.startswith("cuda"))
    if use_cuda:  # one GPU per process: cuda:LOCAL_RANK, whatever index was asked for
        torch.cuda.set_device(local_rank)
        chosen, backend = torch.device("cuda", local_rank), "nccl"
    else:
        chosen, backend = torch.device("cpu"), "gloo"
    owns = not dist.is_initialized()
    if owns:
        dist.init_process_group(backend=backend)
    return DistContext(rank, world_size, local_rank, chosen, owns)


def check_ranks_in_sync(model: nn.Module, ctx: DistContext) -> None:
    """All ranks must hold the same weights (DDP's promise); compare per-tensor checksums, raise if not."""
    if ctx.world_size == 1:
        return
    sums = torch.stack([p.detach().double().sum() for p in model.parameters()]).to(ctx.device)
    gathered = [torch.zeros_like(sums) for _ in range(ctx.world_size)]
    dist.all_gather(gathered, sums)
    for other, theirs in enumerate(gathered[1:], start=1):
        if not torch.equal(gathered[0], theirs):
            raise RuntimeError(f"rank 0 and rank {other} hold different weights: distributed training went out of sync")


# ----------------------------------------------------------------------------- checkpoints

def atomic_write(path: Path, write: Callable) -> None:
    """Call ``write(file)`` on a temporary file beside ``path``, fsync, then rename it over ``path``.

    A crash or an error leaves either the old file or the new one, never half of one, and no temporary file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    atomic_write(path, lambda f: f.write(data))


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


def read_weights(path) -> tuple[dict, dict]:
    """(state_dict, info) from a ``model.safetensors`` or a ``last.pt``; info has ``model_name``, ``model_config``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    if path.suffix == ".safetensors":
        from safetensors import safe_open
        from safetensors.torch import load_file

        with safe_open(str(path), "pt") as f:
            metadata = f.metadata() or {}
        if metadata.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointMismatchError(f"{path} has no exda-lite metadata (format {metadata.get('format')!r}); "
                                          "it was not written by exda-lite, so its model config is unknown")
        info = {"model_name": metadata["model_name"], "model_config": json.loads(metadata["model_config"]),
                **json.loads(metadata.get("extra", "{}"))}
        return load_file(str(path)), info
    checkpoint = load_checkpoint(path)
    return checkpoint["model"], {"model_name": checkpoint["model_name"], "model_config": checkpoint["model_config"],
                                 "global_step": checkpoint["global_step"]}


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
            f"{path} does not fit this model: {len(missing)} missing tensors {missing[:3]}, "
            f"{len(unexpected)} unexpected {unexpected[:3]}, {len(shapes)} with other shapes {shapes[:3]}")
    unwrap(model).load_state_dict(state)


def load_checkpoint(path) -> dict:
    """Load a ``last.pt`` training checkpoint safely (``weights_only=True``: tensors and plain types only)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
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


def unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, DistributedDataParallel) else model


# ----------------------------------------------------------------------------- logging

class CSVLog:
    """Append rows to a CSV file (flushed each row); ``truncate_after`` drops rows past a resumed step."""

    def __init__(self, path: Path, columns: list[str], fresh: bool):
        self.path, self.columns = Path(path), columns
        self.rows: list[dict] = []
        if not fresh and self.path.exists():
            with open(self.path, newline="") as f:
                self.rows = [{k: float(v) if v not in ("", None) else float("nan") for k, v in row.items()}
                             for row in csv.DictReader(f)]

    def truncate_after(self, step: int) -> None:
        self.rows = [row for row in self.rows if row["step"] <= step]
        self.rewrite()

    def rewrite(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "w", newline="") as f:
            writer = csv.DictWriter(f, self.columns, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(self.rows)

    def append(self, row: dict) -> None:
        self.rows.append(row)
        new = not self.path.exists()
        with open(self.path, "a", newline="") as f:
            writer = csv.DictWriter(f, self.columns, extrasaction="ignore")
            if new:
                writer.writeheader()
            writer.writerow(row)


TRAIN_COLUMNS = ["step", "epoch", "lr", "loss", "l1", "fourier", "grad_norm", "images_per_s", "seconds",
                 "peak_mem_gb"]
VAL_COLUMNS = ["step", "epoch", "val_psnr", "val_psnr_input"]


def make_tensorboard(config: TrainConfig, out_dir: Path):
    if not config.tensorboard:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except Exception:  # noqa: BLE001 - TensorBoard is optional: the CSV logs have everything
        return None
    return SummaryWriter(str(out_dir / "tb"))


def peak_memory_gb(device: torch.device) -> float:
    """Peak memory so far: CUDA allocator peak on a GPU, else the process's peak resident set size."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # Linux reports KiB


# ----------------------------------------------------------------------------- the loop

@dataclass
class TrainResult:
    """What :func:`train` returns."""

    model: nn.Module  # the trained network (unwrapped from DDP), in eval mode
    config: TrainConfig
    history: list[dict]  # rows of train_log.csv
    val_history: list[dict]  # rows of val_log.csv
    checkpoint: Path  # last.pt
    weights: Path  # model.safetensors
    global_step: int
    total_steps: int
    seconds: float  # wall time of this call
    resumed_from_step: int = 0


def autocast_context(device: torch.device, precision: str):
    """``torch.autocast`` for bf16/fp16 (a no-op context for fp32)."""
    if precision == "fp32":
        return torch.autocast(device.type, enabled=False)
    return torch.autocast(device.type, dtype=torch.bfloat16 if precision == "bf16" else torch.float16)


def check_precision(precision: str, device: torch.device) -> None:
    if precision == "fp16" and device.type != "cuda":
        raise ValueError("precision='fp16' needs a CUDA GPU (GradScaler); on this device use 'bf16' or 'fp32'")
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ValueError("this GPU does not support bf16; use precision='fp16' (with GradScaler) or 'fp32'")
    if precision != "fp32" and device.type == "mps":
        raise ValueError("mixed precision is not supported here on MPS; use precision='fp32'")


@torch.no_grad()
def validation_psnr(model: nn.Module, dataset: Dataset, device: torch.device, precision: str) -> tuple[float, float]:
    """Mean PSNR (dB) of the model's output and of the degraded input over ``dataset``."""
    was_training = model.training
    model.eval()
    restored_psnrs, input_psnrs = [], []
    for index in range(len(dataset)):
        degraded, clean, _ = dataset[index]
        degraded, clean = degraded[None].to(device), clean[None].to(device)
        with autocast_context(device, precision):
            restored = model(degraded)
        restored_psnrs.append(psnr(restored.float(), clean).item())
        input_psnrs.append(psnr(degraded, clean).item())
    model.train(was_training)
    return float(np.mean(restored_psnrs)), float(np.mean(input_psnrs))


def train(config: TrainConfig, model: nn.Module | None = None, train_set: Dataset | None = None,
          val_set: Dataset | None = None, callbacks: list[Callable[[dict], None]] = ()) -> TrainResult:
    """Train with ``config``; resume from a checkpoint if ``config.resume`` says so.

    Args:
        config: the run (see :class:`TrainConfig`).
        model: a network to train instead of ``build_model(config.model, **config.model_overrides)``.
        train_set, val_set: datasets instead of those of ``config.setting`` (items ``(degraded, clean, label)``).
        callbacks: functions called after every optimizer step with ``{"step", "epoch", "loss", "lr"}``;
            an exception raised there stops training (the tests use this to simulate a crash).

    Raises:
        NonFiniteLossError: the loss or the gradient norm became NaN/inf (the message says when and what to try).
        CheckpointMismatchError: ``config.resume`` points to a checkpoint of another model or data setup.
    """
    start_time = time.time()
    ctx = setup_distributed(config.device)
    try:
        return _train(config, ctx, model, train_set, val_set, callbacks, start_time)
    finally:
        if ctx.owns_group and dist.is_initialized():
            dist.destroy_process_group()


def _train(config, ctx, model, train_set, val_set, callbacks, start_time) -> TrainResult:
    device, say = ctx.device, (print if ctx.main else (lambda *a, **k: None))
    check_precision(config.precision, device)
    out_dir = Path(config.out_dir)
    seed_everything(config.seed, deterministic=config.deterministic)
    if device.type == "cuda" and not config.deterministic:
        torch.backends.cudnn.benchmark = True

    # ---- model, data, objective, optimizer, schedule
    if model is None:
        overrides = {"in_channels": config.channels, "out_channels": config.channels, **config.model_overrides}
        model = build_model(config.model, **overrides)
    model = model.to(device)
    if train_set is None:
        train_set, default_val = build_datasets(config)
        val_set = val_set if val_set is not None else default_val
    if config.batch_size % ctx.world_size:
        raise ValueError(f"batch_size {config.batch_size} is the global batch: it must be divisible by the "
                         f"{ctx.world_size} processes")
    per_rank_batch = config.batch_size // ctx.world_size
    sampler = DistributedSampler(train_set, num_replicas=ctx.world_size, rank=ctx.rank, shuffle=True,
                                 seed=config.seed, drop_last=True)
    steps_per_epoch = len(sampler) // per_rank_batch
    if steps_per_epoch == 0:
        raise ValueError(f"the training set has {len(train_set)} items, fewer than one batch of {config.batch_size}")
    total_steps = config.max_steps or config.epochs * steps_per_epoch
    epochs = math.ceil(total_steps / steps_per_epoch)

    loss_fn = RestorationLoss(fourier_weight=config.fourier_weight)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, betas=(config.beta1, config.beta2),
                                 weight_decay=config.weight_decay)
    min_ratio = config.min_lr / config.lr if config.lr else 0.0
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, total_steps, config.warmup_steps, min_ratio))
    scaler = torch.amp.GradScaler(device.type, enabled=config.precision == "fp16")

    # ---- resume (or start fresh)
    start_epoch, start_batch, global_step = 0, 0, 0
    resume_path = Path(config.resume) if config.resume not in ("", "auto") else out_dir / "last.pt"
    resuming = config.resume != "" and (config.resume != "auto" or resume_path.exists())
    if resuming:
        checkpoint = load_checkpoint(resume_path)
        changes = check_resume_compatible(checkpoint, config, model, ctx.world_size, resume_path)
        load_state_checked(model, checkpoint["model"], resume_path)
        optimizer.load_state_dict(checkpoint["optimizer"])
        scheduler.load_state_dict(checkpoint["scheduler"])
        scheduler.base_lrs = [config.lr for _ in scheduler.base_lrs]
        scaler.load_state_dict(checkpoint["scaler"])
        set_rng_state(checkpoint["rng"][ctx.rank] if ctx.rank < len(checkpoint["rng"]) else checkpoint["rng"][0])
        start_epoch, start_batch, global_step = checkpoint["epoch"], checkpoint["step_in_epoch"], checkpoint["global_step"]
        say(f"resumed from {resume_path} at step {global_step} (epoch {start_epoch}, batch {start_batch})"
            + (f"; changed since then: {changes}" if changes else ""))
    elif config.init_weights:
        state, info = read_weights(config.init_weights)
        load_state_checked(model, state, config.init_weights)
        say(f"initialised the weights from {config.init_weights} ({info.get('model_name')})")
    resumed_from = global_step

    ddp_model = model
    if ctx.world_size > 1:
        ddp_model = DistributedDataParallel(model, device_ids=[ctx.local_rank] if device.type == "cuda" else None)

    # ---- logs
    train_log = CSVLog(out_dir / "train_log.csv", TRAIN_COLUMNS, fresh=not resuming)
    val_log = CSVLog(out_dir / "val_log.csv", VAL_COLUMNS, fresh=not resuming)
    writer = None
    if ctx.main:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "config.json").write_text(json.dumps(config.to_dict(), indent=2))
        train_log.truncate_after(global_step)  # rows logged after the checkpoint are replayed
        val_log.truncate_after(global_step)
        writer = make_tensorboard(config, out_dir)
    if config.fourier_weight == 0:
        say("note: fourier_weight=0 -- the Fourier term of Eq. 4 is OFF (L1 only)")
    for difference in config.recipe_differences():
        say(f"recipe: {difference}")
    say(f"training {config.model} ({count_parameters(model):,} parameters) on {config.setting}: "
        f"{len(train_set)} samples, {steps_per_epoch} steps/epoch x {epochs} epochs = {total_steps} steps, "
        f"batch {config.batch_size} ({ctx.world_size} process(es)), patch {config.patch_size}, device {device}, "
        f"{config.precision}")

    def save(epoch: int, step_in_epoch: int) -> None:
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
            "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(),
            "rng": states, "epoch": epoch, "step_in_epoch": step_in_epoch, "global_step": global_step,
            "total_steps": total_steps,
        }, out_dir / "last.pt")
        save_weights(model, out_dir / "model.safetensors", config.model,
                     extra={"global_step": global_step, "setting": config.setting})

    def validate(epoch: int) -> None:
        if val_set is None or not ctx.main:
            return
        restored, degraded = validation_psnr(model, val_set, device, config.precision)
        val_log.append({"step": global_step, "epoch": epoch, "val_psnr": restored, "val_psnr_input": degraded})
        if writer:
            writer.add_scalar("val/psnr", restored, global_step)
        say(f"epoch {epoch}: held-out PSNR {restored:.2f} dB (degraded input {degraded:.2f} dB)")

    # ---- train
    if global_step == 0 and config.val_every:
        validate(0)  # the starting point: the untrained network on the held-out images
    if start_batch >= steps_per_epoch:
        start_epoch, start_batch = start_epoch + 1, 0
    ddp_model.train()
    window, window_start, images = [], time.time(), 0
    for epoch in range(start_epoch, epochs):
        if global_step >= total_steps:
            break
        sampler.set_epoch(epoch)
        if hasattr(train_set, "set_epoch"):
            train_set.set_epoch(epoch)  # new random patches every epoch
        skip = start_batch if epoch == start_epoch else 0
        loader = DataLoader(train_set, batch_size=per_rank_batch, sampler=SkipSampler(sampler, skip * per_rank_batch),
                            num_workers=config.num_workers, drop_last=True, pin_memory=device.type == "cuda")
        bar = tqdm(total=steps_per_epoch, initial=skip, desc=f"epoch {epoch + 1}/{epochs}",
                   disable=not (config.progress and ctx.main), leave=False)
        position = skip  # batches of this epoch done
        for batch_index, (degraded, clean, _) in enumerate(loader, start=skip):
            if global_step >= total_steps:
                break
            degraded = degraded.to(device, non_blocking=True)
            clean = clean.to(device, non_blocking=True)
            with autocast_context(device, config.precision):
                restored = ddp_model(degraded)
            parts = loss_fn(restored.float(), clean)  # the loss in fp32, whatever the autocast dtype
            values = ctx.mean(torch.stack([parts["total"].detach(), parts["l1"].detach(),
                                           parts.get("fourier", torch.zeros((), device=device)).detach()]))
            lr = optimizer.param_groups[0]["lr"]
            if not torch.isfinite(values).all():
                raise NonFiniteLossError(
                    f"non-finite loss at step {global_step + 1} (epoch {epoch + 1}): total={values[0].item()}, "
                    f"l1={values[1].item()}, fourier={values[2].item()}, lr={lr:.3g}, precision={config.precision}. "
                    "Training stopped; the last good checkpoint is untouched. Try a lower lr, grad_clip=1.0, "
                    "warmup_steps, or bf16/fp32 instead of fp16; check the data for NaN/inf pixels.")
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(parts["total"]).backward()
            scaler.unscale_(optimizer)
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip or float("inf"))
            if config.precision != "fp16" and not torch.isfinite(grad_norm):
                raise NonFiniteLossError(
                    f"non-finite gradient norm at step {global_step + 1} (epoch {epoch + 1}) with a finite loss "
                    f"{values[0].item():.4g}; lr={lr:.3g}. Try a lower lr or grad_clip=1.0.")
            scaler.step(optimizer)  # fp16: skipped when the scaled gradients overflowed
            scaler.update()
            scheduler.step()
            global_step += 1
            position = batch_index + 1
            images += config.batch_size
            window.append(torch.cat([values, grad_norm.detach().float().reshape(1).to(device)]))
            bar.update(1)
            if global_step % config.log_every == 0 or global_step == total_steps:
                means = torch.stack(window).mean(0).tolist()
                elapsed = time.time() - window_start
                row = {"step": global_step, "epoch": epoch + position / steps_per_epoch, "lr": lr,
                       "loss": means[0], "l1": means[1], "fourier": means[2], "grad_norm": means[3],
                       "images_per_s": images / max(elapsed, 1e-9), "seconds": time.time() - start_time,
                       "peak_mem_gb": peak_memory_gb(device)}
                if ctx.main:
                    train_log.append(row)
                    if writer:
                        for key in ("loss", "l1", "fourier", "lr", "grad_norm", "images_per_s"):
                            writer.add_scalar(f"train/{key}", row[key], global_step)
                bar.set_postfix(loss=f"{means[0]:.4f}", lr=f"{lr:.2e}")
                window, window_start, images = [], time.time(), 0
            for callback in callbacks:
                callback({"step": global_step, "epoch": epoch, "loss": values[0].item(), "lr": lr})
            if config.checkpoint_every and global_step % config.checkpoint_every == 0:
                save(epoch, position)
        bar.close()
        if position >= steps_per_epoch:
            save(epoch + 1, 0)
            if config.val_every and ((epoch + 1) % config.val_every == 0 or global_step >= total_steps):
                validate(epoch + 1)
        else:  # stopped inside the epoch (max_steps)
            save(epoch, position)
            validate(epoch + 1)
        ctx.barrier()
    if writer:
        writer.close()
    model.eval()
    return TrainResult(model=model, config=config, history=train_log.rows, val_history=val_log.rows,
                       checkpoint=out_dir / "last.pt", weights=out_dir / "model.safetensors",
                       global_step=global_step, total_steps=total_steps, seconds=time.time() - start_time,
                       resumed_from_step=resumed_from)


def config_from_dict(values: dict) -> TrainConfig:
    """A ``TrainConfig`` from a dict (e.g. ``config.json``), with a clear error for unknown keys."""
    valid = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(values) - valid)
    if unknown:
        raise TypeError(f"unknown training option(s) {unknown}; valid options are {sorted(valid)}")
    return TrainConfig(**values)


if __name__ == "__main__":  # pragma: no cover - use `python -m exda_lite train`
    sys.exit("run training with `exda-lite train ...` or `python -m exda_lite train ...`")

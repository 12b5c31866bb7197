"""Small attention models and a training loop for the span-limitation experiments (Sec. 3.2).

Both models of a comparison are *the same network* built from the canonical
``ExDABlock``; only the function inside the value transform differs:

* ``"nonlinear"``: V' = V + g(V), g = Conv1x1 -> DWConv3x3 -> **GELU** -> Conv1x1 (Eq. 1)
* ``"linear"``:    V' = V + g(V), g = Conv1x1 -> DWConv3x3 -> **identity** -> Conv1x1
* ``"post"``:      the same g with GELU applied *after* aggregation: Y + g(Y), Y = A V

so parameter count and compute are identical, and the linear model's attention output
stays a linear function of its input given the attention map (Eq. 7). ``"post"`` tests
the paper's claim that a post-aggregation nonlinearity "cannot escape" the limitation.

By default the blocks are attention-only (``ffn=False``): the experiment isolates the
attention operator, which is what Sec. 3.1's argument is about. With ``ffn=True`` every
block gets Restormer's GDFN, whose GELU gate gives the linear model a nonlinearity
elsewhere; expect the gap to shrink (an exercise in notebook 02).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .. import files
from ..training.metrics import psnr
from ..training.schedule import lr_factor
from ..training.speed import channels_last_default
from ..training.preemption import Preempted, stop_requested

# moved to exda_lite.nn.tiny; re-exported until the notebooks import it from there
from ..nn.tiny import NORMS, VALUE_KINDS, ToyAttentionNet, norm_layer  # noqa: E402,F401


def cosine_lr(step: int, total: int, base: float, warmup: int = 0) -> float:
    """Linear warm-up for ``warmup`` steps, then cosine decay to zero at ``total`` (``schedule.lr_factor``)."""
    return lr_factor(step, total, warmup, base=base)


@torch.no_grad()
def evaluate_toy(model: nn.Module, degraded: torch.Tensor, clean: torch.Tensor,
                 batch_size: int = 256, channels_last: bool = False) -> dict[str, float]:
    """Mean squared error and mean PSNR (dB) of the model on a held-out set."""
    model.eval()
    device = next(model.parameters()).device
    sq_err, psnrs = 0.0, []
    for start in range(0, len(degraded), batch_size):
        y = layout(degraded[start:start + batch_size].to(device), channels_last)
        x = clean[start:start + batch_size].to(device)
        pred = model(y)
        sq_err += F.mse_loss(pred, x, reduction="sum").item()
        psnrs.append(psnr(pred, x))
    model.train()
    return {"mse": sq_err / clean.numel(), "psnr": torch.cat(psnrs).mean().item()}


def train_toy(model: nn.Module, task: dict[str, torch.Tensor], steps: int = 800, batch_size: int = 64,
              lr: float = 3e-3, eval_every: int = 50, seed: int = 0, device="cpu",
              progress: bool = True, desc: str = "", state_path=None, save_every: int = 500,
              ema: float = 0.0, channels_last: bool | None = None, eval_raw: bool = False) -> list[dict]:
    """Train on ``task['train_degraded'] -> task['train_clean']`` with MSE and Adam + cosine decay.

    Evaluates on the test split every ``eval_every`` steps and at the end. With ``state_path`` the full state
    (weights, Adam, batch RNG, history) is saved every ``save_every`` steps and a killed run continues from it
    exactly (the reference experiments rely on this). With ``ema`` > 0 an exponential moving average of the
    weights (:func:`ema_model`) is what is evaluated, and ``model`` ends with the averaged weights.
    ``channels_last`` (None: :func:`toy_channels_last`): NHWC memory, the same statistics (tested), NCHW at the end.
    ``eval_raw`` (with ``ema``): also score the raw weights at every evaluation (``raw_test_mse``, ``raw_test_psnr``;
    the EMA-lag probe of ``reference.convergence``); it draws no random numbers, so the EMA curve is unchanged.
    Returns the history: a list of ``{"step", "train_loss", "test_mse", "test_psnr"}``.
    """
    generator = torch.Generator().manual_seed(seed)
    channels_last = toy_channels_last(task["train_degraded"], device) if channels_last is None else channels_last
    model.to(device, memory_format=torch.channels_last if channels_last else torch.preserve_format).train()
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    averaged = ema_model(model, ema) if ema else None
    n = len(task["train_clean"])
    history, running, start = [], [], 1
    if state_path is not None and Path(state_path).is_file():
        state = torch.load(state_path, map_location="cpu", weights_only=True)
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        generator.set_state(state["generator"])
        if averaged is not None:
            averaged.load_state_dict(state["ema"])
        history, running, start = state["history"], state["running"], state["step"] + 1
    for step in tqdm(range(start, steps + 1), desc=desc or "training", disable=not progress, leave=False,
                     initial=start - 1, total=steps):
        for group in optimiser.param_groups:
            group["lr"] = cosine_lr(step - 1, steps, lr, warmup=min(50, steps // 10))
        idx = torch.randint(0, n, (batch_size,), generator=generator)
        y, x = (layout(task[part][idx].to(device), channels_last) for part in ("train_degraded", "train_clean"))
        loss = F.mse_loss(model(y), x)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        if averaged is not None:
            averaged.update_parameters(model)
        running.append(loss.item())
        if step % eval_every == 0 or step == steps:
            history.append({"step": step, "train_loss": sum(running) / len(running),
                            **held_out(model, averaged, task, channels_last, eval_raw)})
            running = []
        stopped_by = stop_requested() if state_path is not None and step < steps else None  # SIGTERM/SIGINT
        if state_path is not None and (step % save_every == 0 and step < steps or stopped_by):
            save_state(state_path, {"model": model.state_dict(), "optimiser": optimiser.state_dict(),
                                    "generator": generator.get_state(), "history": history,
                                    "running": running, "step": step,
                                    "ema": None if averaged is None else averaged.state_dict()})
        if stopped_by:
            raise Preempted(step, stopped_by, state_path, "rerun the same command to continue")
    if averaged is not None:
        model.load_state_dict(averaged.module.state_dict())
    if channels_last:
        model.to(memory_format=torch.contiguous_format)  # callers (notebooks, safetensors) get plain NCHW weights
    return history


def held_out(model: nn.Module, averaged, task: dict, channels_last: bool, eval_raw: bool = False) -> dict:
    """The test metrics of :func:`train_toy`'s history: of the EMA if there is one (else of ``model``), and with
    ``eval_raw`` also of the raw weights beside it (``raw_test_mse``, ``raw_test_psnr``)."""
    scored = {"": model if averaged is None else averaged.module}
    if eval_raw and averaged is not None:
        scored["raw_"] = model
    out = {}
    for prefix, net in scored.items():
        metrics = evaluate_toy(net, task["test_degraded"], task["test_clean"], channels_last=channels_last)
        out.update({f"{prefix}test_mse": metrics["mse"], f"{prefix}test_psnr": metrics["psnr"]})
    return out


def toy_channels_last(images: torch.Tensor, device="cpu") -> bool:
    """The faster memory format of the toy trainer: channels_last for 2-D images on a CPU, NCHW for 1 x L
    signals (no gain measured there; README *Speed*) and on GPUs (not measured yet)."""
    return channels_last_default(device) and images.dim() == 4 and images.shape[-2] > 1


def layout(x: torch.Tensor, channels_last: bool) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def ema_model(model: nn.Module, decay: float) -> torch.optim.swa_utils.AveragedModel:
    """An exponential moving average of ``model``'s weights: decay ``min(decay, (1 + t) / (10 + t))`` after
    ``t`` updates, so that the first steps are not frozen into the average."""
    def average(averaged: torch.Tensor, current: torch.Tensor, updates) -> torch.Tensor:
        d = min(decay, (1 + int(updates)) / (10 + int(updates)))
        return d * averaged + (1 - d) * current

    return torch.optim.swa_utils.AveragedModel(model, avg_fn=average, use_buffers=True)


def save_state(path, state: dict) -> None:
    """``torch.save`` through a temporary file and a rename (a kill never leaves half a file)."""
    files.atomic_write(path, lambda f: torch.save(state, f))

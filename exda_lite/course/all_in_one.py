"""Notebook 07's scaffolding: parameters -> TrainConfig, the recipe table, the figures and the results file.

The training itself is :func:`exda_lite.training.train`; what is here only sets it up and shows what it did,
so the notebook's cells stay one idea each.

* :func:`setup`             checks 07's parameters and builds the run's :class:`~exda_lite.training.TrainConfig`
* :func:`recipe_table`      the recipe beside Appendix A.1-A.2, and every difference from it
* :func:`show_patches`      one batch of training patches, degraded above clean
* :func:`first_batch`       a batch and a fresh, seeded model for the loss and training-step cells
* :func:`spectrum_changes`  what each degradation does to an image's spectrum (what the Fourier term sees)
* :func:`schedule_figure`   this run's learning rate per iteration
* :func:`try_training_step` a few iterations of the student's own step on a fresh model
* :func:`training_curves`   loss (and its two parts), learning rate, held-out PSNR
* :func:`held_out_gain`     the before/after numbers of the evaluation, and whether the model learned
* :func:`before_after`      one held-out image per task: input, restored, clean
* :func:`tiled_vs_whole`    a full photo restored whole and in tiles
* :func:`results`           what goes into ``OUT_DIR/07_training_all_in_one.json``
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from .. import training as trainer
from ..data.settings import MEDICAL, SETTINGS
from ..nn.configs import CONFIGS
from ..nn.model import build_model
from ..training.evaluate import PAPER_EXDA
from ..training.metrics import psnr
from ..training.schedule import make_scheduler
from ..training.tiling import blend_weights, tile_starts, tiled_forward
from ..utils import count_parameters, pick_device, seed_everything
from .notebook import (check_parameters, device_name, non_negative_int, non_negative_number, positive_int,
                       positive_number, resume_value, smoke_mode)


@dataclass
class Run:
    """What the cells after the parameters need: the checked values, the config, the device, the run folder."""

    params: dict
    config: trainer.TrainConfig
    device: torch.device
    run_dir: Path
    demo: bool
    started: float


def parameter_rules() -> dict:
    """Notebook 07's parameters and the rule each value must satisfy."""
    return {
        "SETTING": trainer.SETTINGS, "MODEL": tuple(CONFIGS), "EPOCHS": positive_int, "MAX_STEPS": non_negative_int,
        "BATCH_SIZE": positive_int, "PATCH": positive_int, "LR": positive_number, "WARMUP_STEPS": non_negative_int,
        "FOURIER_WEIGHT": non_negative_number, "GRAD_CLIP": non_negative_number, "PRECISION": ("fp32", "bf16", "fp16"),
        "SAMPLES_PER_DEGRADATION": positive_int, "DATA_ROOT": str, "OUT_DIR": str, "DEVICE": device_name,
        "SEED": non_negative_int, "RESUME": resume_value, "EVAL_CROP": non_negative_int,
        "MAX_EVAL_IMAGES": non_negative_int, "TILE": non_negative_int, "NUM_WORKERS": non_negative_int,
        "PAIRS": pairs_value, "THREADS": non_negative_int,
    }


def pairs_value(value) -> bool:
    """PAIRS: a list of ``NAME=DEGRADED_DIR:CLEAN_DIR[:REPEAT]`` texts, or one spec file name (``[]``: none)."""
    return isinstance(value, str) or (isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value))


def setup(namespace: dict) -> Run:
    """Check the parameters in ``namespace`` (the notebook's globals()) and build the run's TrainConfig."""
    p = check_parameters(namespace, parameter_rules())
    demo = SETTINGS[p["SETTING"]].demo  # the offline photos (demo, demo_medical)
    device = pick_device(p["DEVICE"])
    if p["THREADS"] > 0:  # on a busy CPU, surplus threads wait for each other: 1 thread is several times faster
        torch.set_num_threads(p["THREADS"])
    trainer.check_precision(p["PRECISION"], device)  # fp16 needs CUDA, bf16 a GPU that supports it
    run_dir = Path(p["OUT_DIR"]) / "07_runs" / f"{p['SETTING']}_{p['MODEL']}"
    config = trainer.TrainConfig(
        out_dir=str(run_dir), resume=p["RESUME"], log_every=5 if demo else 50, checkpoint_every=0 if demo else 1000,
        setting=p["SETTING"], data_root=p["DATA_ROOT"], patch_size=p["PATCH"], batch_size=p["BATCH_SIZE"],
        num_workers=p["NUM_WORKERS"], samples_per_degradation=p["SAMPLES_PER_DEGRADATION"], val_crop=p["EVAL_CROP"],
        model=p["MODEL"], fourier_weight=p["FOURIER_WEIGHT"], lr=p["LR"], grad_clip=p["GRAD_CLIP"],
        epochs=p["EPOCHS"], max_steps=p["MAX_STEPS"], warmup_steps=p["WARMUP_STEPS"], device=p["DEVICE"],
        precision=p["PRECISION"], seed=p["SEED"],
        pairs=(p["PAIRS"],) if isinstance(p["PAIRS"], str) and p["PAIRS"] else tuple(p["PAIRS"] or ()),
    )
    print("parameters OK | device:", device, "| smoke mode:", smoke_mode(), "| run folder:", run_dir)
    return Run(p, config, device, run_dir, demo, time.time())


def recipe_table(config: trainer.TrainConfig) -> pd.DataFrame:
    """The recipe of this run beside the paper's (App. A.1-A.2); prints every difference."""
    paper = trainer.PAPER_RECIPE["common"]
    epochs = trainer.PAPER_RECIPE["epochs"].get(config.setting)
    steps = trainer.PAPER_RECIPE["max_steps"].get(config.setting)
    length = (f"{epochs} epochs" if epochs else f"{steps:,} iterations" if steps
              else "not stated (medical)" if config.setting == MEDICAL.name else "- (demo)")
    patch = f"{config.patch_size}×{config.patch_size}, random crop"
    rows = [
        ("model", "ExDA, 22M parameters (exda_b)", config.model),
        ("batch size", paper["batch_size"], config.batch_size),
        ("patch", f"{paper['patch_size']}×{paper['patch_size']}, random crop", patch),
        ("augmentation", "horizontal + vertical flips", "the 8 flips/rotations (dihedral group)"),
        ("loss", "L1 + 0.1 · Fourier (Eq. 4-5)", f"L1 + {config.fourier_weight} · Fourier"),
        ("optimizer", "Adam, betas (0.9, 0.999)", f"Adam, betas ({config.beta1}, {config.beta2})"),
        ("learning rate", paper["lr"], config.lr),
        ("schedule", "cosine decay", f"cosine to {config.min_lr:g} per iteration; {config.warmup_steps} warm-up steps"),
        ("length", length, f"{config.max_steps:,} iterations" if config.max_steps else f"{config.epochs} epochs"),
        ("precision", "not stated", config.precision),
    ]
    for line in config.recipe_differences():
        print("differs from the paper:", line)
    return pd.DataFrame(rows, columns=["", "paper (App. A.1-A.2)", "this run"]).set_index("")


def picture(image: torch.Tensor) -> tuple[np.ndarray, str | None]:
    """(C, H, W) in [0, 1] -> what imshow needs, and its colour map (grayscale for one channel)."""
    array = image.detach().permute(1, 2, 0).squeeze(-1).clamp(0, 1).cpu().numpy()
    return array, "gray" if array.ndim == 2 else None


def show_image(ax, image: torch.Tensor, title: str = "", size: int = 9) -> None:
    array, cmap = picture(image)
    ax.imshow(array, cmap=cmap, vmin=0, vmax=1)
    ax.set_title(title, fontsize=size)
    ax.set_xticks([]); ax.set_yticks([])


def task_names(train_set) -> list[str]:
    return list(getattr(train_set, "degradations", None) or train_set.tasks)


def show_patches(train_set, count: int = 8):
    """The first ``count`` training patches: degraded (the model's input) above clean (the target)."""
    names = task_names(train_set)
    shown = [train_set[i] for i in range(min(count, len(train_set)))]
    fig, axes = plt.subplots(2, len(shown), figsize=(1.7 * len(shown), 3.8), squeeze=False)
    for k, (degraded, clean, label) in enumerate(shown):
        show_image(axes[0, k], degraded, names[label])
        show_image(axes[1, k], clean)
    axes[0, 0].set_ylabel("degraded\n(model input)"); axes[1, 0].set_ylabel("clean\n(target)")
    fig.suptitle("Training patches: one batch mixes every degradation", y=1.0)
    fig.tight_layout()
    return fig


def first_batch(run: Run, train_set, seed: int | None = None):
    """(model, degraded, clean): a freshly initialised model (seeded) and the first training batch, on the device."""
    config = run.config
    seed_everything(config.seed if seed is None else seed)
    model = build_model(config.model, in_channels=config.channels, out_channels=config.channels).to(run.device)
    batch = [train_set[i] for i in range(min(config.batch_size, len(train_set)))]
    degraded = torch.stack([b[0] for b in batch]).to(run.device)
    clean = torch.stack([b[1] for b in batch]).to(run.device)
    return model, degraded, clean


def log_spectrum(image: torch.Tensor) -> np.ndarray:
    """log(1 + |F(gray image)|), zero frequency in the centre."""
    return torch.log1p(torch.fft.fftshift(torch.fft.fft2(image.mean(0))).abs()).numpy()


def spectrum_changes(examples):
    """For each (column, name, degraded, clean): the degraded image and log|F(degraded)| - log|F(clean)|."""
    fig, axes = plt.subplots(2, len(examples), figsize=(3 * len(examples), 5.6), squeeze=False)
    for k, (column, name, degraded, clean) in enumerate(examples):
        show_image(axes[0, k], degraded, f"{column} ({name})")
        axes[1, k].imshow(log_spectrum(degraded) - log_spectrum(clean), cmap="coolwarm", vmin=-3, vmax=3)
        axes[1, k].set_title("spectrum change vs its clean image", fontsize=9)
        axes[1, k].set_xticks([]); axes[1, k].set_yticks([])
    fig.suptitle("log|F(degraded)| - log|F(clean)|: centre = low frequencies; red = energy added, blue = removed")
    fig.tight_layout()
    return fig


def schedule_figure(config: trainer.TrainConfig, train_size: int):
    """The learning rate of every iteration of this run, with the warm-up shaded and epochs dotted."""
    per_epoch = max(1, train_size // config.batch_size)
    total = config.max_steps or config.epochs * per_epoch
    curve = [config.lr * trainer.lr_factor(s, total, config.warmup_steps) for s in range(total)]
    fig, ax = plt.subplots(figsize=(7, 2.6))
    ax.plot(curve, color="tab:purple")
    ax.axvspan(0, config.warmup_steps, color="gray", alpha=0.15, label="warm-up")
    for epoch in range(1, math.ceil(total / per_epoch)):
        ax.axvline(epoch * per_epoch, color="gray", lw=0.5, ls=":")
    ax.set_xlabel("iteration"); ax.set_ylabel("learning rate"); ax.legend()
    ax.set_title(f"This run: {total} iterations ({per_epoch} per epoch, dotted lines)")
    fig.tight_layout()
    return fig


def try_training_step(step, run: Run, train_set, iterations: int = 8) -> list[float]:
    """``iterations`` calls of ``step`` on a fresh model and the first batch, with 07's Adam, cosine schedule and loss.

    The same batch every time (and no warm-up), so the loss must fall: a quick look that the step really trains.
    ``step=None`` uses the library's step (what the notebook does until the student's step passes its check).
    """
    if step is None:
        from .exercises.course_nbs import reference_step as step
    config = replace(run.config, warmup_steps=0)
    model, degraded, clean = first_batch(run, train_set)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, betas=(config.beta1, config.beta2))
    scheduler = make_scheduler(optimizer, config, total_steps=iterations)
    loss_fn = trainer.RestorationLoss(config.fourier_weight)
    model.train()
    return [float(step(model, optimizer, scheduler, degraded, clean, loss_fn)) for _ in range(iterations)]


def training_curves(result, fourier_weight: float):
    """Loss (total, L1, weighted Fourier) and learning rate per logged window, and the held-out PSNR per epoch."""
    log, val = pd.DataFrame(result.history), pd.DataFrame(result.val_history)
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.6))
    axes[0].plot(log.step, log.loss, label="total", color="black")
    axes[0].plot(log.step, log.l1, label="L1", color="tab:blue")
    if fourier_weight > 0:
        axes[0].plot(log.step, fourier_weight * log.fourier, label=f"{fourier_weight} · Fourier", color="tab:orange")
    axes[0].set_yscale("log"); axes[0].set_xlabel("iteration"); axes[0].legend()
    axes[0].set_title("training loss (mean per logged window)")
    axes[1].plot(log.step, log.lr, color="tab:purple"); axes[1].set_xlabel("iteration")
    axes[1].set_title("learning rate")
    if len(val):
        axes[2].plot(val.epoch, val.val_psnr, "o-", color="tab:green", label="restored")
        axes[2].axhline(val.val_psnr_input.iloc[0], color="gray", ls="--", label="degraded input")
        axes[2].set_xlabel("epoch"); axes[2].set_ylabel("PSNR (dB)"); axes[2].legend()
    axes[2].set_title("held-out PSNR" if len(val) else "held-out PSNR (no validation set in this setting)")
    fig.tight_layout()
    return fig


def held_out_gain(evaluation) -> dict:
    """Mean held-out PSNR/SSIM before and after, per task too; prints them and whether the model learned."""
    per = evaluation.per_image
    out = {"psnr_degraded": float(per.psnr_input.mean()), "psnr_restored": float(per.psnr.mean()),
           "ssim_degraded": float(per.ssim_input.mean()), "ssim_restored": float(per.ssim.mean())}
    out["psnr_gain"] = out["psnr_restored"] - out["psnr_degraded"]
    out["learned"] = bool(out["psnr_gain"] >= 1.0)
    print(f"held-out mean PSNR: degraded input {out['psnr_degraded']:.2f} dB -> restored {out['psnr_restored']:.2f} dB "
          f"({out['psnr_gain']:+.2f} dB); SSIM {out['ssim_degraded']:.3f} -> {out['ssim_restored']:.3f}")
    per_task = per.groupby("benchmark", sort=False)[["psnr", "psnr_input"]].mean()
    print("per task:", ", ".join(f"{b} {r.psnr - r.psnr_input:+.2f} dB" for b, r in per_task.iterrows()))
    print("✅ the model learned: at least 1 dB better than its input on photos it never saw." if out["learned"] else
          "⚠️ less than +1 dB over the input: train longer (EPOCHS), check LR, or look at the loss curves above.")
    return out


@torch.no_grad()
def before_after(model, items, tile: int | None = None):
    """One column per (column, name, degraded, clean): input, restored, clean, PSNRs in the titles."""
    fig, axes = plt.subplots(3, len(items), figsize=(2.8 * len(items), 8.4), squeeze=False)
    for k, (column, _, degraded, clean) in enumerate(items):
        restored = tiled_forward(model, degraded[None], tile=tile)[0].clamp(0, 1).cpu()
        for row, (image, title) in enumerate([(degraded, f"{column}: input"), (restored, "restored"), (clean, "clean")]):
            if row < 2:
                title += f"\n{psnr(image[None], clean[None]).item():.2f} dB"
            show_image(axes[row, k], image, title)
    names = ", ".join(sorted({name for _, name, _, _ in items}))
    fig.suptitle(f"Held-out images ({names}): input / restored / clean")
    fig.tight_layout()
    return fig


@torch.no_grad()
def tiled_vs_whole(model, photo: torch.Tensor, tile: int, overlap: int, device) -> dict:
    """Restore ``photo`` (C, H, W) whole and in tiles; the times, their agreement (PSNR) and a figure."""
    start = time.time()
    whole = model(photo[None].to(device)).clamp(0, 1).cpu()
    t_whole, start = time.time() - start, time.time()
    tiled = tiled_forward(model, photo[None], tile=tile, overlap=overlap).clamp(0, 1)
    out = {"whole_s": t_whole, "tiled_s": time.time() - start, "psnr": psnr(tiled, whole).item()}
    height, width = photo.shape[-2:]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    show_image(axes[0], tiled[0])
    boxes = [(t, left) for t in tile_starts(height, tile, overlap) for left in tile_starts(width, tile, overlap)]
    for n, (top, left) in enumerate(boxes):
        axes[0].add_patch(plt.Rectangle((left + 1, top + 1), min(tile, width) - 3, min(tile, height) - 3,
                                        fill=False, ec=plt.cm.tab10.colors[n % 10], lw=1.2))
    axes[0].set_title(f"tiled restoration: {len(boxes)} overlapping tiles")
    axes[1].imshow(blend_weights(tile, overlap), cmap="viridis"); axes[1].set_title("blending window of one tile")
    im = axes[2].imshow((tiled - whole)[0].abs().mean(0), cmap="magma")
    axes[2].set_title(f"|tiled - whole| (PSNR between them {out['psnr']:.1f} dB)")
    fig.colorbar(im, ax=axes[2], fraction=0.046)
    for ax in axes:
        ax.axis("off")
    fig.tight_layout()
    out["figure"] = fig
    return out


def results(run: Run, result, evaluation, gain: dict, loss_terms: dict, tiles: dict, model, seconds: float) -> dict:
    """Everything notebook 07 measured, for ``OUT_DIR/07_training_all_in_one.json``."""
    per_benchmark = {b: {"psnr": g.psnr.mean(), "ssim": g.ssim.mean(), "psnr_input": g.psnr_input.mean()}
                     for b, g in evaluation.per_image.groupby("benchmark", sort=False)}
    last = result.history[-1]
    return {
        **gain, "per_benchmark": per_benchmark, "loss_terms_first_batch": loss_terms,
        "paper_exda": {b: list(v) for b, v in PAPER_EXDA.get(run.config.setting, {}).items()},
        "protocol": evaluation.protocol, "evaluation_partial": evaluation.partial,
        "test_images": len(evaluation.per_image), "iterations": result.global_step, "train_seconds": round(seconds, 1),
        "images_per_s": last["images_per_s"], "peak_mem_gb": last["peak_mem_gb"], "final_loss": last["loss"],
        "tiled_vs_whole_psnr": tiles["psnr"], "parameters": run.params, "train_config": run.config.to_dict(),
        "model_parameters": count_parameters(model), "device": str(run.device),
        "torch_threads": torch.get_num_threads(), "smoke_mode": smoke_mode(),
        "runtime_s": round(time.time() - run.started, 1),
    }

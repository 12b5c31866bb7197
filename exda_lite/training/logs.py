"""Logging a run: CSV files (always), TensorBoard (when installed), peak memory."""

from __future__ import annotations

import csv
import io
import json
import os
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .. import files
from .config import TrainConfig
from .losses import LOSS_PARTS

STEP_VALUES = LOSS_PARTS + ("grad_norm",)
"""What ``loop.train_step`` returns by name, and the order they are averaged over a logging window in."""


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
        """The whole file again, atomically (a kill while rewinding a resumed log loses no rows)."""
        text = io.StringIO(newline="")
        writer = csv.DictWriter(text, self.columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(self.rows)
        files.write_text(self.path, text.getvalue())

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
VAL_COLUMNS = ["step", "epoch", "val_psnr", "val_ssim", "val_psnr_input"]


def val_columns(tasks) -> list[str]:
    """val_log.csv: the means (as the paper's Average), then PSNR and SSIM per task."""
    return VAL_COLUMNS + [f"{metric}_{task}" for task in tasks for metric in ("psnr", "ssim")]


def make_tensorboard(config: TrainConfig, out_dir: Path):
    if not config.tensorboard:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except Exception:  # noqa: BLE001 - TensorBoard is optional: the CSV logs have everything
        return None
    return SummaryWriter(str(out_dir / "tb"))


def make_wandb(config: TrainConfig, out_dir: Path):
    """A Weights & Biases run when ``config.wandb``; offline (no network) unless WANDB_MODE is set."""
    if not config.wandb:
        return None
    try:
        import wandb
    except ImportError:
        raise ImportError("--wandb needs the wandb package: pip install 'exda-lite[wandb]'") from None
    os.environ.setdefault("WANDB_MODE", "offline")
    return wandb.init(dir=str(out_dir), config=config.to_dict(), mode=os.environ["WANDB_MODE"],
                      name=out_dir.name)


def peak_memory_gb(device: torch.device) -> float:
    """Peak memory so far: CUDA allocator peak on a GPU, else the process's peak resident set size."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # Linux reports KiB


@dataclass
class RunLogs:
    """The logs of one run: train_log.csv (means over ``log_every`` steps), val_log.csv, TensorBoard."""

    train: CSVLog
    val: CSVLog
    log_every: int
    writer: object = None  # a TensorBoard SummaryWriter, or None
    wandb: object = None  # a wandb run, or None
    main: bool = True  # only rank 0 writes
    window: list = field(default_factory=list)  # per-step [total, l1, fourier, grad_norm] since the last row
    window_start: float = field(default_factory=time.time)
    images: int = 0

    @classmethod
    def open(cls, config: TrainConfig, out_dir: Path, fresh: bool, main: bool, step: int,
             tasks=()) -> "RunLogs":
        """Open the logs; a resumed run keeps its rows up to ``step`` (later ones are replayed)."""
        logs = cls(CSVLog(out_dir / "train_log.csv", TRAIN_COLUMNS, fresh=fresh),
                   CSVLog(out_dir / "val_log.csv", val_columns(tasks), fresh=fresh), config.log_every, main=main)
        if main:
            out_dir.mkdir(parents=True, exist_ok=True)
            files.write_text(out_dir / "config.json", json.dumps(config.to_dict(), indent=2))
            logs.train.truncate_after(step)
            logs.val.truncate_after(step)
            logs.writer = make_tensorboard(config, out_dir)
            logs.wandb = make_wandb(config, out_dir)
        return logs

    def step(self, step: int, epoch: float, lr: float, values: dict[str, torch.Tensor], batch_size: int,
             total_steps: int, start_time: float, peak_mem_gb: float) -> dict | None:
        """Add one optimizer step's :data:`STEP_VALUES`; every ``log_every`` steps (and at the end) write and
        return a row."""
        self.images += batch_size
        self.window.append(torch.stack([values[name].reshape(()) for name in STEP_VALUES]))
        if step % self.log_every and step != total_steps:
            return None
        means = dict(zip(STEP_VALUES, torch.stack(self.window).mean(0).tolist()))
        elapsed = time.time() - self.window_start
        row = {"step": step, "epoch": epoch, "lr": lr, "loss": means["total"], "l1": means["l1"],
               "fourier": means["fourier"], "grad_norm": means["grad_norm"],
               "images_per_s": self.images / max(elapsed, 1e-9),
               "seconds": time.time() - start_time, "peak_mem_gb": peak_mem_gb}
        if self.main:
            self.train.append(row)
            if self.writer:
                for key in ("loss", "l1", "fourier", "lr", "grad_norm", "images_per_s"):
                    self.writer.add_scalar(f"train/{key}", row[key], step)
            if self.wandb:
                self.wandb.log({f"train/{k}": v for k, v in row.items() if k != "step"}, step=step)
        self.window, self.window_start, self.images = [], time.time(), 0
        return row

    def validation(self, step: int, epoch: int, scores: dict) -> None:
        """One row of val_log.csv from ``validation.score``'s per-task dict (``"mean"``: over tasks)."""
        mean = scores["mean"]
        row = {"step": step, "epoch": epoch, "val_psnr": mean["psnr"], "val_ssim": mean["ssim"],
               "val_psnr_input": mean["psnr_input"]}
        for task, values in scores.items():
            if task not in ("mean", "examples"):
                row[f"psnr_{task}"], row[f"ssim_{task}"] = values["psnr"], values["ssim"]
        self.val.append(row)
        if self.writer:
            for key, value in row.items():
                if key not in ("step", "epoch"):
                    self.writer.add_scalar(f"val/{key}", value, step)
            for task, image in scores.get("examples", {}).items():  # degraded | restored | clean, side by side
                self.writer.add_image(f"val_images/{task}", image, step)
        if self.wandb:
            self.wandb.log({f"val/{k}": v for k, v in row.items() if k != "step"}, step=step)

    def close(self) -> None:
        if self.writer:
            self.writer.close()
        if self.wandb:
            self.wandb.finish()

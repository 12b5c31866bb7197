"""Validation: images held out of the *training* folders, scored per task with PSNR and SSIM in the setting's protocol.

The split (paper settings; the paper describes none, so it is our choice): per task, ``val_images``
distinct images are drawn with ``numpy.random.default_rng(val_seed)``. Images are identified by their
*clean* file, and a clean image held out for one task is held out of training for every task (the
denoising tasks share clean images, CDD11's 11 types share scenes); a task draws first among the
clean images already held out, so CDD11 holds out the same 20 scenes for all 11 types. At most half
of a task's distinct images are held out. The test sets are never touched.

Validation items are whole images in test mode (the denoising noise from the test convention's seed),
centre-cropped to ``val_crop`` to keep validation cheap. The demo settings validate on their held-out
photos (``DemoAllInOneTest``), as before.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from .metrics import SSIM_WINDOW, evaluate_pair


class CentreCropped(Dataset):
    """``dataset``'s items centre-cropped to at most ``size`` x ``size`` (0: unchanged)."""

    def __init__(self, dataset: Dataset, size: int):
        self.dataset, self.size = dataset, size
        self.tasks = getattr(dataset, "tasks", None)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int):
        degraded, clean, label = self.dataset[index]
        if self.size:
            h, w = clean.shape[-2:]
            top, left = max(0, (h - self.size) // 2), max(0, (w - self.size) // 2)
            degraded = degraded[..., top:top + self.size, left:left + self.size]
            clean = clean[..., top:top + self.size, left:left + self.size]
        return degraded, clean, label


def held_out_split(train_set, per_task: int, seed: int, crop: int = 0) -> tuple[Dataset, Dataset]:
    """(training set without the held-out images, validation set of them) for a ``PairedImageDataset``."""
    rng = np.random.default_rng(seed)
    unique = list(dict.fromkeys(train_set.samples))  # repetitions removed, order kept
    held_clean: set = set()
    val_samples = []
    for task in train_set.tasks:
        mine = [s for s in unique if s.task == task]
        count = min(per_task, len(mine) // 2)
        order = [mine[i] for i in rng.permutation(len(mine))]
        order.sort(key=lambda s: s.clean not in held_clean)  # stable: already-held scenes first
        chosen = order[:count]
        val_samples += chosen
        held_clean.update(s.clean for s in chosen)
    train = copy.copy(train_set)
    train.samples = [s for s in train_set.samples if s.clean not in held_clean]
    val = copy.copy(train_set)
    val.samples, val.patch_size = val_samples, None
    return train, CentreCropped(val, crop)


def task_names(dataset) -> tuple[str, ...]:
    tasks = getattr(dataset, "tasks", None) or getattr(dataset, "degradations", None)
    return tuple(tasks) if tasks else ()


@torch.no_grad()
def score(model: nn.Module, dataset: Dataset, setting: str, precision_context, channels_last: bool = False,
          y_channel: bool = False, border: int = 0) -> dict[str, dict[str, float]]:
    """Per-task mean ``psnr``, ``ssim`` (and ``psnr_input``) of ``model`` over ``dataset``, plus ``"mean"``
    (the mean of the per-task means, as the paper's Average) and ``"examples"`` (task -> one
    degraded | restored | clean image for TensorBoard). ``precision_context()`` wraps the forward."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    ssim = SSIM_WINDOW.get(setting, "uniform")
    names = task_names(dataset)
    per_task: dict[str, list] = {}
    examples: dict[str, torch.Tensor] = {}
    for index in range(len(dataset)):
        degraded, clean, label = dataset[index]
        x = degraded[None].to(device)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with precision_context():
            restored = model(x)[0].float().clamp(0, 1).cpu()
        ours = evaluate_pair(restored, clean, y_channel=y_channel, border=border, ssim=ssim)
        before = evaluate_pair(degraded, clean, y_channel=y_channel, border=border, ssim=ssim)
        name = names[int(label)] if len(names) > int(label) else str(int(label))
        per_task.setdefault(name, []).append((ours["psnr"], ours["ssim"], before["psnr"]))
        if name not in examples:
            examples[name] = torch.cat([degraded.clamp(0, 1), restored, clean], dim=-1)
    model.train(was_training)
    scores = {task: dict(zip(("psnr", "ssim", "psnr_input"), np.mean(values, axis=0).tolist()))
              for task, values in per_task.items()}
    scores["mean"] = {k: float(np.mean([v[k] for v in scores.values()])) for k in ("psnr", "ssim", "psnr_input")}
    scores["examples"] = examples
    return scores

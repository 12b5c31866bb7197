"""The learning-rate schedule: optional linear warm-up, then cosine decay (App. A.2)."""

from __future__ import annotations

import math

import torch

from .config import TrainConfig


def lr_factor(step: int, total: int, warmup: int = 0, min_ratio: float = 0.0, base: float = 1.0) -> float:
    """Multiplier of the base learning rate at iteration ``step`` (0-based) of ``total`` (times ``base``).

    Linear warm-up ``(step + 1) / warmup`` for the first ``warmup`` steps, then cosine decay
    ``min_ratio + (1 - min_ratio) * 0.5 * (1 + cos(pi * t))`` with ``t = (step - warmup) / (total - warmup)``.
    The one cosine schedule of the package: with ``base`` the learning rate itself (``course.toy``).
    """
    if step < warmup:
        return base * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return base * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def make_optimizer(model: torch.nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """Adam with the paper's betas (App. A.2)."""
    return torch.optim.Adam(model.parameters(), lr=config.lr, betas=(config.beta1, config.beta2),
                            weight_decay=config.weight_decay)


def make_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig, total_steps: int):
    """``LambdaLR`` stepped every iteration with :func:`lr_factor` (so a run can stop anywhere inside an epoch)."""
    min_ratio = config.min_lr / config.lr if config.lr else 0.0
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, total_steps, config.warmup_steps, min_ratio))

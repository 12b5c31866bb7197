"""Training objective (Appendix A.3, Eq. 4-5).

    L_total   = L_1 + lambda * L_Fourier                                     (Eq. 4)
    L_Fourier = |Re F(x_hat) - Re F(x)|_1 + |Im F(x_hat) - Im F(x)|_1       (Eq. 5)

F is ``torch.fft.rfft2`` over (H, W) with its default ("backward") normalisation, as
in the public code this recipe comes from; lambda = 0.1. Both L1 terms are means.
The Fourier term is computed in float32 even under mixed precision.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def fourier_loss(pred: torch.Tensor, target: torch.Tensor, norm: str = "backward") -> torch.Tensor:
    """Eq. 5 on (B, C, H, W) tensors: mean L1 of real parts plus mean L1 of imaginary parts."""
    pred_f = torch.fft.rfft2(pred.float(), norm=norm)  # (B, C, H, W//2+1), complex
    target_f = torch.fft.rfft2(target.float(), norm=norm)
    return F.l1_loss(pred_f.real, target_f.real) + F.l1_loss(pred_f.imag, target_f.imag)


LOSS_PARTS = ("total", "l1", "fourier")
"""The named parts of :class:`RestorationLoss`'s output, in the order the training loop logs them."""


class RestorationLoss(nn.Module):
    """Eq. 4: ``L1 + fourier_weight * Fourier``; returns the total and its parts."""

    def __init__(self, fourier_weight: float = 0.1, fourier_norm: str = "backward"):
        super().__init__()
        self.fourier_weight = fourier_weight
        self.fourier_norm = fourier_norm

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        if pred.shape != target.shape:
            raise ValueError(f"prediction {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape")
        l1 = F.l1_loss(pred, target)
        parts = {"l1": l1}
        total = l1
        if self.fourier_weight:
            parts["fourier"] = fourier_loss(pred, target, self.fourier_norm)
            total = total + self.fourier_weight * parts["fourier"]
        parts["total"] = total
        return parts

"""Layer normalisation over channels, applied independently at every pixel.

Restormer (and every ExDA block) normalises each pixel's C-dimensional feature
vector, not the whole feature map. Two variants exist:

* ``WithBias``:  y = (x - mean) / sqrt(var + eps) * w + b
* ``BiasFree``:  y = x / sqrt(var + eps) * w        (var is still taken about the
  mean, but the mean is *not* subtracted and there is no bias)

The variance is the biased one (``unbiased=False``) and ``eps = 1e-5``.
"""

from __future__ import annotations

import torch
from torch import nn

LAYERNORM_KINDS = ("withbias", "biasfree")


class LayerNorm2d(nn.Module):
    """Per-pixel LayerNorm over the channel axis.

    Args:
        channels: number of channels C.
        kind: ``"withbias"`` (PromptIR, AdaIR, MoCE-IR, our default) or ``"biasfree"``.
        eps: added to the variance before the square root.

    Shapes: (B, C, H, W) -> (B, C, H, W).
    """

    def __init__(self, channels: int, kind: str = "withbias", eps: float = 1e-5):
        super().__init__()
        if kind not in LAYERNORM_KINDS:
            raise ValueError(f"layernorm kind must be one of {LAYERNORM_KINDS}, got {kind!r}")
        self.kind = kind
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels)) if kind == "withbias" else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        var = x.var(dim=1, keepdim=True, unbiased=False)  # (B, 1, H, W)
        weight = self.weight[None, :, None, None]  # (1, C, 1, 1)
        if self.bias is None:
            return x / torch.sqrt(var + self.eps) * weight
        mean = x.mean(dim=1, keepdim=True)  # (B, 1, H, W)
        return (x - mean) / torch.sqrt(var + self.eps) * weight + self.bias[None, :, None, None]

    def extra_repr(self) -> str:
        return f"{self.weight.numel()}, kind={self.kind!r}, eps={self.eps}"

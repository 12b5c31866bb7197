"""Layer normalisation over channels, applied independently at every pixel.

Restormer (and every ExDA block) normalises each pixel's C-dimensional feature
vector, not the whole feature map. Two variants exist:

* ``WithBias``:  y = (x - mean) / sqrt(var + eps) * w + b
* ``BiasFree``:  y = x / sqrt(var + eps) * w        (var is still taken about the
  mean, but the mean is *not* subtracted and there is no bias)

The variance is the biased one (``unbiased=False``) and ``eps = 1e-5``.

Speed: on a channels_last tensor (NHWC in memory) each pixel's C values are adjacent, so the
normalisation is ``F.layer_norm`` over the last axis of the NHWC view: one fused kernel instead of
five passes, and the same numbers within float rounding (tested to 1e-5). The NCHW path below is the
equation written out, bit for bit what it always computed.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
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
        if is_channels_last(x):
            return self.forward_nhwc(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)  # channels_last again
        var = x.var(dim=1, keepdim=True, unbiased=False)  # (B, 1, H, W)
        weight = self.weight[None, :, None, None]  # (1, C, 1, 1)
        if self.bias is None:
            return x / torch.sqrt(var + self.eps) * weight
        mean = x.mean(dim=1, keepdim=True)  # (B, 1, H, W)
        return (x - mean) / torch.sqrt(var + self.eps) * weight + self.bias[None, :, None, None]

    def forward_nhwc(self, x: torch.Tensor) -> torch.Tensor:
        """The same normalisation on a contiguous (B, H, W, C) view."""
        if self.bias is not None:
            return F.layer_norm(x, (x.shape[-1],), self.weight, self.bias, self.eps)
        var = x.var(dim=-1, keepdim=True, unbiased=False)
        return x * torch.rsqrt(var + self.eps) * self.weight

    def extra_repr(self) -> str:
        return f"{self.weight.numel()}, kind={self.kind!r}, eps={self.eps}"


def is_channels_last(x: torch.Tensor) -> bool:
    """True for a 4-D tensor stored NHWC and not also NCHW-contiguous (C = 1 or H = W = 1 are both)."""
    return x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last)

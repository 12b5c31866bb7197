"""Gated-Dconv Feed-forward Network (GDFN), Restormer's feed-forward layer.

    hidden = int(dim * ffn_factor)
    x1, x2 = split(DWConv3x3(Conv1x1(x)))          # each (B, hidden, H, W)
    y      = Conv1x1(GELU(x1) * x2)

ExDA's Section 3.1 points out that the ``x2`` branch is *linear*: part of the
information passes the block without any nonlinearity, which is why the value path
needs one (Sec. 3.2). Restormer uses ``ffn_factor = 2.66``; ExDA (Table A) uses 2.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layernorm import is_channels_last


class GDFN(nn.Module):
    """Gated-Dconv feed-forward network.

    Args:
        dim: channels C in and out.
        ffn_factor: hidden width is ``int(dim * ffn_factor)``.
        bias: whether the convolutions have a bias.

    Shapes: (B, C, H, W) -> (B, C, H, W).
    """

    def __init__(self, dim: int, ffn_factor: float = 2.0, bias: bool = False):
        super().__init__()
        hidden = int(dim * ffn_factor)
        self.project_in = nn.Conv2d(dim, 2 * hidden, kernel_size=1, bias=bias)
        self.dwconv = nn.Conv2d(2 * hidden, 2 * hidden, kernel_size=3, padding=1,
                                groups=2 * hidden, bias=bias)
        self.project_out = nn.Conv2d(hidden, dim, kernel_size=1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, linear = self.dwconv(self.project_in(x)).chunk(2, dim=1)  # 2 x (B, hidden, H, W)
        if is_channels_last(x):  # half of an NHWC tensor is strided: GELU on a dense copy is ~2x faster
            gate = gate.contiguous(memory_format=torch.channels_last)
        return self.project_out(F.gelu(gate) * linear)

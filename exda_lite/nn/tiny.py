"""Small full-resolution ExDA networks: the models of the course's experiments and of the reference runs.

* :class:`TinyRestorer`     Conv3x3 -> ExDA blocks (value path, GST, GDFN, LayerNorm) -> Conv3x3, plus the
                            input: the restoration model of the ablations (Fig. 5, Table 7, GST strides);
* :class:`ToyAttentionNet`  the same shape without GST, for the 1-D and digit toy tasks of Sec. 3
                            (linear vs nonlinear values, with or without LayerNorm / GDFN).

Both run at full resolution (no U-Net) and train in seconds to minutes on a CPU.
"""

from __future__ import annotations

import torch
from torch import nn

from .block import ExDABlock, TokenOptions, ValueOptions

VALUE_KINDS = {"nonlinear": ValueOptions(form="residual", act="gelu"),
               "linear": ValueOptions(form="residual", act="identity"),
               "post": ValueOptions(form="residual", act="gelu", position="post")}


NORMS = ("layernorm", "groupnorm", "none")
"""The normalisation before each sublayer: Restormer's per-pixel LayerNorm over channels, a per-image
GroupNorm(1, C) (the control: it normalises, but by one mean and std per image, so it stays affine per
pixel), or none."""


def norm_layer(kind: str, channels: int) -> nn.Module:
    """The pre-norm of a toy block: ``"groupnorm"`` -> GroupNorm(1, C), ``"none"`` -> Identity."""
    return nn.GroupNorm(1, channels) if kind == "groupnorm" else nn.Identity()


class ToyAttentionNet(nn.Module):
    """Conv3x3 embedding -> ``blocks`` ExDA blocks (no GST) -> Conv3x3 head, plus the input.

    ``norm`` is one of :data:`NORMS` (``True`` / ``False`` mean ``"layernorm"`` / ``"none"``);
    ``ffn`` adds Restormer's GDFN to every block (after its own pre-norm of the same kind).
    Shapes: (B, in_channels, H, W) -> (B, in_channels, H, W); a 1-D signal is a 1 x L image.
    """

    def __init__(self, values: str = "nonlinear", in_channels: int = 1, channels: int = 16,
                 blocks: int = 2, heads: int = 1, ffn: bool = False, norm: bool | str = True):
        super().__init__()
        if values not in VALUE_KINDS:
            raise ValueError(f"values must be one of {sorted(VALUE_KINDS)}, got {values!r}")
        norm = {True: "layernorm", False: "none"}.get(norm, norm) if isinstance(norm, bool) else norm
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS} (or True/False), got {norm!r}")
        self.values, self.norm = values, norm
        value = VALUE_KINDS[values]
        self.embed = nn.Conv2d(in_channels, channels, 3, padding=1)
        self.blocks = nn.Sequential(*[ExDABlock(channels, heads, bias=True, value=value, ffn=ffn)
                                      for _ in range(blocks)])
        if norm != "layernorm":  # LayerNorm is itself a per-pixel nonlinearity (division by the std)
            for block in self.blocks:
                block.norm1 = norm_layer(norm, channels)
                if block.norm2 is not None:
                    block.norm2 = norm_layer(norm, channels)
        self.head = nn.Conv2d(channels, in_channels, 3, padding=1)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return y + self.head(self.blocks(self.embed(y)))


class TinyRestorer(nn.Module):
    """Conv3x3 embedding -> ``blocks`` ExDA blocks at full resolution -> Conv3x3 head, plus the input.

    The smallest network with every ExDA ingredient (nonlinear value, GST, GDFN, LayerNorm); it
    trains in seconds on a CPU, so ablations can run several variants with the same budget.
    ``value`` / ``tokens`` are :class:`ValueOptions` / :class:`TokenOptions`, or None to leave
    the ingredient out; ``value_blocks`` (indices) limits the value path to some blocks, e.g. the
    first half as a stand-in for "encoder only" (None: every block).
    Shapes: (B, 3, H, W) -> (B, 3, H, W).
    """

    def __init__(self, channels: int = 16, blocks: int = 1, heads: int = 1,
                 value: ValueOptions | None = None, tokens: TokenOptions | None = None, ffn_factor: float = 2.0,
                 value_blocks=None):
        super().__init__()
        chosen = set(range(blocks)) if value_blocks is None else set(value_blocks)
        self.embed = nn.Conv2d(3, channels, 3, padding=1, bias=False)
        self.body = nn.Sequential(*[ExDABlock(channels, heads, ffn_factor, value=value if i in chosen else None,
                                              tokens=tokens) for i in range(blocks)])
        self.head = nn.Conv2d(channels, 3, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.head(self.body(self.embed(x)))

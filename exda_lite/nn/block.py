"""The ExDA block (the paper's "MDAB", Fig. A(b)): a pre-norm Transformer block.

    X = X + Attention(LayerNorm(X))      attention = MDTA (+ nonlinear value, + GST)
    X = X + GDFN(LayerNorm(X))

With the nonlinear value and GST off this is exactly Restormer's TransformerBlock.
``ffn=False`` drops the second line: an attention-only block, used by the toy experiments
of notebooks 02-03 to isolate what the attention operator itself can express.
"""

from __future__ import annotations

import torch
from torch import nn

from .attention import ExDAAttention
from .gdfn import GDFN
from .gst import GlobalSpatialTokens
from .layernorm import LayerNorm2d
from .nonlinear_value import NonlinearValue
from .options import TokenOptions, ValueOptions  # noqa: F401 - also imported from here


class ExDABlock(nn.Module):
    """One MDAB / Restormer Transformer block.

    Args:
        dim: channels C.
        heads: attention heads.
        ffn_factor: GDFN expansion (Restormer 2.66, ExDA 2).
        bias: bias in the convolutions.
        layernorm: ``"withbias"`` or ``"biasfree"``.
        value: :class:`ValueOptions`, or None for Restormer's linear values.
        tokens: :class:`TokenOptions`, or None for no GST.
        ffn: False for an attention-only block (no norm2, no GDFN).

    Shapes: (B, C, H, W) -> (B, C, H, W).
    """

    def __init__(self, dim: int, heads: int, ffn_factor: float = 2.0, bias: bool = False,
                 layernorm: str = "withbias", value: ValueOptions | None = None,
                 tokens: TokenOptions | None = None, ffn: bool = True):
        super().__init__()
        value_path = None if value is None else NonlinearValue(
            dim, heads, form=value.form, act=value.act, learnable=value.learnable,
            groups=value.groups, bias=bias)
        gst = None if tokens is None else GlobalSpatialTokens(
            dim, heads, tokens=tokens.tokens, stride=tokens.stride, bias=bias)
        self.norm1 = LayerNorm2d(dim, layernorm)
        self.attn = ExDAAttention(
            dim, heads, bias=bias, value_path=value_path, gst=gst,
            token_to_channel=(tokens or TokenOptions()).token_to_channel,
            alpha_init=(tokens or TokenOptions()).alpha_init,
            value_position=(value or ValueOptions()).position,
            eq3=(tokens or TokenOptions()).eq3,
            token_value_scale=(tokens or TokenOptions()).token_value_scale)
        self.norm2 = LayerNorm2d(dim, layernorm) if ffn else None
        self.ffn = GDFN(dim, ffn_factor, bias) if ffn else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        if self.ffn is None:
            return x
        return x + self.ffn(self.norm2(x))

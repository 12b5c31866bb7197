"""The nonlinear value path (ExDA Sec. 3.2, Eq. 1; Appendix C, Eq. 6-10).

In Restormer's MDTA the value V is a *linear* function of the block input, and the
attention output ``A @ V`` is a linear combination of the rows of V: for a fixed
attention map A, the output is a linear function of the input (Eq. 6-7). ExDA
transforms the value *before* aggregation:

    V' = V + g(V),    g = Conv1x1 -> DWConv3x3 -> GELU -> Conv1x1          (Eq. 1)

With the GELU, V' -- and so ``A @ V'`` for a fixed A -- is no longer linear in the input
(Eq. 9-10). What this does and does not show, measured (``exda_lite.course.span``):

* the right test is linearity (superposition with A held fixed): ~1e-16 with
  ``act="identity"``, clearly positive with ``act="gelu"``;
* the distance from span(V) is *not* that test: a linear g also leaves span(V), because
  its depthwise 3x3 conv mixes pixels;
* a nonlinearity after the aggregation (``ExDAAttention(value_position="post")``) is just
  as nonlinear in the input; the paper's "cannot escape" overstates, and whether pre- or
  post-aggregation helps more is an empirical question (notebook 02).

The switches below reproduce the rows of the paper's Table 7:

=====================  =====================================================
``form="residual"``    V' = V + g(V)   (the paper's choice)
``form="inplace"``     V' = g(V)
``act="gelu"``         GELU inside g (the paper's choice)
``act="sigmoid"``      Sigmoid inside g
``act="identity"``     no nonlinearity: V' stays a *linear* function of X with exactly
                       the parameters of the GELU version (our matched control, nb 02-03)
``learnable=True``     g = Conv1x1 -> DWConv3x3 -> act -> Conv1x1
``learnable=False``    g = act  ("non-parametric")
=====================  =====================================================

Design choice (the paper does not say): the two 1x1 convolutions are *grouped by
attention head* (``groups="head"``), so each head transforms only its own C/heads
value channels, just as attention itself works per head. With this choice our
ExDA-B/S/T are 4.7 %, 4.8 % and 6.3 % larger than Table A (whose counts match the
backbone *without* the two primitives); with full 1x1 convolutions (``groups="full"``)
ExDA-B would be 26.3 M (+17 %) instead of 23.5 M.
See ``exda_lite.nn.configs`` for the measured numbers.
"""

from __future__ import annotations

import torch
from torch import nn

from .options import ValueOptions

VALUE_FORMS = ("residual", "inplace")
VALUE_ACTS = ("gelu", "sigmoid", "identity")
VALUE_GROUPS = ("head", "full")


def make_activation(act: str) -> nn.Module:
    """The pointwise function inside g: ``"gelu"``, ``"sigmoid"`` or ``"identity"`` (linear control)."""
    if act == "gelu":
        return nn.GELU()
    if act == "sigmoid":
        return nn.Sigmoid()
    if act == "identity":
        return nn.Identity()
    raise ValueError(f"value activation must be one of {VALUE_ACTS}, got {act!r}")


class NonlinearValue(nn.Module):
    """V' = V + g(V) (Eq. 1), or one of its Table 7 ablations.

    Args:
        dim: value channels C (all heads together).
        heads: number of attention heads; with ``groups="head"`` the 1x1 convs act per head.
        form: ``"residual"`` (V + g(V)) or ``"inplace"`` (g(V)).
        act: ``"gelu"``, ``"sigmoid"`` or ``"identity"`` (a linear g, for matched controls).
        learnable: False gives the non-parametric g(V) = act(V).
        groups: ``"head"`` (default) or ``"full"`` 1x1 convolutions.
        bias: bias in the convolutions.

    Shapes: V (B, C, H, W) -> V' (B, C, H, W). Applied *before* the values are
    reshaped into heads and aggregated by attention.
    """

    def __init__(self, dim: int, heads: int = 1, form: str = ValueOptions.form, act: str = ValueOptions.act,
                 learnable: bool = ValueOptions.learnable, groups: str = ValueOptions.groups, bias: bool = False):
        super().__init__()
        if form not in VALUE_FORMS:
            raise ValueError(f"value form must be one of {VALUE_FORMS}, got {form!r}")
        if groups not in VALUE_GROUPS:
            raise ValueError(f"value groups must be one of {VALUE_GROUPS}, got {groups!r}")
        self.form = form
        conv_groups = heads if groups == "head" else 1
        if learnable:
            self.g = nn.Sequential(
                nn.Conv2d(dim, dim, kernel_size=1, groups=conv_groups, bias=bias),
                nn.Conv2d(dim, dim, kernel_size=3, padding=1, groups=dim, bias=bias),
                make_activation(act),
                nn.Conv2d(dim, dim, kernel_size=1, groups=conv_groups, bias=bias),
            )
        else:
            self.g = make_activation(act)

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        if self.form == "residual":
            return v + self.g(v)  # Eq. 1 / Eq. 8
        return self.g(v)

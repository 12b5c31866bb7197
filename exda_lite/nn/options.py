"""The switches of ExDA's two primitives, written once: every constructor takes its defaults from here.

* :class:`ValueOptions`  the nonlinear value path (Eq. 1, Table 7): :class:`~.nonlinear_value.NonlinearValue`;
* :class:`TokenOptions`  the Global Spatial Tokens (Algorithm 1, Eq. 2-3): :class:`~.gst.GlobalSpatialTokens`
  and the token handling of :class:`~.attention.ExDAAttention`.

``ExDAConfig`` (``configs.py``), ``ExDABlock`` and the constructors read these defaults, so a default changed here
changes everywhere (issue 19: "the GST option defaults are written once").
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ValueOptions:
    """Switches of the nonlinear value path (Table 7); see :class:`NonlinearValue`."""

    form: str = "residual"
    act: str = "gelu"
    learnable: bool = True
    groups: str = "head"
    position: str = "pre"  # "post": the same g after aggregation (a control, not the paper)


@dataclass(frozen=True)
class TokenOptions:
    """Switches of the Global Spatial Tokens; see :class:`GlobalSpatialTokens`."""

    tokens: int = 4
    stride: int = 2
    token_to_channel: str = "mean"
    alpha_init: float = 0.1
    eq3: str = "token_rows"  # or "separate" (see ExDAAttention)
    token_value_scale: str = "softmax"  # or "rms" (opt-in rescaling of the token rows of V*)

"""The paper's network, one module per concept, and nothing else (imports no other part of exda_lite).

* ``options``          ``ValueOptions`` / ``TokenOptions``: the primitives' switches and their defaults, once
* ``layernorm``        per-pixel LayerNorm (WithBias / BiasFree)
* ``gdfn``             gated-dconv feed-forward network (GDFN)
* ``nonlinear_value``  V' = V + g(V) and its Table 7 variants (Eq. 1)
* ``gst``              Global Spatial Tokens (Algorithm 1)
* ``attention``        MDTA with the optional nonlinear value and GST (Eq. 2-3)
* ``block``            the ExDA block (MDAB): LayerNorm -> attention -> LayerNorm -> GDFN
* ``configs``          ``ExDAConfig`` and the named configs (Table A)
* ``model``            the 4-level U-Net and ``build_model``
* ``tiny``             the small full-resolution networks of the experiments (TinyRestorer, ToyAttentionNet)
"""

from .attention import ExDAAttention, channel_attention
from .block import ExDABlock
from .options import TokenOptions, ValueOptions
from .configs import CONFIGS, PAPER_SIZES, ExDAConfig, get_config
from .gdfn import GDFN
from .gst import GlobalSpatialTokens
from .layernorm import LayerNorm2d
from .model import ExDA, build_model
from .nonlinear_value import NonlinearValue

__all__ = ["CONFIGS", "GDFN", "PAPER_SIZES", "ExDA", "ExDAAttention", "ExDABlock", "ExDAConfig",
           "GlobalSpatialTokens", "LayerNorm2d", "NonlinearValue", "TokenOptions", "ValueOptions", "build_model",
           "channel_attention", "get_config"]

"""Global Spatial Tokens (ExDA Sec. 3.3, Algorithm 1).

Channel attention has no CLS-like slot that could hold "what degradation is this?".
GST adds ``K`` such slots per head. Each slot is a spatial *map* (one row of length
H*W, like every channel row of Q, K, V in MDTA) computed from the features:

    1. X~ = AvgPool_s(X)                          (B, C, H/s, W/s)
    2. Phi = W_proj * X~                          (B, h*K, H/s, W/s)     1x1 conv
    3-4. G_compact = Softmax_spatial(Phi)         (B, h, K, H/s*W/s)     sums to 1
    5. G = BilinearUpsample(G_compact, (H, W))    (B, h, K, H*W)

The tokens are later concatenated to Q, K and V' (Eq. 2, see ``exda_lite.nn.attention``).

Odd sizes: the pooling uses ``ceil_mode=True`` so the last row/column of pixels is
never dropped when H or W is not a multiple of s.

Small inputs: when the pooled map has a single pixel (e.g. the latent level of a 16x16
input), the spatial softmax of one value is the constant 1; the tokens then carry no
content and W_proj gets no gradient. Train on patches of 32x32 or larger (the paper: 128x128).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .options import TokenOptions


class GlobalSpatialTokens(nn.Module):
    """Algorithm 1: content-adaptive global spatial tokens.

    Args:
        dim: input channels C.
        heads: attention heads h.
        tokens: tokens per head K.
        stride: pooling stride s (the paper's best is 2; Table/Fig. B try 1, 2, 4, 8).
        bias: bias of the projection.

    Shapes: X (B, C, H, W) -> G (B, h, K, H*W).
    """

    def __init__(self, dim: int, heads: int, tokens: int = TokenOptions.tokens, stride: int = TokenOptions.stride,
                 bias: bool = False):
        super().__init__()
        if tokens < 1 or stride < 1:
            raise ValueError(f"GST needs tokens >= 1 and stride >= 1, got tokens={tokens}, stride={stride}")
        self.heads, self.tokens, self.stride = heads, tokens, stride
        self.proj = nn.Conv2d(dim, heads * tokens, kernel_size=1, bias=bias)  # W_proj, step 2

    def compact_maps(self, x: torch.Tensor) -> torch.Tensor:
        """Steps 1-4: the softmax-normalised maps at reduced resolution.

        Returns (B, h, K, H_s, W_s); every map sums to one over its H_s*W_s pixels.
        """
        pooled = x if self.stride == 1 else F.avg_pool2d(x, self.stride, self.stride, ceil_mode=True)
        phi = self.proj(pooled)  # (B, h*K, H_s, W_s)
        b, _, hs, ws = phi.shape
        phi = phi.reshape(b, self.heads, self.tokens, hs * ws)
        return phi.softmax(dim=-1).reshape(b, self.heads, self.tokens, hs, ws)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        maps = self.compact_maps(x)  # (B, h, K, H_s, W_s)
        if maps.shape[-2:] != (h, w):  # step 5
            maps = F.interpolate(maps.flatten(1, 2), size=(h, w), mode="bilinear", align_corners=False)
        return maps.reshape(b, self.heads, self.tokens, h * w)  # (B, h, K, H*W)

"""Exercises about the mechanism (issue 21): what MDTA is per pixel, what GST's tokens carry.

* ``per_image_conv`` (notebook 01): for one image, MDTA's attention sublayer with linear values is a 1x1
  convolution of the value maps whose C x C weight is ``W_out @ blockdiag(A_1, ..., A_h)``.
"""

from __future__ import annotations

import torch

from .checker import Exercise
from ..mechanism import per_image_weight


# ----------------------------------------------------------------------------- notebook 01
def per_image_inputs(seed: int):
    g = torch.Generator().manual_seed(seed)
    b, heads, n = 2, 2 + seed % 2, 3
    attn = torch.randn(b, heads, n, n, generator=g, dtype=torch.float64).mul(2).softmax(dim=-1)
    w_out = torch.randn(heads * n, heads * n, generator=g, dtype=torch.float64)
    return attn, w_out


def _block_diagonal(attn: torch.Tensor) -> torch.Tensor:
    """(B, h, N, N) -> (B, h*N, h*N): each image's heads on the diagonal."""
    return torch.stack([torch.block_diag(*image) for image in attn])


def per_image_reference(attn, w_out):
    return per_image_weight(attn, w_out)


EXERCISES = {
    "per_image_conv": Exercise(
        "MDTA with linear values = one 1x1 convolution per image",
        per_image_reference,
        per_image_inputs,
        [("you used A transposed (A^T): row i of A says how much output channel i takes from each value "
          "channel j, so the weight is A itself, not A.transpose(-2, -1).",
          lambda a, w: w @ _block_diagonal(a.transpose(-2, -1))),
         ("the output projection is missing: the layer ends with project_out, so the 1x1 weight is "
          "W_out @ blockdiag(A), not blockdiag(A) alone.",
          lambda a, w: _block_diagonal(a)),
         ("the product is in the wrong order: A V comes first and the projection is applied to its result, "
          "so the weight is W_out @ blockdiag(A), not blockdiag(A) @ W_out.",
          lambda a, w: _block_diagonal(a) @ w),
         ("every head got head 0's map; head i must mix only its own channels i*C/h ... (i+1)*C/h - 1 with its own "
          "A_i (torch.block_diag(*attn[b]) puts each head's map on the diagonal).",
          lambda a, w: w @ _block_diagonal(a[:, :1].expand_as(a))),
         ("the heads' maps were added into one C/h x C/h matrix; the full C x C weight is block diagonal, one "
          "block per head (torch.block_diag).",
          lambda a, w: w[:a.shape[-1], :a.shape[-1]] @ a.sum(1))],
        hint="torch.stack([torch.block_diag(*attn[b]) for b in range(B)]) gives (B, C, C); left-multiply by w_out."),
}

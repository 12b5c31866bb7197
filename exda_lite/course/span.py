"""Measuring the span limitation (Sec. 3.1, Appendix C, Eq. 6-10).

For one head, attention returns ``A @ V``: every output row is a linear combination of
the rows of V. Project the output rows onto span(rows of V) by least squares; the
relative residual ``|out - proj(out)| / |out|`` is ~0 (float error) for linear values
and clearly positive when V was replaced by V' = V + g(V) (Eq. 9-10).
"""

from __future__ import annotations

import torch
from torch import nn


def span_residual(rows: torch.Tensor, basis: torch.Tensor) -> torch.Tensor:
    """Relative distance of ``rows`` from the span of the rows of ``basis``.

    Args:
        rows: (..., N, D) vectors to test.
        basis: (..., M, D) vectors spanning the subspace (M < D for the test to mean anything).

    Returns:
        (...,) ``||rows - P rows|| / ||rows||`` (Frobenius norms), P the orthogonal projection.
    """
    rows64, basis64 = rows.double(), basis.double()
    # least squares in the transposed problem: basis^T @ coef ~= rows^T
    coef = torch.linalg.lstsq(basis64.transpose(-2, -1), rows64.transpose(-2, -1)).solution  # (..., M, N)
    projected = (basis64.transpose(-2, -1) @ coef).transpose(-2, -1)  # (..., N, D)
    return (rows64 - projected).flatten(-2).norm(dim=-1) / rows64.flatten(-2).norm(dim=-1)


def attention_span_residual(attention: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Span residual of an :class:`~exda_lite.nn.attention.ExDAAttention` layer's aggregated output.

    Compares ``A @ V'`` (the input of ``project_out``) with the span of the *linear*
    value rows V, per head. Returns (B, heads). GST must be off (its token rows are
    extra basis vectors by design).
    """
    if attention.gst is not None:
        raise ValueError("switch GST off: its token rows enlarge the basis on purpose")
    captured = {}
    hook = attention.project_out.register_forward_hook(lambda mod, inp, out: captured.update(out=inp[0]))
    try:
        with torch.no_grad():
            attention(x)
            v_linear = attention.qkv_dwconv(attention.qkv(x)).chunk(3, dim=1)[2]  # (B, C, H, W)
    finally:
        hook.remove()
    b, c, h, w = v_linear.shape
    heads = attention.heads
    basis = v_linear.reshape(b, heads, c // heads, h * w)
    rows = captured["out"].reshape(b, heads, c // heads, h * w)
    return span_residual(rows, basis)

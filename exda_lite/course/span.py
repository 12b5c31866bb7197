"""Testing Sec. 3.1's argument (Appendix C, Eq. 6-10): is the attention output linear in its input?

The paper's claim, in one sentence: for a fixed attention map A, MDTA's output ``A @ V`` with
``V = W X`` is a *linear* function of X, so it can only produce linear combinations of the
value rows (Eq. 6-7); making V nonlinear in X before aggregation, V' = V + g(V) with a GELU
in g, breaks this (Eq. 8-10).

**The correct test is linearity, measured by superposition** (:func:`superposition_residual`).
Hold A fixed (computed once, from one input) and push two inputs through the value path:

    r = ||O_A(X1 + X2) - O_A(X1) - O_A(X2)|| / ||O_A(X1 + X2)||

r is 0 up to float error exactly when the value path is linear, whatever its weights. Four
value paths with *the same weights* (:func:`linearity_table`):

=====================  ============================  ======================================
``linear_values``      O = A V                        linear (Restormer's MDTA): r ~ 1e-16
``linear_g``           O = A (V + g(V)), identity g   linear (the matched control): r ~ 1e-16
``gelu_g``             O = A (V + g(V)), GELU in g    nonlinear (ExDA, Eq. 1): r > 0
``post_aggregation``   O = A V + g(A V), GELU in g    nonlinear as well: r > 0
=====================  ============================  ======================================

Two consequences a student should take away:

1. **The span residual is not a linearity test.** :func:`span_residual` measures how far
   the output rows are from span(rows of V). An earlier version of this course read a
   non-zero span residual as "the GELU broke the span limitation". But a *linear* g with a
   depthwise 3x3 conv also leaves span(V) -- further, in fact -- because the conv mixes
   pixels, i.e. it is a linear map that is not a combination of V's rows. The span residual
   measures spatial filtering, not nonlinearity; :func:`linearity_table` shows both columns.
2. **The paper overstates the pre/post distinction.** It says a nonlinearity after the
   aggregation "cannot escape this limitation"; but O = A V + g(A V) is just as nonlinear in
   X (its r is as clearly non-zero). Whether the nonlinearity helps more before or after
   aggregation is an empirical question: notebook 02 trains both with the same parameters.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

VALUE_PATHS = ("linear_values", "linear_g", "gelu_g", "post_aggregation")


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


def superposition_residual(f: Callable[[torch.Tensor], torch.Tensor], x1: torch.Tensor,
                           x2: torch.Tensor) -> torch.Tensor:
    """``||f(x1 + x2) - f(x1) - f(x2)|| / ||f(x1 + x2)||``: 0 (to float error) iff f is additive.

    For a linear f this is ~1e-16 in float64; a nonlinear f gives a clearly positive number.
    (An affine f with a bias b would give ``||b|| / ...``: the layers measured here have no bias.)
    """
    both = f(x1 + x2)
    return (both - f(x1) - f(x2)).norm() / both.norm()


def fixed_attention_output(attention: nn.Module, x: torch.Tensor, attn: torch.Tensor,
                           value_path: str) -> torch.Tensor:
    """O_A(X): an ``ExDAAttention`` layer's output with the attention map ``attn`` held fixed.

    Args:
        attention: an ``ExDAAttention`` without GST, with ``bias=False``; its ``value_path``
            (a ``NonlinearValue``) supplies g for the ``*_g`` and ``post_aggregation`` paths.
        x: (B, C, H, W) input.
        attn: (B, heads, C/heads, C/heads) attention map, e.g. from ``attention(x0, return_attention=True)``.
        value_path: one of ``VALUE_PATHS`` (see the module docstring).

    Returns:
        (B, C, H, W), after ``project_out``.
    """
    from ..nn.attention import merge_heads, split_heads

    if value_path not in VALUE_PATHS:
        raise ValueError(f"value_path must be one of {VALUE_PATHS}, got {value_path!r}")
    b, c, h, w = x.shape
    v = attention.qkv_dwconv(attention.qkv(x)).chunk(3, dim=1)[2]  # V = W_v X: linear in X
    g = attention.value_path.g
    if value_path == "linear_g":  # the same weights with the identity in place of the GELU
        g = nn.Sequential(*[nn.Identity() if isinstance(m, nn.GELU) else m for m in g])
    if value_path in ("linear_g", "gelu_g"):
        v = v + g(v)  # Eq. 1, before aggregation
    out = merge_heads(attn @ split_heads(v, attention.heads), h, w)
    if value_path == "post_aggregation":
        out = out + g(out)  # the same g after aggregation
    return attention.project_out(out)


def linearity_table(dim: int = 8, heads: int = 2, size: int = 16, seed: int = 0) -> dict[str, dict[str, float]]:
    """Superposition and span residuals of the four value paths, same weights, float64.

    Returns ``{path: {"superposition": r, "span": mean span residual over heads}}``.
    """
    from ..nn.attention import ExDAAttention, split_heads
    from ..nn.nonlinear_value import NonlinearValue

    torch.manual_seed(seed)
    layer = ExDAAttention(dim, heads, bias=False, value_path=NonlinearValue(dim, heads, act="gelu")).double()
    x0, x1, x2 = (torch.randn(1, dim, size, size, dtype=torch.float64) for _ in range(3))
    table = {}
    with torch.no_grad():
        _, attn = layer(x0, return_attention=True)  # A is computed once and then held fixed
        for path in VALUE_PATHS:
            def f(x, path=path):
                return fixed_attention_output(layer, x, attn, path)

            before_projection = torch.linalg.solve(  # undo project_out (an invertible 1x1 conv here)
                layer.project_out.weight[:, :, 0, 0], f(x1).flatten(2)).reshape(1, dim, size, size)
            v = layer.qkv_dwconv(layer.qkv(x1)).chunk(3, dim=1)[2]
            span = span_residual(split_heads(before_projection, heads), split_heads(v, heads)).mean()
            table[path] = {"superposition": superposition_residual(f, x1, x2).item(), "span": span.item()}
    return table


def attention_span_residual(attention: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Span residual of an :class:`~exda_lite.nn.attention.ExDAAttention` layer's aggregated output.

    Compares ``A @ V'`` (the input of ``project_out``) with the span of the *linear*
    value rows V, per head. Returns (B, heads). GST must be off (its token rows are
    extra basis vectors by design). This measures the distance from span(V), which a
    linear g with a spatial convolution also creates: it is not a test of nonlinearity
    (see the module docstring and :func:`linearity_table`).
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


def per_pixel_affine_residual(layer: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> float:
    """Is ``layer`` one affine map shared by every pixel of this image? The relative residual of the best fit.

    ``x`` is one feature map (1, C, H, W). Fit ``out_p = M x_p + b`` by least squares over all H*W pixels
    (the same C x C matrix M and bias b at every pixel) and return ``||out - fit|| / ||out||``. A per-image
    affine layer (GroupNorm(1, C), or MDTA's ``A @ V`` with linear values followed by a 1x1 conv) scores ~0:
    one image sees one affine map. A per-pixel nonlinearity (LayerNorm: each pixel divided by its own std,
    or a GELU) scores clearly above 0.
    """
    with torch.no_grad():
        out = layer(x)
    inputs = x[0].flatten(1).T.double()  # (H*W, C)
    targets = out[0].flatten(1).T.double()  # (H*W, C_out)
    design = torch.cat([inputs, torch.ones(len(inputs), 1, dtype=inputs.dtype)], dim=1)
    fit = design @ torch.linalg.lstsq(design, targets).solution
    return float((targets - fit).norm() / targets.norm())

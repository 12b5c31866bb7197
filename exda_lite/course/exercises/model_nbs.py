"""Exercises of the model notebooks (01-06): heads, MDTA, span, degradation pipeline, PSNR, Eq. 1, GST, U-Net."""

from __future__ import annotations


import numpy as np
import torch
import torch.nn.functional as F
from scipy.ndimage import gaussian_filter1d

from .checker import Exercise
from .. import span as span_module
from ...data.synthetic import quantise, sensor_response
from ...nn.attention import channel_attention


# ----------------------------------------------------------------------------- notebook 02
def span_inputs(seed: int):
    g = torch.Generator().manual_seed(seed)
    basis = torch.randn(4, 40, generator=g, dtype=torch.float64)
    rows = torch.randn(3, 4, generator=g, dtype=torch.float64) @ basis + 0.5 * torch.randn(3, 40, generator=g,
                                                                                           dtype=torch.float64)
    return rows, basis


def span_projection(rows, basis):
    coef = torch.linalg.lstsq(basis.T, rows.T).solution
    return (basis.T @ coef).T


class RandomMap:
    """A fixed random map x -> W2 act(W1 x) on (B, C, H, W) tensors: linear when ``act`` is the identity."""

    def __init__(self, seed: int, linear: bool):
        g = torch.Generator().manual_seed(seed)
        self.w1 = torch.randn(6, 4, generator=g, dtype=torch.float64)
        self.w2 = torch.randn(4, 6, generator=g, dtype=torch.float64)
        self.act = (lambda z: z) if linear else F.gelu

    def __call__(self, x):
        return torch.einsum("oc,bchw->bohw", self.w2, self.act(torch.einsum("co,bohw->bchw", self.w1, x)))


def superposition_inputs(seed: int):
    g = torch.Generator().manual_seed(100 + seed)
    x1, x2 = (torch.randn(2, 4, 5, 5, generator=g, dtype=torch.float64) for _ in range(2))
    return RandomMap(seed, linear=seed % 2 == 1), x1, x2  # odd seeds: a linear map (answer ~1e-16)


def superposition_reference(f, x1, x2):
    return span_module.superposition_residual(f, x1, x2)


def pipeline_inputs(seed: int):
    rng = np.random.default_rng(seed)
    x = 0.05 + 0.9 * rng.random(32)
    n1, n2 = rng.standard_normal(32), rng.standard_normal(32)
    return x, 1.2, 1.8, 0.05, 0.02, 32, n1, n2


def pipeline_reference(x, sigma, gamma, mult, add, levels, n1, n2):
    u = sensor_response(gaussian_filter1d(x, sigma, mode="reflect"), gamma)
    return quantise(u * (1 + mult * n1) + add * n2, levels)


# ----------------------------------------------------------------------------- notebook 03
def psnr_inputs(seed: int):
    g = torch.Generator().manual_seed(seed)
    target = torch.rand(3, 1, 8, 8, generator=g)
    pred = target + 0.1 * torch.randn(3, 1, 8, 8, generator=g) * torch.tensor([0.3, 1.0, 2.0])[:, None, None, None]
    return pred, target


def psnr_reference(pred, target):
    mse = (pred.clamp(0, 1) - target.clamp(0, 1)).pow(2).flatten(1).mean(1)
    return 10 * torch.log10(1 / mse)


def value_inputs(seed: int):
    g = torch.Generator().manual_seed(seed)
    v = torch.randn(2, 4, 5, 5, generator=g)
    w1 = torch.randn(4, 4, 1, 1, generator=g) * 0.5
    w_dw = torch.randn(4, 1, 3, 3, generator=g) * 0.5
    w2 = torch.randn(4, 4, 1, 1, generator=g) * 0.5
    return v, w1, w_dw, w2


def g_of(v, w1, w_dw, w2, act=F.gelu, order="conv-dw-act-conv"):
    if order == "act-last":
        return act(F.conv2d(F.conv2d(F.conv2d(v, w1), w_dw, padding=1, groups=v.shape[1]), w2))
    if order == "act-first":
        return F.conv2d(F.conv2d(F.conv2d(act(v), w1), w_dw, padding=1, groups=v.shape[1]), w2)
    return F.conv2d(act(F.conv2d(F.conv2d(v, w1), w_dw, padding=1, groups=v.shape[1])), w2)


# ----------------------------------------------------------------------------- notebook 01
def heads_inputs(seed: int):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(2, 12, 3, 5, generator=g), 3


def heads_reference(x, heads):
    b, c, h, w = x.shape
    return x.reshape(b, heads, c // heads, h * w)


def attention_inputs(seed: int):
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(2, 3, 4, 20, generator=g) for _ in range(3))
    temperature = 0.5 + 2.5 * torch.rand(3, 1, 1, generator=g)  # far from 1, so a missing t shows
    return q, k, v, temperature


def attention_variant(q, k, v, t, norm_dim=-1, use_t=True, softmax_dim=-1, transpose_map=False, divide_t=False):
    if norm_dim is not None:
        q, k = F.normalize(q, dim=norm_dim), F.normalize(k, dim=norm_dim)
    logits = q @ k.transpose(-2, -1)
    if use_t:
        logits = logits / t if divide_t else logits * t
    attn = logits.softmax(dim=softmax_dim)
    return (attn.transpose(-2, -1) if transpose_map else attn) @ v


# ----------------------------------------------------------------------------- notebook 05
def gst_inputs(seed: int):
    g = torch.Generator().manual_seed(seed)
    heads, tokens, stride = 2, 3, 2
    x = torch.randn(2, 6, 9, 7, generator=g)  # odd sizes: the last row/column must not be dropped
    weight = torch.randn(heads * tokens, 6, 1, 1, generator=g)
    return x, weight, heads, tokens, stride


def gst_compact_variant(x, weight, heads, tokens, stride, pool="avg", ceil=True, softmax="spatial"):
    if stride > 1:
        pool_fn = F.avg_pool2d if pool == "avg" else F.max_pool2d
        x = pool_fn(x, stride, stride, ceil_mode=ceil)
    phi = F.conv2d(x, weight)  # (B, h*K, Hs, Ws)
    b, _, hs, ws = phi.shape
    phi = phi.reshape(b, heads, tokens, hs * ws)
    if softmax == "spatial":
        phi = phi.softmax(dim=-1)
    elif softmax == "tokens":
        phi = phi.softmax(dim=2)
    elif softmax == "heads_tokens_space":
        phi = phi.reshape(b, heads, -1).softmax(dim=-1).reshape(b, heads, tokens, hs * ws)
    return phi.reshape(b, heads, tokens, hs, ws)


def reinject_inputs(seed: int):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(2, 3, 5 + 4, 12, generator=g), 5, 0.1 + torch.rand((), generator=g).item()


def reinject_reference(out, c_head, alpha):
    return out[:, :, :c_head] + alpha * out[:, :, c_head:].mean(dim=2, keepdim=True)


# ----------------------------------------------------------------------------- notebook 04
VALUE_CASES = (("inplace", "sigmoid"), ("residual", "gelu"), ("residual", "sigmoid"))
VALUE_ACT_FUNCTIONS = {"gelu": F.gelu, "sigmoid": torch.sigmoid, "identity": lambda z: z}


def value_form_inputs(seed: int):
    g = torch.Generator().manual_seed(seed)
    form, act = VALUE_CASES[seed % len(VALUE_CASES)]
    return 2 * torch.randn(2, 4, 5, 5, generator=g), form, act


def value_form_reference(v, form, act):
    g = VALUE_ACT_FUNCTIONS[act](v)
    return v + g if form == "residual" else g


# ----------------------------------------------------------------------------- notebook 06
def level_inputs(seed: int):
    rng = np.random.default_rng(seed)
    return int(rng.choice([16, 26, 32, 48])), int(rng.integers(2, 5)), 8 * int(rng.integers(4, 20)), 8 * int(rng.integers(4, 20))


def level_shape_reference(dim, level, height, width):
    return (dim * 2 ** (level - 1), height // 2 ** (level - 1), width // 2 ** (level - 1))


def pad_inputs(seed: int):
    g = torch.Generator().manual_seed(seed)
    sizes = ((16, 21), (13, 10), (9, 9))[seed % 3]  # seed 0: one side already a multiple
    return torch.rand(1, 2, *sizes, generator=g), 8


def pad_reference(x, multiple):
    h, w = x.shape[-2:]
    return F.pad(x, (0, -w % multiple, 0, -h % multiple), mode="reflect")


EXERCISES: dict[str, Exercise] = {
    "span_residual": Exercise(
        "span residual",
        lambda rows, basis: span_module.span_residual(rows, basis),
        span_inputs,
        [("you returned the absolute residual ||r - Pr||; divide by ||r|| to make it relative.",
          lambda r, b: (r - span_projection(r, b)).norm()),
         ("you returned ||Pr|| / ||r|| (the part *inside* the span); the residual is r - Pr.",
          lambda r, b: span_projection(r, b).norm() / r.norm()),
         ("you averaged per-row relative residuals; use one Frobenius norm over all rows.",
          lambda r, b: ((r - span_projection(r, b)).norm(dim=1) / r.norm(dim=1)).mean())],
        hint="Solve basis^T c = rows^T by least squares (torch.linalg.lstsq), project, compare norms."),
    "superposition": Exercise(
        "superposition residual (a linearity test)",
        superposition_reference,
        superposition_inputs,
        [("you returned the absolute difference; divide by ||f(x1 + x2)|| to make it relative (and scale-free).",
          lambda f, a, b: (f(a + b) - f(a) - f(b)).norm()),
         ("you divided by ||x1 + x2||, the input; divide by the output ||f(x1 + x2)|| so the weights' scale cancels.",
          lambda f, a, b: (f(a + b) - f(a) - f(b)).norm() / (a + b).norm()),
         ("one term is missing: superposition compares f(x1 + x2) with f(x1) + f(x2) -- subtract both.",
          lambda f, a, b: (f(a + b) - f(a)).norm() / f(a + b).norm()),
         ("you compared f(x1) with f(x2); additivity compares f(x1 + x2) with f(x1) + f(x2).",
          lambda f, a, b: (f(a) - f(b)).norm() / f(a + b).norm())],
        hint="Evaluate f three times: on x1 + x2, on x1 and on x2; take the norm of the difference, relative to "
             "the norm of f(x1 + x2)."),
    "is_linear": Exercise(
        "is this map linear? (superposition within 1e-9)",
        lambda f, a, b: bool(superposition_reference(f, a, b) < 1e-9),
        superposition_inputs,
        [("your test is inverted: True must mean that superposition holds (a residual below 1e-9).",
          lambda f, a, b: bool(superposition_reference(f, a, b) >= 1e-9))],
        hint="Compute the relative superposition residual (notebook 02, exercise 1) and compare it with 1e-9."),
    "sensor_pipeline": Exercise(
        "synthetic degradation pipeline",
        pipeline_reference,
        pipeline_inputs,
        [("you quantised before adding the noise; the ADC (quantisation) comes last.",
          lambda x, s, g, m, a, q, n1, n2: quantise(sensor_response(gaussian_filter1d(x, s, mode="reflect"), g), q)
          * (1 + m * n1) + a * n2),
         ("you applied the sensor response before the blur; light is blurred by the optics first.",
          lambda x, s, g, m, a, q, n1, n2: quantise(gaussian_filter1d(sensor_response(x, g), s, mode="reflect")
                                                    * (1 + m * n1) + a * n2, q)),
         ("you used 1/gamma: the *degradation* is u ** gamma, the inverse is what the model learns.",
          lambda x, s, g, m, a, q, n1, n2: pipeline_reference(x, s, 1 / g, m, a, q, n1, n2)),
         ("the multiplicative noise should scale the signal: u * (1 + mult * n1), not u + mult * n1.",
          lambda x, s, g, m, a, q, n1, n2: quantise(sensor_response(gaussian_filter1d(x, s, mode="reflect"), g)
                                                    + m * n1 + a * n2, q))],
        hint="Order: blur (gaussian_filter1d, mode='reflect') -> ** gamma -> * (1 + mult*n1) + add*n2 -> quantise."),
    "psnr": Exercise(
        "PSNR",
        psnr_reference,
        psnr_inputs,
        [("you used 20 * log10(1 / MSE); PSNR is 10 * log10(MAX^2 / MSE) (or 20 * log10(MAX / RMSE)).",
          lambda p, t: 20 * torch.log10(1 / (p.clamp(0, 1) - t.clamp(0, 1)).pow(2).flatten(1).mean(1))),
         ("you averaged the MSE over the whole batch; compute one PSNR per image (shape (B,)).",
          lambda p, t: 10 * torch.log10(1 / (p.clamp(0, 1) - t.clamp(0, 1)).pow(2).mean())),
         ("the prediction must be clipped to [0, 1] first (the evaluation protocol).",
          lambda p, t: 10 * torch.log10(1 / (p - t).pow(2).flatten(1).mean(1)))],
        hint="Per image: clip to [0, 1], mean squared error over C, H, W, then 10 * log10(1 / mse)."),
    "nonlinear_value": Exercise(
        "nonlinear value V' = V + g(V)",
        lambda v, w1, w_dw, w2: v + g_of(v, w1, w_dw, w2),
        value_inputs,
        [("you forgot the residual: Eq. 1 is V' = V + g(V), not g(V) (that is Table 7's in-place variant).",
          lambda v, w1, w_dw, w2: g_of(v, w1, w_dw, w2)),
         ("no nonlinearity: without the GELU, V' is still linear in V and the span limit remains.",
          lambda v, w1, w_dw, w2: v + g_of(v, w1, w_dw, w2, act=lambda z: z)),
         ("the GELU is in the wrong place: g = Conv1x1 -> DWConv3x3 -> GELU -> Conv1x1.",
          lambda v, w1, w_dw, w2: v + g_of(v, w1, w_dw, w2, order="act-last")),
         ("the GELU is in the wrong place: it comes after the depthwise conv, not before the first conv.",
          lambda v, w1, w_dw, w2: v + g_of(v, w1, w_dw, w2, order="act-first")),
         ("you used ReLU; the paper's g uses GELU (F.gelu).",
          lambda v, w1, w_dw, w2: v + g_of(v, w1, w_dw, w2, act=F.relu)),
         ("the 3x3 convolution must be depthwise (groups = channels) with padding=1.",
          lambda v, w1, w_dw, w2: v + F.conv2d(F.gelu(F.conv2d(F.conv2d(v, w1), w_dw.expand(-1, v.shape[1], -1, -1)
                                                                / v.shape[1], padding=1)), w2))],
        hint="F.conv2d(v, w1) -> F.conv2d(., w_dw, padding=1, groups=C) -> F.gelu -> F.conv2d(., w2), then add v."),
    "split_heads": Exercise(
        "split into heads (B, C, H, W) -> (B, h, C/h, H*W)",
        heads_reference,
        heads_inputs,
        [("you put the pixels in the rows, (B, h, H*W, C/h): that is the layout of *token* (spatial) attention. "
          "In MDTA each row is one channel's whole feature map.",
          lambda x, h: heads_reference(x, h).transpose(-2, -1)),
         ("the channels are dealt to the heads like cards (channel 0 -> head 0, channel 1 -> head 1, ...); "
          "head i must get the consecutive channels i*C/h ... (i+1)*C/h - 1, as a plain reshape gives.",
          lambda x, h: x.reshape(x.shape[0], x.shape[1] // h, h, -1).transpose(1, 2)),
         ("you flattened W before H (a transpose of each feature map); reshape (B, C, H, W) directly.",
          lambda x, h: heads_reference(x.transpose(-2, -1), h))],
        hint="A single x.reshape(B, heads, C // heads, H * W) is enough."),
    "channel_attention": Exercise(
        "transposed (channel) attention",
        lambda q, k, v, t: channel_attention(q, k, v, t)[0],
        attention_inputs,
        [("q and k were L2-normalised along the channel axis (dim=-2); MDTA normalises each row, "
          "i.e. each channel's feature map, along H*W (dim=-1).",
          lambda q, k, v, t: attention_variant(q, k, v, t, norm_dim=-2)),
         ("q and k were not L2-normalised: without F.normalize(., dim=-1) the logits grow with H*W "
          "and the softmax saturates at high resolution.",
          lambda q, k, v, t: attention_variant(q, k, v, t, norm_dim=None)),
         ("the learnable temperature is missing: multiply the logits q @ k^T by t before the softmax.",
          lambda q, k, v, t: attention_variant(q, k, v, t, use_t=False)),
         ("you divided by the temperature; Restormer multiplies: softmax(q @ k^T * t).",
          lambda q, k, v, t: attention_variant(q, k, v, t, divide_t=True)),
         ("the softmax is over the wrong axis (dim=-2): each row of A (one output channel) must sum to 1 "
          "over the key channels, softmax(dim=-1).",
          lambda q, k, v, t: attention_variant(q, k, v, t, softmax_dim=-2)),
         ("you multiplied by the transposed map A^T @ v (or computed k @ q^T); the output is A @ v with "
          "A = softmax(q @ k^T * t).",
          lambda q, k, v, t: attention_variant(q, k, v, t, transpose_map=True))],
        hint="q, k = F.normalize(q, dim=-1), F.normalize(k, dim=-1); A = (q @ k.transpose(-2, -1) * t).softmax(-1); "
             "return A @ v."),
    "value_forms": Exercise(
        "Table 7's non-parametric value forms",
        value_form_reference,
        value_form_inputs,
        [("you always added V: with form='inplace' the value is replaced, V' = act(V) (Table 7's in-place rows).",
          lambda v, form, act: v + VALUE_ACT_FUNCTIONS[act](v)),
         ("you always used GELU; act='sigmoid' asks for torch.sigmoid.",
          lambda v, form, act: value_form_reference(v, form, "gelu")),
         ("the activation is missing: V' must be act(V) (in-place) or V + act(V) (residual).",
          lambda v, form, act: value_form_reference(v, form, "identity"))],
        hint="g = F.gelu(v) or torch.sigmoid(v); return v + g if form == 'residual' else g."),
    "level_shape": Exercise(
        "U-Net level shapes",
        level_shape_reference,
        level_inputs,
        [("the channels must double at every level down (Downsample: Conv C->C/2 then PixelUnshuffle(2) gives 2C).",
          lambda d, lv, h, w: (d, h // 2 ** (lv - 1), w // 2 ** (lv - 1))),
         ("off by one level: level 1 is the full resolution with `dim` channels, so use 2 ** (level - 1).",
          lambda d, lv, h, w: (d * 2 ** lv, h // 2 ** lv, w // 2 ** lv)),
         ("the resolution must halve at every level down (H / 2 ** (level - 1)), not stay the same.",
          lambda d, lv, h, w: (d * 2 ** (lv - 1), h, w))],
        hint="Level l: (dim * 2 ** (l - 1), H // 2 ** (l - 1), W // 2 ** (l - 1))."),
    "pad_to_multiple": Exercise(
        "pad to a multiple of 8",
        pad_reference,
        pad_inputs,
        [("you padded with zeros; reflect padding avoids a dark border the network would have to explain.",
          lambda x, m: F.pad(x, (0, -x.shape[-1] % m, 0, -x.shape[-2] % m))),
         ("you added a full `multiple` even where the size was already a multiple: pad by (-size) % multiple.",
          lambda x, m: F.pad(x, (0, m - x.shape[-1] % m, 0, m - x.shape[-2] % m), mode="reflect")),
         ("height and width are swapped: F.pad's tuple starts with the *last* axis (left, right, top, bottom).",
          lambda x, m: F.pad(x, (0, -x.shape[-2] % m, 0, -x.shape[-1] % m), mode="reflect"))],
        hint="F.pad(x, (0, (-W) % m, 0, (-H) % m), mode='reflect'): pad only bottom and right."),
    "gst_compact": Exercise(
        "Algorithm 1, steps 1-4 (compact GST maps)",
        gst_compact_variant,
        gst_inputs,
        [("the softmax runs over the K tokens (dim=2); Algorithm 1's softmax is *spatial*: each token's map sums "
          "to one over its H/s * W/s pixels (dim=-1 after reshaping to (B, h, K, -1)).",
          lambda x, w, h, k, s: gst_compact_variant(x, w, h, k, s, softmax="tokens")),
         ("there is no softmax: Phi must become G_compact = Softmax_spatial(Phi), a map that sums to one.",
          lambda x, w, h, k, s: gst_compact_variant(x, w, h, k, s, softmax="none")),
         ("the softmax is over all of a head's tokens and pixels together; each token needs its own map "
          "(softmax over the pixels only).",
          lambda x, w, h, k, s: gst_compact_variant(x, w, h, k, s, softmax="heads_tokens_space")),
         ("you used max pooling; step 1 is AvgPool_s.",
          lambda x, w, h, k, s: gst_compact_variant(x, w, h, k, s, pool="max")),
         ("the pooling dropped the last row/column of this odd-sized input: use ceil_mode=True.",
          lambda x, w, h, k, s: gst_compact_variant(x, w, h, k, s, ceil=False)),
         ("you projected without pooling first (stride ignored); step 1 is AvgPool with kernel and stride s.",
          lambda x, w, h, k, s: gst_compact_variant(x, w, h, k, 1))],
        hint="F.avg_pool2d(x, s, s, ceil_mode=True) -> F.conv2d(., weight) -> reshape (B, h, K, -1) -> softmax(-1) "
             "-> reshape (B, h, K, Hs, Ws)."),
    "gst_reinject": Exercise(
        "Eq. 3, re-injecting the token rows",
        reinject_reference,
        reinject_inputs,
        [("alpha is missing: the token rows enter scaled by alpha (initialised to 0.1), so they start as a "
          "small correction.",
          lambda o, c, a: o[:, :, :c] + o[:, :, c:].mean(dim=2, keepdim=True)),
         ("you summed the K token rows; our reading of Eq. 3 takes their mean (the K = 1 broadcast, averaged).",
          lambda o, c, a: o[:, :, :c] + a * o[:, :, c:].sum(dim=2, keepdim=True)),
         ("you dropped the tokens: the output is the channel rows *plus* alpha times the token rows.",
          lambda o, c, a: o[:, :, :c]),
         ("the token rows are the *last* K rows (appended after the C/h channel rows by Eq. 2), not the first ones.",
          lambda o, c, a: o[:, :, -c:] + a * o[:, :, :-c].mean(dim=2, keepdim=True))],
        hint="channels = out[:, :, :c_head]; tokens = out[:, :, c_head:]; "
             "return channels + alpha * tokens.mean(dim=2, keepdim=True)."),
}

"""Auto-checked exercises: instant, specific feedback on the student's own code.

``check(name, student_function)`` runs the student's function and the reference on a few
random inputs. When they disagree it also runs a list of *known mistakes* (wrong axis,
missing residual, ...) and, if one of them reproduces the student's output, says which
mistake it is. It prints one friendly verdict and returns True/False; it never raises, so
a notebook with unsolved exercises still runs to the end (the student edition relies on it).

    from exda_lite.exercises import check
    check("span_residual", my_span_residual)
"""

from __future__ import annotations

import math
import traceback
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from . import span as span_module
from .attention import channel_attention
from .synthetic import quantise, sensor_response
from scipy.ndimage import gaussian_filter1d


@dataclass
class Exercise:
    """A reference implementation, an input generator and the known mistakes."""

    title: str
    reference: Callable
    make_inputs: Callable[[int], tuple]  # seed -> positional arguments
    mistakes: list[tuple[str, Callable]] = field(default_factory=list)
    hint: str = ""


def as_tensor(value) -> torch.Tensor:
    return value.detach().double() if isinstance(value, torch.Tensor) else torch.as_tensor(np.asarray(value)).double()


def same(a, b, tol: float = 1e-4) -> bool:
    a, b = as_tensor(a), as_tensor(b)
    return a.shape == b.shape and torch.allclose(a, b, rtol=tol, atol=tol)


def diagnose(exercise: Exercise, args: tuple, got) -> str:
    expected = exercise.reference(*args)
    for description, mistake in exercise.mistakes:
        try:
            if same(got, mistake(*args)):
                return description
        except Exception:  # noqa: BLE001 - a mistake model that does not apply is simply skipped
            continue
    if as_tensor(got).shape != as_tensor(expected).shape:
        return (f"wrong shape: your function returned {tuple(as_tensor(got).shape)}, "
                f"expected {tuple(as_tensor(expected).shape)}.")
    err = (as_tensor(got) - as_tensor(expected)).abs().max().item()
    return f"the values differ from the reference (largest difference {err:.3g}). {exercise.hint}"


def check(name: str, student: Callable, seeds=(0, 1, 2), verbose: bool = True) -> bool:
    """Check ``student`` against exercise ``name``; print a verdict; return True if correct."""
    exercise = EXERCISES[name]
    say = print if verbose else (lambda *a, **k: None)
    for seed in seeds:
        args = exercise.make_inputs(seed)
        try:
            got = student(*args)
        except NotImplementedError:
            say(f"⏳ {exercise.title}: not attempted yet — replace `raise NotImplementedError` with your code.")
            return False
        except Exception as error:  # noqa: BLE001 - report the student's error, do not crash the notebook
            frame = traceback.extract_tb(error.__traceback__)[-1]
            say(f"❌ {exercise.title}: your function raised {type(error).__name__}: {error} "
                f"(line {frame.lineno}: `{frame.line}`).")
            return False
        if got is None:
            say(f"❌ {exercise.title}: your function returned None — did you forget `return`?")
            return False
        if not same(got, exercise.reference(*args)):
            say(f"❌ {exercise.title}: {diagnose(exercise, args, got)}")
            return False
    say(f"✅ {exercise.title}: correct on {len(seeds)} random test cases.")
    return True


# ----------------------------------------------------------------------------- notebook 01
def span_inputs(seed: int):
    g = torch.Generator().manual_seed(seed)
    basis = torch.randn(4, 40, generator=g, dtype=torch.float64)
    rows = torch.randn(3, 4, generator=g, dtype=torch.float64) @ basis + 0.5 * torch.randn(3, 40, generator=g,
                                                                                           dtype=torch.float64)
    return rows, basis


def span_projection(rows, basis):
    coef = torch.linalg.lstsq(basis.T, rows.T).solution
    return (basis.T @ coef).T


def pipeline_inputs(seed: int):
    rng = np.random.default_rng(seed)
    x = 0.05 + 0.9 * rng.random(32)
    n1, n2 = rng.standard_normal(32), rng.standard_normal(32)
    return x, 1.2, 1.8, 0.05, 0.02, 32, n1, n2


def pipeline_reference(x, sigma, gamma, mult, add, levels, n1, n2):
    u = sensor_response(gaussian_filter1d(x, sigma, mode="reflect"), gamma)
    return quantise(u * (1 + mult * n1) + add * n2, levels)


# ----------------------------------------------------------------------------- notebook 02
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


# ----------------------------------------------------------------------------- notebook 03
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
# ----------------------------------------------------------------------------- notebook 07
def fourier_inputs(seed: int):
    g = torch.Generator().manual_seed(seed)
    target = torch.rand(2, 3, 8, 10, generator=g)
    pred = (target + 0.2 * torch.randn(2, 3, 8, 10, generator=g)).clamp(0, 1)
    return pred, target


def fourier_reference(pred, target):
    from .losses import fourier_loss
    return fourier_loss(pred, target)


def spectrum_l1(pred, target, transform=torch.fft.rfft2, **kwargs):
    p, t = transform(pred, **kwargs), transform(target, **kwargs)
    return F.l1_loss(p.real, t.real) + F.l1_loss(p.imag, t.imag)


def schedule_inputs(seed: int):
    rng = np.random.default_rng(seed)
    total = int(rng.integers(40, 120))
    warmup = int(rng.integers(5, 15))
    base = float(rng.uniform(0.5, 2.0))  # not 2e-4: the checker's tolerance is absolute
    return torch.arange(total), total, base, warmup


def schedule_reference(steps, total, base, warmup):
    from .train import lr_factor
    return torch.tensor([base * lr_factor(int(s), total, warmup) for s in steps], dtype=torch.float64)


def schedule_variant(steps, total, base, warmup, ramp="next", span="after", shape="cosine"):
    out = []
    for s in map(int, steps):
        if s < warmup and ramp != "none":
            out.append(base * ((s + 1) if ramp == "next" else s) / warmup)
            continue
        t = (s - warmup) / (total - warmup) if span == "after" else s / total
        out.append(base * {"cosine": 0.5 * (1 + math.cos(math.pi * t)), "bare": math.cos(math.pi * t),
                           "linear": 1 - t}[shape])
    return torch.tensor(out, dtype=torch.float64)


def blend_inputs(seed: int):
    rng = np.random.default_rng(seed)
    tile = int(rng.integers(10, 20))
    return tile, int(rng.integers(3, tile // 2))


def blend_reference(tile, overlap):
    from .tiling import blend_weights
    return blend_weights(tile, overlap)


def ramp(tile, overlap, start=1, clamp=True):
    i = torch.arange(tile, dtype=torch.float64)
    w = torch.minimum((i + start) / (overlap + start), (tile - i - 1 + start) / (overlap + start))
    return w.clamp(max=1) if clamp else w


# ----------------------------------------------------------------------------- notebook 09
def welch_inputs(seed: int):
    rng = np.random.default_rng(seed)
    a = 18.0 + 0.2 * rng.standard_normal(3)  # 3 seeds of one variant, small spread
    b = 17.7 + 0.6 * rng.standard_normal(5)  # 5 seeds of another, larger spread: Welch != Student
    return a, b


def welch_reference(a, b):
    from .ablation import welch_t
    return welch_t(a, b)


def t_variant(a, b, ddof=1, pooled=False, df="welch", sqrt=True):
    na, nb = len(a), len(b)
    va, vb = np.var(a, ddof=ddof), np.var(b, ddof=ddof)
    if pooled:
        se2 = ((na - 1) * va + (nb - 1) * vb) / (na + nb - 2) * (1 / na + 1 / nb)
    else:
        se2 = va / na + vb / nb
    t = (np.mean(a) - np.mean(b)) / (np.sqrt(se2) if sqrt else se2)
    dof = {"welch": (va / na + vb / nb) ** 2 / ((va / na) ** 2 / (na - 1) + (vb / nb) ** 2 / (nb - 1)),
           "student": na + nb - 2, "min": min(na, nb) - 1}[df]
    return t, dof


# ----------------------------------------------------------------------------- notebook 08
def band_inputs(seed: int):
    g = torch.Generator().manual_seed(seed)
    # W = 8 puts coefficients exactly on the edges 0.25 and 0.5 (in units of Nyquist)
    return 1.0 + torch.randn(2, 3, 12, 8, generator=g, dtype=torch.float64), (0.0, 0.25, 0.5)


def band_variant(x, edges, centre=True, parseval=True, nyquist=True, closed="low"):
    if centre:
        x = x - x.mean(dim=(-2, -1), keepdim=True)
    power = torch.fft.fft2(x).abs().pow(2) / ((x.shape[-2] * x.shape[-1]) if parseval else 1)
    fy, fx = torch.fft.fftfreq(x.shape[-2], dtype=x.dtype)[:, None], torch.fft.fftfreq(x.shape[-1], dtype=x.dtype)[None]
    rho = torch.sqrt(fy ** 2 + fx ** 2) / (0.5 if nyquist else 1.0)
    uppers = list(edges[1:]) + [float("inf")]
    if closed == "low":
        masks = [(rho >= lo) & (rho < hi) for lo, hi in zip(edges, uppers)]
    else:
        masks = [(rho > lo) & (rho <= hi) for lo, hi in zip(edges, uppers)]
    return torch.stack([(power * m).sum(dim=(-2, -1)) for m in masks], -1)


def band_reference(x, edges):
    from .awareness import band_energy  # imported here: awareness pulls in scikit-learn

    return band_energy(x, edges)


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
    "fourier_loss": Exercise(
        "Fourier loss (Eq. 5)",
        fourier_reference,
        fourier_inputs,
        [("you compared amplitudes |F|; Eq. 5 compares the real and the imaginary parts (phase matters).",
          lambda p, t: F.l1_loss(torch.fft.rfft2(p).abs(), torch.fft.rfft2(t).abs())),
         ("you took the modulus of the complex difference |F(p) - F(t)|; Eq. 5 is an L1 on Re plus an L1 on Im.",
          lambda p, t: (torch.fft.rfft2(p) - torch.fft.rfft2(t)).abs().mean()),
         ("you used torch.fft.fft2: the recipe uses rfft2 (the real-input half spectrum, W//2+1 columns).",
          lambda p, t: spectrum_l1(p, t, torch.fft.fft2)),
         ("you used norm='ortho'; the recipe uses rfft2's default normalisation ('backward').",
          lambda p, t: spectrum_l1(p, t, norm="ortho")),
         ("only the real part: add the L1 of the imaginary parts too.",
          lambda p, t: F.l1_loss(torch.fft.rfft2(p).real, torch.fft.rfft2(t).real)),
         ("you used a squared error (MSE); Eq. 5 uses L1 (mean absolute difference).",
          lambda p, t: F.mse_loss(torch.fft.rfft2(p).real, torch.fft.rfft2(t).real)
          + F.mse_loss(torch.fft.rfft2(p).imag, torch.fft.rfft2(t).imag)),
         ("you summed the absolute differences; use means (F.l1_loss), as the pixel L1 does.",
          lambda p, t: F.l1_loss(torch.fft.rfft2(p).real, torch.fft.rfft2(t).real, reduction="sum")
          + F.l1_loss(torch.fft.rfft2(p).imag, torch.fft.rfft2(t).imag, reduction="sum"))],
        hint="P, T = torch.fft.rfft2(pred), torch.fft.rfft2(target); "
             "return F.l1_loss(P.real, T.real) + F.l1_loss(P.imag, T.imag)."),
    "cosine_schedule": Exercise(
        "warm-up + cosine learning-rate schedule",
        schedule_reference,
        schedule_inputs,
        [("no warm-up: for step < warmup the rate must ramp up linearly, (step + 1) / warmup * base_lr.",
          lambda s, n, b, w: schedule_variant(s, n, b, w, ramp="none", span="all")),
         ("the warm-up starts at 0: use (step + 1) / warmup so that the first step already learns.",
          lambda s, n, b, w: schedule_variant(s, n, b, w, ramp="zero")),
         ("after the warm-up the cosine must run over the remaining total - warmup steps, starting at 1.",
          lambda s, n, b, w: schedule_variant(s, n, b, w, span="all")),
         ("cos(pi t) alone goes negative; the decay is 0.5 * (1 + cos(pi t)), from 1 down to 0.",
          lambda s, n, b, w: schedule_variant(s, n, b, w, shape="bare")),
         ("that is a linear decay; the recipe's decay is a cosine, 0.5 * (1 + cos(pi t)).",
          lambda s, n, b, w: schedule_variant(s, n, b, w, shape="linear"))],
        hint="t = (step - warmup) / (total - warmup); lr = base * 0.5 * (1 + cos(pi * t)); "
             "during the warm-up lr = base * (step + 1) / warmup."),
    "blend_weights": Exercise(
        "tile blending weights",
        blend_reference,
        blend_inputs,
        [("your ramp starts at 0: a zero weight at the border divides 0 by 0 where only one tile covers a pixel. "
          "Use (i + 1) / (overlap + 1).",
          lambda tile, o: (lambda w: w[:, None] * w[None, :])(ramp(tile, o, start=0))),
         ("the ramp must stop at 1: clamp it (min(1, ...)) so the tile's centre has weight exactly 1.",
          lambda tile, o: (lambda w: w[:, None] * w[None, :])(ramp(tile, o, clamp=False))),
         ("combine the two axes with a product w[:, None] * w[None, :], not a sum.",
          lambda tile, o: (lambda w: w[:, None] + w[None, :])(ramp(tile, o))),
         ("all weights equal 1: blending then is plain averaging, and every tile edge shows as a seam.",
          lambda tile, o: torch.ones(tile, tile))],
        hint="w(i) = min(1, (i + 1) / (overlap + 1), (tile - i) / (overlap + 1)); the 2-D window is the outer product."),
    "welch_t": Exercise(
        "Welch's t-test over seeds",
        welch_reference,
        welch_inputs,
        [("you used the population variance (ddof=0, np.var's default); over seeds use the sample variance, "
          "np.var(x, ddof=1).",
          lambda a, b: t_variant(a, b, ddof=0)),
         ("that is Student's t with a pooled variance (and n_a + n_b - 2 degrees of freedom); Welch keeps each "
          "variant's own variance: se = sqrt(s_a^2 / n_a + s_b^2 / n_b).",
          lambda a, b: t_variant(a, b, pooled=True, df="student")),
         ("the t statistic is right, but n_a + n_b - 2 degrees of freedom belong to Student's test; Welch's df "
          "come from the Welch-Satterthwaite formula.",
          lambda a, b: t_variant(a, b, df="student")),
         ("the t statistic is right, but min(n_a, n_b) - 1 is the conservative textbook shortcut; use the "
          "Welch-Satterthwaite formula for the df.",
          lambda a, b: t_variant(a, b, df="min")),
         ("the sign is flipped: t is (mean(a) - mean(b)) / se, positive when a is better.",
          lambda a, b: (-t_variant(a, b)[0], t_variant(a, b)[1])),
         ("the standard error is the square ROOT of s_a^2 / n_a + s_b^2 / n_b.",
          lambda a, b: t_variant(a, b, sqrt=False))],
        hint="va, vb = np.var(a, ddof=1) / len(a), np.var(b, ddof=1) / len(b); t = (mean(a) - mean(b)) / sqrt(va + vb); "
             "df = (va + vb)**2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))."),
    "band_energy": Exercise(
        "energy per radial frequency band",
        band_reference,
        band_inputs,
        [("the mean of each map was not removed: its DC term (the average brightness) then dominates the low band.",
          lambda x, e: band_variant(x, e, centre=False)),
         ("|FFT|^2 was not divided by H*W: with that normalisation the bands add up to the energy of the map "
          "(Parseval), so maps of different sizes compare.",
          lambda x, e: band_variant(x, e, parseval=False)),
         ("the radius is in cycles per pixel: divide by the Nyquist frequency 0.5, as the edges are in units of it.",
          lambda x, e: band_variant(x, e, nyquist=False)),
         ("a coefficient exactly on an edge belongs to the band above it: use edges[i] <= rho < edges[i + 1].",
          lambda x, e: band_variant(x, e, closed="high"))],
        hint="x = x - mean over (H, W); power = |torch.fft.fft2(x)|^2 / (H * W); rho = sqrt(fy^2 + fx^2) / 0.5 "
             "with torch.fft.fftfreq; sum the power where edges[i] <= rho < edges[i + 1] (the last band has no "
             "upper edge); stack the sums on a new last axis."),
}

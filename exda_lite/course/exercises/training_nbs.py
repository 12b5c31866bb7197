"""Exercises of the training and analysis notebooks (07-09): Fourier loss, schedule, tile blending, Welch's t, bands."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from .checker import Exercise


# ----------------------------------------------------------------------------- notebook 07
def fourier_inputs(seed: int):
    g = torch.Generator().manual_seed(seed)
    target = torch.rand(2, 3, 8, 10, generator=g)
    pred = (target + 0.2 * torch.randn(2, 3, 8, 10, generator=g)).clamp(0, 1)
    return pred, target


def fourier_reference(pred, target):
    from ...training.losses import fourier_loss
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
    from ...training.schedule import lr_factor
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
    from ...training.tiling import blend_weights
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
    from ..ablation import welch_t
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
    from ..awareness import band_energy  # imported here: awareness pulls in scikit-learn

    return band_energy(x, edges)


EXERCISES: dict[str, Exercise] = {
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

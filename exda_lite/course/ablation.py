"""Fig. 5's component ablation and Fig. 6's efficiency analysis, at any scale (notebook 09).

The paper (Sec. 4.2) starts from a Restormer-style baseline ("b", PromptIR without prompts), adds
the nonlinear value ("b + Nonlinear Value"), GST ("b + GST") and both ("c + d" = ExDA), and reports
that each helps. This module holds what such an ablation needs beyond training:

* :data:`FIG5_VARIANTS`, :func:`variant_model`: the four variants of a small restorer, *paired*:
  for one seed every variant starts from the same weights in the parts they share.
* :func:`seed_summary`, :func:`compare_to_baseline`, :func:`seeds_needed`: mean ± std over seeds,
  Welch's and the paired t-test (``scipy.stats``), the effect against the seed-to-seed spread.
* :func:`unet_variants`, :func:`interleaved_latency`, :func:`overhead_ratios`: the cost of each
  primitive on one U-Net backbone (parameters, FLOPs, latency), measured in one run as ratios.
"""

from __future__ import annotations

import math
import time
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from scipy import stats
from torch import nn

from ..nn.block import TokenOptions, ValueOptions
from .explore import TinyRestorer
from ..nn.model import ExDA, build_model

# variant -> (nonlinear value, GST). The order is Fig. 5's: b, b + NV, b + GST, c + d.
FIG5_VARIANTS: dict[str, tuple[bool, bool]] = {
    "baseline (Restormer-style)": (False, False),
    "+ nonlinear value": (True, False),
    "+ GST": (False, True),
    "+ both (ExDA)": (True, True),
}
BASELINE = "baseline (Restormer-style)"

# What the paper's *text* states for Fig. 5's bars (3-degradation average PSNR / SSIM). The other
# bars are only drawn in the figure; the text gives the direction, quoted in ``claim``.
PAPER_FIG5: dict[str, dict] = {
    "baseline (Restormer-style)": {"psnr": None, "ssim": None, "claim": "baseline 'b' (PromptIR without prompts)",
                                   "source": "figure only"},
    "+ nonlinear value": {"psnr": None, "ssim": None, "claim": "'provides a clear gain'", "source": "figure only"},
    "+ GST": {"psnr": None, "ssim": None, "claim": "'yields consistent improvements'", "source": "figure only"},
    "+ both (ExDA)": {"psnr": 32.96, "ssim": 0.921, "claim": "'achieves the best performance'",
                      "source": "Sec. 4.2 text (= Table 1, ExDA average)"},
}
# Related numbers the text does state: PromptIR *with* prompts (Fig. 5's 'a', Table 1) and the Tiny model.
PAPER_CONTEXT = {"PromptIR with prompts (Table 1 average)": (32.06, 0.913),
                 "ExDA-T, the 6M model (Sec. 4.2, Table 7)": (32.71, 0.919)}

# Fig. 6 as stated in the text (ms, the authors' GPU): (a) ExDA-T vs resolution, (b) latency vs model size.
PAPER_FIG6 = {"resolution_ms": {256: 54.5, 1024: 840.1}, "model_ms": {"exda_t": 209.6, "exda_b": 385.5},
              "model_psnr": {"exda_t": 32.71, "exda_b": 32.96}}


def variant_model(name: str, channels: int = 16, blocks: int = 1, heads: int = 1, seed: int = 0,
                  tokens: int = 4, stride: int = 2) -> TinyRestorer:
    """The Fig. 5 variant ``name`` as a :class:`TinyRestorer`, paired with the baseline of ``seed``.

    The baseline is built from ``seed`` first and its weights are copied into the variant, so that
    all four variants of one seed start from the *same* embedding, norms, Q/K/V, GDFN and head; the
    added modules (value path g, GST projection, alpha) get their own initialisation. Only those
    modules differ: a difference between variants of one seed is then the primitive's, not the
    luck of a different initialisation (a paired design).
    Shapes: (B, 3, H, W) -> (B, 3, H, W).
    """
    if name not in FIG5_VARIANTS:
        raise KeyError(f"unknown variant {name!r}; choose from {list(FIG5_VARIANTS)}")
    nonlinear_value, gst = FIG5_VARIANTS[name]
    torch.manual_seed(seed)
    baseline = TinyRestorer(channels, blocks, heads)
    torch.manual_seed(seed)
    model = TinyRestorer(channels, blocks, heads, value=ValueOptions() if nonlinear_value else None,
                         tokens=TokenOptions(tokens=tokens, stride=stride) if gst else None)
    _, unexpected = model.load_state_dict(baseline.state_dict(), strict=False)  # "missing" = the added modules
    if unexpected:
        raise RuntimeError(f"the baseline has weights the variant lacks: {unexpected}")
    return model


def added_modules(model: nn.Module, reference: nn.Module) -> list[str]:
    """Names of the parameters ``model`` has and ``reference`` lacks (what a variant adds)."""
    return sorted(set(model.state_dict()) - set(reference.state_dict()))


def seed_summary(psnr: Mapping[str, Sequence[float]]) -> pd.DataFrame:
    """Per variant: ``n`` seeds, ``mean``, ``std`` (sample std, ddof=1) and ``sem`` = std / sqrt(n)."""
    rows = {name: {"n": len(v), "mean": float(np.mean(v)), "std": float(np.std(v, ddof=1)) if len(v) > 1 else math.nan}
            for name, v in psnr.items()}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table["sem"] = table["std"] / np.sqrt(table["n"])
    return table


def compare_to_baseline(psnr: Mapping[str, Sequence[float]], baseline: str = BASELINE) -> pd.DataFrame:
    """Each variant against ``baseline`` over seeds (``psnr[name][i]`` is seed i's PSNR).

    Columns: ``delta`` (difference of means, dB), ``seed_std`` (the two variants' stds, pooled:
    sqrt((s1^2 + s2^2) / 2)), ``delta_over_std``, Welch's t-test (``welch_t``, ``welch_df``,
    ``welch_p``; unpaired, unequal variances), the paired t-test on the per-seed differences
    (``paired_t``, ``paired_p``; valid because seed i of every variant shares data, batches and the
    shared initial weights) and ``wins``: seeds where the variant beat the baseline.
    """
    base = np.asarray(psnr[baseline], dtype=float)
    rows = {}
    for name, values in psnr.items():
        if name == baseline:
            continue
        v = np.asarray(values, dtype=float)
        welch = stats.ttest_ind(v, base, equal_var=False)
        paired = stats.ttest_rel(v, base) if len(v) == len(base) else None
        seed_std = math.sqrt((np.var(v, ddof=1) + np.var(base, ddof=1)) / 2)
        rows[name] = {"delta": v.mean() - base.mean(), "seed_std": seed_std,
                      "delta_over_std": (v.mean() - base.mean()) / seed_std if seed_std > 0 else math.nan,
                      "welch_t": float(welch.statistic), "welch_df": float(welch.df), "welch_p": float(welch.pvalue),
                      "paired_t": float(paired.statistic) if paired else math.nan,
                      "paired_p": float(paired.pvalue) if paired else math.nan,
                      "wins": f"{int((v > base).sum())}/{len(v)}" if len(v) == len(base) else "-"}
    return pd.DataFrame.from_dict(rows, orient="index")


def seeds_needed(delta: float, std: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """Seeds per variant for an unpaired two-sided test to detect ``delta`` at seed spread ``std``.

    The normal approximation n = 2 (z_{1-alpha/2} + z_{power})^2 (std / delta)^2; with alpha = 0.05
    and 80 % power, n ~ 15.7 (std / delta)^2. Infinite for delta = 0.
    """
    if delta == 0:
        return math.inf
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    return 2 * z ** 2 * (std / delta) ** 2


def welch_t(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """Welch's t statistic of mean(a) - mean(b) and its Welch-Satterthwaite degrees of freedom.

    t = (mean_a - mean_b) / sqrt(s_a^2/n_a + s_b^2/n_b),
    df = (s_a^2/n_a + s_b^2/n_b)^2 / ((s_a^2/n_a)^2/(n_a-1) + (s_b^2/n_b)^2/(n_b-1)),
    with s^2 the sample variances (ddof=1). Equal to ``scipy.stats.ttest_ind(a, b, equal_var=False)``.
    """
    result = stats.ttest_ind(np.asarray(a, dtype=float), np.asarray(b, dtype=float), equal_var=False)
    return float(result.statistic), float(result.df)


def unet_variants(name: str = "exda_t", **overrides) -> dict[str, ExDA]:
    """The U-Net ``name`` four times: backbone (no NV, no GST), + NV, + GST, + both.

    Keys are those of :data:`FIG5_VARIANTS`; everything but the two switches is ``name``'s config
    (e.g. ``exda_t``'s ffn factor 2, so the baseline is the paper's backbone, not the 2.66 Restormer).
    """
    return {variant: build_model(name, nonlinear_value=nv, gst=gst, **overrides).eval()
            for variant, (nv, gst) in FIG5_VARIANTS.items()}


@torch.no_grad()
def interleaved_latency(models: Mapping[str, nn.Module], input_shape=(1, 3, 64, 64), rounds: int = 3,
                        device="cpu") -> pd.DataFrame:
    """Forward time (s) of several models measured *in turns*: round r times model 1, 2, ..., then r + 1.

    On a shared machine the load changes from minute to minute. Timing model A for a while, then
    model B, puts that change into the ratio B / A; taking turns spreads it over all models alike.
    Each model runs once untimed first (warm-up). Returns a (rounds x models) DataFrame of seconds;
    take ``.median()`` for one number per model.
    """
    device = torch.device(device)
    x = torch.rand(input_shape, device=device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for model in models.values():
        model.to(device).eval()(x)  # warm-up
    times = {name: [] for name in models}
    for _ in range(rounds):
        for name, model in models.items():
            sync()
            start = time.perf_counter()
            model(x)
            sync()
            times[name].append(time.perf_counter() - start)
    return pd.DataFrame(times)


def overhead_ratios(costs: pd.DataFrame, reference: str = BASELINE) -> pd.DataFrame:
    """Every row of a cost table (params, FLOPs, latency, ...) divided by the ``reference`` row."""
    return costs.div(costs.loc[reference], axis=1)

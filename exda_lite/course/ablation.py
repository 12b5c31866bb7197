"""Fig. 5's component ablation and Fig. 6's efficiency analysis, at any scale (notebook 09).

The paper (Sec. 4.2) starts from a Restormer-style baseline ("b", PromptIR without prompts), adds
the nonlinear value ("b + Nonlinear Value"), GST ("b + GST") and both ("c + d" = ExDA), and reports
that each helps. This module holds what such an ablation needs beyond training:

* :data:`FIG5_VARIANTS`, :func:`variant_model`: the four variants of a small restorer, *paired*:
  for one seed every variant starts from the same weights in the parts they share.
* :func:`seed_summary`, :func:`compare_to_baseline`, :func:`seeds_needed`: mean ± std over seeds,
  Welch's and the paired t-test (``scipy.stats``), the effect against the seed-to-seed spread.
* :func:`variant_sizes`, :func:`run_ablation`: what each variant adds, and every variant trained for every seed.
* :func:`table_a_sizes`, :func:`latency_sweep`: Table A's sizes (from notebook 06's results when present) and
  latency against resolution (Fig. 6).
* :func:`unet_variants`, :func:`interleaved_latency`, :func:`overhead_ratios`, :func:`overhead_costs`: the cost of
  each primitive on one U-Net backbone (parameters, FLOPs, latency), measured in one run as ratios.
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

from .. import paper
from ..nn.block import TokenOptions, ValueOptions
from ..nn.model import ExDA, build_model
from ..nn.tiny import TinyRestorer

# variant -> (nonlinear value, GST). The order is Fig. 5's: b, b + NV, b + GST, c + d (exda_lite.paper.FIG5_ARMS).
FIG5_VARIANTS: dict[str, tuple[bool, bool]] = {label: (nv, gst) for _, label, nv, gst in paper.FIG5_ARMS}
BASELINE = paper.FIG5_ARMS[0][1]

# The paper's numbers for Figs. 5 and 6 (exda_lite.paper), under the names this module has always used.
PAPER_FIG5, PAPER_CONTEXT, PAPER_FIG6 = paper.FIG5, paper.CONTEXT, paper.FIG6


def variant_model(name: str, channels: int = 16, blocks: int = 1, heads: int = 1, seed: int = 0,
                  tokens: int = TokenOptions.tokens, stride: int = TokenOptions.stride) -> TinyRestorer:
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


def variant_sizes(variants: Sequence[str], channels: int, blocks: int, heads: int, seed: int = 0) -> pd.DataFrame:
    """Parameters of each variant, what it adds to the baseline (module names) and by how much."""
    from ..utils import count_parameters

    base = variant_model(BASELINE, channels, blocks, heads, seed=seed)
    rows = []
    for name in variants:
        model = variant_model(name, channels, blocks, heads, seed=seed)
        added = {k.split("attn.")[-1].split(".")[0] for k in added_modules(model, base)}
        rows.append({"variant": name, "parameters": count_parameters(model), "added modules": ", ".join(sorted(added)) or "—"})
    table = pd.DataFrame(rows).set_index("variant")
    table["vs baseline"] = table["parameters"] / table.loc[BASELINE, "parameters"] - 1
    return table


def run_ablation(task: dict, variants: Sequence[str], seeds: Sequence[int], channels: int, blocks: int, heads: int,
                 steps: int, batch_size: int, lr: float, device="cpu",
                 unpaired: bool = False) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Train every variant for every seed on ``task`` (seed by seed, variant by variant; equal budget, paired).

    Returns ``(runs, curves, psnr)``: one row per run (final held-out PSNR, seconds), the held-out PSNR during
    training, and ``psnr[variant]`` = the final PSNRs in seed order. ``unpaired=True`` breaks the pairing: variant
    k of seed i starts from the weights of seed i + 100 k (the batches stay those of seed i).
    """
    from .toy import train_toy

    runs, curves = [], []
    for seed in seeds:
        for name in variants:
            init = seed + 100 * list(variants).index(name) if unpaired else seed
            model = variant_model(name, channels, blocks, heads, seed=init)
            start = time.time()
            history = train_toy(model, task, steps=steps, batch_size=batch_size, lr=lr,
                                eval_every=max(1, steps // 3), seed=seed, device=device, progress=False)
            runs.append({"variant": name, "seed": seed, "psnr": history[-1]["test_psnr"], "time_s": time.time() - start})
            curves += [{"variant": name, "seed": seed, "step": h["step"], "psnr": h["test_psnr"]} for h in history]
            print(f"seed {seed} | {name:28s} {runs[-1]['psnr']:6.2f} dB ({runs[-1]['time_s']:4.1f} s)")
    runs, curves = pd.DataFrame(runs), pd.DataFrame(curves)
    psnr = {name: runs[runs.variant == name].sort_values("seed")["psnr"].tolist() for name in variants}
    return runs, curves, psnr


def table_a_sizes(models: Mapping[str, nn.Module], out_dir, flop_side: int = 32) -> tuple[pd.DataFrame, str]:
    """Table A's sizes of ``models``: from notebook 06's results in ``out_dir`` when it has them all, else counted.

    Returns ``(sizes, source)``; ``source`` says where the numbers come from.
    """
    import json
    from pathlib import Path

    columns = ["params (M)", "paper params (M)", "GMAC @ 224²", "paper G @ 224²"]
    path = Path(out_dir) / "06_assembling_exda.json"
    try:
        saved = json.loads(path.read_text())["sizes"]
        table = pd.DataFrame.from_dict({name: saved[name] for name in models}, orient="index")[columns]
        return table.rename_axis("model"), f"loaded from notebook 06's results ({path})"
    except (OSError, KeyError, ValueError):
        from .sizes import size_table

        counted = size_table(dict(models), flop_side)[columns]
        return counted, f"counted here (no notebook 06 results with these models in {out_dir})"


def latency_sweep(models: Mapping[str, nn.Module], sides: Sequence[int], min_run_time: float = 0.1,
                  device="cpu") -> tuple[pd.DataFrame, dict]:
    """Median forward latency (ms) of every model at every side (one side at a time, all models in turn).

    Returns ``(latency, slopes)``: one row per (model, side) and each model's log-log slope of latency vs H*W.
    """
    from ..utils import time_forward

    rows = []
    for side in sides:
        for name, model in models.items():
            timing = time_forward(model, (1, 3, side, side), min_run_time=min_run_time, device=device)
            rows.append({"model": name, "side": side, "pixels": side * side, "latency_ms": 1e3 * timing["median"],
                         "runs": timing["runs"]})
    latency = pd.DataFrame(rows)
    slopes = {name: float(np.polyfit(np.log(g.pixels), np.log(g.latency_ms), 1)[0]) if len(g) > 1 else math.nan
              for name, g in latency.groupby("model", sort=False)}
    return latency, slopes


def overhead_costs(name: str, side: int, rounds: int, flop_side: int = 32, device="cpu", **overrides):
    """Parameters, multiply-adds at 224² and latency (taken in turns) of ``name`` with/without each primitive.

    ``overrides`` go to :func:`unet_variants` (e.g. ``value_groups="full"``).

    Returns ``(costs, ratios, per_round, turns)``: the cost table, each row over the backbone's, each round's
    latency ratio (how steady the measurement was) and the raw seconds per round.
    """
    from ..utils import count_flops, count_parameters

    models = {variant: model.to(device) for variant, model in unet_variants(name, **overrides).items()}
    turns = interleaved_latency(models, (1, 3, side, side), rounds=rounds, device=device)
    costs = pd.DataFrame({
        "params": {n: count_parameters(m) for n, m in models.items()},
        "GMAC @ 224²": {n: count_flops(m, (1, 3, flop_side, flop_side)) / 2 * (224 / flop_side) ** 2 / 1e9
                        for n, m in models.items()},
        f"latency @ {side}² (ms)": 1e3 * turns.median(),
    }).loc[list(FIG5_VARIANTS)]
    ratios = overhead_ratios(costs).set_axis(["params", "FLOPs", "latency"], axis=1)
    return costs, ratios, turns.div(turns[BASELINE], axis=0), turns

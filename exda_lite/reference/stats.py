"""Paired comparisons over seeds: mean difference, 95 % t confidence interval, plain words."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats


def paired_ci(a, b, confidence: float = 0.95) -> dict:
    """Mean of ``a - b`` over paired seeds with its t confidence interval.

    Returns ``{"n", "mean", "low", "high", "sd", "p"}`` (two-sided paired t-test p-value; NaN for n < 2).
    """
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    n = len(d)
    if n < 2:
        return {"n": n, "mean": float(d.mean()) if n else math.nan, "low": math.nan, "high": math.nan,
                "sd": math.nan, "p": math.nan}
    sd = float(d.std(ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * sd / math.sqrt(n)
    p = float(stats.ttest_rel(a, b).pvalue) if sd > 0 else (0.0 if d.mean() != 0 else 1.0)
    return {"n": n, "mean": float(d.mean()), "low": float(d.mean() - half), "high": float(d.mean() + half),
            "sd": sd, "p": p}


def verdict(ci: dict, expected: int = 1, paper: float | None = None, name: str = "the effect") -> str:
    """Plain words for a paired CI of (arm - control); ``expected`` is the sign the paper's claim predicts."""
    if not math.isfinite(ci["low"]):
        return f"{name}: one seed only, no confidence interval (n = {ci['n']})"
    if ci["low"] > 0 or ci["high"] < 0:
        agrees = (ci["mean"] > 0) == (expected > 0)
        words = ("the paper's direction reproduces (the interval excludes zero)" if agrees
                 else "OPPOSITE to the paper's direction (the interval excludes zero)")
    else:
        words = "not distinguishable from zero at this scale (the interval contains zero)"
    text = (f"{name}: mean {ci['mean']:+.4g}, 95 % CI [{ci['low']:+.4g}, {ci['high']:+.4g}] over {ci['n']} "
            f"paired seeds -> {words}")
    return text + (f"; paper: {paper:+.4g}" if paper is not None else "")


def holm(pvalues) -> list[float]:
    """Holm's step-down adjustment of ``pvalues`` (family-wise error rate), in the input order; NaN stays NaN.

    Sort the m finite p-values, multiply the i-th smallest (i = 0, 1, ...) by (m - i), keep the running
    maximum and cap at 1. Equal to statsmodels' ``multipletests(p, method="holm")[1]`` (not a dependency
    here for six lines).
    """
    p = np.asarray(pvalues, dtype=float)
    finite = np.flatnonzero(np.isfinite(p))
    order = finite[np.argsort(p[finite], kind="stable")]
    m, running = len(order), 0.0
    adjusted = np.full(len(p), math.nan)
    for i, index in enumerate(order):
        running = max(running, min(1.0, (m - i) * p[index]))
        adjusted[index] = running
    return adjusted.tolist()


def seeds_for_halfwidth(sd: float, halfwidth: float, minimum: int = 5, cap: int = 200) -> int | None:
    """The smallest n >= ``minimum`` with t(0.975, n-1) * sd / sqrt(n) <= ``halfwidth`` (None above ``cap``):
    how many paired seeds a 95 % interval of that half-width needs, given the pilot's sd of the differences."""
    if not math.isfinite(sd):
        return None
    for n in range(max(2, minimum), cap + 1):
        if float(stats.t.ppf(0.975, n - 1)) * sd / math.sqrt(n) <= halfwidth:
            return n
    return None


def power_table(comparisons: dict, halfwidth: float = 0.3) -> dict:
    """comparison -> {sd, halfwidth_now, seeds_needed}: the power analysis of a pilot's paired comparisons."""
    table = {}
    for key, c in comparisons.items():
        sd = c.get("sd", math.nan)
        now = (c["high"] - c["low"]) / 2 if math.isfinite(c.get("low", math.nan)) else math.nan
        table[key] = {"sd": sd, "n": c["n"], "halfwidth_now": now, "target_halfwidth": halfwidth,
                      "seeds_needed": seeds_for_halfwidth(sd, halfwidth)}
    return table


def at_four_fifths(run: dict, metric: str) -> float:
    """The held-out metric at the last evaluation at or before 80 % of the run's steps (as the convergence rule)."""
    curve = run["curve"]
    earlier = [h for h in curve if h["step"] <= 0.8 * curve[-1]["step"]]
    return (earlier or curve)[-1][metric]


def drift(by_seed: dict, base: dict, seeds: list, metric: str) -> dict | None:
    """How much the paired difference itself moved over the last 20 % of steps: (arm - control) at the end minus
    (arm - control) at 80 %, with its 95 % CI over seeds.

    A descriptive check, not a rule: runs can miss the convergence rule (their curves still move) while the
    comparison between them has settled (drift ~ 0), or the reverse. A drift whose interval excludes zero says
    more steps would probably have changed the difference in that direction."""
    def has_curve(run: dict) -> bool:
        return bool(run.get("curve")) and all(metric in h for h in run["curve"])

    if len(seeds) < 2 or not all(has_curve(by_seed[s]) and has_curve(base[s]) for s in seeds):
        return None
    end = [by_seed[s]["final"] - base[s]["final"] for s in seeds]
    before = [at_four_fifths(by_seed[s], metric) - at_four_fifths(base[s], metric) for s in seeds]
    ci = paired_ci(end, before)
    return {k: ci[k] for k in ("mean", "low", "high", "n")}

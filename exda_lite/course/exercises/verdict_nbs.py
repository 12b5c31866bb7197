"""Exercises where the student reaches the verdict (issue 21, item 6).

* ``paired_verdict`` (notebook 08): the mean paired difference of two models trained on the same seeds, its 95 %
  t confidence interval, and the decision of a rule fixed in advance: +1 if the interval lies above zero, -1 if it
  lies below, 0 if it contains zero.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from .checker import Exercise


# ----------------------------------------------------------------------------- notebook 08
def verdict_inputs(seed: int):
    """Per-seed scores (with, without) of 5 paired seeds: seed 0 undecided, 1 a clear gain, 2 a clear loss."""
    rng = np.random.default_rng(seed)
    without = 0.5 + 0.1 * rng.standard_normal(5)  # seed-to-seed spread much larger than the effect ...
    effect = (0.01, 0.08, -0.08)[seed % 3]
    spread = (0.05, 0.01, 0.01)[seed % 3]  # ... but the pairing removes it
    return without + effect + spread * rng.standard_normal(5), without


def decide(low: float, high: float) -> int:
    return 1 if low > 0 else -1 if high < 0 else 0


def verdict_variant(a, b, paired=True, z=False, ddof=1, flip=False, from_mean=False):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if flip:
        a, b = b, a
    n = len(a)
    if paired:
        d = a - b
        mean, se, df = d.mean(), d.std(ddof=ddof) / math.sqrt(n), n - 1
    else:  # Welch: the two columns as independent samples
        va, vb = a.var(ddof=1) / n, b.var(ddof=1) / n
        mean, se = a.mean() - b.mean(), math.sqrt(va + vb)
        df = (va + vb) ** 2 / (va ** 2 / (n - 1) + vb ** 2 / (n - 1))
    half = (1.959963984540054 if z else stats.t.ppf(0.975, df)) * se
    low, high = mean - half, mean + half
    decision = int(np.sign(mean)) if from_mean else decide(low, high)
    return float(mean), float(low), float(high), decision


def verdict_reference(with_gst, without_gst):
    return verdict_variant(with_gst, without_gst)


EXERCISES = {
    "paired_verdict": Exercise(
        "paired difference, its 95 % confidence interval, and the verdict of the rule",
        verdict_reference,
        verdict_inputs,
        [("your interval treats the two columns as independent samples (Welch): the seed-to-seed spread, which "
          "both models share, swamps the difference; pair them: d = with_gst - without_gst, one value per seed.",
          lambda a, b: verdict_variant(a, b, paired=False)),
         ("you used the normal quantile 1.96; with n = 5 seeds the interval uses Student's t with n - 1 degrees "
          "of freedom: scipy.stats.t.ppf(0.975, n - 1) (2.78 for 5 seeds).",
          lambda a, b: verdict_variant(a, b, z=True)),
         ("you used the population standard deviation (ddof=0); the standard error uses the sample standard "
          "deviation, np.std(d, ddof=1) / sqrt(n).",
          lambda a, b: verdict_variant(a, b, ddof=0)),
         ("the difference has the wrong sign: with_gst - without_gst, so that a positive value means GST helps.",
          lambda a, b: verdict_variant(a, b, flip=True)),
         ("the decision followed the sign of the mean; the rule decides on the interval: +1 only if it lies "
          "entirely above 0, -1 only if entirely below, 0 when it contains 0.",
          lambda a, b: verdict_variant(a, b, from_mean=True))],
        hint="d = a - b; mean = d.mean(); half = stats.t.ppf(0.975, n - 1) * d.std(ddof=1) / sqrt(n); "
             "low, high = mean - half, mean + half; decision = 1 if low > 0 else -1 if high < 0 else 0."),
}

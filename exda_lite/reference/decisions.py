"""The pre-registered decision rules, applied mechanically to an experiment's confirmatory comparisons.

Each rule is written down, with its hypotheses, in ``reference/PREREGISTRATION.md`` (``gst_mechanism``) or
``reference/PREREGISTRATION_RESTORATION.md`` (``fig5_pool``) or ``reference/PREREGISTRATION_VARIANTS.md``
(``table7_pool``, ``gst_strides_pool``) or ``reference/PREREGISTRATION_TABLE7_CONFIRM.md`` (``table7_confirm``)
and committed before the first run. This module
restates nothing: it takes the paired comparisons the runner computed (``{"mean", "low", "high", "p", "n"}``
per comparison), adjusts the p-values with Holm *within the experiment's own family*, and returns the labels
the rule assigns. The scoreboard applies a second, wider Holm correction across all of its rows.

If fewer seeds than planned have finished, the outcome says so and the labels are provisional.
"""

from __future__ import annotations

import math

from .stats import holm

NO_EFFECT_DB = 0.15
"""A comparison whose 95 % interval lies inside [-0.15, +0.15] dB counts as "no effect at this scale"."""


def adjusted(comparisons: dict) -> dict:
    """comparison -> Holm-adjusted p-value across this experiment's comparisons."""
    keys = list(comparisons)
    return dict(zip(keys, holm([comparisons[k]["p"] for k in keys])))


def label(c: dict, p_holm: float) -> str:
    """PREREGISTRATION_RESTORATION.md: reproduces / opposite / no effect at this scale / inconclusive.

    "Reproduces" means significant with the paper's sign, ``c["expected_sign"]`` (+1 if absent: fig5_pool's
    arms should beat the baseline; -1 in table7_pool / gst_strides_pool, where the paper's choice is the control)."""
    if math.isfinite(p_holm) and p_holm < 0.05:
        return "reproduces" if c["mean"] * c.get("expected_sign", 1) > 0 else "opposite"
    if math.isfinite(c["low"]) and -NO_EFFECT_DB <= c["low"] and c["high"] <= NO_EFFECT_DB:
        return "no effect at this scale"
    return "inconclusive"


def completeness(comparisons: dict, planned: int) -> str | None:
    done = min((c["n"] for c in comparisons.values()), default=0)
    return None if done >= planned else f"incomplete: {done} of {planned} planned seeds finished (provisional)"


def restoration_decision(comparisons: dict, planned: int,
                         rule: str = "reference/PREREGISTRATION_RESTORATION.md") -> dict:
    """fig5_pool (R1-R3), table7_pool (V1-V6), gst_strides_pool (S1-S3): each comparison labelled on its own
    after Holm across the experiment's family."""
    p = adjusted(comparisons)
    labels = {k: label(c, p[k]) for k, c in comparisons.items()}
    return {"rule": rule, "planned_seeds": planned, "p_holm": p,
            "labels": labels, "status": completeness(comparisons, planned) or "complete",
            "outcome": "; ".join(f"{k}: {v}" for k, v in labels.items())}


def variants_decision(comparisons: dict, planned: int) -> dict:
    """table7_pool and gst_strides_pool (PREREGISTRATION_VARIANTS.md): fig5_pool's rule, the paper's sign -1."""
    return restoration_decision(comparisons, planned, rule="reference/PREREGISTRATION_VARIANTS.md")


def confirm_decision(comparisons: dict, planned: int) -> dict:
    """table7_confirm (T1, T2; PREREGISTRATION_TABLE7_CONFIRM.md): fig5_pool's rule, the paper's sign -1."""
    return restoration_decision(comparisons, planned, rule="reference/PREREGISTRATION_TABLE7_CONFIRM.md")


def gst_mechanism_decision(comparisons: dict, planned: int) -> dict:
    """gst_mechanism (C1-C4), PREREGISTRATION.md: C1 gates the rest; C2 and C3 both positive -> GST helps;
    C2 inside +-0.15 dB -> no benefit; anything else inconclusive."""
    p = adjusted(comparisons)
    c2 = comparisons["gst_rms_minus_mdta"]
    positive = {k: bool(p[k] < 0.05 and comparisons[k]["mean"] > 0) for k in comparisons}
    if not positive["mdta_minus_local_only"]:
        outcome = "the task does not test GST (the manipulation check C1 failed)"
    elif positive["gst_rms_minus_mdta"] and positive["gst_rms_minus_uniform_rms"]:
        outcome = "GST's content-adaptive maps help"
    elif -NO_EFFECT_DB <= c2["low"] and c2["high"] <= NO_EFFECT_DB:
        outcome = "no benefit of GST at this scale"
    else:
        outcome = "inconclusive"
    return {"rule": "reference/PREREGISTRATION.md", "planned_seeds": planned, "p_holm": p, "positive": positive,
            "status": completeness(comparisons, planned) or "complete", "outcome": outcome}


def awareness_decision(comparisons: dict, planned: int) -> dict:
    """awareness_pool (A1-A3, PREREGISTRATION_RESTORATION.md): per comparison after Holm across the three."""
    p = adjusted(comparisons)
    labels = {k: ("GST raises the clustering" if c["mean"] > 0 else "GST lowers the clustering")
              if math.isfinite(p[k]) and p[k] < 0.05 else "not distinguishable" for k, c in comparisons.items()}
    return {"rule": "reference/PREREGISTRATION_RESTORATION.md (awareness_pool)", "planned_seeds": planned,
            "p_holm": p, "labels": labels, "status": completeness(comparisons, planned) or "complete",
            "outcome": "; ".join(f"{k}: {v}" for k, v in labels.items())}

"""The pre-registered decision rules give each of their outcomes, and only from the comparisons that call for it."""

import json
import math

import pytest

from exda_lite.reference import decisions
from exda_lite.reference.experiments import EXPERIMENTS


def c(mean, half, p, n=10):
    return {"mean": mean, "low": mean - half, "high": mean + half, "p": p, "n": n}


def mechanism(c1, c2, c3, c4=None):
    return {"mdta_minus_local_only": c1, "gst_rms_minus_mdta": c2, "gst_rms_minus_uniform_rms": c3,
            "gst_minus_mdta": c4 or c(0.0, 0.1, 0.9)}


STRONG = c(0.5, 0.2, 1e-4)


@pytest.mark.parametrize("comparisons, outcome", [
    (mechanism(c(0.5, 0.6, 0.1), STRONG, STRONG), "the task does not test GST"),
    (mechanism(c(-0.5, 0.2, 1e-4), STRONG, STRONG), "the task does not test GST"),  # significant, wrong sign
    (mechanism(STRONG, STRONG, STRONG), "GST's content-adaptive maps help"),
    (mechanism(STRONG, STRONG, c(0.1, 0.3, 0.5)), "inconclusive"),  # adaptive maps not shown to matter
    (mechanism(STRONG, c(0.02, 0.1, 0.7), c(0.0, 0.1, 0.9)), "no benefit of GST at this scale"),
    (mechanism(STRONG, c(0.02, 0.2, 0.7), c(0.0, 0.1, 0.9)), "inconclusive"),  # interval reaches past 0.15
])
def test_gst_mechanism_rule(comparisons, outcome):
    decision = decisions.gst_mechanism_decision(comparisons, planned=10)
    assert decision["outcome"].startswith(outcome)
    assert decision["status"] == "complete"


def test_holm_is_within_the_family():
    # p = 0.02 alone passes; with three other p-values of 0.02 Holm multiplies the smallest by 4
    alone = decisions.adjusted({"a": {"p": 0.02}})
    family = decisions.adjusted({k: {"p": 0.02} for k in "abcd"})
    assert alone["a"] == pytest.approx(0.02) and family["a"] == pytest.approx(0.08)
    assert decisions.gst_mechanism_decision(mechanism(*(c(0.5, 0.4, 0.02),) * 3), 10)["outcome"].startswith(
        "the task does not test GST")


@pytest.mark.parametrize("comparison, expected", [
    (c(0.4, 0.2, 1e-3), "reproduces"), (c(-0.4, 0.2, 1e-3), "opposite"),
    (c(0.02, 0.1, 0.6), "no effect at this scale"), (c(0.2, 0.3, 0.2), "inconclusive"),
    (c(math.nan, math.nan, math.nan, n=1), "inconclusive"),
])
def test_restoration_labels(comparison, expected):
    decision = decisions.restoration_decision({"nonlinear_value_minus_baseline": comparison}, planned=1)
    assert decision["labels"]["nonlinear_value_minus_baseline"] == expected


def test_fewer_seeds_than_planned_is_provisional():
    decision = decisions.restoration_decision({"x": c(0.4, 0.2, 1e-3, n=4)}, planned=12)
    assert decision["status"].startswith("incomplete: 4 of 12")


def test_the_registry_carries_the_preregistered_plans():
    assert EXPERIMENTS["gst_mechanism"].planned_seeds == 10  # PREREGISTRATION.md, amendment after the pilot
    assert EXPERIMENTS["fig5_pool"].planned_seeds == 12  # PREREGISTRATION_RESTORATION.md, amendment
    pairs = {f"{arm}_minus_{control}" for arm, control in EXPERIMENTS["gst_mechanism"].comparisons()}
    assert pairs == set(mechanism(STRONG, STRONG, STRONG))


def test_the_scoreboard_lists_each_preregistered_outcome(tmp_path):
    import json

    from exda_lite.reference import scoreboard

    decision = decisions.gst_mechanism_decision(mechanism(STRONG, STRONG, STRONG), planned=10)
    (tmp_path / "gst_mechanism.json").write_text(json.dumps({"decision": decision}))
    lines = scoreboard.preregistered(tmp_path)
    assert lines == ["- `gst_mechanism` (reference/PREREGISTRATION.md, complete): **GST's content-adaptive maps help**"]
    assert "## Pre-registered outcomes" in scoreboard.markdown([], lines)
    assert "Pre-registered" not in scoreboard.markdown([])


def test_summary_carries_the_decision_and_the_display_prints_it(tmp_path, capsys):
    from test_mechanism import fake_run

    from exda_lite.reference import display, runner

    e = EXPERIMENTS["gst_mechanism"]
    gain = {"local_only": -1.0, "mdta": 0.0, "gst": 0.0, "gst_rms": 0.5, "uniform_rms": 0.1}
    for seed in range(10):
        for arm in e.arms:
            fake_run(tmp_path, e.name, arm, seed, 30.0 + gain[arm] + 0.01 * seed * (arm == "gst_rms"), e.settings)
    summary = runner.summarise(e, tmp_path)
    assert summary["decision"]["status"] == "complete"
    assert summary["decision"]["outcome"] == "GST's content-adaptive maps help"
    assert "token_maps" not in summary  # no stored weights, no analysis
    display.show("gst_mechanism", folder=tmp_path, plot=False)
    out = capsys.readouterr().out
    assert "PRE-REGISTERED OUTCOME (reference/PREREGISTRATION.md; complete): GST's content-adaptive maps help" in out
    assert "before any multiplicity correction" in out


def test_a_pilot_only_reference_shows_its_power_table_and_no_verdict(tmp_path, capsys):
    import json

    from exda_lite.reference import display

    power = {"gst_minus_baseline": {"sd": 0.24, "n": 3, "halfwidth_now": 0.6, "target_halfwidth": 0.3,
                                    "seeds_needed": 5}}
    (tmp_path / "fig5_pool.json").write_text(json.dumps({
        "experiment": "fig5_pool", "runs": {}, "comparisons": {}, "pilot": {"seeds": [100, 101, 102], "power": power}}))
    shown = display.show("fig5_pool", folder=tmp_path)
    out = capsys.readouterr().out
    assert shown["shown"] is False and shown["reason"] == "pilot only"
    assert "--seeds 0 1 2 3 4 5 6 7 8 9 10 11" in out and "seeds for a +-0.3 CI: 5" in out


def test_plot_comparisons_draws_one_interval_per_comparison(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from exda_lite.reference import display

    reference = {"experiment": "x", "metric": "test_psnr", "comparisons": {"a_minus_b": c(0.3, 0.2, 0.01),
                                                                           "c_minus_b": c(-0.1, 0.3, 0.5)}}
    fig = display.plot_comparisons(reference, labels={"a_minus_b": "A"})
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert labels == ["A", "c\n- b"]


def test_awareness_pool_rule():
    comparisons = {"gst_minus_baseline": c(0.1, 0.05, 1e-4), "ari_gst_minus_baseline": c(-0.1, 0.05, 1e-4),
                   "both_minus_nonlinear_value": c(0.05, 0.2, 0.4)}
    labels = decisions.awareness_decision(comparisons, planned=10)["labels"]
    assert labels == {"gst_minus_baseline": "GST raises the clustering",
                      "ari_gst_minus_baseline": "GST lowers the clustering",
                      "both_minus_nonlinear_value": "not distinguishable"}


@pytest.mark.parametrize("comparison, expected", [
    (c(-0.4, 0.2, 1e-3), "reproduces"), (c(0.4, 0.2, 1e-3), "opposite"),  # the paper's choice is the control
    (c(0.02, 0.1, 0.6), "no effect at this scale"), (c(-0.2, 0.3, 0.2), "inconclusive"),
])
def test_variant_labels_take_the_papers_sign(comparison, expected):
    decision = decisions.variants_decision({"stride_1_minus_stride_2": {**comparison, "expected_sign": -1}}, 8)
    assert decision["labels"]["stride_1_minus_stride_2"] == expected
    assert decision["rule"] == "reference/PREREGISTRATION_VARIANTS.md"


def test_table7_and_strides_pool_are_fig5_pool_with_one_change_each():
    """PREREGISTRATION_VARIANTS.md: fig5_pool's settings (the same dict), 8 seeds, no pilot, and the control is
    fig5_pool's 'both' run, so it is trained once and its settings check passes."""
    from pathlib import Path

    pool = EXPERIMENTS["fig5_pool"]
    for name, control in (("table7_pool", "residual_gelu"), ("gst_strides_pool", "stride_2")):
        e = EXPERIMENTS[name]
        assert e.settings is pool.settings and e.steps == pool.steps and e.planned_seeds == 8
        assert e.shared == {control: ("fig5_pool", "both")} and e.control == control and e.expected == -1
        assert e.default_seeds == tuple(range(8)) and not e.pilot_seeds and e.keep_weights
    text = (Path(__file__).parents[1] / "reference" / "PREREGISTRATION_VARIANTS.md").read_text()
    assert "n = 8 seeds" in text and "-0.41" in text


def test_a_shared_control_brings_its_owners_per_degradation_scores(tmp_path):
    from exda_lite.reference.breakdown import per_label

    e = EXPERIMENTS["gst_strides_pool"]
    runs = {"stride_2": {0: {"shared_from": "fig5_pool/both", "per_label": {"noise": 30.0}}}}
    assert per_label(e, runs, tmp_path) == {"stride_2": {0: {"noise": 30.0}}}


def test_drift_says_whether_the_difference_itself_still_moved():
    """runner.drift: runs whose curves both fall (unconverged) but in step give drift 0 ("settled"); a gap that
    opens over the last 20 % gives a positive drift whose interval excludes zero ("still rising")."""
    from exda_lite.reference.display import drift_text
    from exda_lite.reference.runner import drift

    def run(values):
        return {"curve": [{"step": 100 * (i + 1), "test_psnr": v} for i, v in enumerate(values)], "final": values[-1]}

    base = {s: run([20.0, 21.0, 22.0, 23.0, 24.0 + s / 10]) for s in range(4)}
    parallel = {s: run([20.5, 21.5, 22.5, 23.5, 24.5 + s / 10]) for s in range(4)}
    opening = {s: run([20.5, 21.5, 22.5, 23.5, 25.5 + s / 20]) for s in range(4)}
    settled = drift(parallel, base, list(range(4)), "test_psnr")
    assert settled["mean"] == pytest.approx(0.0) and "settled" in drift_text(settled)
    rising = drift(opening, base, list(range(4)), "test_psnr")
    assert rising["low"] > 0 and "still rising" in drift_text(rising)
    assert drift(parallel, base, [0], "test_psnr") is None  # one seed: no interval


def test_superseded_references_leave_the_default_run_and_the_holm_family(tmp_path):
    """fig5 / table7 / gst_strides / awareness (240 fixed patches, +/- 1.2-1.7 dB) were replaced by the powered
    _pool designs: `run` without names skips them, the scoreboard judges only the current ones, and lists the old
    comparisons for the record, without a verdict."""
    import json

    from exda_lite.reference import scoreboard
    from exda_lite.reference.runner import default_names

    old = {n: e.superseded_by for n, e in EXPERIMENTS.items() if e.superseded_by}
    assert old == {"fig5": "fig5_pool", "table7": "table7_pool", "gst_strides": "gst_strides_pool"}
    assert not set(old) & set(default_names()) and "awareness" not in default_names()
    assert default_names().index("fig5_pool") < default_names().index("table7_pool")  # the owner of shared runs first
    assert set(scoreboard.current_names()) == set(default_names())
    wide = {"n": 5, "mean": 0.2, "low": -1.3, "high": 1.7, "sd": 1.2, "p": 0.7}
    (tmp_path / "fig5.json").write_text(json.dumps({"comparisons": {"gst_minus_baseline": wide}}))
    lines = scoreboard.superseded(tmp_path)
    assert lines == ["- `fig5` gst_minus_baseline: +0.200 [-1.300, +1.700] (n = 5, half-width ±1.50); "
                     "superseded by `fig5_pool`"]
    rows = scoreboard.reference_rows(tmp_path)
    assert not any(r.command.endswith(("run fig5", "run table7", "run gst_strides", "run awareness")) for r in rows)
    assert "## Superseded references" in scoreboard.markdown([], [], lines)


def test_show_falls_back_to_the_superseded_reference_until_its_successor_exists(tmp_path, capsys):
    """A notebook that asks for gst_strides_pool before it has been run sees the old gst_strides, labelled."""
    import json

    from exda_lite.reference.display import predecessor, show

    assert predecessor("gst_strides_pool") == "gst_strides" and predecessor("awareness_pool") == "awareness"
    assert predecessor("span_ladder") is None
    run = {"final": 20.0, "converged": True, "change": 0.0, "steps": 10, "curve": []}
    (tmp_path / "gst_strides.json").write_text(json.dumps({
        "metric": "test_psnr", "command": "python -m exda_lite.reference run gst_strides", "commit": "0" * 40,
        "convergence_rule": "rule", "runs": {"stride_2": {"0": run}, "stride_1": {"0": run}},
        "comparisons": {}}))
    shown = show("gst_strides_pool", {"stride_2": 19.0}, folder=tmp_path, plot=False)
    out = capsys.readouterr().out
    assert "No committed reference for 'gst_strides_pool'" in out and "the reference it supersedes, 'gst_strides'" in out
    assert shown["shown"] and shown["superseded_by"] == "gst_strides_pool"
    assert not show("span_ladder", folder=tmp_path, plot=False)["shown"]


def test_a_shared_control_brings_only_the_experiments_own_seeds(tmp_path):
    """table7_pool reads fig5_pool's 'both' runs: seeds 0-7 (its plan), never fig5_pool's pilot (100-102) or its
    seeds 8-11; and the shared runs' training time is not counted twice."""
    from exda_lite.reference import runner
    from test_mechanism import fake_run

    pool, e = EXPERIMENTS["fig5_pool"], EXPERIMENTS["table7_pool"]
    for seed in (0, 1, 8, 100):
        fake_run(tmp_path, "fig5_pool", "both", seed, 24.0, pool.settings)
    for seed in (0, 1):
        fake_run(tmp_path, "table7_pool", "inplace_sigmoid", seed, 23.9, e.settings)
    runs, _ = runner.collect_runs(e, tmp_path)
    assert sorted(runs["residual_gelu"]) == [0, 1] and sorted(runs["inplace_sigmoid"]) == [0, 1]
    assert runner.belongs(e, pool, 7) and not runner.belongs(e, pool, 8) and not runner.belongs(e, pool, 100)


def test_convergence_tells_still_improving_from_wobbling_on_a_plateau(tmp_path):
    """reference.convergence: a rising curve that misses the rule counts as "still improving", a curve that peaked
    and fell counts as "worsening" with its distance below the best; MSE is measured relatively, as the rule is."""
    from exda_lite.reference.convergence import describe, late_movement, table

    def run(values, metric="test_psnr", converged=False, seed=0):
        curve = [{"step": 100 * (i + 1), metric: v} for i, v in enumerate(values)]
        return {"metric": metric, "final": values[-1], "curve": curve, "seed": seed,
                "convergence": {"converged": converged}}

    rising = run([20, 21, 22, 23, 24])
    peaked = run([20, 23, 24, 23.8, 23.7])
    flat = run([20, 23, 24, 24, 24], converged=True)
    assert late_movement(rising) == {"change": 1, "below_best": 0, "converged": False}
    assert late_movement(peaked)["change"] == pytest.approx(-0.1)
    assert late_movement(peaked)["below_best"] == pytest.approx(0.3)
    assert late_movement(run([1.0, 0.5, 0.2, 0.1, 0.09], "test_mse"))["change"] == pytest.approx(0.1)
    d = describe([rising, peaked, flat])
    assert (d["runs"], d["converged"], d["missed_improving"], d["missed_worsening"]) == (3, 1, 1, 1)
    folder = tmp_path / "runs" / "fig5_pool"
    folder.mkdir(parents=True)
    (folder / "baseline-seed0.json").write_text(json.dumps(rising))
    (folder / "baseline-seed100.json").write_text(json.dumps(peaked | {"seed": 100}))  # a pilot seed: not counted
    assert "| fig5_pool | dB | 1 | 0 | 1 | 0 | +1.000 |" in table(tmp_path)


@pytest.mark.parametrize("train6, half6, gap, lr", [(0.2, 0.1, "supported", "refuted"),
                                                    (1.5, 0.8, "refuted", "supported"),
                                                    (0.7, 0.4, "neither supported nor refuted", "refuted")])
def test_gap_probe_verdicts_follow_the_committed_predictions(train6, half6, gap, lr):
    """reference.spread: seed 6 decides (seed 0 was looked at before the predictions were written). A training-subset
    deficit of >= 1 dB refutes the train/test gap; a half-rate gain under 0.5 dB refutes the learning-rate story."""
    from exda_lite.reference.spread import verdicts

    def row(arm, seed, test, train, scale=1.0):
        return {"arm": arm, "seed": seed, "test_psnr": test, "train_subset_psnr": train, "lr_scale": scale}

    rows = [row("mdta", s, 34, 31) for s in (0, 6, 1)]
    rows += [row("gst_rms", 0, 31.3, 30.8), row("gst_rms", 6, 31.5, 31 - train6), row("gst_rms", 1, 34.2, 31.1),
             row("gst_rms", 0, 31.3 + 0.6, 30, 0.5), row("gst_rms", 6, 31.5 + half6, 30, 0.5)]
    v = verdicts(rows)
    assert (v["train_test_gap"], v["too_high_lr"]) == (gap, lr)
    assert v["mdta_minus_gst_rms"]["6"]["test_psnr"] == pytest.approx(2.5)


@pytest.mark.parametrize("fresh0, unseen0, unseen_rest, verdict", [(-0.2, -1.0, 0.0, "test sampling"),
                                                                   (-1.0, -0.2, 0.1, "photo-specific"),
                                                                   (-1.0, -0.2, 1.5, "none of these"),
                                                                   (-1.0, -0.9, 0.0, "general")])
def test_photo_probe_verdict_follows_the_committed_predictions(fresh0, unseen0, unseen_rest, verdict):
    """reference.spread.PHOTO_PROBE: fresh composites of the same photos first, then the unseen photos."""
    from exda_lite.reference.spread import photo_verdict

    rest = {str(s): (unseen_rest if s % 2 else -unseen_rest) for s in range(1, 10) if s != 6}
    c2 = {"fresh_same_photos": {"0": fresh0, "6": -1.0},
          "unseen_photos": {"0": unseen0, "6": unseen0, **rest}}
    assert photo_verdict(c2) == verdict


def test_table7_confirm_trains_new_seeds_of_the_same_network():
    """PREREGISTRATION_TABLE7_CONFIRM.md: seeds 20-37 (none of table7_pool's or fig5_pool's), the same settings
    object, and a control identical to fig5_pool's 'both' network at the same seed."""
    import torch

    e, pool, fig5 = EXPERIMENTS["table7_confirm"], EXPERIMENTS["table7_pool"], EXPERIMENTS["fig5_pool"]
    assert e.confirmatory_seeds == tuple(range(20, 38)) and e.default_seeds == e.confirmatory_seeds
    assert not set(e.confirmatory_seeds) & {*pool.default_seeds, *fig5.default_seeds}
    assert e.settings is pool.settings and e.steps == pool.steps and e.expected == -1
    ours, theirs = e.make_model("residual_gelu", 20, e.settings), fig5.make_model("both", 20, fig5.settings)
    a, b = ours.state_dict(), theirs.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    d = e.decide({"inplace_sigmoid_minus_residual_gelu": {"n": 18, "mean": -0.4, "low": -0.6, "high": -0.2,
                                                           "p": 0.001, "expected_sign": -1},
                  "nonparametric_gelu_minus_residual_gelu": {"n": 18, "mean": 0.05, "low": -0.1, "high": 0.12,
                                                             "p": 0.4, "expected_sign": -1}}, e.planned_seeds)
    assert d["rule"].endswith("PREREGISTRATION_TABLE7_CONFIRM.md") and d["status"] == "complete"
    assert list(d["labels"].values()) == ["reproduces", "no effect at this scale"]

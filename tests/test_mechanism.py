"""The powered-evidence machinery: oracles, the ladder's networks, the GST mechanism task and its
controls, settings-aware reference summaries, Holm's correction, the honest display."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from exda_lite.course import toy
from exda_lite.data import digits, flat_noise, oracles, synthetic
from exda_lite.reference import display, experiments, runner
from exda_lite.reference.stats import holm


# ----------------------------------------------------------------------------- oracles
def test_affine_oracle_is_exact_on_an_affine_degradation():
    clean = torch.rand(4, 1, 1, 32)
    degraded = 0.5 * clean + 0.2
    assert torch.allclose(oracles.affine_fit(degraded, clean), clean, atol=1e-5)


def test_pointwise_oracle_undoes_a_known_curve():
    clean = torch.rand(3, 1, 8, 8)
    gamma = torch.tensor([0.5, 1.0, 2.2])
    degraded = clean ** gamma.reshape(-1, 1, 1, 1)
    assert torch.allclose(oracles.pointwise_inverse(degraded, gamma), clean, atol=1e-5)


def test_tone_task_needs_a_pointwise_nonlinearity_and_fig3a_does_not():
    tone = oracles.oracles(synthetic.make_synthetic_task(16, 256, spec=synthetic.TONE, with_gamma=True))
    fig3a = oracles.oracles(synthetic.make_synthetic_task(16, 256, with_gamma=True))
    assert tone["pointwise_inverse"]["psnr"] > tone["affine"]["psnr"] + 3  # the ladder's task: a clear gap
    assert abs(fig3a["pointwise_inverse"]["psnr"] - fig3a["affine"]["psnr"]) < 0.5  # the Fig. 3a task: a tie


def test_digit_task_records_each_test_images_gamma():
    images = digits.load_digit_images(download=False, source="sklearn")
    task = digits.make_digit_task(images, n_train=8, n_test=16, corruption="tone", with_gamma=True, size=14)
    assert task["test_clean"].shape == (16, 1, 14, 14) and task["test_gamma"].shape == (16,)
    table = oracles.oracles(task)
    assert table["pointwise_inverse"]["psnr"] > table["affine"]["psnr"] + 3
    plain = digits.make_digit_task(images, n_train=8, n_test=16)  # the Fig. 3b task is unchanged by the options
    again = digits.make_digit_task(images, n_train=8, n_test=16, with_gamma=True)
    assert torch.equal(plain["test_degraded"], again["test_degraded"])
    with pytest.raises(ValueError, match="corruption"):
        digits.make_digit_task(images, corruption="fog")


# ----------------------------------------------------------------------------- ladder networks
@pytest.mark.parametrize("norm, kind", [(True, "LayerNorm2d"), ("layernorm", "LayerNorm2d"), (False, "Identity"),
                                        ("none", "Identity"), ("groupnorm", "GroupNorm")])
def test_toy_norms(norm, kind):
    model = toy.ToyAttentionNet("linear", norm=norm, ffn=True)
    assert type(model.blocks[0].norm1).__name__ == kind == type(model.blocks[0].norm2).__name__


def test_toy_norm_typo_is_one_clear_error():
    with pytest.raises(ValueError, match=r"\bnorm\b"):
        toy.ToyAttentionNet("linear", norm="layer")


def test_layernorm_is_a_per_pixel_nonlinearity_and_groupnorm_is_not():
    """Scale one pixel's feature vector: LayerNorm's output there does not scale (it divides by that pixel's
    own std); GroupNorm(1, C)'s output moves affinely with a per-image mean and std held fixed."""
    x = torch.randn(1, 8, 4, 4)
    ln = toy.ToyAttentionNet("linear", channels=8, norm="layernorm").blocks[0].norm1
    y1, y2 = x.clone(), x.clone()
    y2[..., 0, 0] *= 3
    out1, out2 = ln(y1), ln(y2)
    assert torch.allclose(out1[..., 0, 0], out2[..., 0, 0], atol=1e-4)  # invariant to the pixel's scale: nonlinear
    gn = torch.nn.GroupNorm(1, 8)
    mu, sd = x.mean(), x.std(unbiased=False)
    assert torch.allclose(gn(x), (x - mu) / (sd**2 + gn.eps).sqrt(), atol=1e-5)  # one mean and std per image


def test_ladder_arms_share_weights_within_a_rung():
    s = experiments.EXPERIMENTS["span_ladder"].settings
    a = experiments.ladder_model("layernorm.linear", 3, s).state_dict()
    b = experiments.ladder_model("layernorm.nonlinear", 3, s).state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# ----------------------------------------------------------------------------- the GST mechanism experiment
def test_flat_noise_task():
    task = flat_noise.make_flat_noise_task(n_train=6, n_test=5, size=32)
    assert task["train_degraded"].shape == (6, 3, 32, 32) and task["test_sigma"].shape == (5,)
    lo, hi = flat_noise.SIGMA_RANGE
    assert ((task["test_sigma"] >= lo) & (task["test_sigma"] <= hi)).all()
    for clean, (r, c, h, w) in zip(task["test_clean"], task["test_rect"].tolist()):
        region = clean[:, r:r + h, c:c + w]
        assert 10 <= h <= 22 and 10 <= w <= 22
        assert torch.allclose(region, region[:, :1, :1].expand_as(region))  # flat: one colour
    noise = task["test_degraded"] - task["test_clean"]
    assert abs(noise[0].std().item() / task["test_sigma"][0].item() - 1) < 0.1


def test_mechanism_arms_share_the_mdta_weights_and_the_local_control_is_local():
    e = experiments.EXPERIMENTS["gst_mechanism"]
    models = {arm: experiments.mechanism_model(arm, 0, e.settings).eval() for arm in e.arms}
    base = models["mdta"].state_dict()
    for model in models.values():
        state = model.state_dict()
        assert all(torch.equal(base[k], state[k]) for k in base)
    x = torch.rand(1, 3, 32, 32)
    far = x.clone()
    far[..., 28:, 28:] += 0.5  # change a far corner only
    with torch.no_grad():
        local = (models["local_only"](x) - models["local_only"](far))[..., :8, :8].abs().max()
        global_ = (models["mdta"](x) - models["mdta"](far))[..., :8, :8].abs().max()
    assert local == 0 and global_ > 0  # the control can fail: MDTA sees the corner, the local net cannot


def test_uniform_tokens_are_constant_maps():
    e = experiments.EXPERIMENTS["gst_mechanism"]
    gst = experiments.mechanism_model("uniform_rms", 0, e.settings).body[0].attn.gst
    maps = gst(torch.rand(2, 16, 8, 8))
    assert torch.allclose(maps, torch.full_like(maps, 1 / 64))


def test_train_toy_with_ema_resumes_exactly(tmp_path):
    task = synthetic.make_synthetic_task(n_train=64, n_test=16)
    state = tmp_path / "state.pt"
    torch.manual_seed(0)
    first = toy.ToyAttentionNet("nonlinear", norm=False)
    toy.train_toy(first, task, steps=20, batch_size=4, eval_every=5, progress=False, ema=0.99,
                  state_path=state, save_every=10)  # leaves its state of step 10 behind
    torch.manual_seed(0)
    resumed = toy.ToyAttentionNet("nonlinear", norm=False)
    toy.train_toy(resumed, task, steps=20, batch_size=4, eval_every=5, progress=False, ema=0.99, state_path=state)
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), resumed.state_dict().values()))



def test_eval_raw_scores_the_raw_weights_beside_the_ema_and_changes_nothing_else():
    """The EMA-lag probe's ``eval_raw``: extra raw_* keys, the same EMA curve and final weights as without it."""
    task = synthetic.make_synthetic_task(n_train=64, n_test=16)
    nets, histories = [], []
    for eval_raw in (False, True):
        torch.manual_seed(0)
        nets.append(toy.ToyAttentionNet("nonlinear", norm=False))
        histories.append(toy.train_toy(nets[-1], task, steps=20, batch_size=4, eval_every=5, progress=False,
                                       ema=0.9, eval_raw=eval_raw))
    plain, probed = histories
    assert [{k: h[k] for k in p} for h, p in zip(probed, plain)] == plain
    assert all({"raw_test_mse", "raw_test_psnr"} <= set(h) for h in probed)
    assert probed[-1]["raw_test_mse"] != probed[-1]["test_mse"]  # the raw weights are not the average
    assert all(torch.equal(a, b) for a, b in zip(nets[0].state_dict().values(), nets[1].state_dict().values()))

# ----------------------------------------------------------------------------- the runner and the display
def fake_run(out, name, arm, seed, final, settings, mse=None):
    path = runner.run_file(out, name, arm, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"experiment": name, "arm": arm, "seed": seed, "steps": 3000, "settings": settings,
                                "final": final, "finals": {"test_mse": mse if mse is not None else final},
                                "convergence": {"converged": True, "change": 0.0}, "seconds": 1.0,
                                "curve": [{"step": 3000, "test_mse": final}]}))
    return path


def test_ladder_summary_skips_runs_of_another_network(tmp_path):
    e = experiments.EXPERIMENTS["span_ladder"]
    for seed in range(3):
        for rung in experiments.RUNGS:
            fake_run(tmp_path, e.name, f"{rung}.linear", seed, 0.004 + 0.001 * seed, e.settings)
            fake_run(tmp_path, e.name, f"{rung}.nonlinear", seed, 0.002 + 0.0005 * seed, e.settings)
    stale = fake_run(tmp_path, e.name, "attention_only.linear", 7, 1.0, {**e.settings, "channels": 8})
    assert runner.finished(runner.run_file(tmp_path, e.name, "gdfn.linear", 0), 3000, e.settings)
    assert not runner.finished(stale, 3000, e.settings)  # another network: retrained, not reused
    summary = runner.summarise(e, tmp_path)
    assert summary["settings"] == e.settings and summary["data"]["n_test"] == 512
    assert summary["skipped_runs"]["files"] == [str(stale.relative_to(tmp_path))]
    rung = summary["rungs"]["attention_only"]
    assert rung["n"] == 3 and math.isclose(rung["ratio"], 0.005 / 0.0025)
    assert rung["low"] > 0 and math.isclose(rung["mean"], 0.0025)


def test_holm_matches_a_worked_example():
    assert holm([0.01, 0.04, 0.03, math.nan, 0.005]) == pytest.approx([0.03, 0.06, 0.06, math.nan, 0.02],
                                                                      nan_ok=True)


def test_display_names_a_different_network(tmp_path, capsys):
    e = experiments.EXPERIMENTS["span_synthetic"]
    for seed in range(2):
        for arm, final in (("linear", 0.005), ("nonlinear", 0.003), ("post", 0.004)):
            fake_run(tmp_path, e.name, arm, seed, final + 0.0001 * seed, e.settings)
    runner.summarise(e, tmp_path)
    shown = display.show("span_synthetic", {"linear": 0.005}, folder=tmp_path, plot=False,
                         settings={"norm": True, "ffn": False, "steps": 1000})
    text = capsys.readouterr().out
    assert "NOT THE SAME EXPERIMENT" in text and "norm" in shown["differences"]["network"][0]
    assert shown["kind"] == "converged reference" and "steps" in shown["differences"]["budget"][0]
    assert np.isfinite(shown["comparisons"]["linear_minus_nonlinear"]["detectable"])
    display.show("span_synthetic", folder=tmp_path, plot=False, settings={"norm": False, "ffn": False})
    assert "NOT THE SAME" not in capsys.readouterr().out


def test_display_warns_when_the_reference_predates_settings(tmp_path, capsys):
    e = experiments.EXPERIMENTS["span_synthetic"]
    for seed in range(2):
        for arm in e.arms:
            fake_run(tmp_path, e.name, arm, seed, 0.003 + 0.001 * seed, e.settings)
    summary = runner.summarise(e, tmp_path)
    del summary["settings"]
    (tmp_path / "span_synthetic.json").write_text(json.dumps(summary))
    display.show("span_synthetic", folder=tmp_path, plot=False, settings={"norm": False})
    assert "does not record its settings" in capsys.readouterr().out


def test_pilot_seeds_are_summarised_apart_and_never_pooled(tmp_path):
    e = experiments.EXPERIMENTS["gst_mechanism"]
    for seed in (0, 1, 100, 101):
        for arm in e.arms:
            fake_run(tmp_path, e.name, arm, seed, 30.0 + (0.5 if arm == "gst_rms" else 0) + 0.1 * seed, e.settings)
    summary = runner.summarise(e, tmp_path)
    assert summary["comparisons"]["gst_rms_minus_mdta"]["seeds"] == [0, 1]
    assert summary["pilot"]["seeds"] == [100, 101]
    assert summary["pilot"]["comparisons"]["gst_rms_minus_mdta"]["seeds"] == [100, 101]
    assert e.default_seeds == (100, 101, 102, *range(10))  # `run gst_mechanism` follows the protocol


def test_fig5_pool_pilot_reports_the_seeds_a_03_db_interval_needs(tmp_path):
    import dataclasses

    e = dataclasses.replace(experiments.EXPERIMENTS["fig5_pool"], describe_task=None)
    for seed in (100, 101, 102):
        for arm in e.arms:
            fake_run(tmp_path, e.name, arm, seed, 25.0 + (0.4 if arm == "both" else 0) + 0.2 * (seed - 100) ** 2,
                     e.settings)
    power = runner.summarise(e, tmp_path)["pilot"]["power"]
    assert set(power) == {"nonlinear_value_minus_baseline", "gst_minus_baseline", "both_minus_baseline"}
    assert power["both_minus_baseline"]["seeds_needed"] == 5  # sd 0 -> the minimum
    assert e.default_seeds == (100, 101, 102, *range(12)) and e.confirmatory_seeds == tuple(range(12))


def test_scoreboard_says_not_yet_run_for_a_pilot_only_experiment(tmp_path):
    """A pilot sizes an experiment and gives no verdict: the scoreboard must not read its n = 0 comparisons as
    'not distinguishable'."""
    from exda_lite.reference.scoreboard import reference_rows

    e = experiments.EXPERIMENTS["fig5_pool"]
    empty = {"n": 0, "mean": math.nan, "low": math.nan, "high": math.nan, "sd": math.nan, "p": math.nan}
    (tmp_path / "fig5_pool.json").write_text(json.dumps({
        "comparisons": {f"{arm}_minus_baseline": dict(empty) for arm in e.arms if arm != "baseline"},
        "pilot": {"seeds": [100, 101, 102]}, "runs": {}}))
    rows = [r for r in reference_rows(tmp_path) if "fig5_pool" in r.command]
    assert len(rows) == 3
    assert all(r.verdict == "not yet run" and "pilot only" in r.ours for r in rows)

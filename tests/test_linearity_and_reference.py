"""The evidence layer: the linearity test of Eq. 6-10, the post-aggregation control, the two
GST options, and the reference runner (paired statistics, caching, resume, display)."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import stats

from exda_lite.course import span, toy
from exda_lite.data import synthetic
from exda_lite.nn.attention import ExDAAttention, merge_heads, split_heads
from exda_lite.nn.gst import GlobalSpatialTokens
from exda_lite.nn.nonlinear_value import NonlinearValue
from exda_lite.reference import display, experiments, runner
from exda_lite.reference.stats import paired_ci, verdict


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_superposition_separates_linear_from_nonlinear_value_paths(seed):
    table = span.linearity_table(seed=seed)
    assert table["linear_values"]["superposition"] < 1e-9
    assert table["linear_g"]["superposition"] < 1e-9  # the control: same weights, identity for the GELU
    assert table["gelu_g"]["superposition"] > 1e-4
    assert table["post_aggregation"]["superposition"] > 1e-4  # the paper's "cannot escape" does not hold


def test_span_residual_is_not_a_linearity_test():
    """A linear g with a depthwise conv leaves span(V): the old measurement flags a linear map."""
    table = span.linearity_table(seed=0)
    assert table["linear_values"]["span"] < 1e-9
    assert table["linear_g"]["span"] > 1e-2


def test_superposition_residual_of_known_maps():
    x1, x2 = torch.randn(3, 5, dtype=torch.float64), torch.randn(3, 5, dtype=torch.float64)
    w = torch.randn(5, 5, dtype=torch.float64)
    assert span.superposition_residual(lambda x: x @ w, x1, x2) < 1e-12
    assert span.superposition_residual(lambda x: torch.tanh(x @ w), x1, x2) > 1e-2


def test_post_position_applies_the_same_g_after_aggregation():
    torch.manual_seed(0)
    layer = ExDAAttention(8, 2, value_path=NonlinearValue(8, 2), value_position="post").double()
    x = torch.randn(2, 8, 6, 7, dtype=torch.float64)
    out, attn = layer(x, return_attention=True)
    v = layer.qkv_dwconv(layer.qkv(x)).chunk(3, dim=1)[2]
    y = merge_heads(attn @ split_heads(v, 2), 6, 7)
    assert torch.allclose(out, layer.project_out(y + layer.value_path.g(y)), atol=1e-12)


def test_toy_post_model_is_matched():
    sizes = {k: sum(p.numel() for p in toy.ToyAttentionNet(k, channels=8).parameters()) for k in toy.VALUE_KINDS}
    assert len(set(sizes.values())) == 1
    torch.manual_seed(0)
    a = toy.ToyAttentionNet("nonlinear", channels=8)
    torch.manual_seed(0)
    b = toy.ToyAttentionNet("post", channels=8)
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))


def gst_layer(**kwargs):
    torch.manual_seed(0)
    return ExDAAttention(8, 2, gst=GlobalSpatialTokens(8, 2, tokens=3, stride=2), **kwargs).double()


def test_eq3_separate_reading():
    layer = gst_layer(eq3="separate")
    x = torch.randn(1, 8, 8, 8, dtype=torch.float64)
    out, attn = layer(x, return_attention=True)
    q, k, v = (split_heads(t, 2) for t in layer.qkv_dwconv(layer.qkv(x)).chunk(3, dim=1))
    g = layer.gst(x)
    manual = attn[:, :, :4, :4] @ v + layer.alpha * attn[:, :, :4, 4:] @ g
    assert torch.allclose(out, layer.project_out(merge_heads(manual, 8, 8)), atol=1e-12)


def test_rms_token_value_scale_puts_tokens_on_the_value_scale():
    x = torch.randn(1, 8, 16, 16, dtype=torch.float64)
    default, scaled = gst_layer(), gst_layer(token_value_scale="rms")
    scaled.load_state_dict(default.state_dict())
    v = split_heads(default.qkv_dwconv(default.qkv(x)).chunk(3, dim=1)[2], 2)
    tokens = default.gst(x)
    assert tokens.pow(2).mean().sqrt() < 0.1 * v.pow(2).mean().sqrt()  # the documented imbalance
    _, attn = default(x, return_attention=True)
    _, attn_scaled = scaled(x, return_attention=True)
    assert torch.allclose(attn, attn_scaled)  # Q*, K* unchanged: only V* is rescaled
    assert not torch.allclose(default(x), scaled(x))


def test_invalid_gst_options_are_refused():
    with pytest.raises(ValueError, match="eq3"):
        gst_layer(eq3="both")
    with pytest.raises(ValueError, match="value_position"):
        ExDAAttention(8, 2, value_position="middle")


def test_paired_ci_matches_scipy():
    rng = np.random.default_rng(0)
    a, b = rng.normal(1, 1, 6), rng.normal(0.5, 1, 6)
    ci = paired_ci(a, b)
    d = a - b
    low, high = stats.t.interval(0.95, 5, loc=d.mean(), scale=stats.sem(d))
    assert ci["low"] == pytest.approx(low) and ci["high"] == pytest.approx(high)
    assert ci["p"] == pytest.approx(stats.ttest_rel(a, b).pvalue)
    assert math.isnan(paired_ci([1.0], [0.0])["low"])


def test_verdict_words():
    assert "reproduces" in verdict({"n": 5, "mean": 1.0, "low": 0.5, "high": 1.5}, expected=1)
    assert "OPPOSITE" in verdict({"n": 5, "mean": -1.0, "low": -1.5, "high": -0.5}, expected=1)
    assert "not distinguishable" in verdict({"n": 5, "mean": 0.1, "low": -0.5, "high": 0.7}, expected=1)


def test_convergence_rule():
    flat = [{"step": s, "test_mse": 0.01} for s in range(100, 1100, 100)]
    falling = [{"step": s, "test_mse": 1.0 / s} for s in range(100, 1100, 100)]
    assert runner.convergence(flat, "test_mse")["converged"]
    assert not runner.convergence(falling, "test_mse")["converged"]


@pytest.fixture
def tiny_experiment(monkeypatch):
    exp = dataclasses.replace(experiments.EXPERIMENTS["span_synthetic"], steps=12,
                              settings={**experiments.EXPERIMENTS["span_synthetic"].settings, "n_train": 64,
                                        "channels": 4, "blocks": 1},
                              make_task=lambda s: synthetic.make_synthetic_task(n_train=64, n_test=16, length=16))
    return exp


def test_runner_caches_finished_runs_and_summarises(tmp_path, tiny_experiment, monkeypatch, one_thread):
    summary = runner.run_experiment(tiny_experiment, [0, 1], "cpu", tmp_path, progress=False)
    assert set(summary["runs"]) == {"linear", "nonlinear", "post"}
    assert summary["comparisons"]["linear_minus_nonlinear"]["n"] == 2
    assert (tmp_path / "span_synthetic.json").is_file()
    assert not any((tmp_path / ".state").rglob("*.pt"))
    assert summary["runs_with_cpu_seconds"] == 6 and 0 < summary["cpu_seconds"]  # the CPU time make reference costs
    calls = []
    monkeypatch.setattr(runner, "train_arm", lambda *a, **k: calls.append(a) or [])
    runner.run_experiment(tiny_experiment, [0, 1], "cpu", tmp_path, progress=False)
    assert calls == []  # finished runs are never recomputed


def test_show_prints_reference_beside_this_run(tmp_path, tiny_experiment, capsys, one_thread):
    runner.run_experiment(tiny_experiment, [0, 1], "cpu", tmp_path, progress=False)
    shown = display.show("span_synthetic", {"linear": 0.1}, folder=tmp_path, plot=False)
    text = capsys.readouterr().out
    assert shown["shown"] and "linear_minus_nonlinear" in shown["comparisons"]
    assert "95 % CI" in text and "paper:" in text
    json.dumps(shown)  # goes into the notebook's results JSON
    missing = display.show("span_digits", folder=tmp_path / "nowhere", plot=False)
    assert missing == {"shown": False, "reason": "missing"}
    assert "python -m exda_lite.reference run span_digits" in capsys.readouterr().out


def test_reference_cli_refuses_unknown_names(capsys):
    assert runner.main(["run", "no_such_experiment"]) == 2
    assert "unknown experiment" in capsys.readouterr().err


def test_demo_weights_are_checked_against_the_manifest(tmp_path, monkeypatch):
    import exda_lite.weights as W
    from exda_lite import build_model
    from exda_lite.training.checkpoints import save_weights

    weights, manifest = tmp_path / "demo.safetensors", tmp_path / "MANIFEST.json"
    monkeypatch.setattr(W, "DEMO_WEIGHTS", weights)
    monkeypatch.setattr(W, "MANIFEST", manifest)
    with pytest.raises(FileNotFoundError, match="demo-weights"):
        W.demo_weights_path()
    model, about = W.demo_model_or_untrained()
    assert "UNTRAINED" in about and model.config.dim == 16
    torch.manual_seed(0)
    save_weights(build_model("exda_nano"), weights, "exda_nano")
    manifest.write_text(json.dumps({"sha256": W.sha256(weights), "steps": 5,
                                    "val_psnr": [{"step": 5, "val_psnr": 20.0, "input": 17.0}]}))
    model, about = W.demo_model_or_untrained()
    assert "bundled demo" in about and "17.00 -> 20.00 dB" in about
    weights.write_bytes(weights.read_bytes()[:-1] + b"\0")  # damaged
    with pytest.raises(ValueError, match="sha256"):
        W.demo_weights_path()


def test_restore_without_weights_uses_the_demo_model(tmp_path, monkeypatch, capsys):
    import numpy as np
    from PIL import Image

    import exda_lite.weights as W
    from exda_lite import build_model, cli
    from exda_lite.training.checkpoints import save_weights

    weights, manifest = tmp_path / "demo.safetensors", tmp_path / "MANIFEST.json"
    monkeypatch.setattr(W, "DEMO_WEIGHTS", weights)
    monkeypatch.setattr(W, "MANIFEST", manifest)
    photo = tmp_path / "photo.png"
    Image.fromarray((np.random.default_rng(0).random((20, 24, 3)) * 255).astype(np.uint8)).save(photo)
    assert cli.main(["restore", str(photo), "--device", "cpu"]) == 2  # no demo weights: one clear line
    assert "demo-weights" in capsys.readouterr().err
    save_weights(build_model("exda_nano"), weights, "exda_nano")
    manifest.write_text(json.dumps({"sha256": W.sha256(weights), "steps": 7}))
    out = tmp_path / "restored.png"
    assert cli.main(["restore", str(photo), "--device", "cpu", "--output", str(out)]) == 0
    assert "bundled demo model" in capsys.readouterr().out and out.is_file()


def test_awareness_reads_fig5_weights_paired(tmp_path, monkeypatch, one_thread):
    """The awareness reference: no training of its own, the fig5 runs' stored weights, paired by seed."""
    from exda_lite.reference import awareness

    fig5 = dataclasses.replace(experiments.EXPERIMENTS["fig5"], steps=3,
                               settings={**experiments.RESTORER, "samples": 2})
    monkeypatch.setitem(experiments.EXPERIMENTS, "fig5", fig5)
    monkeypatch.setitem(runner.EXPERIMENTS, "fig5", fig5)
    monkeypatch.setitem(awareness.EMBEDDING, "per_class", 6)
    monkeypatch.setitem(awareness.EMBEDDING, "crop", 16)
    runner.run_experiment(fig5, [0, 1], "cpu", tmp_path, progress=False)
    run = json.loads((tmp_path / "runs" / "fig5" / "gst-seed0.json").read_text())
    assert (tmp_path / "runs" / "fig5" / run["weights"]["file"]).stat().st_size == run["weights"]["bytes"]
    summary = awareness.analyse(tmp_path)
    assert set(summary["runs"]) == {"baseline", "nonlinear_value", "gst", "both"}
    c = summary["comparisons"]["gst_minus_baseline"]
    assert c["n"] == 2 and c["seeds"] == [0, 1] and "NMI" in c["text"]
    assert "ari_gst_minus_baseline" in summary["comparisons"] and "pixel_statistics" in summary["controls"]
    assert json.loads((tmp_path / "awareness.json").read_text())["metric"] == "nmi"
    (tmp_path / "runs" / "fig5" / run["weights"]["file"]).write_bytes(b"tampered")
    with pytest.raises(ValueError, match="sha256"):
        awareness.analyse(tmp_path)


def test_shared_arm_is_trained_once(tmp_path, monkeypatch, one_thread):
    """gst_strides' stride_2 is fig5's 'both' (same model, task, budget): read, never retrained."""
    tiny = {**experiments.RESTORER, "samples": 2}
    for name in ("fig5", "gst_strides"):
        exp = dataclasses.replace(experiments.EXPERIMENTS[name], steps=3, settings=tiny)
        monkeypatch.setitem(experiments.EXPERIMENTS, name, exp)
        monkeypatch.setitem(runner.EXPERIMENTS, name, exp)
    runner.run_experiment(experiments.EXPERIMENTS["fig5"], [0], "cpu", tmp_path, progress=False)
    trained = []
    real = runner.train_one
    monkeypatch.setattr(runner, "train_one", lambda e, t, arm, *a: trained.append(arm) or real(e, t, arm, *a))
    summary = runner.run_experiment(experiments.EXPERIMENTS["gst_strides"], [0], "cpu", tmp_path, progress=False)
    assert "stride_2" not in trained and sorted(trained) == ["stride_1", "stride_4", "stride_8"]
    assert summary["runs"]["stride_2"]["0"]["shared_from"] == "fig5/both"
    assert not (tmp_path / "runs" / "gst_strides" / "stride_2-seed0.json").exists()


def test_awareness_pool_reads_fig5_pool_weights_and_skips_the_pilot(tmp_path, monkeypatch, one_thread):
    """The same analysis on the powered models: their own labelled test crops, confirmatory seeds only."""
    from exda_lite.reference import awareness

    small = {**experiments.EXPERIMENTS["fig5_pool"].settings, "n_train": 32, "n_test": 10, "channels": 8}
    pool = dataclasses.replace(experiments.EXPERIMENTS["fig5_pool"], steps=3, settings=small, pilot_seeds=(100,))
    monkeypatch.setitem(experiments.EXPERIMENTS, "fig5_pool", pool)
    monkeypatch.setitem(runner.EXPERIMENTS, "fig5_pool", pool)
    runner.run_experiment(pool, [0, 1, 100], "cpu", tmp_path, progress=False)
    summary = awareness.analyse(tmp_path, name="awareness_pool")
    assert summary["source"] == "fig5_pool" and summary["settings"]["channels"] == 8
    assert summary["comparisons"]["gst_minus_baseline"]["seeds"] == [0, 1]  # seed 100 is the pilot's
    assert (tmp_path / "awareness_pool.json").is_file() and not (tmp_path / "awareness.json").exists()
    assert summary["decision"]["status"].startswith("incomplete: 2 of 12")

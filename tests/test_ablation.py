"""Notebook 09's ablation and efficiency helpers: paired variants, seed statistics, overhead ratios."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from exda_lite import build_model, count_flops, count_parameters
from exda_lite.course.ablation import (BASELINE, FIG5_VARIANTS, PAPER_FIG5, added_modules, compare_to_baseline,
                                interleaved_latency, overhead_ratios, seed_summary, seeds_needed, unet_variants,
                                variant_model, welch_t)
from exda_lite.nn.gst import GlobalSpatialTokens
from exda_lite.nn.nonlinear_value import NonlinearValue

# ---------------------------------------------------------------- statistics over seeds
BASE = [18.0, 18.5, 17.5]
BETTER = [18.2, 18.9, 17.6]  # per-seed differences 0.2, 0.4, 0.1


def test_seed_summary_of_known_numbers():
    table = seed_summary({"a": [1.0, 2.0, 3.0], "b": [5.0, 5.0]})
    assert list(table.index) == ["a", "b"]
    assert table.loc["a", "mean"] == pytest.approx(2.0) and table.loc["a", "std"] == pytest.approx(1.0)  # ddof=1
    assert table.loc["a", "sem"] == pytest.approx(1 / math.sqrt(3)) and table.loc["a", "n"] == 3
    assert table.loc["b", "std"] == 0.0


def test_welch_t_matches_the_formula_by_hand():
    t, df = welch_t([1.0, 2.0, 3.0], [2.0, 3.0, 5.0, 6.0])
    # means 2 and 4, sample variances 1 and 10/3: se^2 = 1/3 + 10/12
    se2 = 1 / 3 + 10 / 12
    assert t == pytest.approx(-2 / math.sqrt(se2))
    assert df == pytest.approx(se2 ** 2 / ((1 / 3) ** 2 / 2 + (10 / 12) ** 2 / 3))
    assert df == pytest.approx(4.7419, abs=1e-4)


def test_compare_to_baseline_known_values():
    table = compare_to_baseline({BASELINE: BASE, "better": BETTER})
    row = table.loc["better"]
    assert list(table.index) == ["better"]  # the baseline is not compared with itself
    assert row["delta"] == pytest.approx(np.mean(BETTER) - np.mean(BASE))
    d = np.array(BETTER) - np.array(BASE)
    assert row["paired_t"] == pytest.approx(d.mean() / (d.std(ddof=1) / math.sqrt(3)))  # 2.6458
    assert row["paired_t"] == pytest.approx(2.6458, abs=1e-3)
    assert row["welch_t"] == pytest.approx(welch_t(BETTER, BASE)[0])
    # the per-seed differences are consistent, the seed-to-seed spread is large: paired >> unpaired
    assert row["paired_p"] < row["welch_p"] and row["wins"] == "3/3"
    assert row["seed_std"] == pytest.approx(math.sqrt((np.var(BETTER, ddof=1) + np.var(BASE, ddof=1)) / 2))


def test_identical_variants_show_no_effect():
    row = compare_to_baseline({BASELINE: BASE, "same": BASE[::-1]}).loc["same"]  # same numbers, other seeds
    assert abs(row["delta"]) < 1e-12 and row["welch_t"] == pytest.approx(0) and row["welch_p"] == pytest.approx(1)
    assert row["paired_p"] == pytest.approx(1) and row["wins"] == "1/3"


def test_seeds_needed():
    assert seeds_needed(0.5, 0.5) == pytest.approx(15.7, abs=0.1)
    assert seeds_needed(1.0, 0.5) == pytest.approx(seeds_needed(0.5, 0.5) / 4)
    assert seeds_needed(0.0, 0.5) == math.inf


# ---------------------------------------------------------------- the variants
def test_paper_numbers_cover_every_variant():
    assert list(PAPER_FIG5) == list(FIG5_VARIANTS)
    assert PAPER_FIG5["+ both (ExDA)"]["psnr"] == 32.96  # the only bar the text states


def test_tiny_variants_differ_only_in_the_intended_modules():
    base = variant_model(BASELINE, 8, 2, 2, seed=3)
    expected = {"+ nonlinear value": ("value_path",), "+ GST": ("gst", "alpha"), "+ both (ExDA)": ("value_path", "gst", "alpha")}
    for name, parts in expected.items():
        model = variant_model(name, 8, 2, 2, seed=3)
        added = added_modules(model, base)
        assert added and all(any(p in key for p in parts) for key in added), (name, added)
        assert all(any(p in key for key in added) for p in parts), (name, added)
        assert set(base.state_dict()) <= set(model.state_dict())
        for key, value in base.state_dict().items():  # paired: the shared weights start equal
            assert torch.equal(model.state_dict()[key], value), key
        assert count_parameters(model) > count_parameters(base)
        assert model(torch.rand(2, 3, 16, 12)).shape == (2, 3, 16, 12)
    assert added_modules(variant_model(BASELINE, 8, 2, 2, seed=4), base) == []


def test_tiny_variants_depend_on_the_seed_and_reject_unknown_names():
    a, b = variant_model("+ GST", 8, 1, 1, seed=0), variant_model("+ GST", 8, 1, 1, seed=1)
    assert not torch.equal(a.embed.weight, b.embed.weight)
    assert torch.equal(a.embed.weight, variant_model("+ GST", 8, 1, 1, seed=0).embed.weight)
    with pytest.raises(KeyError, match="prompts"):
        variant_model("+ prompts", 8, 1, 1)


def test_unet_variants_differ_only_in_the_primitives():
    models = unet_variants("exda_nano")
    assert list(models) == list(FIG5_VARIANTS)
    base = models[BASELINE]
    assert not any(isinstance(m, (NonlinearValue, GlobalSpatialTokens)) for m in base.modules())
    assert not any(isinstance(m, NonlinearValue) for m in models["+ GST"].modules())
    assert any(isinstance(m, GlobalSpatialTokens) for m in models["+ GST"].modules())
    for name, model in models.items():
        added = added_modules(model, base)
        assert all("value_path" in k or "gst" in k or k.endswith("alpha") for k in added), name
        assert added_modules(base, model) == []
    params = {name: count_parameters(m) for name, m in models.items()}
    added_nv = params["+ nonlinear value"] - params[BASELINE]
    added_gst = params["+ GST"] - params[BASELINE]
    assert params["+ both (ExDA)"] == params[BASELINE] + added_nv + added_gst  # the two add independently
    assert params["+ both (ExDA)"] == count_parameters(build_model("exda_nano"))  # "both" is the named config


# ---------------------------------------------------------------- costs
def test_overhead_ratio_of_identical_configs_is_one():
    costs = pd.DataFrame({"params": [100.0, 100.0, 150.0], "flops": [2e9, 2e9, 4e9]},
                         index=[BASELINE, "copy", "bigger"])
    ratios = overhead_ratios(costs)
    assert (ratios.loc[[BASELINE, "copy"]] == 1).all().all()
    assert ratios.loc["bigger", "params"] == 1.5 and ratios.loc["bigger", "flops"] == 2.0


def test_interleaved_latency_shape_and_values():
    models = {"a": torch.nn.Conv2d(3, 3, 3, padding=1), "b": torch.nn.Conv2d(3, 3, 1)}
    times = interleaved_latency(models, (1, 3, 16, 16), rounds=4)
    assert times.shape == (4, 2) and list(times.columns) == ["a", "b"] and (times > 0).all().all()


def test_flops_scale_from_a_small_side_to_224():
    """The notebook counts FLOPs at 32^2 and scales by (224/32)^2: every counted op is linear in H*W."""
    model = build_model("exda_nano").eval()
    direct = count_flops(model, (1, 3, 224, 224))
    scaled = count_flops(model, (1, 3, 32, 32)) * (224 / 32) ** 2
    assert scaled == pytest.approx(direct, rel=0.01)


def test_welch_exercise_accepts_the_formula_by_hand(capsys):
    from exda_lite.course.exercises import check
    from exda_lite.course.exercises.training_nbs import t_variant
    assert check("welch_t", lambda a, b: t_variant(a, b))  # Welch's t and Welch-Satterthwaite df, written out
    assert not check("welch_t", lambda a, b: t_variant(a, b, pooled=True, df="student"))
    assert "Student" in capsys.readouterr().out

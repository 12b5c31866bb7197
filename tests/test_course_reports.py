"""The notebook scaffolding of 07-09: one definition of each validator, sane generated text, Table A reuse."""

import json
import math
from pathlib import Path

import pytest

from exda_lite import build_model
from exda_lite.course import ablation, ablation_report, all_in_one, twins
from exda_lite.course.notebook import (ParameterError, at_least_two, image_sides, machine_load, model_names,
                                       non_negative_int, non_negative_number, positive_number, resume_value)


def test_validators():
    assert non_negative_int(0) and not non_negative_int(-1) and not non_negative_int(True) and not non_negative_int(1.0)
    assert positive_number(0.5) and not positive_number(0) and not positive_number(False)
    assert non_negative_number(0) and not non_negative_number(-1e-9)
    assert at_least_two(2) and not at_least_two(1)
    assert image_sides([8, 64]) and not image_sides([]) and not image_sides([4]) and not image_sides("32")
    assert model_names(["exda_nano"]) and not model_names(["exda_huge"]) and not model_names([])
    assert resume_value("") and resume_value("auto") and not resume_value("/no/such/last.pt")
    assert "load average" in machine_load()


@pytest.mark.parametrize("n, words", [(3.2, "about 4 seeds"), (1.0, "about 2 seeds"), (44059.0, "more than 100"),
                                      (math.inf, "more than 100"), (101, "more than 100"), (100, "about 100 seeds")])
def test_seeds_needed_is_phrased_sanely(n, words):
    assert words in ablation_report.seeds_phrase(n)


def test_seeds_needed_for_a_tiny_effect_reads_as_not_reachable():
    assert "not reachable" in ablation_report.seeds_phrase(ablation.seeds_needed(0.001, 0.2))


def test_table_a_sizes_come_from_notebook_06_when_it_has_them(tmp_path):
    models = {"exda_nano": build_model("exda_nano")}
    saved = {"exda_nano": {"params (M)": 0.25, "paper params (M)": float("nan"), "GMAC @ 224²": 7.7,
                           "paper G @ 224²": float("nan"), "count time (s)": 1.0}}
    (tmp_path / "06_assembling_exda.json").write_text(json.dumps({"sizes": saved}))
    sizes, source = ablation.table_a_sizes(models, tmp_path)
    assert "notebook 06" in source and sizes.loc["exda_nano", "GMAC @ 224²"] == 7.7
    sizes, source = ablation.table_a_sizes(models, tmp_path / "elsewhere", flop_side=16)
    assert "counted here" in source and sizes.loc["exda_nano", "GMAC @ 224²"] > 0


def test_each_notebook_checks_its_own_parameters():
    for rules in (all_in_one.parameter_rules(), twins.parameter_rules(), ablation_report.parameter_rules()):
        assert "OUT_DIR" in rules and all(name.isupper() for name in rules)
    with pytest.raises(ParameterError, match="'EPOCH'"):
        all_in_one.setup({**{name: None for name in all_in_one.parameter_rules()}, "EPOCH": 3})


def test_tiny_twin_cache_signature_is_stable():
    """Changing these keys would silently retrain (or orphan) every cached twin in OUT_DIR/08_runs."""
    p = {"SETTING": "demo", "MODEL": "tiny", "CHANNELS": 16, "BLOCKS": 1, "TOKENS": 4, "GST_STRIDE": 2, "PATCH": 32,
         "SAMPLES_PER_DEGRADATION": 48, "STEPS": 300, "BATCH_SIZE": 12, "LR": 3e-3}
    study = twins.Study(p, device=None, layer="body", maps_layer="body", runs_dir=Path("runs"))
    values, path = twins.signature(study, gst=False, seed=1)
    assert values == {"model": "tiny", "gst": False, "seed": 1, "init": "twin", "channels": 16, "blocks": 1, "heads": 1,
                      "tokens": 4, "stride": 2, "patch": 32, "samples": 48, "steps": 300, "batch": 12, "lr": 3e-3}
    assert path.as_posix() == "runs/demo_tiny_nogst_seed1/model.safetensors"

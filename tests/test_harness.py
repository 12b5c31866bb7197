"""Notebook harness helpers, utilities, and the repository's notebook conventions."""

import json
from pathlib import Path

import nbformat
import pytest
import torch

from exda_lite import count_flops, count_parameters, pick_device, time_forward
from exda_lite.course.notebook import ParameterError, check_parameters, environment_report, smoke_mode, write_results

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

SPEC = {"EPOCHS": int, "LR": float, "MODEL": ("exda_nano", "exda_t"), "OUT_DIR": str, "SMOKE": bool}


def test_check_parameters_accepts_valid_values():
    ns = {"EPOCHS": 3, "LR": 1, "MODEL": "exda_t", "OUT_DIR": "out", "SMOKE": False, "torch": torch,
          "F": torch.nn.functional, "DEFAULT_FN": len}  # upper-case modules/functions are not parameters
    assert check_parameters(ns, SPEC)["LR"] == 1


def test_check_parameters_rejects_unknown_names_listing_valid_ones():
    ns = {"EPOCHS": 3, "LR": 1e-3, "MODEL": "exda_t", "OUT_DIR": "o", "SMOKE": False, "EPOCH": 5}
    with pytest.raises(ParameterError, match=r"'EPOCH'.*EPOCHS"):
        check_parameters(ns, SPEC)


@pytest.mark.parametrize("name,value", [("EPOCHS", "3"), ("EPOCHS", True), ("MODEL", "exda_xl"), ("LR", "fast")])
def test_check_parameters_rejects_bad_values(name, value):
    ns = {"EPOCHS": 3, "LR": 1e-3, "MODEL": "exda_t", "OUT_DIR": "o", "SMOKE": False}
    ns[name] = value
    with pytest.raises(ParameterError, match=rf"\b{name}="):
        check_parameters(ns, SPEC)


def test_list_parameters_given_as_text_by_papermill_are_parsed():
    spec = {"SIDES": list, "NAME": str}
    ns = {"SIDES": "[256, 512]", "NAME": "[not parsed: a str parameter]"}
    assert check_parameters(ns, spec) == {"SIDES": [256, 512], "NAME": "[not parsed: a str parameter]"}
    assert ns["SIDES"] == [256, 512]  # written back: the notebook's later cells see the list
    sides = {"SIDES": lambda v: isinstance(v, list) and all(isinstance(x, int) for x in v)}  # a callable rule
    assert check_parameters({"SIDES": "[32, 48]"}, sides) == {"SIDES": [32, 48]}
    with pytest.raises(ParameterError, match=r"\bSIDES="):
        check_parameters({"SIDES": "256 512", "NAME": "x"}, spec)


def test_smoke_mode_reads_the_environment(monkeypatch):
    monkeypatch.setenv("EXDA_SMOKE", "1")
    assert smoke_mode()
    monkeypatch.setenv("EXDA_SMOKE", "0")
    assert not smoke_mode()


def test_write_results_is_json_in_out_dir(tmp_path):
    path = write_results(tmp_path / "new", "00_start_here", {"a": 1.5, "b": [1, 2]})
    assert path == tmp_path / "new" / "00_start_here.json"
    assert json.loads(path.read_text()) == {"a": 1.5, "b": [1, 2]}
    assert list(path.parent.iterdir()) == [path]  # no temp files left behind


def test_environment_report_has_the_basics():
    report = environment_report()
    assert report["torch"] == torch.__version__ and report["device"] in ("cpu", "cuda", "mps")


def test_pick_device_cpu_and_errors():
    assert pick_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA"):
            pick_device("cuda")


def test_count_flops_of_a_conv_matches_hand_count():
    conv = torch.nn.Conv2d(3, 8, 3, padding=1, bias=False)
    assert count_flops(conv, (1, 3, 10, 10)) == 2 * 3 * 8 * 9 * 100
    assert count_parameters(conv) == 216


def test_time_forward_reports_positive_median():
    timing = time_forward(torch.nn.Conv2d(3, 3, 1), (1, 3, 8, 8), min_run_time=0.05)
    assert timing["median"] > 0 and timing["runs"] >= 1


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs_and_has_a_parameters_cell(path):
    nb = nbformat.read(path, as_version=4)
    with_outputs = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert with_outputs == [], f"{path.name}: cells {with_outputs} have outputs; run `make strip`"
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: needs exactly one cell tagged 'parameters'"
    assert "OUT_DIR" in tagged[0].source


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found"


@pytest.mark.parametrize("value,ok", [("auto", True), ("cpu", True), ("cuda:1", True), ("mps", True),
                                      ("gpu", False), ("cuda:x", False), (0, False)])
def test_device_name_rule(value, ok):
    from exda_lite.course.notebook import device_name
    assert device_name(value) is ok


def test_positive_int_rule():
    from exda_lite.course.notebook import positive_int
    assert positive_int(3) and not positive_int(0) and not positive_int(True) and not positive_int(2.0)

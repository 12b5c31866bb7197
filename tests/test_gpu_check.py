"""The GPU check runs the same code tiny on CPU (``--dry``), so it is ready when a GPU is lent."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.usefixtures("one_thread")
def test_gpu_check_dry_runs_train_with_ema_accumulation_bf16_channels_last(capsys):
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    (result,) = module.main(["--dry", "--skip-compile", "--steps", "4"])
    out = capsys.readouterr().out
    assert "DRY" in out and "img/s" in out and "peak" in out and "->" in out
    assert result["img/s"] > 0 and result["peak GB"] > 0 and result["loss first"] > 0

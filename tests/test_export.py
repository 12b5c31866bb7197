"""``exda-lite export``: ONNX and TorchScript files equal PyTorch within 1e-4 at two sizes (issue 24).

The ONNX tests need the ``export`` extra (onnx, onnxscript, onnxruntime; part of ``test``, so CI has them).
Without it they skip with one line, except where ``EXDA_EXPORT_TEST=required`` (``.ci/run`` sets it): there
a missing package fails the test. ``restormer`` is the named config shrunk (dim 16, one block per level,
random weights): the same layers and keys at a size a 2-core CPU exports in seconds, not minutes.
"""

from __future__ import annotations

import importlib.util
import os

import pytest
import torch

from exda_lite import build_model
from exda_lite.cli import main
from exda_lite.training.checkpoints import save_weights
from exda_lite.training.export import EXTRA, export_model, require_onnx

SIZES = ((32, 40), (48, 56))
MISSING = [n for n in ("onnx", "onnxscript", "onnxruntime") if importlib.util.find_spec(n) is None]
REQUIRED = os.environ.get("EXDA_EXPORT_TEST") == "required"
needs_onnx = pytest.mark.skipif(bool(MISSING) and not REQUIRED,
                                reason=f"ONNX export needs {', '.join(MISSING)}: {EXTRA}")


def small(name: str):
    torch.manual_seed(0)
    overrides = {"dim": 16, "blocks": (1, 1, 1, 1), "refinement": 1} if name == "restormer" else {}
    return build_model(name, **overrides).eval()


@pytest.mark.parametrize("name", ["restormer", "exda_nano"])
def test_torchscript_matches_pytorch_at_two_sizes(name, tmp_path):
    result = export_model(small(name), "torchscript", tmp_path / f"{name}.pt", check_sizes=SIZES)
    assert set(result["parity"]) == {"32x40", "48x56"}
    assert max(result["parity"].values()) <= 1e-4


@needs_onnx
@pytest.mark.parametrize("name", ["restormer", "exda_nano"])
def test_onnx_matches_pytorch_at_two_sizes(name, tmp_path):
    result = export_model(small(name), "onnx", tmp_path / f"{name}.onnx", check_sizes=SIZES)
    assert max(result["parity"].values()) <= 1e-4, result["parity"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{name}.onnx"]  # one file, the weights inside
    import onnx

    graph = onnx.load(str(tmp_path / f"{name}.onnx")).graph
    dims = [d.dim_param or d.dim_value for d in graph.input[0].type.tensor_type.shape.dim]
    assert isinstance(dims[2], str) and isinstance(dims[3], str)  # dynamic height and width
    if name == "exda_nano":  # GST's pooling + spatial softmax + upsampling and the value path's GELU exported
        ops = {node.op_type for node in graph.node}
        assert {"AveragePool", "Softmax", "Resize", "Gelu"} <= ops or {"AveragePool", "Softmax", "Resize"} <= ops


def test_export_cli_writes_torchscript_of_the_demo_weights(tmp_path, capsys):
    out = tmp_path / "demo.pt"
    assert main(["export", "--format", "torchscript", "--out", str(out), "--no-check"]) == 0  # parity: above
    printed = capsys.readouterr().out
    assert out.is_file() and "wrote" in printed and "exda_nano" in printed
    assert torch.jit.load(str(out))(torch.rand(1, 3, 17, 23)).shape == (1, 3, 17, 23)
    weights = save_weights(small("exda_nano"), tmp_path / "w.safetensors", "exda_nano")
    assert main(["export", "--weights", str(weights), "--model", "restormer", "--format", "torchscript",
                 "--out", str(out)]) == 2


def test_missing_onnx_is_one_line_naming_the_extra(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name.startswith("onnx") else real(name))
    with pytest.raises(ImportError) as error:
        require_onnx(runtime=True)
    assert "\n" not in str(error.value) and "exda-lite[export]" in str(error.value)

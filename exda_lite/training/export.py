"""``exda-lite export``: a trained model as ONNX or TorchScript, for any height and width.

The exported graph takes ``image`` (B, C, H, W) float32 in [0, 1] and returns ``restored`` of the same
shape. The reflect padding to a multiple of 8 (``exda_lite.nn.model.pad_to_multiple``) happens *inside*
the graph (:class:`PaddedExport`), written as ``8 * ceil(H / 8) - H`` so the shape arithmetic stays
symbolic, and the output is cropped back to H x W: callers pass images of any size. What differs from
``ExDA.forward``: the padding is always reflect (``forward`` falls back to replicate for images smaller
than the pad), so images need H, W >= 8; models with GST also need H, W >= 9 (the exported graph's
range; at 8 or less the latent level is one pixel and GST takes another branch).

* **ONNX**: ``torch.onnx.export(..., dynamo=True)`` (torch.export, opset 18+) with dynamic H and W (and
  batch), one self-contained file (weights inside, ``external_data=False``; ONNX allows 2 GB). Needs ``onnx``
  and ``onnxscript`` (``pip install 'exda-lite[export]'``, which also brings ``onnxruntime`` for the parity
  check). GST's pooling (``avg_pool2d`` with ``ceil_mode``), its spatial softmax and bilinear upsampling, and
  the nonlinear value's grouped convolutions and GELU all export.
* **TorchScript**: ``torch.jit.trace``; the traced graph records the shape arithmetic, so it also runs at
  other sizes (torch marks ``torch.jit`` as deprecated in favour of torch.export, but it still loads in
  C++ with libtorch). Needs nothing beyond torch.

After writing, both are run once against PyTorch at two sizes (``check_sizes``) and the largest absolute
difference is reported (``tests/test_export.py`` requires <= 1e-4).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..nn.model import MULTIPLE, ExDA

FORMATS = ("onnx", "torchscript")
EXTRA = "pip install 'exda-lite[export]'  (onnx, onnxscript, onnxruntime)"


class ExportError(RuntimeError):
    """The model could not be exported; the message names the operator (if one) and why."""


class PaddedExport(nn.Module):
    """``ExDA`` with the padding to a multiple of 8 written with symbolic-friendly shape arithmetic.

    Shapes: (B, C, H, W) -> (B, C_out, H, W), H, W >= 8 (>= 9 with GST).
    """

    def __init__(self, model: ExDA):
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        height, width = image.shape[-2], image.shape[-1]
        pad_h = (height + MULTIPLE - 1) // MULTIPLE * MULTIPLE - height
        pad_w = (width + MULTIPLE - 1) // MULTIPLE * MULTIPLE - width
        padded = F.pad(image, (0, pad_w, 0, pad_h), mode="reflect")
        return self.model.forward_padded(padded)[..., :height, :width]


def require_onnx(runtime: bool = False) -> None:
    """A one-line ``ImportError`` naming the extra to install when onnx (or onnxruntime) is missing."""
    import importlib.util

    names = ("onnx", "onnxscript") + (("onnxruntime",) if runtime else ())
    missing = [n for n in names if importlib.util.find_spec(n) is None]
    if missing:
        raise ImportError(f"ONNX export needs {', '.join(missing)}: {EXTRA}")


def unsupported_operator(error: Exception) -> str:
    """The operator an exporter error is about, if its message names one (``aten::xyz``/``aten.xyz``)."""
    import re

    match = re.search(r"(aten[.:]{1,2}[\w.]+)", str(error))
    return match[1] if match else ""


def export_onnx(model: ExDA, path: Path, example: torch.Tensor) -> Path:
    """Write the ONNX file in a temporary folder, then copy it over ``path`` atomically (``exda_lite.files``)."""
    import tempfile

    from .. import files

    require_onnx()
    with tempfile.TemporaryDirectory() as folder:
        written = onnx_to(model, Path(folder) / "model.onnx", example)
        return files.write_bytes(path, written.read_bytes())


def onnx_to(model: ExDA, path: Path, example: torch.Tensor) -> Path:
    dynamic = torch.export.Dim.DYNAMIC
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(PaddedExport(model).eval(), (example,), str(path), dynamo=True, external_data=False,
                              input_names=["image"], output_names=["restored"], optimize=False, verbose=False,
                              dynamic_shapes={"image": {0: dynamic, 2: dynamic, 3: dynamic}})
    except Exception as error:
        op = unsupported_operator(error)
        reason = str(error).strip().splitlines()[-1][:200] if str(error).strip() else type(error).__name__
        raise ExportError(f"ONNX export failed{f' at operator {op}' if op else ''}: {reason}") from error
    return path


def export_torchscript(model: ExDA, path: Path, example: torch.Tensor) -> Path:
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # jit deprecation and the GST branch's trace warning
            traced = torch.jit.trace(PaddedExport(model).eval(), example)
    except Exception as error:
        op = unsupported_operator(error)
        raise ExportError(f"TorchScript trace failed{f' at operator {op}' if op else ''}: "
                          f"{str(error).strip().splitlines()[-1][:200]}") from error
    from .. import files

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch marks torch.jit deprecated; the file still loads (C++ too)
        return files.atomic_write(path, lambda f: torch.jit.save(traced, f))


def run_exported(path: Path, fmt: str, x: torch.Tensor) -> torch.Tensor:
    """Run an exported file on ``x`` (onnxruntime on the CPU, or the TorchScript loader)."""
    if fmt == "onnx":
        require_onnx(runtime=True)
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return torch.from_numpy(session.run(None, {"image": x.numpy()})[0])
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.jit.load(str(path), map_location="cpu")(x)


def parity(model: ExDA, path: Path, fmt: str, sizes=((32, 40), (48, 56)), seed: int = 0) -> dict[str, float]:
    """Max |exported - PyTorch| on random images of each size (keys ``"HxW"``)."""
    generator = torch.Generator().manual_seed(seed)
    result = {}
    for height, width in sizes:
        x = torch.rand(1, model.config.in_channels, height, width, generator=generator)
        with torch.no_grad():
            expected = model(x)
        result[f"{height}x{width}"] = float((run_exported(path, fmt, x) - expected).abs().max())
    return result


def export_model(model: ExDA, fmt: str, path, example_size=(32, 40), check_sizes=((32, 40), (48, 56))) -> dict:
    """Export ``model`` (eval mode, CPU, fp32) to ``path``; returns ``{"path", "format", "parity"}``.

    ``check_sizes``: after writing, the file is run at these sizes against PyTorch (``()``: no check;
    ONNX checks need onnxruntime).
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    if not isinstance(model, ExDA):
        raise TypeError(f"export takes an exda-lite ExDA model, got {type(model).__name__}")
    model = model.float().cpu().eval().to(memory_format=torch.contiguous_format)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    example = torch.rand(2, model.config.in_channels, *example_size,  # batch 2: torch.export keeps it dynamic
                         generator=torch.Generator().manual_seed(0))
    (export_onnx if fmt == "onnx" else export_torchscript)(model, path, example)
    checks = parity(model, path, fmt, check_sizes) if check_sizes else {}
    return {"path": str(path), "format": fmt, "parity": checks}

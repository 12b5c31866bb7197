"""Small helpers: seeding, device choice, parameter/FLOP counts and forward timing."""

from __future__ import annotations

import os
import platform
import random

import numpy as np
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def seed_everything(seed: int = 0, deterministic: bool = False) -> None:
    """Seed Python, NumPy and torch (all devices); optionally ask torch for deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False


def pick_device(prefer: str = "auto") -> torch.device:
    """``"auto"`` -> cuda, then mps, then cpu; any other string must name an available device."""
    if prefer == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(prefer)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {prefer!r} requested but CUDA is not available; use 'cpu' or 'auto'")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise RuntimeError(f"device {prefer!r} requested but MPS is not available; use 'cpu' or 'auto'")
    return device


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (all, or only those with ``requires_grad``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def count_flops(model: nn.Module, input_shape=(1, 3, 224, 224)) -> int:
    """FLOPs of one forward pass, counted by torch's ``FlopCounterMode``.

    It counts convolutions and matrix products (1 multiply-add = 2 FLOPs), not
    elementwise ops, softmax or norms. The restoration literature usually quotes
    multiply-accumulates (MACs) under the name "FLOPs": divide by 2 to compare.
    """
    device = next(model.parameters()).device
    x = torch.zeros(input_shape, device=device)
    was_training = model.training
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    model.train(was_training)
    return counter.get_total_flops()


def time_forward(model: nn.Module, input_shape=(1, 3, 128, 128), min_run_time: float = 1.0,
                 device: torch.device | str | None = None) -> dict[str, float]:
    """Median wall time of one forward pass (no grad), measured with ``torch.utils.benchmark``.

    Returns seconds: ``{"median": ..., "iqr": ..., "runs": ...}``.
    """
    from torch.utils.benchmark import Timer  # imported here: it pulls in cpp_extension, which warns without CUDA

    device = torch.device(device) if device is not None else next(model.parameters()).device
    model = model.to(device).eval()
    x = torch.rand(input_shape, device=device)
    with torch.no_grad():
        model(x)  # warm-up
        measurement = Timer("model(x)", globals={"model": model, "x": x},
                            num_threads=torch.get_num_threads()).blocked_autorange(min_run_time=min_run_time)
    return {"median": measurement.median, "iqr": measurement.iqr, "runs": len(measurement.times)}


def environment(device: str) -> dict:
    """Versions, device and threads of this process: the one environment report (the reference stores it with
    every summary; ``course.notebook.environment_report`` adds what a student checks before starting)."""
    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
            "device": device, "threads": torch.get_num_threads(), "machine": platform.machine(),
            "cpu_count": os.cpu_count()}

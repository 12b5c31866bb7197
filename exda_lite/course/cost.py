"""The cost of attention vs resolution (notebook 01): counted on paper and measured on this machine.

* ``attention_macs``    multiply-adds of one attention map and its aggregation: token, windowed, channel
* ``measure_attention`` latency and attention-map memory of attention layers over square inputs
* ``loglog_slope``      the growth exponent of a measured curve (1 = linear in H*W, 2 = quadratic)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ..utils import time_forward


def attention_macs(side: int, channels: int, heads: int, window: int = 8) -> dict[str, float]:
    """Multiply-adds of ``QK^T`` plus ``A V`` for one layer on a ``side x side`` feature map.

    Token attention: the map is (HW x HW) per head, each entry a dot product of C/h numbers, and so is A V:
    2 (HW)^2 C. Windowed attention (SwinIR): the same inside each of HW / M^2 windows of M x M pixels:
    2 HW M^2 C. Channel attention (MDTA): the map is (C/h x C/h) per head over HW pixels: 2 HW C^2 / h.
    """
    n = side * side
    return {"token": 2.0 * n * n * channels, "window": 2.0 * n * window**2 * channels,
            "channel": 2.0 * n * channels**2 / heads}


def _map_mib(layer, channels: int, side: int, device) -> float:
    with torch.no_grad():
        _, attn = layer(torch.rand(1, channels, side, side, device=device), return_attention=True)
    return attn.element_size() * attn.nelement() / 2**20


def measure_attention(layers: dict, sides, channels: int, heads: int, token_max_side: int,
                      min_run_time: float = 0.3, device="cpu", token_name: str = "token attention") -> pd.DataFrame:
    """One row per (layer, side): median forward latency (ms) and the attention map's size (MiB).

    Layers must accept ``return_attention=True``. The layer called ``token_name`` is run only up to
    ``token_max_side``; beyond it its latency is NaN and its map size is computed (h (HW)^2 float32
    numbers), not allocated (``measured`` is False).
    """
    rows = []
    for side in sides:
        for name, layer in layers.items():
            row = {"layer": name, "side": side, "pixels": side * side}
            if name == token_name and side > token_max_side:
                rows.append({**row, "latency_ms": float("nan"), "map_MiB": heads * (side * side) ** 2 * 4 / 2**20,
                             "measured": False})
                continue
            timing = time_forward(layer, (1, channels, side, side), min_run_time=min_run_time, device=device)
            rows.append({**row, "latency_ms": 1e3 * timing["median"], "map_MiB": _map_mib(layer, channels, side, device),
                         "measured": True})
    return pd.DataFrame(rows)


def loglog_slope(x, y) -> float:
    """Slope of log y against log x (least squares); NaN with fewer than two finite points."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    keep = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    if keep.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(x[keep]), np.log(y[keep]), 1)[0])

"""The logic behind the notebooks' interactive explorers, usable (and tested) without widgets.

A widget cell only moves sliders; everything it shows comes from these functions:

* :func:`degraded_photo`: one degradation at a *strength* in [0, 1] (0 = clean, 1 = severe).
* :func:`gst_maps_for`: the Global Spatial Token maps (Algorithm 1) that a model's GST layer
  computes for a photo under a degradation, per head and token.
* :func:`attention_maps_for`: the (C/h + K) x (C/h + K) attention map of one attention layer.
* :func:`demo_task`: a small all-in-one train/test task as tensors, for ``toy.train_toy``.
* :class:`TinyRestorer`: a one-level restorer (no U-Net) for the notebooks' equal-budget CPU ablations.

Both map functions capture the *input* of the chosen layer with a forward hook while the whole
model runs, then evaluate that layer alone, so they work for any model built from ``exda_lite``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..nn.attention import ExDAAttention
from ..data.degradations import degrade
from ..data.demo_data import DemoAllInOne, DemoAllInOneTest
from ..nn.gst import GlobalSpatialTokens
# moved to exda_lite.nn.tiny; re-exported until the notebooks import it from there
from ..nn.tiny import TinyRestorer  # noqa: F401

# degradation -> {parameter: (value at strength 0, value at strength 1)}; other parameters keep their defaults.
STRENGTHS: dict[str, dict[str, tuple[float, float]]] = {
    "noise": {"sigma": (0.0, 60.0)},
    "gaussian_blur": {"sigma": (0.1, 4.0)},
    "motion_blur": {"length": (1, 31)},
    "haze": {"beta": (0.0, 2.5)},
    "rain": {"density": (0.0, 0.015)},
    "low_light": {"exposure": (1.0, 0.1), "gamma": (1.0, 2.5), "photons": (1e5, 100.0), "read_noise": (0.0, 3.0)},
    "snow": {"density": (0.0, 0.01), "veil": (0.0, 0.3)},
}
INTEGER_PARAMETERS = {"length"}


def strength_params(degradation: str, strength: float) -> dict:
    """The parameter override that sets ``degradation`` to ``strength`` in [0, 1]."""
    if degradation not in STRENGTHS:
        raise KeyError(f"no strength scale for {degradation!r}; choose from {sorted(STRENGTHS)}")
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength must be in [0, 1], got {strength}")
    params = {}
    for name, (low, high) in STRENGTHS[degradation].items():
        value = low + strength * (high - low)
        params[name] = int(round(value)) if name in INTEGER_PARAMETERS else float(value)
    return params


def degraded_photo(image: np.ndarray, degradation: str, strength: float = 0.5, seed: int = 0) -> np.ndarray:
    """``image`` (H, W, 3) in [0, 1] under ``degradation`` at ``strength``; ``"clean"`` returns a copy."""
    if degradation == "clean":
        return np.array(image, dtype=np.float32)
    params = strength_params(degradation, strength)
    return degrade(image, degradation, rng=np.random.default_rng(seed), **params).astype(np.float32)


def to_batch(image: np.ndarray) -> torch.Tensor:
    """(H, W, C) numpy in [0, 1] -> (1, C, H, W) float32 tensor."""
    return torch.tensor(np.asarray(image, dtype=np.float32)).permute(2, 0, 1)[None]


def layer_input(model: nn.Module, layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Run ``model(x)`` and return what ``layer`` received as its first input."""
    captured = []
    handle = layer.register_forward_pre_hook(lambda module, args: captured.append(args[0].detach()))
    try:
        with torch.no_grad():
            model(x)
    finally:
        handle.remove()
    if not captured:
        raise RuntimeError(f"{type(layer).__name__} was not called by the model's forward pass")
    return captured[0]


def find_layer(model: nn.Module, kind: type, index: int = 0) -> nn.Module:
    """The ``index``-th submodule of type ``kind`` (in ``model.modules()`` order: encoder level 1 first)."""
    found = [m for m in model.modules() if isinstance(m, kind)]
    if not found:
        raise ValueError(f"the model has no {kind.__name__} layer (was it built with gst=False?)")
    if not -len(found) <= index < len(found):
        raise IndexError(f"index {index} out of range: the model has {len(found)} {kind.__name__} layers")
    return found[index]


def gst_maps_for(model: nn.Module, image: np.ndarray, degradation: str = "noise", strength: float = 0.5,
                 seed: int = 0, index: int = 0) -> dict:
    """GST maps of the model's ``index``-th GST layer for ``image`` under a degradation.

    Returns a dict with ``degraded`` (H, W, 3), ``maps`` (h, K, H_l, W_l): Algorithm 1's G at the
    layer's resolution, and ``compact`` (h, K, H_l/s, W_l/s): G_compact, each map summing to one;
    ``stride`` is the layer's s.
    """
    gst = find_layer(model, GlobalSpatialTokens, index)
    degraded = degraded_photo(image, degradation, strength, seed)
    features = layer_input(model, gst, to_batch(degraded))
    with torch.no_grad():
        compact = gst.compact_maps(features)[0]  # (h, K, Hs, Ws)
        maps = gst(features)[0].reshape(gst.heads, gst.tokens, *features.shape[-2:])  # (h, K, H, W)
    return {"degraded": degraded, "maps": maps.numpy(), "compact": compact.numpy(), "stride": gst.stride}


def attention_maps_for(model: nn.Module, image: np.ndarray, index: int = 0) -> dict:
    """The attention map of the model's ``index``-th attention layer for ``image`` (H, W, 3).

    Returns ``attention`` (h, N, N) with N = C/h (+ K tokens when the layer has GST) and
    ``channels_per_head`` C/h: rows/columns from ``channels_per_head`` on are the tokens.
    """
    layer = find_layer(model, ExDAAttention, index)
    features = layer_input(model, layer, to_batch(image))
    with torch.no_grad():
        _, attn = layer(features, return_attention=True)
    return {"attention": attn[0].numpy(), "channels_per_head": features.shape[1] // layer.heads}


def demo_task(degradations, patch_size: int = 64, samples_per_degradation: int = 64,
              test_crop: int = 64, seed: int = 0) -> dict[str, torch.Tensor]:
    """A small all-in-one task as tensors: ``train_degraded``, ``train_clean``, ``test_degraded``,
    ``test_clean`` (+ ``test_labels``), from :class:`DemoAllInOne` and :class:`DemoAllInOneTest`."""
    train = DemoAllInOne(degradations, patch_size, samples_per_degradation, seed)
    test = DemoAllInOneTest(degradations, crop=test_crop, seed=seed)
    task = {}
    for split, data in (("train", train), ("test", test)):
        degraded, clean, labels = zip(*(data[i] for i in range(len(data))))
        task[f"{split}_degraded"], task[f"{split}_clean"] = torch.stack(degraded), torch.stack(clean)
        task[f"{split}_labels"] = torch.tensor(labels)
    return task


# ----------------------------------------------------------------------------- widgets

def figure_png(fig) -> bytes:
    """A matplotlib figure as PNG bytes (the figure is closed)."""
    import io

    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def explorer(draw, **controls):
    """Widgets ``controls`` above an image of ``draw(**values)``, redrawn whenever a control changes.

    ``draw`` returns a matplotlib figure; ``controls`` maps its keyword arguments to ipywidgets
    (sliders, dropdowns). Returns the ``VBox`` to display; ``box.image`` is the ``Image`` widget.

    Why not ``ipywidgets.interact``: interact shows its result in an ``Output`` widget, and when
    papermill / nbconvert (nbclient) execute a notebook they answer Output-widget traffic on the
    kernel's shell channel while they wait on that channel for the cell's reply. With large outputs
    such as figures that race hangs the run for good (jupyter/nbclient#312; we saw it in 3 of 4
    papermill runs). An ``Image`` widget has no such path, so explorers run headless too.
    """
    import ipywidgets as widgets

    def values() -> dict:
        return {name: control.value for name, control in controls.items()}

    image = widgets.Image(value=figure_png(draw(**values())), format="png")

    def redraw(_change=None) -> None:
        image.value = figure_png(draw(**values()))

    for name, control in controls.items():
        control.description = control.description or name  # label each control with its argument
        control.observe(redraw, names="value")
    box = widgets.VBox([*controls.values(), image])
    box.add_class("exda-explorer")
    box.image = image
    return box

"""The secondary analysis of ``gst_mechanism`` (PREREGISTRATION.md): what the GST token maps learned to read.

The flat_noise task hides its noise level sigma in one flat rectangle per image. If GST's maps are
content-adaptive in the way the task rewards, they put more of their mass on that rectangle than its area
would give them. For every confirmatory run with stored weights and tokens, over the 512 test composites:

* ``mass``        the share of each token map's mass inside the rectangle, averaged over blocks, heads, tokens;
* ``selectivity`` mass / the rectangle's share of the image, averaged over images (1.0 = no preference);
* ``best_token``  the largest per-token selectivity (one token may specialise while the others do not);
* ``spearman``    Spearman's rho between the true sigma and ``mass`` over the images (pre-registered).

``uniform_rms`` is the control: its maps are constant, so its selectivity is exactly 1 and rho is undefined
(NaN). No decision rule: a description of the maps, reported beside the primary outcome.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from scipy import stats

from ..nn.gst import GlobalSpatialTokens
from .breakdown import stored_model

TOKEN_ARMS = ("gst", "gst_rms", "uniform_rms")


@torch.no_grad()
def layer_maps(model: torch.nn.Module, images: torch.Tensor, batch_size: int = 128) -> torch.Tensor:
    """(N, blocks, heads, tokens, H*W): the maps G (Algorithm 1, step 5) of every GST layer of ``model``."""
    maps, out = [], []
    hooks = [m.register_forward_hook(lambda _m, _i, result: maps.append(result))
             for m in model.modules() if isinstance(m, GlobalSpatialTokens)]
    if not hooks:
        raise ValueError("the model has no GST layer: nothing to analyse")
    try:
        for start in range(0, len(images), batch_size):
            maps.clear()
            model(images[start:start + batch_size])
            out.append(torch.stack(maps, 1))
    finally:
        for hook in hooks:
            hook.remove()
    return torch.cat(out)


def rectangle_mask(rects: torch.Tensor, side: int) -> torch.Tensor:
    """(N, side*side): 1 inside each image's rectangle (top, left, height, width), else 0."""
    inside = torch.zeros(len(rects), side, side)
    for i, (r, c, h, w) in enumerate(rects.tolist()):
        inside[i, r:r + h, c:c + w] = 1
    return inside.flatten(1)


def rectangle_mass(model: torch.nn.Module, images: torch.Tensor, rects: torch.Tensor,
                   batch_size: int = 128) -> torch.Tensor:
    """(N, blocks, heads, tokens): each GST map's share of its mass inside the image's rectangle."""
    maps = layer_maps(model, images, batch_size)
    inside = rectangle_mask(rects, images.shape[-1])[:, None, None, None]
    return (maps * inside).sum(-1) / maps.sum(-1)


def describe(mass: torch.Tensor, rects: torch.Tensor, sigma: torch.Tensor, size: int) -> dict:
    area = (rects[:, 2] * rects[:, 3]).double() / size ** 2  # (N,)
    per_image = mass.double().mean(dim=(1, 2, 3))  # (N,)
    per_token = (mass.double() / area[:, None, None, None]).mean(0)  # (blocks, heads, K)
    constant = float(per_image.std()) < 1e-9 or float((per_image - area).abs().max()) < 1e-6
    rho = math.nan if constant else float(stats.spearmanr(sigma.numpy(), per_image.numpy()).statistic)
    return {"mass": float(per_image.mean()), "area": float(area.mean()),
            "selectivity": float((per_image / area).mean()), "best_token": float(per_token.max()),
            "spearman": rho}


def analyse(experiment, runs: dict, folder: Path, task: dict) -> dict:
    """arm -> {"runs": {seed: description}, "mean": the seed means}, for the arms with tokens and weights."""
    table = {}
    for arm in TOKEN_ARMS:
        for seed, run in sorted(runs.get(arm, {}).items()):
            if "weights" not in run:
                continue
            model = stored_model(experiment, arm, seed, run, Path(folder)).eval()
            mass = rectangle_mass(model, task["test_degraded"], task["test_rect"])
            table.setdefault(arm, {"runs": {}})["runs"][str(seed)] = describe(
                mass, task["test_rect"], task["test_sigma"], task["test_degraded"].shape[-1])
    for entry in table.values():
        keys = next(iter(entry["runs"].values()))
        entry["mean"] = {k: float(np.mean([r[k] for r in entry["runs"].values()])) for k in keys}
    return table


def reading(reference: dict) -> str:
    """Plain words, generated from ``gst_mechanism.json``: the outcome, then what the maps learned."""
    lines = []
    if "decision" in reference:
        d = reference["decision"]
        lines.append(f"Pre-registered outcome ({d['status']}): {d['outcome']}.")
    for arm, entry in reference.get("token_maps", {}).items():
        m, n = entry["mean"], len(entry["runs"])
        if arm == "uniform_rms":
            lines.append(f"- {arm} (control, constant maps): selectivity {m['selectivity']:.3f} over {n} models, as "
                         "it must be: the measure can tell constant maps from selective ones.")
            continue
        rho = "undefined" if not math.isfinite(m["spearman"]) else f"{m['spearman']:+.2f}"
        leaning = ("look at the rectangle more than its area" if m["selectivity"] > 1.05 else
                   "avoid the rectangle" if m["selectivity"] < 0.95 else "show no preference for the rectangle")
        lines.append(f"- {arm}: the maps {leaning} (selectivity {m['selectivity']:.2f} averaged over tokens, "
                     f"{m['best_token']:.2f} for the most selective token; mean over {n} models); Spearman rho between "
                     f"sigma and the mass on the rectangle: {rho}.")
    return "\n".join(lines)

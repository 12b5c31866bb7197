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

**Sigma awareness** (exploratory, *not* pre-registered: notebook 08's question asked of this task). Every arm's
body features, averaged over space, for the 512 test composites: how well do they encode the hidden sigma?
``probe_r2`` is the 5-fold cross-validated R^2 of a ridge regression of log sigma on the standardised features,
``nmi`` the k-means (3 clusters) NMI against sigma's terciles. Controls: the same from simple pixel statistics
(per-channel mean, std, and std of the Laplacian) and from each arm's *untrained* network.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from scipy import stats

from ..nn.gst import GlobalSpatialTokens
from .breakdown import stored_model
from .stats import paired_ci

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


def sigma_scores(features: np.ndarray, sigma: np.ndarray, seed: int = 0) -> dict:
    """How well ``features`` (N, D) encode ``sigma`` (N,): cross-validated ridge R^2 of log sigma, k-means NMI."""
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import KFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from ..course.awareness import cluster_scores

    target = np.log(sigma)
    probe = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13)))
    r2 = cross_val_score(probe, features, target, cv=KFold(5, shuffle=True, random_state=seed), scoring="r2")
    terciles = np.digitize(target, np.quantile(target, [1 / 3, 2 / 3]))
    return {"probe_r2": float(r2.mean()), "nmi": cluster_scores(features, terciles, seed=seed)["nmi"]}


@torch.no_grad()
def body_features(model: torch.nn.Module, images: torch.Tensor) -> np.ndarray:
    """(N, C): the output of a TinyRestorer's body, averaged over space (notebook 08's embedding)."""
    return model.body(model.embed(images)).mean(dim=(-2, -1)).numpy()


def pixel_features(images: torch.Tensor) -> np.ndarray:
    """(N, 9): per-channel mean, std and std of the Laplacian: a network-free control for the sigma probe."""
    kernel = torch.tensor([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]]).expand(3, 1, 3, 3)
    laplacian = torch.nn.functional.conv2d(images, kernel, groups=3)
    return torch.cat([images.mean((-2, -1)), images.std((-2, -1)), laplacian.std((-2, -1))], 1).numpy()


def sigma_awareness(experiment, runs: dict, folder: Path, task: dict) -> dict:
    """arm -> {"runs": {seed: scores}, "mean", "untrained"}, and the pixel-statistics control (exploratory)."""
    images, sigma = task["test_degraded"], task["test_sigma"].numpy()
    table = {}
    for arm, by_seed in runs.items():
        for seed, run in sorted(by_seed.items()):
            if "weights" not in run:
                continue
            trained = stored_model(experiment, arm, seed, run, Path(folder)).eval()
            untrained = experiment.make_model(arm, seed, experiment.settings).eval()
            entry = table.setdefault(arm, {"runs": {}, "untrained": {}})
            entry["runs"][str(seed)] = sigma_scores(body_features(trained, images), sigma)
            entry["untrained"][str(seed)] = sigma_scores(body_features(untrained, images), sigma)
    def means(by_seed: dict) -> dict:
        return {k: float(np.mean([r[k] for r in by_seed.values()])) for k in ("probe_r2", "nmi")}

    for entry in table.values():
        entry["mean"], entry["untrained_mean"] = means(entry["runs"]), means(entry["untrained"])
    comparisons = {}
    for arm, control in experiment.comparisons():
        a, b = table.get(arm, {}).get("runs", {}), table.get(control, {}).get("runs", {})
        seeds = sorted(set(a) & set(b), key=int)
        comparisons[f"{arm}_minus_{control}"] = paired_ci([a[k]["probe_r2"] for k in seeds],
                                                          [b[k]["probe_r2"] for k in seeds])
    return {"arms": table, "probe_r2_comparisons": comparisons,
            "pixel_statistics": sigma_scores(pixel_features(images), sigma), "note": "exploratory, not pre-registered"}


def analyse(experiment, runs: dict, folder: Path, task: dict) -> dict:
    """The secondary analyses of gst_mechanism's stored models: ``token_maps`` and ``sigma_awareness``."""
    return {"token_maps": token_table(experiment, runs, folder, task),
            "sigma_awareness": sigma_awareness(experiment, runs, folder, task)}


def token_table(experiment, runs: dict, folder: Path, task: dict) -> dict:
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
        models = f"{n} model" + ("s" if n != 1 else "")
        if arm == "uniform_rms":
            lines.append(f"- {arm} (control, constant maps): selectivity {m['selectivity']:.3f} over {models}, as "
                         "it must be: the measure can tell constant maps from selective ones.")
            continue
        rho = "undefined" if not math.isfinite(m["spearman"]) else f"{m['spearman']:+.2f}"
        leaning = ("look at the rectangle more than its area" if m["selectivity"] > 1.05 else
                   "avoid the rectangle" if m["selectivity"] < 0.95 else "show no preference for the rectangle")
        lines.append(f"- {arm}: the maps {leaning} (selectivity {m['selectivity']:.2f} averaged over tokens, "
                     f"{m['best_token']:.2f} for the most selective token; mean over {models}); Spearman rho between "
                     f"sigma and the mass on the rectangle: {rho}.")
    awareness = reference.get("sigma_awareness")
    if awareness:
        pixels = awareness["pixel_statistics"]
        lines.append(f"Sigma awareness (exploratory): cross-validated R^2 of log sigma from the pooled body features "
                     f"(pixel statistics alone: {pixels['probe_r2']:.2f}):")
        for arm, entry in awareness["arms"].items():
            lines.append(f"- {arm}: R^2 {entry['mean']['probe_r2']:.2f} trained, {entry['untrained_mean']['probe_r2']:.2f} "
                         f"untrained; k-means NMI against sigma's terciles {entry['mean']['nmi']:.2f} "
                         f"({len(entry['runs'])} model{'s' if len(entry['runs']) != 1 else ''})")
        for key, c in awareness.get("probe_r2_comparisons", {}).items():
            if c["n"] >= 2:
                lines.append(f"  {key.replace('_minus_', ' - ')}: R^2 {c['mean']:+.3f}, 95 % CI [{c['low']:+.3f}, "
                             f"{c['high']:+.3f}] over {c['n']} paired seeds (no correction: exploratory)")
    return "\n".join(lines)

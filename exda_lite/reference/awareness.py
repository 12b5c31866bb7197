"""The awareness reference: do embeddings cluster by degradation better *with* GST? (Fig. 7, 5 seeds)

No extra training: the analysis reads the final weights that the ``fig5`` reference keeps for every
(arm, seed). Within a seed the four Fig. 5 models start from the same weights and see the same
batches, so two paired comparisons isolate GST:

* ``gst - baseline``: the plain restorer with and without GST;
* ``both - nonlinear_value``: the same with the nonlinear value on (ExDA's setting).

For each model the embedding is notebook 08's: the globally average-pooled output of the
``body`` (:func:`exda_lite.course.awareness.readout`) on the same degraded held-out crops,
standardised, k-means with k = 5, scored with NMI and ARI against the true degradation.
Two controls that could falsify the reading are scored too: pixel statistics of the inputs
(no network) and the seed's *untrained* initial weights (the architecture without learning).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from .. import files
from .breakdown import stored_model
from .experiments import EXPERIMENTS
from .stats import paired_ci, verdict

NAME = "awareness"
SOURCE = "fig5"
PAIRS = {"gst_minus_baseline": ("gst", "baseline"), "both_minus_nonlinear_value": ("both", "nonlinear_value")}
EMBEDDING = {"per_class": 60, "crop": 48, "layer": "body", "crop_seed": 0}
DESCRIPTION = ("Fig. 7: NMI/ARI of k-means clusters of pooled body features vs the true degradation, with and "
               "without GST, on the fig5 reference models (same seeds, paired initial weights); 60 held-out "
               "48x48 crops per degradation")


def load_model(arm: str, seed: int, run: dict, folder: Path, trained: bool = True):
    """The fig5 model of ``arm`` and ``seed``: its stored final weights (sha256 checked), or its initial ones."""
    experiment = EXPERIMENTS[SOURCE]
    if trained:
        return stored_model(experiment, arm, seed, run, folder).eval()
    return experiment.make_model(arm, seed, experiment.settings).eval()


def embedding_set() -> dict:
    from ..course.awareness import degraded_crops
    from ..data.demo_data import DEMO_DEGRADATIONS

    return degraded_crops(DEMO_DEGRADATIONS, EMBEDDING["per_class"], crop=EMBEDDING["crop"], seed=EMBEDDING["crop_seed"])


def scores(model, crops: dict) -> dict:
    from ..course.awareness import cluster_scores, readout

    pooled = readout(model, crops["images"], EMBEDDING["layer"])["pooled"]
    s = cluster_scores(pooled.numpy(), crops["labels"])
    return {"nmi": s["nmi"], "ari": s["ari"]}


def fig5_runs(folder: Path) -> dict:
    runs = {}
    for path in sorted((folder / "runs" / SOURCE).glob("*-seed*.json")):
        data = json.loads(path.read_text())
        if "weights" in data:
            runs.setdefault(data["arm"], {})[data["seed"]] = data
    return runs


def analyse(folder, seeds=None) -> dict:
    """Score every fig5 model with stored weights; write ``<folder>/awareness.json`` and return it."""
    import torch

    from ..course.awareness import cluster_scores, pixel_statistics

    folder = Path(folder)
    start = time.time()
    source = fig5_runs(folder)
    crops = embedding_set()
    runs, untrained = {}, {}
    with torch.no_grad():
        for arm, by_seed in source.items():
            for seed, run in sorted(by_seed.items()):
                if seeds is not None and seed not in seeds:
                    continue
                s = scores(load_model(arm, seed, run, folder), crops)
                untrained.setdefault(arm, {})[str(seed)] = scores(load_model(arm, seed, run, folder, trained=False), crops)
                runs.setdefault(arm, {})[str(seed)] = {
                    "final": s["nmi"], "ari": s["ari"], "converged": run["convergence"]["converged"],
                    "change": run["convergence"]["change"], "steps": run["steps"], "curve": [],
                    "psnr": run["final"], "weights": run["weights"]}
    pixels = cluster_scores(pixel_statistics(crops["images"]).numpy(), crops["labels"])
    comparisons = {}
    for key, (arm, control) in PAIRS.items():
        common = sorted(set(runs.get(arm, {})) & set(runs.get(control, {})), key=int)
        for metric, field in (("nmi", "final"), ("ari", "ari")):
            ci = paired_ci([runs[arm][s][field] for s in common], [runs[control][s][field] for s in common])
            name = key if metric == "nmi" else f"ari_{key}"
            comparisons[name] = {**ci, "seeds": [int(s) for s in common], "expected_sign": 1,
                                 "text": verdict(ci, 1, name=f"{arm} - {control} ({metric.upper()})")}
    seed_list = sorted({int(s) for r in runs.values() for s in r})
    from .provenance import environment, git_commit

    summary = {
        "experiment": NAME, "description": DESCRIPTION, "notebook": "08_degradation_awareness", "metric": "nmi",
        "control": "baseline", "arms": list(runs), "source": SOURCE, "embedding": EMBEDDING,
        "settings": EXPERIMENTS[SOURCE].settings,  # the network and budget of the weights analysed
        "command": f"python -m exda_lite.reference run {NAME} --seeds " + " ".join(map(str, seed_list)),
        "commit": git_commit(), "environment": environment("cpu"), "train_seconds": round(time.time() - start, 1),
        "convergence_rule": "that of the fig5 runs the weights come from (" + SOURCE + ".json)",
        "runs": runs, "comparisons": comparisons,
        "controls": {"pixel_statistics": {"nmi": pixels["nmi"], "ari": pixels["ari"]},
                     "untrained": {arm: {"nmi_mean": float(np.mean([v["nmi"] for v in by.values()])),
                                         "ari_mean": float(np.mean([v["ari"] for v in by.values()]))}
                                   for arm, by in untrained.items()}},
    }
    files.write_json(folder / f"{NAME}.json", summary, indent=1)
    return summary

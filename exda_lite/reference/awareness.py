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

``awareness_pool`` asks the same of the powered ``fig5_pool`` models (32 channels, EMA weights, confirmatory
seeds only, never the pilot's), embedding their own 500 held-out test crops (100 per degradation, photos never
trained on). It was added to ``PREREGISTRATION_RESTORATION.md`` before any confirmatory fig5_pool run.
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
ANALYSES = {  # name -> (the experiment whose weights it reads, description)
    NAME: (SOURCE, DESCRIPTION),
    "awareness_pool": ("fig5_pool", "Fig. 7 on the powered fig5_pool models (confirmatory seeds): NMI/ARI of k-means "
                       "clusters of pooled body features vs the true degradation, with and without GST, on their "
                       "500 held-out 48x48 test crops (100 per degradation)"),
}
SUPERSEDED = {NAME: "awareness_pool"}  # fig5 was superseded by fig5_pool, and so was its analysis


def load_model(arm: str, seed: int, run: dict, folder: Path, trained: bool = True, source: str = SOURCE):
    """The ``source`` model of ``arm`` and ``seed``: its stored final weights (sha256 checked), or its initial ones."""
    experiment = EXPERIMENTS[source]
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


def fig5_runs(folder: Path, source: str = SOURCE) -> dict:
    """arm -> seed -> run record, for every run of ``source`` with stored weights (a pilot's seeds excluded)."""
    runs, pilot = {}, set(EXPERIMENTS[source].pilot_seeds)
    for path in sorted((folder / "runs" / source).glob("*-seed*.json")):
        data = json.loads(path.read_text())
        if "weights" in data and data["seed"] not in pilot:
            runs.setdefault(data["arm"], {})[data["seed"]] = data
    return runs


def pool_embedding_set() -> dict:
    """fig5_pool's own test crops and their degradation labels (what its models never trained on)."""
    experiment = EXPERIMENTS["fig5_pool"]
    task = experiment.make_task(experiment.settings)
    return {"images": task["test_degraded"], "labels": task["test_labels"].numpy()}


def analyse(folder, seeds=None, name: str = NAME) -> dict:
    """Score every model of the analysis' source with stored weights; write ``<folder>/<name>.json``, return it."""
    import torch

    from ..course.awareness import cluster_scores, pixel_statistics

    folder = Path(folder)
    start = time.time()
    source_name, description = ANALYSES[name]
    source = fig5_runs(folder, source_name)
    crops = embedding_set() if source_name == SOURCE else pool_embedding_set()
    runs, untrained = {}, {}
    with torch.no_grad():
        for arm, by_seed in source.items():
            for seed, run in sorted(by_seed.items()):
                if seeds is not None and seed not in seeds:
                    continue
                s = scores(load_model(arm, seed, run, folder, source=source_name), crops)
                untrained.setdefault(arm, {})[str(seed)] = scores(
                    load_model(arm, seed, run, folder, trained=False, source=source_name), crops)
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
            comparisons[key if metric == "nmi" else f"ari_{key}"] = {**ci, "seeds": [int(s) for s in common], "expected_sign": 1,
                                 "text": verdict(ci, 1, name=f"{arm} - {control} ({metric.upper()})")}
    seed_list = sorted({int(s) for r in runs.values() for s in r})
    from .provenance import environment, git_commit

    summary = {
        "experiment": name, "description": description, "notebook": "08_degradation_awareness", "metric": "nmi",
        "control": "baseline", "arms": list(runs), "source": source_name,
        "embedding": EMBEDDING if source_name == SOURCE else {"crops": "the source's test set", "layer": "body"},
        "settings": EXPERIMENTS[source_name].settings,  # the network and budget of the weights analysed
        "command": f"python -m exda_lite.reference run {name} --seeds " + " ".join(map(str, seed_list)),
        "commit": git_commit(), "environment": environment("cpu"), "train_seconds": round(time.time() - start, 1),
        "convergence_rule": f"that of the {source_name} runs the weights come from ({source_name}.json)",
        "runs": runs, "comparisons": comparisons,
        "controls": {"pixel_statistics": {"nmi": pixels["nmi"], "ari": pixels["ari"]},
                     "untrained": {arm: {"nmi_mean": float(np.mean([v["nmi"] for v in by.values()])),
                                         "ari_mean": float(np.mean([v["ari"] for v in by.values()]))}
                                   for arm, by in untrained.items()}},
    }
    if name != NAME:  # awareness_pool follows its pre-registered rule
        from .decisions import awareness_decision

        summary["decision"] = awareness_decision(comparisons, EXPERIMENTS[source_name].planned_seeds)
    files.write_json(folder / f"{name}.json", summary, indent=1)
    return summary

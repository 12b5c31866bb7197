"""Per-degradation scores of an all-in-one reference: where does a 5-task mean difference come from?

A paired difference of the 5-task mean PSNR can hide one degradation moving by several dB while the others
stand still (the shared pilot found exactly that). For an experiment that keeps its weights and whose task
labels its test crops (``test_labels`` + ``info["degradations"]``), :func:`per_label` scores every finished
run per degradation from its stored weights (sha256 checked) and caches the result in the run's JSON;
:func:`compare_per_label` gives each comparison's paired 95 % CI per degradation.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

from .. import files
from .stats import paired_ci


def has_labels(task: dict) -> bool:
    return "test_labels" in task and "degradations" in task.get("info", {})


@torch.no_grad()
def label_psnr(model, task: dict, batch_size: int = 100) -> dict[str, float]:
    """Mean per-crop PSNR (dB) of ``model`` on the test crops of each degradation."""
    from ..training.metrics import psnr

    model.eval()
    scores = torch.cat([psnr(model(task["test_degraded"][i:i + batch_size]), task["test_clean"][i:i + batch_size])
                        for i in range(0, len(task["test_clean"]), batch_size)])
    labels = task["test_labels"]
    return {name: float(scores[labels == k].mean()) for k, name in enumerate(task["info"]["degradations"])}


def stored_model(experiment, arm: str, seed: int, run: dict, folder: Path):
    """The run's model with its stored final weights; a changed file is a one-line error."""
    from safetensors.torch import load_file

    path = folder / "runs" / experiment.name / run["weights"]["file"]
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != run["weights"]["sha256"]:
        raise ValueError(f"{path}: sha256 {digest[:12]}... differs from the run's record; rerun that seed")
    model = experiment.make_model(arm, seed, experiment.settings)
    model.load_state_dict(load_file(str(path)))
    return model


def per_label(experiment, runs: dict, folder: Path, task: dict | None = None) -> dict:
    """{arm: {seed: {degradation: PSNR}}} for every run with weights; computed once, then read from its JSON."""
    table = {}
    for arm, by_seed in runs.items():
        for seed, run in by_seed.items():
            if run.get("shared_from"):  # e.g. table7_pool's control is fig5_pool's run: its owner scored it
                if "per_label" in run:
                    table.setdefault(arm, {})[seed] = run["per_label"]
                continue
            if "weights" not in run:
                continue
            if "per_label" not in run:
                task = task if task is not None else experiment.make_task(experiment.settings)
                if not has_labels(task):
                    return {}
                run["per_label"] = label_psnr(stored_model(experiment, arm, seed, run, folder), task)
                path = folder / "runs" / experiment.name / f"{arm}-seed{seed}.json"
                record = json.loads(path.read_text())
                record["per_label"] = run["per_label"]
                files.write_json(path, record, indent=1)
            table.setdefault(arm, {})[seed] = run["per_label"]
    return table


def compare_per_label(comparisons, table: dict) -> dict:
    """comparison -> degradation -> paired CI of (arm - control) PSNR on that degradation's test crops."""
    out = {}
    for arm, control in comparisons:
        a, b = table.get(arm, {}), table.get(control, {})
        seeds = sorted(set(a) & set(b))
        if not seeds:
            continue
        out[f"{arm}_minus_{control}"] = {name: paired_ci([a[s][name] for s in seeds], [b[s][name] for s in seeds])
                                         for name in a[seeds[0]]}
    return out


def per_degradation(experiment, runs: dict, folder: Path) -> dict | None:
    """The per-degradation comparisons of an experiment that keeps weights and describes a labelled task
    (None for the others, e.g. the toy experiments and the old ``fig5``, whose JSON has no ``data``)."""
    if not (experiment.keep_weights and experiment.describe_task is not None):
        return None
    table = per_label(experiment, runs, folder)
    return compare_per_label(experiment.comparisons(), table) if table else None

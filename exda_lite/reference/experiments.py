"""The reference experiments: what each trains, at which budget, and what it compares.

Each experiment is a set of *arms* (the models compared) trained on the same task with the same
seeds, so that arm A and arm B of seed s share their initial weights and their batches: a paired
design. The CPU budgets below are where the held-out metric stops moving (the runner checks the
convergence rule and records when it is not met); ``--device cuda`` multiplies the steps by ``gpu_scale``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch

from ..course import toy
from ..data import digits, synthetic
from ..utils import seed_everything


@dataclass
class Experiment:
    """A registry entry: the arms, the metric, the control, and how one (arm, seed) run is made."""

    name: str
    description: str
    notebook: str
    arms: tuple[str, ...]
    control: str  # the arm every other arm is compared with, seed by seed
    metric: str  # key of the toy history: "test_mse" (lower is better) or "test_psnr" (higher)
    steps: int
    settings: dict = field(default_factory=dict)
    gpu_scale: int = 4
    expected: int = 1  # the paper's predicted sign of (arm - control) in ``metric``
    make_task: Callable[[dict], dict] | None = None

    @property
    def higher_is_better(self) -> bool:
        return self.metric == "test_psnr"

    def budget(self, device: str) -> int:
        return self.steps * (self.gpu_scale if str(device).startswith("cuda") else 1)


def synthetic_task(settings: dict) -> dict:
    return synthetic.make_synthetic_task(n_train=settings["n_train"], n_test=512, length=settings["length"], seed=0)


def digits_task(settings: dict) -> dict:
    images = digits.load_digit_images(download=False, source=settings.get("source", "auto"))
    return digits.make_digit_task(images, n_train=settings["n_train"], n_test=settings["n_test"], seed=0)


EXPERIMENTS: dict[str, Experiment] = {
    "span_synthetic": Experiment(
        "span_synthetic", "Fig. 3a: linear vs nonlinear (pre-aggregation) vs post-aggregation values on the "
        "synthetic multi-faceted degradation; attention-only toy network, 2 blocks, 16 channels",
        "01_span_limitation_synthetic", ("linear", "nonlinear", "post"), "nonlinear", "test_mse", 5000,
        {"n_train": 16384, "length": 64, "channels": 16, "blocks": 2, "batch_size": 32, "lr": 1e-2},
        make_task=synthetic_task),
    "span_digits": Experiment(
        "span_digits", "Fig. 3b: linear vs nonlinear values restoring corrupted digits (MNIST if cached, else "
        "scikit-learn's digits); attention-only toy network, 2 blocks, 16 channels",
        "02_span_limitation_mnist", ("linear", "nonlinear"), "linear", "test_psnr", 3000,
        {"n_train": 6000, "n_test": 1000, "channels": 16, "blocks": 2, "batch_size": 32, "lr": 1e-2},
        make_task=digits_task),
}
"""Registered experiments. Planned next, not yet here: Table 7 value forms with GST (nb 04), GST
strides (nb 05), awareness with/without GST (nb 08), the Fig. 5 ablation (nb 09)."""

PLANNED = {
    "table7": "Table 7 value forms on the tiny restorer with GST on (as in ExDA-T), 5 seeds (notebook 04)",
    "gst_strides": "GST strides 1, 2, 4, 8, 5 seeds (notebook 05)",
    "awareness": "NMI/ARI of embeddings with and without GST, 5 seeds (notebook 08)",
    "fig5": "Fig. 5 ablation: baseline, + NV, + GST, both, 5 seeds (notebook 09)",
}


def train_arm(experiment: Experiment, task: dict, arm: str, seed: int, device: str, state_path,
              progress: bool = False) -> list[dict]:
    """Train one arm for one seed; seeded so that all arms of a seed start from the same weights."""
    s = experiment.settings
    seed_everything(seed)
    model = toy.ToyAttentionNet(arm, in_channels=1, channels=s["channels"], blocks=s["blocks"])
    steps = experiment.budget(device)
    return toy.train_toy(model, task, steps=steps, batch_size=s["batch_size"], lr=s["lr"],
                         eval_every=max(1, steps // 40), seed=seed, device=device, progress=progress,
                         desc=f"{experiment.name} {arm} seed {seed}", state_path=state_path,
                         save_every=max(1, steps // 10))


def final_metric(history: list[dict], metric: str) -> float:
    return float(history[-1][metric])


def torch_threads(n: int | None) -> None:
    if n:
        torch.set_num_threads(n)

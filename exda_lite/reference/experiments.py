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

from torch import nn

from ..course import toy
from . import decisions, token_maps
from ..course.explore import demo_task
from ..data import digits, flat_noise, photo_pool, synthetic
from ..data.oracles import oracles
from ..data.demo_data import DEMO_DEGRADATIONS
from ..nn.attention import ExDAAttention
from ..nn.block import TokenOptions, ValueOptions
from ..nn.gst import GlobalSpatialTokens
from ..nn.tiny import TinyRestorer, ToyAttentionNet
from ..utils import seed_everything
from ..paper import FIG5_ARMS as FIG5_ARM_TABLE


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
    make_model: Callable[[str, int, dict], nn.Module] | None = None  # (arm, seed, settings) -> model
    shared: dict = field(default_factory=dict)  # arm -> (experiment, arm): the same model, task and budget
    keep_weights: bool = False  # store each run's final weights (safetensors + sha256) beside its JSON
    pairs: tuple[tuple[str, str], ...] = ()  # (arm, control) comparisons; () = every arm vs ``control``
    describe_task: Callable[[dict], dict] | None = None  # settings -> data source, counts, oracles (for the JSON)
    pilot_seeds: tuple[int, ...] = ()  # seeds that size the experiment: summarised apart, never pooled
    superseded_by: str = ""  # the experiment that replaced this one: kept for the record, out of the default run
    decide: Callable[[dict, int], dict] | None = None  # the pre-registered rule (comparisons, planned seeds)
    planned_seeds: int = 0  # confirmatory seeds fixed before the first confirmatory run (first_seed ... + n-1)
    first_seed: int = 0  # > 0 for a confirmatory rerun whose pilot used seeds 0 ... (new seeds, new runs)
    analyse: Callable[..., dict] | None = None  # (experiment, runs, folder, task) -> a secondary analysis of the weights

    @property
    def default_seeds(self) -> tuple[int, ...]:
        """What ``run`` trains without ``--seeds``: the pilot's seeds, then the confirmatory ones (5 if unplanned)."""
        return self.pilot_seeds + self.confirmatory_seeds

    @property
    def confirmatory_seeds(self) -> tuple[int, ...]:
        return tuple(range(self.first_seed, self.first_seed + (self.planned_seeds or 5)))

    def comparisons(self) -> tuple[tuple[str, str], ...]:
        return self.pairs or tuple((arm, self.control) for arm in self.arms if arm != self.control)

    @property
    def higher_is_better(self) -> bool:
        return self.metric == "test_psnr"

    def budget(self, device: str) -> int:
        return self.steps * (self.gpu_scale if str(device).startswith("cuda") else 1)


POOL = {"task": "photo_pool", "n_train": 12288, "n_test": 500, "patch": 32, "test_patch": 48, "test_min_std": 0.05,
        "realisations": 4, "channels": 32, "blocks": 2, "heads": 1, "batch_size": 16, "lr": 3e-3, "ema": 0.999,
        "evals": 10}
"""The powered restoration design (PREREGISTRATION_RESTORATION.md): fig5_pool, table7_pool and gst_strides_pool."""

RESTORER = {"channels": 16, "blocks": 2, "heads": 1, "patch": 32, "samples": 48, "batch_size": 8, "lr": 3e-3}


def toy_model(arm: str, seed: int, s: dict) -> nn.Module:
    """The notebooks' toy network with the experiment's ``norm`` and ``ffn`` (02/03 default: neither)."""
    seed_everything(seed)
    return ToyAttentionNet(arm, in_channels=1, channels=s["channels"], blocks=s["blocks"], heads=s["heads"],
                               ffn=s["ffn"], norm=s["norm"])


RUNGS = {  # rung -> (pre-norm, GDFN): what besides the values could make the "linear" network nonlinear
    "attention_only": ("none", False),  # nothing: linear per pixel for a fixed A
    "groupnorm": ("groupnorm", False),  # the control: normalises per image, still affine per pixel
    "layernorm": ("layernorm", False),  # Restormer's LayerNorm: divides each pixel by its own std
    "gdfn": ("none", True),  # GDFN's GELU gate, no norm
    "restormer_block": ("layernorm", True),  # the full Restormer block
}
LADDER_ARMS = tuple(f"{rung}.{kind}" for rung in RUNGS for kind in ("linear", "nonlinear"))


def ladder_model(arm: str, seed: int, s: dict) -> nn.Module:
    """``<rung>.<linear|nonlinear>``: the toy network of the rung; within a rung both arms share their weights."""
    rung, kind = arm.split(".")
    norm, ffn = RUNGS[rung]
    seed_everything(seed)
    return ToyAttentionNet(kind, in_channels=1, channels=s["channels"], blocks=s["blocks"], heads=s["heads"],
                               ffn=ffn, norm=norm)


def paired_restorer(seed: int, s: dict, value: ValueOptions | None, tokens: TokenOptions | None,
                    value_blocks=None) -> nn.Module:
    """A TinyRestorer whose shared weights are those of the seed's plain baseline (a paired design)."""
    torch.manual_seed(seed)
    baseline = TinyRestorer(s["channels"], s["blocks"], s["heads"])
    torch.manual_seed(seed)
    model = TinyRestorer(s["channels"], s["blocks"], s["heads"], value=value, tokens=tokens, value_blocks=value_blocks)
    model.load_state_dict(baseline.state_dict(), strict=False)  # the added modules keep their own init
    return model


FIG5_ARMS = {arm: (nv, gst) for arm, _, nv, gst in FIG5_ARM_TABLE}  # arm -> (nonlinear value, GST)


def fig5_model(arm: str, seed: int, s: dict) -> nn.Module:
    nv, gst = FIG5_ARMS[arm]
    return paired_restorer(seed, s, ValueOptions() if nv else None, TokenOptions() if gst else None)


TABLE7_ARMS = {  # Table 7's rows on the tiny restorer, GST on as in ExDA-T; value blocks None = all
    "residual_gelu": (ValueOptions("residual", "gelu"), None),  # the paper's choice (32.71 dB)
    "inplace_sigmoid": (ValueOptions("inplace", "sigmoid"), None),
    "residual_sigmoid": (ValueOptions("residual", "sigmoid"), None),
    "inplace_gelu": (ValueOptions("inplace", "gelu"), None),
    "nonparametric_gelu": (ValueOptions("residual", "gelu", learnable=False), None),
    "first_half_only": (ValueOptions("residual", "gelu"), [0]),
    "second_half_only": (ValueOptions("residual", "gelu"), [1]),
}


def table7_model(arm: str, seed: int, s: dict) -> nn.Module:
    value, blocks = TABLE7_ARMS[arm]
    return paired_restorer(seed, s, value, TokenOptions(), value_blocks=blocks)


def stride_model(arm: str, seed: int, s: dict) -> nn.Module:
    return paired_restorer(seed, s, ValueOptions(), TokenOptions(stride=int(arm.removeprefix("stride_"))))


class LocalOnlyAttention(ExDAAttention):
    """The control with no global information: the attention map fixed to the identity, Y = W_o V'.

    Same parameters as MDTA (q, k and the temperature are kept, unused), so it is a purely local network."""

    def forward(self, x: torch.Tensor, return_attention: bool = False):
        v = self.qkv_dwconv(self.qkv(x)).chunk(3, dim=1)[2]
        out = self.project_out(v if self.value_path is None else self.value_path(v))
        return (out, None) if return_attention else out


class UniformTokens(GlobalSpatialTokens):
    """The non-adaptive control of GST: every token map is the constant 1/(H*W) (plain average pooling).

    The projection W_proj is kept (same parameter count) but unused."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        return x.new_full((b, self.heads, self.tokens, h * w), 1.0 / (h * w))


MECHANISM_ARMS = {"local_only": None, "mdta": None, "gst": TokenOptions(),
                  "gst_rms": TokenOptions(token_value_scale="rms"),
                  "uniform_rms": TokenOptions(token_value_scale="rms")}


def mechanism_model(arm: str, seed: int, s: dict) -> nn.Module:
    """The fig5 network with the nonlinear value in every arm; only the global mechanism differs.

    Every arm loads the weights of the seed's ``mdta`` model (strict=False), so the arms share everything
    but the GST projection (PREREGISTRATION.md)."""
    base = paired_restorer(seed, s, ValueOptions(), None)
    model = paired_restorer(seed, s, ValueOptions(), MECHANISM_ARMS[arm])
    model.load_state_dict(base.state_dict(), strict=False)
    for block in model.body:
        if arm == "local_only":
            block.attn.__class__ = LocalOnlyAttention  # same module and weights, identity attention map
        if arm == "uniform_rms":
            block.attn.gst.__class__ = UniformTokens
    return model


def flat_noise_task(settings: dict) -> dict:
    return flat_noise.make_flat_noise_task(n_train=settings["n_train"], n_test=settings["n_test"],
                                           size=settings["patch"])


def restoration_task(settings: dict) -> dict:
    return demo_task(DEMO_DEGRADATIONS, patch_size=settings["patch"], samples_per_degradation=settings["samples"],
                     test_crop=64, seed=0)


def pool_task(settings: dict) -> dict:
    return photo_pool.make_pool_task(n_train=settings["n_train"], n_test=settings["n_test"], patch=settings["patch"],
                                     realisations=settings["realisations"], test_patch=settings["test_patch"],
                                     test_min_std=settings["test_min_std"])


def describe_pool_task(settings: dict) -> dict:
    """The photos, the actual counts, and each degradation's input PSNR on the test crops (the identity's score)."""
    from ..training.metrics import psnr

    task = pool_task(settings)
    identity = psnr(task["test_degraded"], task["test_clean"])
    labels = task["test_labels"]
    return {**task["info"], "n_train": len(task["train_clean"]), "n_test": len(task["test_clean"]),
            "identity_psnr": {name: float(identity[labels == i].mean())
                              for i, name in enumerate(task["info"]["degradations"])}}


def synthetic_task(settings: dict) -> dict:
    return synthetic.make_synthetic_task(n_train=settings["n_train"], n_test=settings["n_test"],
                                         length=settings["length"], seed=0,
                                         spec=synthetic.SPECS[settings.get("degradation", "fig3a")], with_gamma=True)


def digits_task(settings: dict) -> dict:
    images = digits.load_digit_images(download=False, source=settings.get("source", "auto"))
    task = digits.make_digit_task(images, n_train=settings["n_train"], n_test=settings["n_test"], seed=0,
                                  corruption=settings.get("corruption", "fig3b"), with_gamma=True,
                                  size=settings.get("size", 28))
    task["info"] = {"source": images.source, "note": images.note}
    return task


def describe_toy_task(make_task: Callable[[dict], dict]) -> Callable[[dict], dict]:
    """What a toy experiment's JSON records about its data: source, actual counts, both oracles."""
    def describe(settings: dict) -> dict:
        task = make_task(settings)
        return {**task.get("info", {"source": "synthetic"}), "n_train": len(task["train_clean"]),
                "n_test": len(task["test_clean"]), "oracles": oracles(task)}
    return describe


EXPERIMENTS: dict[str, Experiment] = {
    "span_synthetic": Experiment(
        "span_synthetic", "Fig. 3a: linear vs nonlinear (pre-aggregation) vs post-aggregation values on the "
        "synthetic multi-faceted degradation (tone-curve ranges, where undoing the curve matters); attention-only toy "
        "network, 2 blocks, 16 channels",
        "02_span_limitation_synthetic", ("linear", "nonlinear", "post"), "nonlinear", "test_mse", 5000,
        {"n_train": 16384, "n_test": 512, "length": 64, "degradation": "tone", "channels": 16, "blocks": 2, "heads": 1,
         "norm": False,
         "ffn": False, "batch_size": 32, "lr": 1e-2},
        make_task=synthetic_task, make_model=toy_model, describe_task=describe_toy_task(synthetic_task)),
    "span_digits": Experiment(
        "span_digits", "Fig. 3b: linear vs nonlinear values restoring corrupted digits (MNIST if cached, else "
        "scikit-learn's digits); attention-only toy network, 2 blocks, 16 channels",
        "03_span_limitation_mnist", ("linear", "nonlinear"), "linear", "test_psnr", 3000,
        {"n_train": 6000, "n_test": 1000, "size": 28, "corruption": "fig3b", "channels": 16, "blocks": 2, "heads": 1,
         "norm": False,
         "ffn": False, "batch_size": 32, "lr": 1e-2},
        make_task=digits_task, make_model=toy_model, describe_task=describe_toy_task(digits_task)),
    "span_ladder": Experiment(
        "span_ladder", "The mechanism ladder: linear vs nonlinear values on the tone-curve synthetic task (a pointwise "
        "inverse beats any per-signal affine map), on five networks: attention only, + GroupNorm (control), "
        "+ LayerNorm, + GDFN, the full Restormer block", "02_span_limitation_synthetic", LADDER_ARMS,
        "attention_only.nonlinear", "test_mse", 3000,
        {"n_train": 16384, "n_test": 512, "length": 64, "degradation": "tone", "channels": 16, "blocks": 2,
         "heads": 1, "batch_size": 32,
         "lr": 1e-2, "rungs": {r: {"norm": n, "ffn": f} for r, (n, f) in RUNGS.items()}},
        make_task=synthetic_task, make_model=ladder_model, describe_task=describe_toy_task(synthetic_task),
        pairs=tuple((f"{r}.linear", f"{r}.nonlinear") for r in RUNGS)),
    "digits_ladder": Experiment(
        "digits_ladder", "The mechanism ladder on 14x14 digits with a tone curve (faint noise, 8 bits): linear vs "
        "nonlinear values on the same five networks as span_ladder", "03_span_limitation_mnist", LADDER_ARMS,
        "attention_only.linear", "test_psnr", 2000,
        {"n_train": 6000, "n_test": 1000, "size": 14, "corruption": "tone", "channels": 16, "blocks": 2, "heads": 1,
         "batch_size": 32,
         "lr": 1e-2, "rungs": {r: {"norm": n, "ffn": f} for r, (n, f) in RUNGS.items()}},
        make_task=digits_task, make_model=ladder_model, describe_task=describe_toy_task(digits_task),
        pairs=tuple((f"{r}.nonlinear", f"{r}.linear") for r in RUNGS)),
    "fig5": Experiment(
        "fig5", "Fig. 5 ablation: baseline (Restormer-style), + nonlinear value, + GST, both; tiny restorer "
        "(16 channels, 2 blocks) on the demo all-in-one set, paired initial weights",
        "09_ablations_and_efficiency", tuple(FIG5_ARMS), "baseline", "test_psnr", 2000, RESTORER,
        make_task=restoration_task, make_model=fig5_model, keep_weights=True, superseded_by="fig5_pool"),
    "gst_strides": Experiment(
        "gst_strides", "GST pooling stride s = 1, 2, 4, 8 (Fig. B / Sec. 4.3: s = 2 best); tiny restorer with the "
        "nonlinear value, paired initial weights", "05_global_spatial_tokens",
        ("stride_2", "stride_1", "stride_4", "stride_8"), "stride_2", "test_psnr", 2000, RESTORER,
        expected=-1, make_task=restoration_task, make_model=stride_model, shared={"stride_2": ("fig5", "both")},
        superseded_by="gst_strides_pool"),
    "table7": Experiment(
        "table7", "Table 7 value-path variants with GST on (the paper's Table 7 model is ExDA-T); tiny restorer, "
        "paired initial weights; 'halves' stand in for encoder / decoder", "04_nonlinear_value",
        tuple(TABLE7_ARMS), "residual_gelu", "test_psnr", 2000, RESTORER,
        expected=-1, make_task=restoration_task, make_model=table7_model,
        shared={"residual_gelu": ("fig5", "both")}, superseded_by="table7_pool"),
    "fig5_pool": Experiment(
        "fig5_pool", "Fig. 5 ablation, powered (reference/PREREGISTRATION_RESTORATION.md): baseline, + nonlinear "
        "value, + GST, both; tiny restorer (32 channels, 2 blocks) trained on a pool of 12,288 crops of whole "
        "degraded photos (every degradation varied within an invertible range), EMA weights scored on 500 48x48 "
        "test crops of five photos never trained on", "09_ablations_and_efficiency", tuple(FIG5_ARMS), "baseline",
        "test_psnr", 3000, POOL, make_task=pool_task, make_model=fig5_model, keep_weights=True,
        describe_task=describe_pool_task, pilot_seeds=(100, 101, 102),
        decide=decisions.restoration_decision, planned_seeds=12),
    "table7_pool": Experiment(
        "table7_pool", "Table 7 value-path variants, powered (reference/PREREGISTRATION_VARIANTS.md): fig5_pool's task, "
        "network and budget with GST on; the control is fig5_pool's 'both' run of the same seed",
        "04_nonlinear_value", tuple(TABLE7_ARMS), "residual_gelu", "test_psnr", 3000, POOL, expected=-1,
        make_task=pool_task, make_model=table7_model, keep_weights=True,
        describe_task=describe_pool_task,
        shared={"residual_gelu": ("fig5_pool", "both")},
        decide=decisions.variants_decision, planned_seeds=8),
    "gst_strides_pool": Experiment(
        "gst_strides_pool", "GST pooling stride s = 1, 2, 4, 8, powered (reference/PREREGISTRATION_VARIANTS.md): "
        "fig5_pool's task, network and budget with the nonlinear value; stride 2 is fig5_pool's 'both' run",
        "05_global_spatial_tokens", ("stride_2", "stride_1", "stride_4", "stride_8"), "stride_2", "test_psnr", 3000,
        POOL, expected=-1, make_task=pool_task, make_model=stride_model, keep_weights=True,
        describe_task=describe_pool_task,
        shared={"stride_2": ("fig5_pool", "both")},
        decide=decisions.variants_decision, planned_seeds=8),
    "table7_confirm": Experiment(
        "table7_confirm", "Table 7's two largest effects, confirmatory (reference/PREREGISTRATION_TABLE7_CONFIRM.md): "
        "table7_pool's task, network and budget, the control trained here, 18 new seeds (20-37)",
        "04_nonlinear_value", ("residual_gelu", "inplace_sigmoid", "nonparametric_gelu"), "residual_gelu",
        "test_psnr", 3000, POOL, expected=-1, make_task=pool_task, make_model=table7_model, keep_weights=True,
        describe_task=describe_pool_task, decide=decisions.confirm_decision, planned_seeds=18, first_seed=20),
    "gst_mechanism": Experiment(
        "gst_mechanism", "Pre-registered (reference/PREREGISTRATION.md): does GST help where every pixel's restoration "
        "needs a statistic of a content-selected region? flat_noise task (sigma readable only in a flat rectangle); "
        "local only, MDTA, + GST, + GST with RMS-scaled token rows, + a uniform (non-adaptive) token",
        "05_global_spatial_tokens", tuple(MECHANISM_ARMS), "mdta", "test_psnr", 3000,
        {"task": "flat_noise", "n_train": 16384, "n_test": 512, "patch": 32, "channels": 16, "blocks": 2, "heads": 1,
         "value": "residual_gelu", "batch_size": 16, "lr": 2e-3, "ema": 0.999},
        make_task=flat_noise_task, make_model=mechanism_model, keep_weights=True,  # for the secondary analysis
        pairs=(("mdta", "local_only"), ("gst_rms", "mdta"), ("gst_rms", "uniform_rms"), ("gst", "mdta")),
        pilot_seeds=(100, 101, 102), decide=decisions.gst_mechanism_decision,
        planned_seeds=10, analyse=token_maps.analyse),
}
"""Registered experiments. ``fig5``, ``table7`` and ``gst_strides`` are the first, underpowered design (240 fixed
patches, 16 channels; 95 % intervals of +/- 1.2-1.7 dB): each is ``superseded_by`` its ``_pool`` counterpart and kept
for the record, out of the default run and out of the scoreboard's Holm family. ``awareness_pool`` (notebook 08) is
an analysis of fig5_pool's weights (``awareness``, of fig5's), see :mod:`exda_lite.reference.awareness`."""


def train_arm(experiment: Experiment, task: dict, arm: str, seed: int, device: str, state_path,
              progress: bool = False, model: nn.Module | None = None, eval_raw: bool = False) -> list[dict]:
    """Train one arm for one seed (``model`` in place, if given); seeded so that all arms of a seed
    start from the same weights. Returns the held-out history (``eval_raw``: see ``toy.train_toy``)."""
    s = experiment.settings
    model = model if model is not None else experiment.make_model(arm, seed, s)
    steps = experiment.budget(device)
    return toy.train_toy(model, task, steps=steps, batch_size=s["batch_size"], lr=s["lr"],
                         eval_every=max(1, steps // s.get("evals", 40)), seed=seed, device=device, progress=progress,
                         desc=f"{experiment.name} {arm} seed {seed}", state_path=state_path,
                         save_every=max(1, steps // 10), ema=s.get("ema", 0.0), eval_raw=eval_raw)


def final_metric(history: list[dict], metric: str) -> float:
    return float(history[-1][metric])


def torch_threads(n: int | None) -> None:
    if n:
        torch.set_num_threads(n)

"""Notebook 08's models: pairs of twins, with and without GST, trained once and cached.

For every seed, two models that differ **only** in GST: the same data, steps and batches, and the same initial
weights — the no-GST model is the with-GST model at initialisation without its GST parts. Either ``TinyRestorer``s
(trained here in seconds with :func:`.toy.train_toy`, MSE) or ExDA U-Nets (trained with
:func:`exda_lite.training.train`, L1 + Fourier; notebook 07's run can stand in for the with-GST model).

* :func:`setup`        checks 08's parameters, sets threads and seed, chooses the embedding layers
* :class:`Study`       what the cells after the parameters need
* :func:`train_pairs`  every twin of every seed, from the cache in ``OUT_DIR/08_runs`` when it holds them

Trained weights go to ``OUT_DIR/08_runs/<setting>_<model>_<gst|nogst>_seed<k>/model.safetensors``, stamped with a
hash of the values that define them (:mod:`.caching`); a re-run with the same values loads them.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from torch import nn

from ..data.demo_data import DEMO_DEGRADATIONS
from ..data.settings import CDD11, DEMO, FIVE_DEG, THREE_DEG
from ..nn.block import TokenOptions, ValueOptions
from ..nn.configs import CONFIGS
from ..nn.model import build_model
from ..nn.tiny import TinyRestorer
from ..training import TrainConfig, config_from_dict, load_model, train
from ..utils import count_parameters, pick_device, seed_everything
from . import caching, toy
from .explore import demo_task
from .foundation import FOUNDATION_CANDIDATES
from .notebook import ParameterError, check_parameters, device_name, non_negative_int, positive_int

TINY_HEADS = 1  # the tiny twins have one attention head (16 channels)


@dataclass
class Study:
    """Notebook 08's checked parameters and the choices made from them."""

    p: dict
    device: torch.device
    layer: str  # the embedding layer (Fig. 7)
    maps_layer: str  # the GST layer whose maps are drawn (Fig. 8) and measured
    runs_dir: Path
    started: float = field(default_factory=time.time)
    base07: TrainConfig | None = None  # notebook 07's recipe, when its run is the with-GST model

    @property
    def tiny(self) -> bool:
        return self.p["MODEL"] == "tiny"


def parameter_rules() -> dict:
    """Notebook 08's parameters and the rule each value must satisfy."""
    return {
        "OUT_DIR": str, "SETTING": tuple(s.name for s in (DEMO, FIVE_DEG, THREE_DEG, CDD11)),
        "MODEL": ("tiny",) + tuple(name for name in CONFIGS if name != "restormer"), "LAYER": str,
        "SEEDS": positive_int, "SEED": non_negative_int, "PER_CLASS": positive_int, "CROP": positive_int,
        "CHANNELS": positive_int, "BLOCKS": positive_int, "TOKENS": positive_int,
        "GST_STRIDE": positive_int, "PATCH": positive_int, "SAMPLES_PER_DEGRADATION": positive_int,
        "STEPS": non_negative_int, "EPOCHS": positive_int, "BATCH_SIZE": positive_int, "LR": float, "USE_07_RUN": bool,
        "RETRAIN": bool, "UMAP": bool, "FOUNDATION": ("auto", "none") + FOUNDATION_CANDIDATES, "DATA_ROOT": str, "THREADS": int, "DEVICE": device_name,
        "REFERENCE": ("auto", "off"),
    }


def setup(namespace: dict) -> Study:
    """Check the parameters in ``namespace`` (the notebook's globals()), set threads and seed; return the Study."""
    p = check_parameters(namespace, parameter_rules())
    tiny = p["MODEL"] == "tiny"
    if tiny and (p["SETTING"] != DEMO.name or p["STEPS"] == 0):
        raise ParameterError("MODEL='tiny' trains on the demo set for STEPS > 0 steps; for a benchmark SETTING "
                             "choose an ExDA model, e.g. -p MODEL exda_t")
    if p["PER_CLASS"] < 5:
        raise ParameterError("PER_CLASS must be at least 5 (the linear probe uses 5-fold cross-validation)")
    if p["THREADS"] > 0:
        from threadpoolctl import threadpool_limits

        torch.set_num_threads(p["THREADS"])
        threadpool_limits(p["THREADS"])  # also scikit-learn's OpenMP (k-means, t-SNE): surplus threads slow a busy CPU
        os.environ["NUMBA_NUM_THREADS"] = str(p["THREADS"])  # and UMAP's numba (imported later)
    seed_everything(p["SEED"])
    layer = p["LAYER"] if p["LAYER"] != "auto" else ("body" if tiny else "latent")  # our choice: the paper gives none
    study = Study(p, pick_device(p["DEVICE"]), layer, "body" if tiny else "encoder1", Path(p["OUT_DIR"]) / "08_runs")
    print(p, "| device:", study.device, "| embedding layer:", layer)
    return study


def run07(study: Study) -> Path:
    return Path(study.p["OUT_DIR"]) / "07_runs" / f"{study.p['SETTING']}_{study.p['MODEL']}"


def find_run07(study: Study) -> TrainConfig | None:
    """Notebook 07's recipe when its run of this SETTING and MODEL is in OUT_DIR (never for the tiny model)."""
    folder = run07(study)
    if study.tiny or not study.p["USE_07_RUN"]:
        return None
    if not ((folder / "model.safetensors").is_file() and (folder / "config.json").is_file()):
        return None
    return config_from_dict(json.loads((folder / "config.json").read_text()))


def unet_config(study: Study, gst: bool, seed: int) -> TrainConfig:
    """The exda_lite.training recipe of one U-Net (notebook 07's recipe when we reuse its run)."""
    p = study.p
    out_dir = str(study.runs_dir / f"{p['SETTING']}_{p['MODEL']}_{'gst' if gst else 'nogst'}_seed{seed}")
    if study.base07 is not None:
        return replace(study.base07, out_dir=out_dir, resume="", init_weights="", progress=False,
                       model_overrides={**study.base07.model_overrides, "gst": gst})
    return TrainConfig(out_dir=out_dir, setting=p["SETTING"], data_root=p["DATA_ROOT"], model=p["MODEL"],
                       model_overrides={"gst": gst, "gst_tokens": p["TOKENS"], "gst_stride": p["GST_STRIDE"]},
                       patch_size=p["PATCH"], batch_size=p["BATCH_SIZE"],
                       samples_per_degradation=p["SAMPLES_PER_DEGRADATION"], lr=p["LR"], epochs=p["EPOCHS"],
                       max_steps=p["STEPS"], warmup_steps=min(20, p["STEPS"] // 10), seed=seed, device=p["DEVICE"],
                       val_every=0, progress=False, tensorboard=False)


def build(study: Study, gst: bool, seed: int) -> nn.Module:
    p = study.p
    if study.tiny:
        tokens = TokenOptions(tokens=p["TOKENS"], stride=p["GST_STRIDE"]) if gst else None
        return TinyRestorer(p["CHANNELS"], p["BLOCKS"], TINY_HEADS, value=ValueOptions(), tokens=tokens)
    return build_model(p["MODEL"], **unet_config(study, gst, seed).model_overrides)


def make_model(study: Study, gst: bool, seed: int) -> nn.Module:
    """A freshly initialised model. Both twins start from the same weights: the no-GST model is the with-GST
    model's initialisation without its GST parts (the with-GST model is what exda_lite.training builds)."""
    seed_everything(seed)
    with_gst = build(study, True, seed)
    if gst:
        return with_gst
    model = build(study, False, seed)
    model.load_state_dict({k: v for k, v in with_gst.state_dict().items() if k in model.state_dict()})
    return model


def fit(study: Study, model: nn.Module, gst: bool, seed: int) -> dict:
    """Train ``model`` in place (tiny: toy.train_toy, MSE; U-Net: exda_lite.training, L1 + Fourier)."""
    p, start = study.p, time.time()
    if study.tiny:
        task = demo_task(list(DEMO_DEGRADATIONS), patch_size=p["PATCH"],
                         samples_per_degradation=p["SAMPLES_PER_DEGRADATION"], seed=seed)
        history = toy.train_toy(model, task, steps=p["STEPS"], batch_size=p["BATCH_SIZE"], lr=p["LR"],
                                eval_every=p["STEPS"], seed=seed, device=study.device, progress=False)
        return {"seconds": round(time.time() - start, 1), "steps": p["STEPS"], "final_loss": history[-1]["train_loss"]}
    result = train(unet_config(study, gst, seed), model=model)
    return {"seconds": round(time.time() - start, 1), "steps": result.global_step, "final_loss": result.history[-1]["loss"]}


def signature(study: Study, gst: bool, seed: int) -> tuple[dict, Path]:
    """The values that define one trained twin, and where its weights are cached."""
    p = study.p
    if study.tiny:
        values = {"model": "tiny", "gst": gst, "seed": seed, "init": "twin", "channels": p["CHANNELS"],
                  "blocks": p["BLOCKS"], "heads": TINY_HEADS, "tokens": p["TOKENS"], "stride": p["GST_STRIDE"],
                  "patch": p["PATCH"], "samples": p["SAMPLES_PER_DEGRADATION"], "steps": p["STEPS"],
                  "batch": p["BATCH_SIZE"], "lr": p["LR"]}
        return values, study.runs_dir / f"{p['SETTING']}_tiny_{'gst' if gst else 'nogst'}_seed{seed}" / "model.safetensors"
    config = unet_config(study, gst, seed)
    values = {k: v for k, v in config.to_dict().items() if k not in ("out_dir", "progress", "device")}
    values["init"] = "twin"
    return values, Path(config.out_dir) / "model.safetensors"


def trained_model(study: Study, gst: bool, seed: int) -> tuple[nn.Module, dict, bool]:
    """(model, run facts, reused?) from the cache in OUT_DIR/08_runs, training when needed."""
    values, path = signature(study, gst, seed)
    return caching.cached_model(path, make_model(study, gst, seed), values, lambda m: fit(study, m, gst, seed),
                                study.p["RETRAIN"])


def train_pairs(study: Study) -> tuple[dict, list[dict], dict, list[int]]:
    """Every twin of every seed: ``(models, runs, untrained, seeds)``.

    ``models[gst, seed]`` is a trained model in eval mode, ``runs`` one row of facts per model, ``untrained[gst]``
    the first seed's twins at initialisation (a baseline). Notebook 07's run, when there is one for this SETTING and
    MODEL in OUT_DIR, is the with-GST model of its seed, and the no-GST twin trains with its recipe.
    """
    study.base07 = find_run07(study)
    if study.base07 is not None:
        print(f"using notebook 07's run {run07(study)} as the with-GST model (seed {study.base07.seed}); its no-GST twin "
              "trains with 07's recipe. TOKENS, GST_STRIDE, PATCH, STEPS, EPOCHS, BATCH_SIZE and LR do not apply.")
    first = study.p["SEED"]
    seeds = [study.base07.seed] if study.base07 is not None else list(range(first, first + study.p["SEEDS"]))
    models, runs = {}, []
    for seed in seeds:
        for gst in (False, True):
            if study.base07 is not None and gst:
                model, info = load_model(run07(study) / "model.safetensors")
                run, reused = {"seconds": None, "steps": info.get("global_step"), "source": str(run07(study))}, True
            else:
                model, run, reused = trained_model(study, gst, seed)
            models[gst, seed] = model.to(study.device).eval()
            runs.append({"seed": seed, "GST": gst, "parameters": count_parameters(model), "loaded from cache": reused,
                         **run})
            print(f"seed {seed}, GST {gst}: {'loaded' if reused else 'trained'} ({run.get('seconds')} s)")
    untrained = {gst: make_model(study, gst, seeds[0]).to(study.device).eval() for gst in (False, True)}
    return models, runs, untrained, seeds

"""Evaluation on the paper's benchmarks, in the layout of Tables 1-6, with the paper's ExDA numbers alongside.

Protocol (``metrics.evaluate_pair``): outputs clipped to [0, 1], centre crop to a multiple of
16, PSNR with data range 1, scikit-image SSIM (7x7 uniform window). Per setting:

============= ======= ============================ =========================================
setting       table   columns                      protocol ("paper")
============= ======= ============================ =========================================
3deg          1       SOTS, Rain100L, BSD68 s15/25/50 RGB ("reported on the full RGB images")
5deg          2       SOTS, Rain100L, BSD68 s25,   RGB
                      GoPro, LOLv1
cdd11         3       the 11 CDD11 types           RGB, SSIM with MoCE-IR's Gaussian 11x11 window
allweather    4       Snow100K-S/L, Outdoor-Rain,  Y channel: OUR CHOICE (the weather-removal
                      RainDrop                     code reports luma; the paper does not say)
weatherbench  5       Dehaze, Derain, Desnow       Y channel, 4-pixel border (WeatherBench's code)
medical       6       MRI SR, CT denoise, PET      the single gray channel
demo          -       noise, motion_blur, haze,    RGB (no paper numbers: our offline set)
                      rain, low_light
============= ======= ============================ =========================================

``protocol="rgb"`` or ``"y"`` forces one protocol everywhere. Numbers computed with
different protocols are not comparable (e.g. 38.99 dB RGB vs 36.74 dB Y for one Rain100L
result): the table's title says which one was used.

The "Average" column is the mean of the per-benchmark means, as in the paper.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from ..data import settings as S
from ..data.mixtures import MixedDegradations, parse_mix
from ..paper import TABLES
from .metrics import SSIM_WINDOW, evaluate_pair
from .tiling import tiled_forward

PAPER_EXDA: dict[str, dict[str, tuple[float, float]]] = {
    s.name: TABLES[s.paper_table] for s in S.PAPER_SETTINGS}
"""The ExDA rows of the paper's Tables 1-6 (``exda_lite.paper.TABLES``), by setting: column -> (PSNR dB, SSIM)."""

PAPER_TABLE = {s.name: s.paper_table for s in S.PAPER_SETTINGS}

PROTOCOLS = {s.name: (s.y_channel, s.border) for s in S.SETTINGS.values()}
"""setting -> (y_channel, border) of the "paper" protocol (``exda_lite.data.settings``)."""
MIX_PREFIX = "mix "
"""Columns of mixed degradations (``--mix noise+rain``) are named ``mix noise+rain``; not in the Average."""

CDD11_COLUMNS = {"low": "L", "haze": "H", "rain": "R", "snow": "S", "low_haze": "L+H", "low_rain": "L+R",
                 "low_snow": "L+S", "haze_rain": "H+R", "haze_snow": "H+S", "low_haze_rain": "L+H+R",
                 "low_haze_snow": "L+H+S"}


@dataclass(frozen=True)
class Benchmark:
    """One column of a results table: how to build its test set (from the data root) and which items to use."""

    column: str
    make: Callable  # root -> Dataset of (degraded, clean, label)
    label: int | None = None  # keep only items with this label (the demo set holds all degradations at once)


def benchmarks(setting: str, demo_crop: int = 0, pairs=(), mix=()) -> list[Benchmark]:
    """The test sets of a setting, in the column order of the paper's table.

    ``pairs``: the ``--pairs`` of setting "pairs" (one column per task). ``mix``: mixtures such as
    ``"noise+rain"``, one more column each, made from the clean images of the other columns.
    """
    regular = setting_benchmarks(setting, demo_crop, pairs)
    return regular + [Benchmark(MIX_PREFIX + "+".join(parse_mix(m)), partial(mixed_set, regular, m))
                      for m in mix]


def mixed_set(regular: list[Benchmark], mix: str, root):
    """The clean images of every benchmark in ``regular`` (each once), degraded by ``mix``."""
    sources, names, seen = [], [], set()
    for bench in regular:
        dataset = bench.make(root)
        for index in benchmark_indices(bench, dataset):
            key = dataset.samples[index].clean if hasattr(dataset, "samples") else item_name(dataset, index)
            if key not in seen:
                seen.add(key)
                sources.append((dataset, index))
                names.append(item_name(dataset, index))
    return MixedDegradations(sources, mix, names=names)


def setting_benchmarks(setting: str, demo_crop: int = 0, pairs=()) -> list[Benchmark]:
    from ..data import datasets, demo_data

    if setting == S.PAIRS.name:
        from ..data.pairs import FolderPairs, parse_pairs

        shared = {}

        def pair_set(root):
            if "set" not in shared:
                shared["set"] = FolderPairs(pairs, "test")
            return shared["set"]
        return [Benchmark(task.name, pair_set, label) for label, task in enumerate(parse_pairs(pairs, "test"))]
    if setting in (S.DEMO.name, S.DEMO_MEDICAL.name):
        medical = setting == S.DEMO_MEDICAL.name
        degradations = demo_data.MEDICAL_DEGRADATIONS if medical else demo_data.DEMO_DEGRADATIONS
        shared = {}

        def demo_set(root, degradations=degradations, medical=medical):
            if "set" not in shared:
                shared["set"] = demo_data.DemoAllInOneTest(degradations, crop=demo_crop or None,
                                                           channels=1 if medical else 3)
            return shared["set"]
        return [Benchmark(name, demo_set, label) for label, name in enumerate(degradations)]
    if setting == S.THREE_DEG.name:
        return [Benchmark("SOTS", lambda r: datasets.AllInOneTest(r, "dehaze")),
                Benchmark("Rain100L", lambda r: datasets.AllInOneTest(r, "derain"))] + [
            Benchmark(f"BSD68 σ={s}", lambda r, s=s: datasets.AllInOneTest(r, "denoise_bsd68", sigma=s))
            for s in (15, 25, 50)]
    if setting == S.FIVE_DEG.name:
        return [Benchmark("SOTS", lambda r: datasets.AllInOneTest(r, "dehaze")),
                Benchmark("Rain100L", lambda r: datasets.AllInOneTest(r, "derain")),
                Benchmark("BSD68 σ=25", lambda r: datasets.AllInOneTest(r, "denoise_bsd68", sigma=25)),
                Benchmark("GoPro", lambda r: datasets.AllInOneTest(r, "deblur")),
                Benchmark("LOLv1", lambda r: datasets.AllInOneTest(r, "enhance"))]
    if setting == S.CDD11.name:
        return [Benchmark(column, lambda r, kind=kind: datasets.CDD11(r, split="test", types=(kind,)))
                for kind, column in CDD11_COLUMNS.items()]
    if setting == S.ALLWEATHER.name:
        names = {"snow100k_s": "Snow100K-S", "snow100k_l": "Snow100K-L", "outdoor_rain": "Outdoor-Rain",
                 "raindrop": "RainDrop"}
        return [Benchmark(column, lambda r, split=split: datasets.AllWeather(r, split=split))
                for split, column in names.items()]
    if setting == S.WEATHERBENCH.name:
        names = {"haze": "Dehaze", "rain": "Derain", "snow": "Desnow"}
        return [Benchmark(column, lambda r, kind=kind: datasets.WeatherBench(r, split="test", types=(kind,)))
                for kind, column in names.items()]
    if setting == S.MEDICAL.name:
        names = {"mri": "MRI-Super-Resolution", "ct": "CT-Denoising", "pet": "PET-Synthesis"}
        return [Benchmark(column, lambda r, task=task: datasets.MedicalAMIR(r, split="test", tasks=(task,)))
                for task, column in names.items()]
    raise ValueError(f"unknown setting {setting!r}; choose from {sorted(PROTOCOLS)}")


def protocol_of(setting: str, protocol: str = "paper") -> tuple[bool, int]:
    """(y_channel, border) for a setting under ``protocol`` = "paper", "rgb" or "y"."""
    if protocol not in ("paper", "rgb", "y"):
        raise ValueError(f"protocol must be 'paper', 'rgb' or 'y', got {protocol!r}")
    y_channel, border = PROTOCOLS[setting]
    if protocol == "rgb":
        return False, 0
    if protocol == "y":
        return True, border
    return y_channel, border


def describe_protocol(y_channel: bool, border: int, ssim: str = "uniform", setting: str = "") -> str:
    """The protocol in words, as printed above every table (numbers of different protocols are not comparable)."""
    text = "Y channel (BT.601)" if y_channel else "RGB"
    if y_channel and setting == S.ALLWEATHER.name:
        text += " (our choice; the paper does not say)"
    window = "Gaussian 11x11 sigma 1.5 (MoCE-IR)" if ssim == "gaussian" else "uniform 7x7 (scikit-image default)"
    return (text + (f", {border}-pixel border cropped" if border else "") + ", centre crop to a multiple of 16"
            + f", SSIM window {window}")


def benchmark_indices(bench: Benchmark, dataset) -> list[int]:
    """The items of ``dataset`` that belong to ``bench`` (all of them, or those with its label)."""
    if bench.label is None:
        return list(range(len(dataset)))
    if hasattr(dataset, "samples"):  # your own pairs: the items of the column's task
        return [i for i, s in enumerate(dataset.samples) if dataset.tasks.index(s.task) == bench.label]
    per_label = len(getattr(dataset, "degradations", [None]))
    return [i for i in range(len(dataset)) if i % per_label == bench.label]


def example_items(setting: str, data_root=None, demo_crop: int = 0, photo: int | None = None,
                  pairs=()) -> list[tuple[str, str, torch.Tensor, torch.Tensor]]:
    """One test pair per benchmark, ``(column, image name, degraded, clean)``, for before/after figures.

    The demo settings cycle through the held-out photos, so every photo appears, or use photo number
    ``photo`` for every degradation. The other settings show each benchmark's first image (``pairs``:
    the tasks of setting "pairs").
    """
    items = []
    for k, bench in enumerate(benchmarks(setting, demo_crop, pairs)):
        dataset = bench.make(data_root)
        indices = benchmark_indices(bench, dataset)
        if bench.label is None:
            index = indices[0]
        else:
            index = indices[(k if photo is None else photo) % len(indices)]
        degraded, clean, _ = dataset[index]
        items.append((bench.column, item_name(dataset, index), degraded, clean))
    return items


def item_name(dataset, index: int) -> str:
    """A file-system friendly name of test item ``index``."""
    if hasattr(dataset, "names"):
        return dataset.names[index].split("/")[0]
    sample = dataset.samples[index]
    return Path(sample.degraded or sample.clean).stem


@dataclass
class EvalResult:
    """Per-image metrics, the table in the paper's layout, and how they were computed."""

    per_image: pd.DataFrame  # benchmark, image, psnr, ssim, psnr_input, ssim_input
    table: pd.DataFrame  # rows: degraded input / ours / ExDA (paper); columns (benchmark, PSNR|SSIM)
    setting: str
    protocol: str  # human-readable description
    partial: bool  # True if max_images limited some benchmark


@torch.no_grad()
def evaluate(model: torch.nn.Module, setting: str, data_root=None, protocol: str = "paper",
             tile: int | None = None, overlap: int = 32, save_dir=None, max_images: int = 0, demo_crop: int = 0,
             precision: str = "fp32", progress: bool = True, pairs=(), mix=(), border: int | None = None) -> EvalResult:
    """Evaluate ``model`` on every test set of ``setting``.

    Args:
        model: the network (its device is used).
        setting: "demo", "demo_medical", "3deg", "5deg", "cdd11", "allweather", "weatherbench", "medical".
        data_root: the setting's folder (None: ``$EXDA_DATA/<folder>``); missing data raises ``DataLayoutError``
            with the command that fetches it.
        protocol: "paper" (per-setting protocol above), "rgb" or "y".
        tile, overlap: tiled inference for large test images (None: whole images).
        save_dir: if given, restored images are written to ``save_dir/<benchmark>/<image>.png``.
        max_images: > 0: only the first N images of each benchmark (a quick look; marked partial).
        demo_crop: demo settings: centre crop of the held-out photos (0: full photos).
        precision: "fp32", "bf16" or "fp16" autocast.
        pairs: setting "pairs": the ``--pairs`` tasks (``exda_lite.data.pairs``).
        mix: mixtures such as ``"noise+rain"`` (``exda_lite.data.mixtures``), one extra column each.
        border: pixels cropped at each side before scoring (None: the protocol's).
    """
    from .restore import write_png

    y_channel, protocol_border = protocol_of(setting, protocol)
    border = protocol_border if border is None else int(border)
    ssim = SSIM_WINDOW.get(setting, "uniform") if protocol == "paper" else "uniform"
    device = next(model.parameters()).device
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    was_training = model.training
    model.eval()
    rows, partial = [], False
    for bench in benchmarks(setting, demo_crop, pairs, mix):
        dataset = bench.make(data_root)
        indices = benchmark_indices(bench, dataset)
        if max_images and len(indices) > max_images:
            indices, partial = indices[:max_images], True
        for index in tqdm(indices, desc=bench.column, disable=not progress, leave=False):
            degraded, clean, _ = dataset[index]
            with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                restored = tiled_forward(model, degraded[None], tile=tile, overlap=overlap)[0].float().clamp(0, 1)
            ours = evaluate_pair(restored, clean, y_channel=y_channel, border=border, ssim=ssim)
            before = evaluate_pair(degraded, clean, y_channel=y_channel, border=border, ssim=ssim)
            name = item_name(dataset, index)
            rows.append({"benchmark": bench.column, "image": name, "psnr": ours["psnr"], "ssim": ours["ssim"],
                         "psnr_input": before["psnr"], "ssim_input": before["ssim"]})
            if save_dir is not None:
                folder = Path(save_dir) / bench.column.replace(" ", "_").replace("σ=", "sigma")
                write_png(folder / f"{name}.png", restored.permute(1, 2, 0).cpu().numpy())
    model.train(was_training)
    per_image = pd.DataFrame(rows)
    return EvalResult(per_image, paper_table(per_image, setting), setting,
                      describe_protocol(y_channel, border, ssim, setting), partial)


def paper_table(per_image: pd.DataFrame, setting: str) -> pd.DataFrame:
    """Rows: degraded input, ours, ExDA (paper); columns: (benchmark, PSNR/SSIM) in the paper's order + Average."""
    everything = list(dict.fromkeys(per_image["benchmark"]))
    order = [n for n in everything if not n.startswith(MIX_PREFIX)]
    mixes = [n for n in everything if n.startswith(MIX_PREFIX)]
    means = per_image.groupby("benchmark", sort=False)[["psnr", "ssim", "psnr_input", "ssim_input"]].mean()
    columns = pd.MultiIndex.from_product([order + ["Average"] + mixes, ["PSNR", "SSIM"]])
    table = pd.DataFrame(index=["degraded input", "ours (this run)"], columns=columns, dtype=float)
    for name in order + mixes:
        table.loc["ours (this run)", (name, "PSNR")] = means.loc[name, "psnr"]
        table.loc["ours (this run)", (name, "SSIM")] = means.loc[name, "ssim"]
        table.loc["degraded input", (name, "PSNR")] = means.loc[name, "psnr_input"]
        table.loc["degraded input", (name, "SSIM")] = means.loc[name, "ssim_input"]
    for row in table.index:
        table.loc[row, ("Average", "PSNR")] = table.loc[row, [(n, "PSNR") for n in order]].mean()
        table.loc[row, ("Average", "SSIM")] = table.loc[row, [(n, "SSIM") for n in order]].mean()
    if setting in PAPER_EXDA:
        paper_row = f"ExDA (paper, Table {PAPER_TABLE[setting]})"
        for name in order + ["Average"]:
            psnr_value, ssim_value = PAPER_EXDA[setting].get(name, (np.nan, np.nan))
            table.loc[paper_row, (name, "PSNR")] = psnr_value
            table.loc[paper_row, (name, "SSIM")] = ssim_value
    return table


def format_table(table: pd.DataFrame) -> pd.DataFrame:
    """The table as strings, PSNR with 2 decimals and SSIM with 3 (the paper's style)."""
    formatted = table.copy().astype(object)
    for column in table.columns:
        digits = 2 if column[1] == "PSNR" else 3
        formatted[column] = [("-" if pd.isna(v) else f"{v:.{digits}f}") for v in table[column]]
    return formatted

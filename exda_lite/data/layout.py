"""Finding and pairing the benchmark files on disk (the public layouts of Appendix A.1).

Degraded and clean files are paired by name: same stem, ``rain-N`` <-> ``norain-N``,
``X_rain`` <-> ``X_clean``, or the degraded stem minus trailing ``_parts`` (OTS
``0001_0.8_0.2`` -> ``0001``). Missing or mis-laid folders raise ``DataLayoutError``
naming the expected path, what is there instead, and the data_scripts command that
fixes it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
from PIL import Image
from skimage.util import img_as_float32

from . import settings as S
from .paths import default_data_dir

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
MEDICAL_EXTENSIONS = IMAGE_EXTENSIONS + (".npy",)

DATA_SUBDIRS = {s.name: s.folder for s in S.SETTINGS.values() if s.folder}
"""Folder under the data root (``$EXDA_DATA`` or ~/.cache/exda-lite) for each setting; 3deg and 5deg share one."""

PROMPTIR_REPEATS = {"denoise_15": 3, "denoise_25": 3, "denoise_50": 3, "derain": 120, "dehaze": 1,
                    "deblur": 5, "enhance": 20}
"""How many times each task's training list is repeated per epoch (PromptIR / AdaIR)."""

THREE_DEG_TASKS = ("denoise_15", "denoise_25", "denoise_50", "derain", "dehaze")
FIVE_DEG_TASKS = ("denoise_15", "denoise_25", "denoise_50", "derain", "dehaze", "deblur", "enhance")
"""5deg trains on all three sigmas, as AdaIR's default ``de_type`` and MoCE-IR's 5-degradation command do;
the paper *reports* sigma 25 only (App. A.1). Pass ``tasks=`` for another mix."""

ALL_IN_ONE_TRAIN_LAYOUT = {
    # task: (degraded folder or None for synthesised noise, clean folder, setting that downloads it)
    "denoise": (None, "Train/Denoise", S.THREE_DEG.name),
    "derain": ("Train/Derain/rainy", "Train/Derain/gt", S.THREE_DEG.name),
    "dehaze": ("Train/Dehaze/synthetic", "Train/Dehaze/original", S.THREE_DEG.name),
    "deblur": ("Train/Deblur/blur", "Train/Deblur/sharp", S.FIVE_DEG.name),
    "enhance": ("Train/Enhance/low", "Train/Enhance/gt", S.FIVE_DEG.name),
}
ALL_IN_ONE_TEST_LAYOUT = {
    "denoise_bsd68": (None, "test/denoise/bsd68", S.THREE_DEG.name),
    "denoise_urban100": (None, "test/denoise/urban100", S.THREE_DEG.name),
    "derain": ("test/derain/Rain100L/input", "test/derain/Rain100L/target", S.THREE_DEG.name),
    "dehaze": ("test/dehaze/input", "test/dehaze/target", S.THREE_DEG.name),
    "deblur": ("test/deblur/input", "test/deblur/target", S.FIVE_DEG.name),
    "enhance": ("test/enhance/input", "test/enhance/target", S.FIVE_DEG.name),
}
CDD11_FOLDERS = ("low", "haze", "rain", "snow", "low_haze", "low_rain", "low_snow", "haze_rain", "haze_snow",
                 "low_haze_rain", "low_haze_snow")
ALLWEATHER_TESTS = ("snow100k_s", "snow100k_l", "outdoor_rain", "raindrop")
"""RainDrop = its test_a (58 pairs), the set TransWeather-style tables use."""
ALLWEATHER_OPTIONAL_TESTS = ("raindrop_b",)
"""RainDrop test_b (249 pairs: the count the paper prints); only when downloaded (``--only raindrop_test_b``)."""
WEATHERBENCH_TYPES = ("rain", "haze", "snow")
AMIR_TASKS = ("mri", "ct", "pet")
AMIR_PATIENT_SPLITS = {"mri": (405, 59, 114), "ct": (8, 1, 1), "pet": (120, 10, 29)}
"""Patients (IXI T2 volumes for MRI) per train/val/test split, App. A.1; slices are named PATIENT_SLICE."""


# --------------------------------------------------------------------------- errors and file lists

class DataLayoutError(FileNotFoundError):
    """A benchmark folder is missing, empty or mis-laid; the message says how to fix it."""


def default_root(setting: str) -> Path:
    """Where a setting's data lives by default: ``default_data_dir() / DATA_SUBDIRS[setting]``."""
    return default_data_dir() / DATA_SUBDIRS[setting]


def fix_command(setting: str, root: Path) -> str:
    script = f"python data_scripts/{setting}.py"
    return (f"  {script} download --root {root}\n  {script} prepare --root {root}\n"
            f"  {script} verify --root {root}   (prints expected vs found counts)")


def describe_found(path: Path) -> str:
    """What exists nearest to a missing/empty ``path``: its closest existing ancestor's entries."""
    path = Path(path)
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    entries = sorted(existing.iterdir())[:12] if existing.is_dir() else []
    listing = ", ".join(e.name + ("/" if e.is_dir() else "") for e in entries) or "nothing"
    text = f"{existing} contains: {listing}"
    missing = path.relative_to(existing).parts[:1] if existing != path else ()
    near = [e.name for e in entries if missing and e.name.lower() == missing[0].lower()]
    if near:
        text += f" (folder names are case-sensitive: found {near[0]!r}, expected {missing[0]!r})"
    return text


def list_images(folder: Path, setting: str, root: Path, what: str, extensions=IMAGE_EXTENSIONS) -> list[Path]:
    """All images under ``folder`` (recursively, sorted); ``DataLayoutError`` if there are none."""
    folder = Path(folder)
    files = []
    for top, _, names in os.walk(folder):  # os.walk and string sorting: fast on 100,000s of files
        files += [os.path.join(top, name) for name in names if os.path.splitext(name)[1].lower() in extensions]
    files = [Path(f) for f in sorted(files)]
    if not files:
        state = "is empty (no images)" if folder.is_dir() else "does not exist"
        raise DataLayoutError(f"{setting}: {what}: expected images in {folder}, but it {state}.\n"
                              f"Found: {describe_found(folder)}\nFix:\n{fix_command(setting, root)}")
    return files


def pairing_keys(stem: str) -> list[str]:
    """Names a degraded file's clean partner may have, most specific first."""
    keys = [stem, re.sub(r"^(no)?rain-", "", stem, flags=re.IGNORECASE),
            re.sub(r"[_-](rain|rainy|clean|gt|input|target|lq|hq|low|high|blur|sharp)$", "", stem,
                   flags=re.IGNORECASE)]
    parts = stem.split("_")
    keys += ["_".join(parts[:n]) for n in range(len(parts) - 1, 0, -1)]
    return keys


def clean_keys(stem: str) -> list[str]:
    return [stem, re.sub(r"^(no)?rain-", "", stem, flags=re.IGNORECASE),
            re.sub(r"[_-](rain|rainy|clean|gt|input|target|lq|hq|low|high|blur|sharp)$", "", stem,
                   flags=re.IGNORECASE)]


def pair_by_name(degraded: list[Path], clean: list[Path], setting: str, root: Path,
                 what: str) -> list[tuple[Path, Path]]:
    """Pair each degraded file with its clean partner (see ``pairing_keys``); every one must pair."""
    by_key: dict[str, Path] = {}
    for path in clean:
        for key in clean_keys(path.stem):
            by_key.setdefault(key, path)
    pairs, unmatched = [], []
    for path in degraded:
        partner = next((by_key[k] for k in pairing_keys(path.stem) if k in by_key), None)
        (pairs.append((path, partner)) if partner else unmatched.append(path))
    if unmatched:
        raise DataLayoutError(
            f"{setting}: {what}: {len(unmatched)} of {len(degraded)} degraded images have no clean partner in "
            f"{clean[0].parent}, e.g. {[p.name for p in unmatched[:3]]} (clean names look like "
            f"{[p.name for p in clean[:3]]}). Pairs are matched by name: same stem, rain-N/norain-N, "
            f"X_rain/X_clean or OTS-style XXXX_A_B -> XXXX.\nFix (re-create the layout):\n{fix_command(setting, root)}")
    return pairs


# --------------------------------------------------------------------------- loading

def load_image(path: Path, channels: int = 3) -> np.ndarray:
    """An image file as float32 (H, W, channels) in [0, 1]: 8/16-bit PNG/JPEG/..., or .npy in [0, 1]."""
    path = Path(path)
    if path.suffix.lower() == ".npy":
        array = np.load(path).astype(np.float32)
        if array.ndim == 2:
            array = array[:, :, None]
    else:
        with Image.open(path) as img:
            if channels == 3:
                array = np.asarray(img.convert("RGB"))
            else:
                array = np.asarray(img if img.mode.startswith("I") else img.convert("L"))
        if array.dtype == np.int32:  # PIL reads some 16-bit PNGs as mode "I"
            array = array.astype(np.uint16)
        array = img_as_float32(array)
        if array.ndim == 2:
            array = array[:, :, None]
    if array.shape[-1] != channels:
        if array.shape[-1] == 1 and channels == 3:
            array = np.repeat(array, 3, axis=-1)
        elif array.shape[-1] == 3 and channels == 1:
            array = array.mean(axis=-1, keepdims=True)
        else:
            raise ValueError(f"{path}: cannot convert {array.shape[-1]} channels to {channels}")
    return np.clip(array, 0, 1)


def load_uint8_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


def check_choice(what: str, value, choices) -> None:
    if value not in choices:
        raise ValueError(f"unknown {what} {value!r}; choose from {list(choices)}")

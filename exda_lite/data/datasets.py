"""The paper's six benchmark settings (Appendix A.1) as torch Datasets, reading the public layouts.

Every dataset yields ``(degraded, clean, label)``: float32 tensors (C, H, W) in [0, 1] and
the index of the item's task in ``dataset.tasks`` (for analysis; ExDA is blind and never
sees it). Training sets give ``patch_size`` crops (128 in the paper) with the same random
crop and dihedral transform on both images (``exda_lite.data.augment``); test sets give full
images centre-cropped to a multiple of 16, the all-in-one protocol's crop.

* ``AllInOneTrain`` / ``AllInOneTest`` (3deg, 5deg): the PromptIR/AdaIR layout,
  ``Train/{Denoise,Derain,Dehaze,Deblur,Enhance}/...`` and ``test/...``
* ``CDD11`` (mixed degradations): ``{train,test}/{clear,low,haze,rain,snow,low_haze,...}``
* ``AllWeather`` (adverse weather): ``train/{input,gt}``,
  ``test/{snow100k_s,snow100k_l,outdoor_rain,raindrop,raindrop_b}/{input,gt}`` (raindrop: RainDrop
  test_a, 58 pairs; raindrop_b: test_b, 249, optional)
* ``WeatherBench`` (real weather): ``{train,test}/{rain,haze,snow}/{input,target}``
* ``MedicalAMIR`` (medical): ``{train,val,test}/{mri,ct,pet}/{lq,hq}`` (PNG 8/16-bit or .npy)

``data_scripts/<setting>.py`` writes these layouts; its README gives every folder.

Denoising pairs are synthesised: training adds Gaussian noise on the fly (quantised to 8
bits like the test inputs); tests use the convention ``clip(clean + randn * sigma, 0,
255).astype(uint8)`` with seed 0 (``degradations.add_test_noise``).

Task balance (PromptIR's repetition factors, ``PROMPTIR_REPEATS``): the training list
repeats each task's images so that tiny sets (Rain100L: 200 pairs) are not drowned by huge
ones (OTS: 72,135).

Files are found and paired by ``layout`` (which also raises ``DataLayoutError``, naming the
expected path, what is there instead, and the data_scripts command that fixes it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from skimage.util import img_as_float32
from torch.utils.data import Dataset

from . import settings as S
from .augment import apply_patch, centre_crop, paired_patch, patch_params, to_tensor
from .degradations import add_test_noise, gaussian_noise
from .layout import (ALLWEATHER_OPTIONAL_TESTS, ALLWEATHER_TESTS, ALL_IN_ONE_TEST_LAYOUT, ALL_IN_ONE_TRAIN_LAYOUT,
                     AMIR_PATIENT_SPLITS, AMIR_TASKS,
                     CDD11_FOLDERS, FIVE_DEG_TASKS, IMAGE_EXTENSIONS, MEDICAL_EXTENSIONS, PROMPTIR_REPEATS,
                     THREE_DEG_TASKS, WEATHERBENCH_TYPES, check_choice, default_root, list_images, load_image,
                     load_uint8_rgb, pair_by_name)


# --------------------------------------------------------------------------- the generic paired dataset

@dataclass(frozen=True)
class Sample:
    """One item: degraded file (None: synthesise noise at ``sigma``), clean file, task name."""

    degraded: Path | None
    clean: Path
    task: str
    sigma: float | None = None


class PairedImageDataset(Dataset):
    """``(degraded, clean, label)`` from a list of ``Sample``s; every setting below builds one.

    Args:
        samples: the items (repetitions for task balance already included).
        tasks: task names; ``label = tasks.index(sample.task)``.
        patch_size: training mode: a random ``patch_size`` crop + dihedral transform, the same
            for both images. ``None``: test mode, full images centre-cropped to ``crop_multiple``.
        seed: item ``i`` draws from ``numpy.random.default_rng([seed, epoch, i])``.
        channels: 3 (RGB) or 1 (medical).
        test_noise_seed: seed of the denoising test convention.
    """

    def __init__(self, samples: list[Sample], tasks, patch_size: int | None = 128, seed: int = 0,
                 channels: int = 3, crop_multiple: int = 16, test_noise_seed: int = 0):
        self.samples, self.tasks = list(samples), tuple(tasks)
        self.patch_size, self.seed, self.epoch = patch_size, int(seed), 0
        self.channels, self.crop_multiple, self.test_noise_seed = channels, crop_multiple, test_noise_seed

    def __len__(self) -> int:
        return len(self.samples)

    def set_epoch(self, epoch: int) -> None:
        """New crops and transforms each epoch: items depend on (seed, epoch, index)."""
        self.epoch = int(epoch)

    def task_counts(self) -> dict[str, int]:
        """Items per task in one epoch (after repetition)."""
        return {task: sum(s.task == task for s in self.samples) for task in self.tasks}

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        sample = self.samples[index]
        label = self.tasks.index(sample.task)
        if self.patch_size is None:
            degraded, clean = self.load_test_pair(sample)
        else:
            degraded, clean = self.load_train_patch(sample, np.random.default_rng([self.seed, self.epoch, index]))
        return to_tensor(degraded), to_tensor(clean), label

    def load_train_patch(self, sample: Sample, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        clean = load_image(sample.clean, self.channels)
        if sample.degraded is None:  # denoising: the noise is i.i.d., so adding it after the transform is the same
            clean = apply_patch(clean, self.patch_size, *patch_params(clean.shape, self.patch_size, rng))
            return gaussian_noise(clean, sample.sigma, rng=rng, quantize=True), clean
        degraded = load_image(sample.degraded, self.channels)
        degraded, clean, _ = paired_patch(degraded, clean, self.patch_size, rng, where=str(sample.degraded))
        return degraded, clean

    def load_test_pair(self, sample: Sample) -> tuple[np.ndarray, np.ndarray]:
        if sample.degraded is None:
            clean8 = centre_crop(load_uint8_rgb(sample.clean), self.crop_multiple)
            noisy8 = add_test_noise(clean8, sample.sigma, seed=self.test_noise_seed)
            return img_as_float32(noisy8), img_as_float32(clean8)
        degraded = load_image(sample.degraded, self.channels)
        clean = load_image(sample.clean, self.channels)
        if degraded.shape != clean.shape:
            raise ValueError(f"pair sizes differ: {sample.degraded} {degraded.shape} vs {sample.clean} {clean.shape}")
        return centre_crop(degraded, self.crop_multiple), centre_crop(clean, self.crop_multiple)


def repeated(samples: list[Sample], times: int) -> list[Sample]:
    return list(samples) * int(times)


def paired_samples(root: Path, degraded_dir: str, clean_dir: str, task: str, setting: str, what: str,
                   extensions=IMAGE_EXTENSIONS) -> list[Sample]:
    degraded = list_images(root / degraded_dir, setting, root, f"{what} (degraded)", extensions)
    clean = list_images(root / clean_dir, setting, root, f"{what} (clean)", extensions)
    return [Sample(d, c, task) for d, c in pair_by_name(degraded, clean, setting, root, what)]


# --------------------------------------------------------------------------- 3 and 5 degradations

def sigma_of(task: str) -> float:
    return float(task.split("_")[1])


class AllInOneTrain(PairedImageDataset):
    """3- or 5-degradation training set in the PromptIR/AdaIR layout (App. A.1).

    Args:
        root: the folder holding ``Train/`` (default ``$EXDA_DATA/allinone``).
        setting: "3deg" (denoise x3 sigmas, derain, dehaze) or "5deg" (+ deblur, enhance).
        tasks: override the task list (names in ``PROMPTIR_REPEATS``).
        repeats: per-task repetition factors (default PromptIR's).
        patch_size, seed: see ``PairedImageDataset``.
    """

    def __init__(self, root=None, setting: str = S.THREE_DEG.name, tasks=None, patch_size: int = 128,
                 repeats: dict | None = None, seed: int = 0):
        if setting not in (S.THREE_DEG.name, S.FIVE_DEG.name):
            raise ValueError(f"setting must be '3deg' or '5deg', got {setting!r}")
        root = Path(root) if root is not None else default_root(setting)
        tasks = tuple(tasks or (THREE_DEG_TASKS if setting == S.THREE_DEG.name else FIVE_DEG_TASKS))
        repeats = {**PROMPTIR_REPEATS, **(repeats or {})}
        samples = []
        for task in tasks:
            family = task.split("_")[0]
            if family not in ALL_IN_ONE_TRAIN_LAYOUT:
                raise ValueError(f"unknown task {task!r}; choose from {sorted(PROMPTIR_REPEATS)}")
            degraded_dir, clean_dir, needs = ALL_IN_ONE_TRAIN_LAYOUT[family]
            if degraded_dir is None:
                clean = list_images(root / clean_dir, needs, root, "denoising training images (BSD400 + WED)")
                base = [Sample(None, path, task, sigma_of(task)) for path in clean]
            else:
                base = paired_samples(root, degraded_dir, clean_dir, task, needs, f"{task} training pairs")
            samples += repeated(base, repeats[task])
        super().__init__(samples, tasks, patch_size=patch_size, seed=seed)
        self.root = root


class AllInOneTest(PairedImageDataset):
    """One test set of the 3/5-degradation settings, full images.

    Args:
        root: the folder holding ``test/``.
        task: "denoise_bsd68", "denoise_urban100" (give ``sigma``), "derain" (Rain100L),
            "dehaze" (SOTS outdoor), "deblur" (GoPro), "enhance" (LOL-v1).
        sigma: noise level for the denoising sets (15, 25, 50), added with the test convention.
    """

    def __init__(self, root=None, task: str = "derain", sigma: float | None = None, test_noise_seed: int = 0):
        if task not in ALL_IN_ONE_TEST_LAYOUT:
            raise ValueError(f"unknown test task {task!r}; choose from {sorted(ALL_IN_ONE_TEST_LAYOUT)}")
        degraded_dir, clean_dir, needs = ALL_IN_ONE_TEST_LAYOUT[task]
        root = Path(root) if root is not None else default_root(needs)
        if degraded_dir is None:
            if sigma is None:
                raise ValueError(f"{task} needs sigma= (15, 25 or 50): the noise is added at test time")
            clean = list_images(root / clean_dir, needs, root, f"{task} test images")
            samples = [Sample(None, path, task, float(sigma)) for path in clean]
        else:
            samples = paired_samples(root, degraded_dir, clean_dir, task, needs, f"{task} test pairs")
        super().__init__(samples, (task,), patch_size=None, test_noise_seed=test_noise_seed)
        self.root = root


# --------------------------------------------------------------------------- CDD11, AllWeather, WeatherBench, AMIR

class CDD11(PairedImageDataset):
    """CDD11 mixed degradations: ``{train,test}/<type>/NAME`` paired with ``{train,test}/clear/NAME``.

    Args:
        split: "train" (patches) or "test" (full images).
        types: CDD11 folder names (default all 11); label = index in ``types``.
        repeat: training list repetitions per epoch (the public code uses 2; only changes epoch length).
    """

    def __init__(self, root=None, split: str = "train", types=CDD11_FOLDERS, patch_size: int = 128,
                 repeat: int = 2, seed: int = 0):
        root = Path(root) if root is not None else default_root(S.CDD11.name)
        check_choice("split", split, ("train", "test"))
        samples = []
        for kind in types:
            check_choice("CDD11 type", kind, CDD11_FOLDERS)
            samples += paired_samples(root, f"{split}/{kind}", f"{split}/clear", kind, S.CDD11.name, f"{split} {kind}")
        train = split == "train"
        super().__init__(repeated(samples, repeat) if train else samples, types,
                         patch_size=patch_size if train else None, seed=seed)
        self.root = root


class AllWeather(PairedImageDataset):
    """AllWeather (TransWeather): ``train/{input,gt}``; tests ``test/<subset>/{input,gt}``.

    Args:
        split: "train" (Snow100K + Outdoor-Rain + RainDrop mixed, label 0) or one test subset
            in ``ALLWEATHER_TESTS`` (Snow100K-S/L, Outdoor-Rain Test1, RainDrop test_a) or
            ``ALLWEATHER_OPTIONAL_TESTS`` (RainDrop test_b).
        exclude_test1_overlap: training only: leave out the training images whose Outdoor-Rain
            background (``im_XXXX`` of ``im_XXXX_sNN_aNN``) also occurs in Test1 (``test/outdoor_rain``).
            Off by default: the published protocol trains on all 18,069.
    """

    def __init__(self, root=None, split: str = "train", patch_size: int = 128, seed: int = 0,
                 exclude_test1_overlap: bool = False):
        root = Path(root) if root is not None else default_root(S.ALLWEATHER.name)
        check_choice("split", split, ("train",) + ALLWEATHER_TESTS + ALLWEATHER_OPTIONAL_TESTS)
        base = "train" if split == "train" else f"test/{split}"
        task = S.ALLWEATHER.name if split == "train" else split
        samples = paired_samples(root, f"{base}/input", f"{base}/gt", task, S.ALLWEATHER.name, split)
        self.excluded: list[Path] = []
        if exclude_test1_overlap and split == "train":
            test1 = list_images(root / "test/outdoor_rain/input", S.ALLWEATHER.name, root, "Outdoor-Rain Test1 (to find "
                                "the training images that share its backgrounds)")
            seen = {outdoor_rain_background(p.stem) for p in test1} - {None}
            self.excluded = [s.degraded for s in samples if outdoor_rain_background(s.degraded.stem) in seen]
            samples = [s for s in samples if outdoor_rain_background(s.degraded.stem) not in seen]
        super().__init__(samples, (task,), patch_size=patch_size if split == "train" else None, seed=seed)
        self.root = root


def outdoor_rain_background(stem: str) -> str | None:
    """``im_0001_s80_a04`` -> ``im_0001`` (an Outdoor-Rain background id); None for other names."""
    match = re.match(r"^(im_\d+)(_s\d+_a\d+)?$", stem, flags=re.IGNORECASE)
    return match[1].lower() if match else None


class WeatherBench(PairedImageDataset):
    """Real-world WeatherBench: ``{train,test}/{rain,haze,snow}/{input,target}``; label = weather type."""

    def __init__(self, root=None, split: str = "train", types=WEATHERBENCH_TYPES, patch_size: int = 128,
                 seed: int = 0):
        root = Path(root) if root is not None else default_root(S.WEATHERBENCH.name)
        check_choice("split", split, ("train", "test"))
        samples = []
        for kind in types:
            check_choice("WeatherBench type", kind, WEATHERBENCH_TYPES)
            samples += paired_samples(root, f"{split}/{kind}/input", f"{split}/{kind}/target", kind,
                                      S.WEATHERBENCH.name, f"{split} {kind}")
        super().__init__(samples, types, patch_size=patch_size if split == "train" else None, seed=seed)
        self.root = root


class MedicalAMIR(PairedImageDataset):
    """AMIR medical tasks: ``{train,val,test}/{mri,ct,pet}/{lq,hq}``, grayscale (1 channel).

    MRI: 4x k-space truncation of IXI T2 slices (``degradations.mri_undersample`` makes the
    same kind of pair from any slice); CT: AAPM-Mayo quarter-dose vs full-dose; PET:
    low-count vs full-count. Files: PNG (8 or 16 bit) or .npy float arrays in [0, 1].
    ``channels=3`` repeats the gray channel for an RGB model.

    Slices are named ``PATIENT_SLICE``; the paper's split is by patient (``AMIR_PATIENT_SPLITS``:
    MRI 405/59/114 IXI volumes, CT 8/1/1, PET 120/10/29 patients). ``patients()`` lists this split's
    patients per task; ``data_scripts/medical.py verify`` checks the counts and cross-split leakage.
    """

    PATIENT_SPLITS = AMIR_PATIENT_SPLITS

    def __init__(self, root=None, split: str = "train", tasks=AMIR_TASKS, patch_size: int = 128, seed: int = 0,
                 channels: int = 1):
        root = Path(root) if root is not None else default_root(S.MEDICAL.name)
        check_choice("split", split, ("train", "val", "test"))
        samples = []
        for task in tasks:
            check_choice("AMIR task", task, AMIR_TASKS)
            samples += paired_samples(root, f"{split}/{task}/lq", f"{split}/{task}/hq", task, S.MEDICAL.name,
                                      f"{split} {task}", MEDICAL_EXTENSIONS)
        super().__init__(samples, tasks, patch_size=patch_size if split == "train" else None, seed=seed,
                         channels=channels)
        self.root, self.split = root, split

    def patients(self) -> dict[str, set[str]]:
        """Patients of this split per task (the name up to the last "_" of each clean slice)."""
        found = {task: set() for task in self.tasks}
        for sample in self.samples:
            found[sample.task].add(sample.clean.stem.rsplit("_", 1)[0])
        return found

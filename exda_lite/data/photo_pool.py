"""A restoration task large enough to measure 0.3 dB: crops from many whole degraded photos.

The first restoration references trained on 240 fixed 32x32 patches, each degraded on its own (a haze
"depth" computed from a 32-pixel patch), and tested on 15 crops. Their paired differences had a seed
sd of about 1 dB (issue 22). This task removes the sources of that spread that are not the model:

* **Whole photos are degraded, then cropped.** Haze follows a depth over the whole scene, rain streaks
  and motion blur cross the crop's border as they would in a real photo.
* **Each degradation varies** within a range (the blind all-in-one setting: the network must read
  *how much* from the image). Every range stays inside what a two-block network can invert: motion
  blur is at most 9 px (the default 15 px is wider than its ~13 px receptive field).
* **A pool, not a fixed set**: ``n_train`` random crops (dihedral-augmented) from ``realisations``
  degraded versions of every training photo per degradation; 3,000 steps x batch 8 draw 24,000
  samples, so a run sees each crop about twice, and the pool is precomputed tensors (no Python per
  sample in the training loop).
* **A fixed test set from photos never trained on**: scikit-image's chelsea, rocket and camera and
  scikit-learn's two sample photos (china, flower), ``n_test`` crops spread evenly over the
  degradations, of side ``test_patch`` (default: ``patch``), optionally only textured crops (``test_min_std``):
  a flat crop's PSNR is set by tiny residuals (a blurred sky scores 50 dB and more), and a mean over crops
  then swings with them.

Shapes: ``train_degraded``/``train_clean`` (n_train, 3, patch, patch), the same for ``test_*``;
``*_labels`` index into ``degradations``.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import torch
from skimage.transform import rescale

from .augment import dihedral, patch_params, to_tensor
from .degradations import degrade
from .demo_data import DEMO_SHORT_SIDE, TEST_PHOTOS, TRAIN_PHOTOS, demo_photo

POOL_DEGRADATIONS = ("noise", "motion_blur", "haze", "rain", "low_light")
SKLEARN_PHOTOS = ("china", "flower")
POOL_TEST_PHOTOS = TEST_PHOTOS + SKLEARN_PHOTOS


def sample_params(degradation: str, rng: np.random.Generator) -> dict:
    """One realisation's parameters; the ranges bracket the demo defaults (motion blur capped at 9 px)."""
    u = rng.uniform
    return {
        "noise": lambda: {"sigma": u(15, 50)},
        "motion_blur": lambda: {"length": int(rng.choice([3, 5, 7, 9])), "angle": u(0, 180)},
        "haze": lambda: {"beta": u(0.6, 1.6), "airlight": u(0.8, 1.0)},
        "rain": lambda: {"density": u(0.003, 0.008), "angle": u(-20, 20), "length": int(rng.integers(9, 18))},
        "low_light": lambda: {"exposure": u(0.2, 0.5), "gamma": u(1.5, 2.2)},
    }[degradation]()


@cache
def pool_photo(name: str) -> np.ndarray:
    """A photo for the pool, float32 RGB in [0, 1], shorter side 256: scikit-image's demo photos, or
    scikit-learn's bundled sample photos (``china``, ``flower``)."""
    if name not in SKLEARN_PHOTOS:
        return demo_photo(name)
    from sklearn.datasets import load_sample_image

    image = load_sample_image(f"{name}.jpg").astype(np.float32) / 255.0
    image = rescale(image, DEMO_SHORT_SIDE / min(image.shape[:2]), anti_aliasing=True, channel_axis=-1)
    image = np.clip(image, 0, 1).astype(np.float32)
    image.setflags(write=False)
    return image


def degraded_versions(photos, degradations, realisations: int, seed: int):
    """Yield ``(label, clean, degraded)`` for every photo x degradation x realisation (whole photos)."""
    for p, photo in enumerate(photos):
        clean = pool_photo(photo)
        for label, name in enumerate(degradations):
            for r in range(realisations):
                rng = np.random.default_rng([seed, p, label, r])
                yield label, clean, degrade(clean, name, rng=rng, **sample_params(name, rng))


def crops(versions, count: int, size: int, seed: int, augment: bool, min_std: float = 0.0) -> dict[str, torch.Tensor]:
    """``count`` crops spread evenly over ``versions`` (a list of (label, clean, degraded)); with ``min_std`` a
    crop is redrawn until the standard deviation of its clean luminance reaches it (no flat crops)."""
    rng = np.random.default_rng(seed)
    degraded, clean, labels = [], [], []
    for i in range(count):
        label, x, y = versions[i % len(versions)]
        for _ in range(1000):
            top, left, k = patch_params(x.shape, size, rng)
            if x[top:top + size, left:left + size].mean(-1).std() >= min_std:
                break
        k = k if augment else 0
        clean.append(to_tensor(dihedral(x[top:top + size, left:left + size], k)))
        degraded.append(to_tensor(dihedral(y[top:top + size, left:left + size], k)))
        labels.append(label)
    return {"degraded": torch.stack(degraded), "clean": torch.stack(clean), "labels": torch.tensor(labels)}


def make_pool_task(n_train: int = 12288, n_test: int = 500, patch: int = 32, realisations: int = 4,
                   degradations=POOL_DEGRADATIONS, seed: int = 0, test_patch: int | None = None,
                   test_min_std: float = 0.0) -> dict:
    """The task as tensors for ``toy.train_toy``, plus ``info`` (photos, counts) for the reference JSON."""
    if n_test < len(degradations) or n_train < 1:
        raise ValueError(f"need n_train >= 1 and n_test >= {len(degradations)}, got {n_train}, {n_test}")
    train_versions = list(degraded_versions(TRAIN_PHOTOS, degradations, realisations, seed))
    test_versions = list(degraded_versions(POOL_TEST_PHOTOS, degradations, 2, seed + 10_000))
    train = crops(train_versions, n_train, patch, seed, augment=True)
    test = crops(test_versions, n_test, test_patch or patch, seed + 1, augment=False, min_std=test_min_std)
    task = {f"{split}_{key}": value for split, part in (("train", train), ("test", test))
            for key, value in part.items()}
    task["info"] = {"source": "photo_pool", "train_photos": list(TRAIN_PHOTOS),
                    "test_photos": list(POOL_TEST_PHOTOS), "degradations": list(degradations),
                    "train_versions": len(train_versions), "test_versions": len(test_versions)}
    return task

"""A task whose restoration needs a *content-selected* global statistic (the GST mechanism experiment).

Every image hides one parameter, its noise level sigma, and shows it cleanly only in a flat region:

    clean     a crop of a demo photo in which one axis-aligned rectangle (sides 10-22 px at 32 x 32,
              i.e. 5/16-11/16 of the side) is replaced by the crop's mean colour
    degraded  clean + sigma * N(0, 1) on every pixel and channel, sigma log-uniform in [0.01, 0.15],
              not clipped

The best denoising strength for *every* pixel depends on sigma. In textured pixels the noise is
confounded with the texture; in the flat rectangle it is not. A global average over all pixels mixes
both, a map that selects the rectangle does not: that is what Global Spatial Tokens can add to MDTA's
channel Gram (see ``reference/PREREGISTRATION.md``, written before any run).

Training composites come from ``TRAIN_PHOTOS``, test composites from ``TEST_PHOTOS`` (no photo in both),
each drawn once from its own seed and returned as precomputed tensors.
"""

from __future__ import annotations

import numpy as np
import torch

from .demo_data import TEST_PHOTOS, TRAIN_PHOTOS, demo_photo

SIGMA_RANGE = (0.01, 0.15)
RECT_FRACTION = (5 / 16, 11 / 16)  # side of the flat rectangle, as a fraction of the crop side


def composite(photo: np.ndarray, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float, tuple]:
    """One (degraded, clean, sigma, rectangle) sample, images (size, size, 3) float32; rectangle (top, left, h, w)."""
    top, left = (int(rng.integers(0, photo.shape[i] - size + 1)) for i in (0, 1))
    clean = photo[top:top + size, left:left + size].copy()
    lo, hi = (max(1, round(f * size)) for f in RECT_FRACTION)
    h, w = (int(rng.integers(lo, hi + 1)) for _ in range(2))
    r, c = int(rng.integers(0, size - h + 1)), int(rng.integers(0, size - w + 1))
    clean[r:r + h, c:c + w] = clean.mean(axis=(0, 1))
    sigma = float(np.exp(rng.uniform(*np.log(SIGMA_RANGE))))
    degraded = clean + sigma * rng.standard_normal(clean.shape).astype(np.float32)
    return degraded, clean, sigma, (r, c, h, w)


def make_flat_noise_task(n_train: int = 16384, n_test: int = 512, size: int = 32, train_seed: int = 0,
                         test_seed: int = 777) -> dict[str, torch.Tensor]:
    """Train/test tensors (N, 3, size, size) + ``test_sigma`` (N,) and ``test_rect`` (N, 4) for analysis."""
    task = {}
    for split, n, seed, photos in (("train", n_train, train_seed, TRAIN_PHOTOS), ("test", n_test, test_seed, TEST_PHOTOS)):
        rng = np.random.default_rng(seed)
        images = [demo_photo(name) for name in photos]
        samples = [composite(images[int(rng.integers(len(images)))], size, rng) for _ in range(n)]
        degraded, clean, sigma, rect = zip(*samples)
        task[f"{split}_degraded"] = torch.from_numpy(np.stack(degraded)).permute(0, 3, 1, 2).contiguous()
        task[f"{split}_clean"] = torch.from_numpy(np.stack(clean)).permute(0, 3, 1, 2).contiguous()
        task[f"{split}_sigma"] = torch.tensor(sigma, dtype=torch.float32)
        task[f"{split}_rect"] = torch.tensor(rect, dtype=torch.int64)
    return task

"""Digit images and the MNIST restoration task of Sec. 3.2 / Fig. 3(b).

The paper: "Our MNIST restoration applies realistic corruptions including nonlinear
response curves, motion blur, spatially-varying noise, and compression artifacts."
Our version draws fresh parameters per image (a family of inverse problems):

    u = x ** gamma                 response curve, gamma log-uniform in [0.4, 2.5]
    u = motion_kernel(l, theta) * u    motion blur, length l in 3..7 px, angle theta in [0, pi)
    u = u + sigma(r, c) * n        noise whose std ramps from s0 ~ U[0, 0.05] to s1 ~ U[0.1, 0.3]
                                   across the image in a random direction
    y = JPEG(clip(u, 0, 1), q)     compression artifacts, quality q in 10..40

Data: real MNIST through torchvision, cached under ``$EXDA_DATA`` (default
``~/.cache/exda-lite``). Offline, :func:`load_digit_images` falls back to scikit-learn's
bundled 8x8 digits (1,797 real handwritten digits), resized to MNIST's 20x20-in-28x28
layout, and says so.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from skimage.transform import resize

from .degradations import jpeg, motion_blur
from .paths import default_data_dir
from .synthetic import sensor_response


@dataclass
class DigitImages:
    """Grayscale digit images in [0, 1]: ``train`` and ``test`` are (N, 28, 28) float32 arrays."""

    train: np.ndarray
    test: np.ndarray
    source: str  # "mnist" or "sklearn-digits"
    note: str


def load_mnist(root: Path, download: bool = True, timeout: float = 10.0) -> DigitImages:
    """Real MNIST via torchvision (downloaded into ``root/MNIST`` if allowed)."""
    from torchvision.datasets import MNIST

    old_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)  # a dead mirror must not hang a notebook
    try:
        train = MNIST(str(root), train=True, download=download)
        test = MNIST(str(root), train=False, download=download)
    finally:
        socket.setdefaulttimeout(old_timeout)
    to_float = lambda ds: ds.data.numpy().astype(np.float32) / 255.0  # noqa: E731
    return DigitImages(to_float(train), to_float(test), "mnist", f"real MNIST from {root / 'MNIST'}")


def load_sklearn_digits(test_fraction: float = 0.25, seed: int = 0) -> DigitImages:
    """scikit-learn's 1,797 real 8x8 digits, resized to 20x20 and centred in 28x28 like MNIST."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    small = bunch.images.astype(np.float32) / 16.0  # (1797, 8, 8) in [0, 1]
    big = resize(small, (len(small), 20, 20), order=1, anti_aliasing=False).astype(np.float32)
    images = np.pad(big, ((0, 0), (4, 4), (4, 4)))  # (1797, 28, 28)
    train, test = train_test_split(images, test_size=test_fraction, random_state=seed, stratify=bunch.target)
    return DigitImages(train, test, "sklearn-digits",
                       "offline fallback: scikit-learn's bundled 8x8 digits resized to 28x28 (1,797 images)")


def load_digit_images(root=None, download: bool = True, source: str = "auto") -> DigitImages:
    """MNIST if available (cached or downloadable), else scikit-learn's digits.

    Args:
        root: data folder (default :func:`~exda_lite.course.notebook.default_data_dir`).
        download: allow torchvision to download MNIST when it is not cached.
        source: ``"auto"`` (MNIST, falling back to the bundled digits), ``"mnist"`` (MNIST or
            an error that says how to get it) or ``"sklearn"`` (bundled digits only).
    """
    if source not in ("auto", "mnist", "sklearn"):
        raise ValueError(f"source must be 'auto', 'mnist' or 'sklearn', got {source!r}")
    if source == "sklearn":
        return load_sklearn_digits()
    root = Path(root) if root is not None else default_data_dir()
    try:
        return load_mnist(root, download=download)
    except Exception as error:  # noqa: BLE001 - any download/format failure means: not available
        if source == "mnist":
            raise RuntimeError(
                f"MNIST is not available under {root / 'MNIST'} ({type(error).__name__}: {error}). "
                "Connect to the internet and call load_digit_images(download=True), or copy the four "
                "MNIST files (train-images-idx3-ubyte, ...) into that folder's raw/ subfolder, "
                "or use source='auto' to fall back to the bundled digits.") from error
        fallback = load_sklearn_digits()
        fallback.note += f" — MNIST unavailable ({type(error).__name__})"
        return fallback


# ----------------------------------------------------------------------------- corruptions
def ramp_noise_std(shape, low: float, high: float, angle: float) -> np.ndarray:
    """Noise std that ramps linearly from ``low`` to ``high`` across the image along ``angle`` (radians)."""
    rows, cols = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32)
    t = rows * np.sin(angle) + cols * np.cos(angle)
    t = (t - t.min()) / max(t.max() - t.min(), 1e-6)
    return low + (high - low) * t


def corrupt_digit(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Apply the four corruptions with random parameters to one (H, W) image in [0, 1]."""
    u = sensor_response(x, np.exp(rng.uniform(np.log(0.4), np.log(2.5))))  # response curve
    u = motion_blur(u, length=int(rng.integers(3, 8)), angle=rng.uniform(0, 180))
    std = ramp_noise_std(u.shape, rng.uniform(0, 0.05), rng.uniform(0.1, 0.3), rng.uniform(0, 2 * np.pi))
    u = u + std * rng.standard_normal(u.shape)
    return jpeg(np.clip(u, 0, 1), quality=int(rng.integers(10, 41)))


def make_digit_task(images: DigitImages, n_train: int = 6000, n_test: int = 1000,
                    seed: int = 0) -> dict[str, torch.Tensor]:
    """Corrupted/clean pairs as (N, 1, 28, 28) float32 tensors; fixed given the seed."""
    task = {}
    for split, pool, n, split_seed in (("train", images.train, n_train, seed), ("test", images.test, n_test, 10_000 + seed)):
        rng = np.random.default_rng(split_seed)
        chosen = pool[rng.permutation(len(pool))[:n]]
        corrupted = np.stack([corrupt_digit(img, rng) for img in chosen])
        task[f"{split}_clean"] = torch.from_numpy(chosen).float()[:, None]
        task[f"{split}_degraded"] = torch.from_numpy(corrupted).float()[:, None]
    return task

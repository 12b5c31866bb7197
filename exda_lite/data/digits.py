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


def corrupt_digit_tone(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The tone-curve corruption of the mechanism ladder: a strong response curve, faint noise, 8 bits.

    ``u = x ** gamma`` (gamma log-uniform in [0.3, 3]), ``+ N(0, 0.005^2)``, clipped and rounded to 256 levels.
    Unlike :func:`corrupt_digit` (noise- and blur-dominated, where the best per-image affine fit is as
    good as undoing the curve), here a pointwise inverse clearly beats any per-image affine map.
    """
    u = sensor_response(x, np.exp(rng.uniform(np.log(0.3), np.log(3.0))))
    u = u + 0.005 * rng.standard_normal(u.shape)
    return np.round(np.clip(u, 0, 1) * 255) / 255


CORRUPTIONS = {"fig3b": corrupt_digit, "tone": corrupt_digit_tone}


def make_digit_task(images: DigitImages, n_train: int = 6000, n_test: int = 1000,
                    seed: int = 0, corruption: str = "fig3b", with_gamma: bool = False,
                    size: int = 28) -> dict[str, torch.Tensor]:
    """Corrupted/clean pairs as (N, 1, 28, 28) float32 tensors; fixed given the seed.

    ``corruption``: ``"fig3b"`` (the four corruptions of Fig. 3b) or ``"tone"`` (:func:`corrupt_digit_tone`).
    ``with_gamma`` adds ``test_gamma`` (N,), each test image's response exponent (the first draw of its
    corruption), for the pointwise oracle of :mod:`exda_lite.data.oracles`.
    ``size`` < 28 shrinks the clean digits first (anti-aliased; 14 is 4x cheaper to train on and loses
    nothing of scikit-learn's 8x8 originals). Counts are capped by what the source has (scikit-learn's
    digits: 1,347 / 450).
    """
    if corruption not in CORRUPTIONS:
        raise ValueError(f"corruption must be one of {sorted(CORRUPTIONS)}, got {corruption!r}")
    corrupt = CORRUPTIONS[corruption]
    task = {}
    for split, pool, n, split_seed in (("train", images.train, n_train, seed), ("test", images.test, n_test, 10_000 + seed)):
        rng = np.random.default_rng(split_seed)
        chosen = pool[rng.permutation(len(pool))[:n]]
        if size != chosen.shape[-1]:
            chosen = resize(chosen, (len(chosen), size, size), anti_aliasing=True).astype(np.float32)
        gammas, corrupted = [], []
        for img in chosen:
            gammas.append(_first_gamma(rng, corruption))
            corrupted.append(corrupt(img, rng))
        task[f"{split}_clean"] = torch.from_numpy(chosen).float()[:, None]
        task[f"{split}_degraded"] = torch.from_numpy(np.stack(corrupted)).float()[:, None]
        if with_gamma and split == "test":
            task["test_gamma"] = torch.tensor(gammas, dtype=torch.float32)
    return task


def _first_gamma(rng: np.random.Generator, corruption: str) -> float:
    """The response exponent the next corruption will draw, read from a copy of the generator."""
    low = {"fig3b": 0.4, "tone": 0.3}[corruption]
    high = {"fig3b": 2.5, "tone": 3.0}[corruption]
    peek = np.random.Generator(type(rng.bit_generator)())
    peek.bit_generator.state = rng.bit_generator.state
    return float(np.exp(peek.uniform(np.log(low), np.log(high))))

"""Small image helpers the degradations share: RNGs, float images, channels, convolution."""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.color import rgb2gray
from skimage.util import img_as_float32

RngLike = np.random.Generator | int | None


def as_rng(rng: RngLike) -> np.random.Generator:
    """A Generator from a Generator (returned as is) or a seed (``None``: fresh OS entropy)."""
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def as_image(image, grayscale_only: bool = False) -> np.ndarray:
    """Check and convert an image to float32 (H, W) or (H, W, 3) in [0, 1]."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[-1] != 3):
        raise ValueError(f"expected an image of shape (H, W) or (H, W, 3), got {image.shape}; "
                         "a torch tensor (C, H, W) needs .permute(1, 2, 0).numpy() first")
    if grayscale_only and image.ndim == 3:
        raise ValueError(f"this degradation is defined for grayscale images, got shape {image.shape}; "
                         "convert with skimage.color.rgb2gray(image)")
    image = img_as_float32(image)
    if image.size and (image.min() < -1e-6 or image.max() > 1 + 1e-6):
        raise ValueError(f"float images must lie in [0, 1], got [{image.min():.3g}, {image.max():.3g}]")
    return image


def channel_axis(image: np.ndarray) -> int | None:
    return -1 if image.ndim == 3 else None


def luminance(image: np.ndarray) -> np.ndarray:
    """(H, W) luminance of a grayscale or RGB image."""
    return rgb2gray(image) if image.ndim == 3 else image


def finish(image: np.ndarray) -> np.ndarray:
    return np.clip(image, 0, 1).astype(np.float32)


def convolve(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Convolve every channel with a 2-D kernel (reflected borders)."""
    if image.ndim == 3:
        kernel = kernel[:, :, None]
    return ndimage.convolve(image, kernel, mode="reflect")


# --------------------------------------------------------------------------- noise

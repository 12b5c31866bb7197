"""Training patches: one random crop and one of the 8 dihedral transforms, the same for both images.

Appendix A.2: "random cropping to 128 x 128 patches, along with horizontal and vertical
flipping". The public all-in-one code (PromptIR and its successors) uses the dihedral
group: 4 rotations x optional flip. A degraded image and its ground truth must get the
*same* crop and the *same* transform, or the pair no longer matches; every dataset in
``demo_data`` and ``datasets`` goes through :func:`paired_patch` for that reason.

Transform ``k`` (0..7): rotate by ``k % 4`` quarter turns counter-clockwise, then flip
left-right if ``k >= 4``. ``k = 0`` is the identity (PromptIR draws among the 7
non-identity ones; we draw among all 8).
"""

from __future__ import annotations

import numpy as np
import torch

DIHEDRAL_TRANSFORMS = 8


def dihedral(image: np.ndarray, k: int) -> np.ndarray:
    """Dihedral transform ``k`` in 0..7 of an (H, W[, C]) array (see the module docstring)."""
    if not 0 <= k < DIHEDRAL_TRANSFORMS:
        raise ValueError(f"dihedral transform index must be in 0..7, got {k}")
    out = np.rot90(image, k % 4, axes=(0, 1))
    return np.fliplr(out) if k >= 4 else out


def pad_to(image: np.ndarray, size: int) -> np.ndarray:
    """Reflect-pad H and W up to at least ``size`` (images smaller than a patch)."""
    h, w = image.shape[:2]
    pad = [(0, max(0, size - h)), (0, max(0, size - w))] + [(0, 0)] * (image.ndim - 2)
    return np.pad(image, pad, mode="reflect") if (h < size or w < size) else image


def patch_params(shape: tuple[int, ...], size: int, rng: np.random.Generator) -> tuple[int, int, int]:
    """Draw (top, left, k) for a ``size`` x ``size`` patch of an image of ``shape`` (after padding)."""
    h, w = max(shape[0], size), max(shape[1], size)
    return int(rng.integers(h - size + 1)), int(rng.integers(w - size + 1)), int(rng.integers(DIHEDRAL_TRANSFORMS))


def apply_patch(image: np.ndarray, size: int, top: int, left: int, k: int) -> np.ndarray:
    """Crop ``image`` at (top, left) to ``size`` x ``size`` (padding small images) and transform it."""
    image = pad_to(image, size)
    return np.ascontiguousarray(dihedral(image[top:top + size, left:left + size], k))


def paired_patch(degraded: np.ndarray, clean: np.ndarray, size: int, rng: np.random.Generator,
                 where: str = "") -> tuple[np.ndarray, np.ndarray, tuple[int, int, int]]:
    """The same random crop and dihedral transform on both images of a pair.

    Returns ``(degraded_patch, clean_patch, (top, left, k))``.
    """
    if degraded.shape[:2] != clean.shape[:2]:
        raise ValueError(f"pair sizes differ: degraded {degraded.shape[:2]} vs clean {clean.shape[:2]}"
                         + (f" ({where})" if where else ""))
    params = patch_params(degraded.shape, size, rng)
    return apply_patch(degraded, size, *params), apply_patch(clean, size, *params), params


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """(H, W) or (H, W, C) float array -> float32 tensor (C, H, W) owning a copy of the data."""
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 2:
        image = image[:, :, None]
    return torch.from_numpy(np.array(image.transpose(2, 0, 1), order="C"))


def centre_crop(img: np.ndarray, multiple: int) -> np.ndarray:
    """Centre-crop H and W down to a multiple of ``multiple``."""
    h, w = img.shape[:2]
    nh, nw = h - h % multiple, w - w % multiple
    top, left = (h - nh) // 2, (w - nw) // 2
    return img[top:top + nh, left:left + nw]

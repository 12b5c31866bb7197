"""PSNR and SSIM in the all-in-one evaluation protocol (PromptIR / AdaIR / MIRAGE).

Protocol (``evaluate_pair``):

1. output and ground truth clipped to [0, 1], compared as float RGB (no uint8 rounding);
2. both centre-cropped to a multiple of 16;
3. PSNR with data_range 1; SSIM = scikit-image ``structural_similarity`` with its default
   7x7 uniform window, data_range 1, over the colour axis (``channel_axis=-1``).

Options for the weather benchmarks: ``y_channel=True`` compares the BT.601 luma (as in
MATLAB's ``rgb2ycbcr``; Restormer's single-task and WeatherBench tables) and ``border``
crops that many pixels on each side (WeatherBench uses 4). Tables computed with and
without these options are *not comparable* (e.g. 38.99 vs 36.74 dB for one Rain100L result).

SSIM windows: ``ssim="uniform"`` (scikit-image's default 7x7 box; PromptIR / AdaIR / MIRAGE) or
``ssim="gaussian"`` (11x11 Gaussian, sigma 1.5, population covariance: ``gaussian_weights=True,
sigma=1.5, use_sample_covariance=False``, as in MoCE-IR's evaluation, the source of the CDD11 rows).
``SSIM_WINDOW`` gives each setting's default. The two are not comparable either.

``psnr`` is a differentiable torch version for training logs; it agrees with
scikit-image's ``peak_signal_noise_ratio`` (tested).
"""

from __future__ import annotations

import numpy as np
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from ..data.settings import SETTINGS
from ..data.augment import centre_crop  # noqa: F401 - the protocol's crop (also imported from here)


def psnr(pred: torch.Tensor, target: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Per-image PSNR in dB of (B, C, H, W) tensors -> (B,). Inputs are clipped to [0, data_range]."""
    pred = pred.clamp(0, data_range)
    target = target.clamp(0, data_range)
    mse = (pred - target).pow(2).flatten(1).mean(dim=1)
    return 10 * torch.log10(data_range**2 / mse.clamp_min(1e-12))


def to_numpy_image(x) -> np.ndarray:
    """A (C, H, W) / (1, C, H, W) tensor or an (H, W[, C]) array -> float64 (H, W[, C]) array."""
    if isinstance(x, torch.Tensor):
        x = x.detach().float().cpu()
        if x.dim() == 4:
            if x.shape[0] != 1:
                raise ValueError(f"expected one image, got a batch of {x.shape[0]}")
            x = x[0]
        if x.dim() == 3:
            x = x.permute(1, 2, 0)
        x = x.numpy()
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 3 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim not in (2, 3):
        raise ValueError(f"expected an image of shape (H, W) or (H, W, C), got {x.shape}")
    return x


def rgb_to_y(img: np.ndarray) -> np.ndarray:
    """BT.601 luma of an RGB image in [0, 1], scaled back to [0, 1] (MATLAB rgb2ycbcr's Y / 255)."""
    return (16.0 + img @ np.array([65.481, 128.553, 24.966])) / 255.0


SSIM_WINDOW = {s.name: s.ssim_window for s in SETTINGS.values() if s.ssim_window != "uniform"}
"""Settings whose SSIM is not scikit-image's default uniform window (CDD11: MoCE-IR's Gaussian 11x11)."""

SSIM_OPTIONS = {"uniform": {}, "gaussian": {"gaussian_weights": True, "sigma": 1.5, "use_sample_covariance": False}}


def evaluate_pair(restored, target, crop_multiple: int = 16, y_channel: bool = False,
                  border: int = 0, ssim: str = "uniform") -> dict[str, float]:
    """PSNR/SSIM of one restored image against its ground truth, in the all-in-one protocol.

    Inputs: tensors (C, H, W) / (1, C, H, W) or arrays (H, W[, C]), values in [0, 1].
    """
    restored = np.clip(to_numpy_image(restored), 0, 1)
    target = np.clip(to_numpy_image(target), 0, 1)
    if restored.shape != target.shape:
        raise ValueError(f"restored {restored.shape} and target {target.shape} differ in shape")
    if crop_multiple > 1:
        restored, target = centre_crop(restored, crop_multiple), centre_crop(target, crop_multiple)
    if y_channel and restored.ndim == 3:
        restored, target = rgb_to_y(restored), rgb_to_y(target)
    if border:
        restored, target = restored[border:-border, border:-border], target[border:-border, border:-border]
    channel_axis = -1 if restored.ndim == 3 else None
    return {
        "psnr": float(peak_signal_noise_ratio(target, restored, data_range=1.0)),
        "ssim": float(structural_similarity(target, restored, data_range=1.0, channel_axis=channel_axis,
                                            **SSIM_OPTIONS[ssim])),
    }

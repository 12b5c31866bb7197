"""The synthetic function of Sec. 3.2 / Fig. 3(a): a multi-faceted 1-D degradation.

The paper: "Our synthetic function combines nonlinear sensor response, blur kernels,
additive/multiplicative noise, and quantization effects." It gives no formulas; ours
follows a camera pipeline, one step per facet, with parameters drawn *per signal* so
that the model must learn a family of inverse functions (the all-in-one situation):

    x                clean signal in [0.05, 0.95], length L (sum of sinusoids + a step)
    u = k_sigma * x  optical blur, Gaussian kernel, sigma ~ U[0.5, 2] samples
    u = u ** gamma   nonlinear sensor response, gamma log-uniform in [0.4, 2.5]
    u = u * (1 + s_m n1) + s_a n2    multiplicative (shot-like) and additive (read) noise,
                     s_m ~ U[0, 0.1], s_a ~ U[0, 0.05]
    y = round(clip(u, 0, 1) * (q - 1)) / (q - 1)    quantisation, q in {16, 32, 64} levels

Signals are returned as (N, 1, 1, L) tensors: a 1-D signal is a 1 x L image, so the same
2-D attention modules run on it unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.ndimage import gaussian_filter1d


@dataclass(frozen=True)
class SyntheticDegradation:
    """Ranges of the per-signal degradation parameters (see module docstring)."""

    blur_sigma: tuple[float, float] = (0.5, 2.0)
    gamma: tuple[float, float] = (0.4, 2.5)
    mult_noise: tuple[float, float] = (0.0, 0.1)
    add_noise: tuple[float, float] = (0.0, 0.05)
    levels: tuple[int, ...] = (16, 32, 64)


TONE = SyntheticDegradation(blur_sigma=(0.5, 1.0), gamma=(0.3, 3.0), mult_noise=(0.0, 0.02),
                            add_noise=(0.0, 0.01), levels=(256,))
"""The tone-curve variant behind the mechanism ladder (``span_ladder``): a strong per-signal response
curve, little blur, little noise, fine quantisation. Here a pointwise inverse clearly beats the best
per-signal affine fit (see :mod:`exda_lite.data.oracles`); on the Fig. 3a degradation above it does not
(the noise and quantisation floor hides the curve)."""

SPECS = {"tone": TONE, "fig3a": SyntheticDegradation()}
"""The course's two readings of Sec. 3.2's synthetic function, by name. ``"tone"`` is the default of notebook 02
and of the ``span_synthetic`` reference: its response curve is strong enough that undoing it matters.
``"fig3a"`` is our first choice of ranges, where blur, noise and 16-64 quantisation levels hide the curve."""


def clean_signals(n: int, length: int, rng: np.random.Generator) -> np.ndarray:
    """(n, length) smooth signals with one sharp step, scaled to [0.05, 0.95]."""
    t = np.linspace(0, 1, length, endpoint=False)
    freqs = rng.uniform(1, 6, size=(n, 3, 1))
    phases = rng.uniform(0, 2 * np.pi, size=(n, 3, 1))
    amps = rng.uniform(0.3, 1.0, size=(n, 3, 1))
    x = (amps * np.sin(2 * np.pi * freqs * t + phases)).sum(axis=1)  # (n, L)
    step_at = rng.integers(length // 4, 3 * length // 4, size=(n, 1))
    x = x + rng.uniform(-1.5, 1.5, size=(n, 1)) * (np.arange(length) >= step_at)
    lo, hi = x.min(axis=1, keepdims=True), x.max(axis=1, keepdims=True)
    return 0.05 + 0.9 * (x - lo) / (hi - lo)


def sensor_response(u: np.ndarray, gamma) -> np.ndarray:
    """Nonlinear sensor response u ** gamma (u clipped to >= 0)."""
    return np.clip(u, 0, None) ** gamma


def quantise(u: np.ndarray, levels) -> np.ndarray:
    """Clip to [0, 1] and round to ``levels`` equally spaced values."""
    return np.round(np.clip(u, 0, 1) * (levels - 1)) / (levels - 1)


def degrade_signals(x: np.ndarray, rng: np.random.Generator,
                    spec: SyntheticDegradation = SyntheticDegradation()) -> tuple[np.ndarray, dict]:
    """Apply the multi-faceted degradation to (n, L) clean signals; returns (y, parameters)."""
    n = len(x)
    p = {
        "blur_sigma": rng.uniform(*spec.blur_sigma, size=n),
        "gamma": np.exp(rng.uniform(*np.log(spec.gamma), size=n)),
        "mult_noise": rng.uniform(*spec.mult_noise, size=n),
        "add_noise": rng.uniform(*spec.add_noise, size=n),
        "levels": rng.choice(spec.levels, size=n),
    }
    u = np.stack([gaussian_filter1d(row, s, mode="reflect") for row, s in zip(x, p["blur_sigma"])])
    u = sensor_response(u, p["gamma"][:, None])
    u = u * (1 + p["mult_noise"][:, None] * rng.standard_normal(u.shape))
    u = u + p["add_noise"][:, None] * rng.standard_normal(u.shape)
    return quantise(u, p["levels"][:, None]), p


def make_synthetic_task(n_train: int = 4096, n_test: int = 512, length: int = 64,
                        seed: int = 0, spec: SyntheticDegradation = SyntheticDegradation(),
                        with_gamma: bool = False) -> dict[str, torch.Tensor]:
    """Train/test pairs for the synthetic inversion task, as (N, 1, 1, L) float32 tensors.

    The test set is drawn from its own seed, so it is the same whatever ``n_train`` is.
    ``spec``: the degradation ranges (:data:`TONE` for the mechanism ladder). ``with_gamma`` adds
    ``test_gamma`` (N,), each test signal's response exponent, for the pointwise oracle.
    """
    task = {}
    for split, n, split_seed in (("train", n_train, seed), ("test", n_test, 10_000 + seed)):
        rng = np.random.default_rng(split_seed)
        x = clean_signals(n, length, rng)
        y, params = degrade_signals(x, rng, spec)
        task[f"{split}_clean"] = torch.from_numpy(x).float()[:, None, None, :]
        task[f"{split}_degraded"] = torch.from_numpy(y).float()[:, None, None, :]
        if with_gamma and split == "test":
            task["test_gamma"] = torch.from_numpy(params["gamma"]).float()
    return task

"""What a restorer of a given *kind* could at best do on a toy task: two oracles beside every result.

The span argument (Sec. 3.1) is about what a network that is linear per pixel can express. For one
image, MDTA with linear values is a per-image linear map of its input (A is one C x C matrix shared by
all pixels), so on a task whose degradation is a per-image *pointwise* curve its best possible output is
close to the best per-image *affine* map of the input. Two oracles make that gap visible before any
training:

* ``affine``: for every test sample the least-squares ``a * y + b`` fit to its own clean signal -- the
  best any per-image affine (per-pixel linear) restorer could do, knowing the answer;
* ``pointwise_inverse``: ``clip(y, 0, 1) ** (1 / gamma)`` with the sample's true response exponent -- undoing
  the curve and nothing else (it does not deblur or denoise).

When ``pointwise_inverse`` is much better than ``affine`` the task *needs* a per-pixel nonlinearity;
when they tie (as on the Fig. 3a/3b degradations, which are noise- and blur-dominated), it does not,
and a linear-value network can sit right at the affine oracle.
"""

from __future__ import annotations

import torch


def affine_fit(degraded: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
    """Each sample's least-squares ``a * y + b`` approximation of its own clean signal (N, ...) -> (N, ...)."""
    y, x = degraded.flatten(1).double(), clean.flatten(1).double()
    y_mean, x_mean = y.mean(1, keepdim=True), x.mean(1, keepdim=True)
    cov = ((y - y_mean) * (x - x_mean)).mean(1, keepdim=True)
    var = (y - y_mean).pow(2).mean(1, keepdim=True)
    a = torch.where(var > 0, cov / var.clamp_min(1e-12), torch.zeros_like(var))
    return (a * (y - y_mean) + x_mean).float().reshape(degraded.shape)


def pointwise_inverse(degraded: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
    """``clip(y, 0, 1) ** (1 / gamma)`` with one exponent per sample: gamma (N,), degraded (N, ...)."""
    shape = (-1,) + (1,) * (degraded.dim() - 1)
    return degraded.clamp(0, 1) ** (1.0 / gamma.reshape(shape))


def oracles(task: dict) -> dict[str, dict[str, float]]:
    """Test MSE and mean PSNR of the input itself and of both oracles (``task`` needs ``test_gamma``)."""
    clean, degraded = task["test_clean"], task["test_degraded"]
    outputs = {"identity": degraded, "affine": affine_fit(degraded, clean),
               "pointwise_inverse": pointwise_inverse(degraded, task["test_gamma"])}
    table = {}
    for name, out in outputs.items():
        per_sample = (out.clamp(0, 1) - clean.clamp(0, 1)).pow(2).flatten(1).mean(dim=1)  # PSNR as evaluate_toy
        table[name] = {"mse": float((out - clean).pow(2).mean()),
                       "psnr": float((10 * torch.log10(1.0 / per_sample.clamp_min(1e-12))).mean())}
    return table


def oracle_text(table: dict[str, dict[str, float]]) -> str:
    """One line: the three rows, MSE and PSNR."""
    return "; ".join(f"{name.replace('_', ' ')}: MSE {v['mse']:.5f}, {v['psnr']:.2f} dB" for name, v in table.items())


def oracle_reading(table: dict[str, dict[str, float]], margin_db: float = 1.0) -> str:
    """One sentence: does this task need a per-pixel nonlinearity (pointwise inverse > affine by ``margin_db``)?"""
    gap = table["pointwise_inverse"]["psnr"] - table["affine"]["psnr"]
    if gap >= margin_db:
        return (f"The pointwise inverse beats the best per-image affine map by {gap:+.2f} dB: this task needs a "
                "per-pixel nonlinearity, and a restorer that is affine per image cannot reach the pointwise oracle.")
    if gap <= -margin_db:
        return (f"The best per-image affine map beats undoing the curve by {-gap:.2f} dB: noise and blur dominate this "
                "task, so it does not need a per-pixel nonlinearity; an affine-per-image restorer can do better than "
                "the pointwise inverse.")
    return (f"The pointwise inverse and the best per-image affine map differ by {gap:+.2f} dB: this task does not "
            "need a per-pixel nonlinearity, so a restorer that is affine per image can do about as well as undoing "
            "the curve.")

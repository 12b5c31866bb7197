"""The mechanism, measured (issue 21): what MDTA is per pixel, and what GST's token rows carry.

Notebook 01 uses the first three; notebook 05 the last two.

* ``per_image_weight``  for one image, MDTA's sublayer with linear values is a 1x1 convolution of the value
                        maps V whose C x C weight is ``W_out @ blockdiag(A_1, ..., A_h)``;
* ``smooth_fields``     smooth random images in [0, 1] (the clean signals of the gamma toy);
* ``response_figure``   output pixel vs input pixel for a few test images (the learned per-image curve);
* ``token_rows``        the rows of V* (value rows, token rows) of one ExDAAttention layer with GST;
* ``rms``               the root mean square of a tensor.

The training loops and the numbers the notebooks report stay in the notebooks, where the student reads them.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from ..nn.attention import split_heads


def per_image_weight(attn: torch.Tensor, w_out: torch.Tensor) -> torch.Tensor:
    """(B, h, C/h, C/h) maps and the (C, C) output projection -> (B, C, C): each image's 1x1 conv weight."""
    blocks = torch.stack([torch.block_diag(*image) for image in attn])
    return w_out @ blocks


def smooth_fields(n: int, side: int, generator: torch.Generator, sigma: float = 2.0) -> torch.Tensor:
    """``n`` smooth random images (n, 1, side, side), each stretched to [0, 1] (Gaussian-filtered noise)."""
    radius = int(2 * sigma)
    z = torch.randn(n, 1, side + 2 * radius, side + 2 * radius, generator=generator)
    kernel = torch.exp(-torch.arange(-radius, radius + 1.0) ** 2 / (2 * sigma ** 2))
    kernel = kernel / kernel.sum()
    z = F.conv2d(F.conv2d(z, kernel.view(1, 1, 1, -1)), kernel.view(1, 1, -1, 1))
    low, high = z.amin((1, 2, 3), keepdim=True), z.amax((1, 2, 3), keepdim=True)
    return (z - low) / (high - low)


def response_figure(degraded: torch.Tensor, clean: torch.Tensor, gamma: torch.Tensor,
                    outputs: dict[str, torch.Tensor], images: int = 3):
    """One panel per arm: output pixel against input pixel for ``images`` test images, and the true inverse."""
    fig, axes = plt.subplots(1, len(outputs), figsize=(4.2 * len(outputs), 3.6), squeeze=False)
    grid = torch.linspace(0, 1, 101)
    colors = plt.cm.viridis(torch.linspace(0, 0.9, images).numpy())
    for ax, (name, out) in zip(axes[0], outputs.items()):
        for i in range(images):
            ax.scatter(degraded[i].flatten(), out[i].flatten(), s=3, color=colors[i], alpha=0.5)
            ax.plot(grid, grid ** (1 / gamma[i].item()), color=colors[i], lw=1,
                    label=f"image {i}: true inverse, gamma {gamma[i].item():.2f}")
        mse = float((out - clean).pow(2).mean())
        ax.set(title=f"{name}: test MSE {mse:.5f}", xlabel="input pixel y = x^gamma", ylabel="output pixel",
               xlim=(0, 1), ylim=(-0.1, 1.1))
        ax.legend(fontsize=7, loc="lower right")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def token_rows(layer, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """V*'s rows in one ExDAAttention layer with GST: ``value`` (B, h, C/h, HW) and ``token`` (B, h, K, HW),
    exactly as ``layer.forward`` builds them (with its ``token_value_scale``)."""
    _, _, v = layer.qkv_dwconv(layer.qkv(x)).chunk(3, dim=1)
    if layer.value_path is not None and layer.value_position == "pre":
        v = layer.value_path(v)
    v = split_heads(v, layer.heads)
    tokens = layer.gst(x)
    if layer.token_value_scale == "rms":
        v_rms = v.pow(2).mean(dim=(2, 3), keepdim=True).sqrt()
        tokens = tokens / tokens.pow(2).mean(dim=-1, keepdim=True).sqrt().clamp_min(1e-12) * v_rms
    return {"value": v, "token": tokens}


def rms(t: torch.Tensor) -> float:
    """Root mean square of all entries."""
    return float(t.pow(2).mean().sqrt())

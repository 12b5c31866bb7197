"""The mechanism, measured (issue 21): what MDTA is per pixel, and what GST's token rows carry.

Notebook 01 uses the first three; notebook 05 the rest.

* ``per_image_weight``  for one image, MDTA's sublayer with linear values is a 1x1 convolution of the value
                        maps V whose C x C weight is ``W_out @ blockdiag(A_1, ..., A_h)``;
* ``smooth_fields``     smooth random images in [0, 1] (the clean signals of the gamma toy);
* ``response_figure``   output pixel vs input pixel for a few test images (the learned per-image curve);
* ``token_rows``        the rows of V* (value rows, token rows) of one ExDAAttention layer with GST;
* ``rms``               the root mean square of a tensor;
* ``flat_noise_figure`` flat_noise composites with their rectangle outlined and, given a model, its GST token maps.

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


def flat_noise_figure(images: torch.Tensor, rects: torch.Tensor, sigma: torch.Tensor, maps: dict | None = None):
    """Row 0: the degraded composites (rectangle outlined, sigma in the title); one more row per entry of
    ``maps`` (name -> (N, HW) map per image, e.g. a model's first-layer token maps averaged over heads)."""
    from matplotlib.patches import Rectangle

    rows = 1 + len(maps or {})
    n = len(images)
    fig, axes = plt.subplots(rows, n, figsize=(2.1 * n, 2.1 * rows), squeeze=False)
    side = images.shape[-1]
    for i in range(n):
        r, c, h, w = rects[i].tolist()
        axes[0, i].imshow(images[i].permute(1, 2, 0).clamp(0, 1).numpy())
        axes[0, i].set_title(f"sigma = {255 * float(sigma[i]):.0f}/255", fontsize=8)
        for row, (name, m) in enumerate((maps or {}).items(), start=1):
            axes[row, i].imshow(m[i].reshape(side, side).numpy(), cmap="magma")
            if i == 0:
                axes[row, 0].set_ylabel(name, fontsize=8)
        for row in range(rows):
            axes[row, i].add_patch(Rectangle((c - 0.5, r - 0.5), w, h, fill=False, ec="cyan", lw=1.2))
            axes[row, i].set_xticks([]); axes[row, i].set_yticks([])
    plt.tight_layout()
    return fig

"""Tiled inference: restore an image of any size in overlapping tiles, blended smoothly.

Why: a restoration network's activations grow with the image. ExDA's U-Net keeps about
``2 * dim`` feature maps at full resolution in each block, so a 2048 x 2048 photo needs
gigabytes even for the small models, and out-of-memory on large test images is the most
common complaint in the public all-in-one code. The standard fix is to cut the image
into overlapping tiles, restore each tile, and blend the tiles back.

    positions   tiles of ``tile`` x ``tile`` every ``tile - overlap`` pixels; the last
                tile of a row/column is moved back so that it ends at the border
    weights     w(i) = min(1, (i + 1) / (overlap + 1), (tile - i) / (overlap + 1))  (1-D),
                w(i, j) = w(i) * w(j): 1 in the centre, ramping down across the overlap
    blend       out = sum_t w_t * model(tile_t) / sum_t w_t    (pixel by pixel)

Every weight is > 0, so pixels covered by one tile only (image borders) get exactly that
tile's output. A *pointwise* model gives exactly the same result tiled and untiled.
ExDA is not pointwise: channel attention and the Global Spatial Tokens summarise the
whole (tile) image, so a tiled result differs slightly from a whole-image result; the
overlap hides the seams (notebook 07 measures the difference).
"""

from __future__ import annotations

import torch
from torch import nn


def blend_weights_1d(tile: int, overlap: int) -> torch.Tensor:
    """The 1-D blending ramp (tile,): 1 in the middle, linear ramps of ``overlap`` pixels at both ends."""
    if tile < 1 or overlap < 0:
        raise ValueError(f"need tile >= 1 and overlap >= 0, got tile={tile}, overlap={overlap}")
    i = torch.arange(tile, dtype=torch.float32)
    ramp = torch.minimum((i + 1) / (overlap + 1), (tile - i) / (overlap + 1))
    return ramp.clamp(max=1.0)


def blend_weights(tile: int, overlap: int) -> torch.Tensor:
    """The 2-D blending window (tile, tile): outer product of :func:`blend_weights_1d`."""
    w = blend_weights_1d(tile, overlap)
    return w[:, None] * w[None, :]


def tile_starts(size: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of the tiles along one axis of length ``size`` (the last one ends at the border)."""
    if tile >= size:
        return [0]
    if overlap >= tile:
        raise ValueError(f"overlap ({overlap}) must be smaller than the tile ({tile})")
    stride = tile - overlap
    starts = list(range(0, size - tile, stride))
    starts.append(size - tile)
    return starts


@torch.no_grad()
def tiled_forward(model: nn.Module, x: torch.Tensor, tile: int | None = 256, overlap: int = 32,
                  tile_batch: int = 1) -> torch.Tensor:
    """Apply ``model`` to ``x`` (B, C, H, W) in overlapping tiles; returns (B, C_out, H, W).

    Args:
        model: any image-to-image network (same H x W out as in).
        tile: tile side in pixels; ``None`` or a tile >= the image runs the whole image at once.
        overlap: pixels shared by neighbouring tiles (blended with :func:`blend_weights`).
        tile_batch: tiles pushed through the model together (more is faster on a GPU, needs more memory).

    The accumulators live on ``x``'s device in float32; tiles are moved to the model's device
    one batch at a time, so only one batch of tiles' activations exists at any moment.
    """
    height, width = x.shape[-2:]
    device = next(model.parameters()).device
    if tile is None or (tile >= height and tile >= width):
        return model(x.to(device)).float().to(x.device)
    tile_h, tile_w = min(tile, height), min(tile, width)
    overlap_h, overlap_w = min(overlap, tile_h - 1), min(overlap, tile_w - 1)
    window = (blend_weights_1d(tile_h, overlap_h)[:, None] * blend_weights_1d(tile_w, overlap_w)[None, :]).to(x.device)
    boxes = [(top, left) for top in tile_starts(height, tile_h, overlap_h)
             for left in tile_starts(width, tile_w, overlap_w)]
    out, weight = None, torch.zeros(1, 1, height, width, device=x.device)
    for first in range(0, len(boxes), tile_batch):
        group = boxes[first:first + tile_batch]
        tiles = torch.cat([x[..., t:t + tile_h, l:l + tile_w] for t, l in group]).to(device)  # (n*B, C, th, tw)
        restored = model(tiles).float().to(x.device).split(x.shape[0])  # n x (B, C_out, th, tw)
        if out is None:
            out = torch.zeros(x.shape[0], restored[0].shape[1], height, width, device=x.device)
        for (t, l), piece in zip(group, restored):
            out[..., t:t + tile_h, l:l + tile_w] += piece * window
            weight[..., t:t + tile_h, l:l + tile_w] += window
    return out / weight

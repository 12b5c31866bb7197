"""The ExDA U-Net (Appendix B, Fig. A) and ``build_model``.

    image (B, 3, H, W) -- pad to a multiple of 8 --
      embed   Conv3x3 3->C                                   (B, C,  H,   W)
      enc1    blocks[0] x MDAB                               (B, C,  H,   W)  -- skip 1
      down    Conv3x3 C->C/2, PixelUnshuffle(2)              (B, 2C, H/2, W/2)
      enc2    blocks[1] x MDAB                                               -- skip 2
      down -> enc3 (4C, H/4)                                                 -- skip 3
      down -> latent blocks[3] x MDAB                        (B, 8C, H/8, W/8)
      up      Conv3x3 8C->16C, PixelShuffle(2), concat skip 3, Conv1x1 8C->4C, dec3
      up ...  concat skip 2, Conv1x1 4C->2C, dec2
      up ...  concat skip 1 (no reduction: 2C channels), dec1, refinement blocks
      output  Conv3x3 2C->3, + input image (global residual)  -- crop back to H x W --

Any H x W and any batch size work: the input is reflect-padded (replicate-padded when
it is too small to reflect) to a multiple of 8 and the output cropped back.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .block import ExDABlock, TokenOptions, ValueOptions
from .configs import ExDAConfig, get_config

MULTIPLE = 8  # three 2x downsamplings


class Downsample(nn.Sequential):
    """Conv3x3 C->C/2 then PixelUnshuffle(2): (B, C, H, W) -> (B, 2C, H/2, W/2)."""

    def __init__(self, channels: int):
        super().__init__(nn.Conv2d(channels, channels // 2, 3, padding=1, bias=False), nn.PixelUnshuffle(2))


class Upsample(nn.Sequential):
    """Conv3x3 C->2C then PixelShuffle(2): (B, C, H, W) -> (B, C/2, 2H, 2W)."""

    def __init__(self, channels: int):
        super().__init__(nn.Conv2d(channels, channels * 2, 3, padding=1, bias=False), nn.PixelShuffle(2))


def pad_to_multiple(x: torch.Tensor, multiple: int = MULTIPLE) -> torch.Tensor:
    """Pad bottom/right so H and W are multiples of ``multiple`` (reflect, else replicate)."""
    h, w = x.shape[-2:]
    pad_h, pad_w = -h % multiple, -w % multiple
    if pad_h == 0 and pad_w == 0:
        return x
    mode = "reflect" if pad_h < h and pad_w < w else "replicate"
    return F.pad(x, (0, pad_w, 0, pad_h), mode=mode)


class ExDA(nn.Module):
    """ExDA / Restormer U-Net built from an :class:`ExDAConfig`.

    Shapes: (B, in_channels, H, W) -> (B, out_channels, H, W), any H, W >= 1.
    """

    def __init__(self, config: ExDAConfig):
        super().__init__()
        self.config = cfg = config
        d, n, h = cfg.dim, cfg.blocks, cfg.heads

        def stage(count: int, width: int, heads: int, part: str) -> nn.Sequential:
            in_part = cfg.value_where in ("both", part)
            value = None
            if cfg.nonlinear_value and in_part:
                value = ValueOptions(cfg.value_form, cfg.value_act, cfg.value_learnable, cfg.value_groups)
            tokens = TokenOptions(cfg.gst_tokens, cfg.gst_stride, cfg.gst_token_to_channel, cfg.gst_alpha_init,
                                  cfg.gst_eq3, cfg.gst_token_value_scale) if cfg.gst else None
            return nn.Sequential(*[ExDABlock(width, heads, cfg.ffn_factor, cfg.bias, cfg.layernorm, value, tokens)
                                   for _ in range(count)])

        self.embed = nn.Conv2d(cfg.in_channels, d, 3, padding=1, bias=False)
        self.encoder1 = stage(n[0], d, h[0], "encoder")
        self.down1_2 = Downsample(d)
        self.encoder2 = stage(n[1], 2 * d, h[1], "encoder")
        self.down2_3 = Downsample(2 * d)
        self.encoder3 = stage(n[2], 4 * d, h[2], "encoder")
        self.down3_4 = Downsample(4 * d)
        self.latent = stage(n[3], 8 * d, h[3], "encoder")
        self.up4_3 = Upsample(8 * d)
        self.reduce3 = nn.Conv2d(8 * d, 4 * d, 1, bias=cfg.bias)
        self.decoder3 = stage(n[2], 4 * d, h[2], "decoder")
        self.up3_2 = Upsample(4 * d)
        self.reduce2 = nn.Conv2d(4 * d, 2 * d, 1, bias=cfg.bias)
        self.decoder2 = stage(n[1], 2 * d, h[1], "decoder")
        self.up2_1 = Upsample(2 * d)
        self.decoder1 = stage(n[0], 2 * d, h[0], "decoder")
        self.refinement = stage(cfg.refinement, 2 * d, h[0], "decoder")
        self.output = nn.Conv2d(2 * d, cfg.out_channels, 3, padding=1, bias=cfg.bias)

    def check_input(self, x: torch.Tensor) -> None:
        """Clear errors for the mistakes people make most (wrong rank, channels, dtype)."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"expected a torch.Tensor, got {type(x).__name__}")
        if x.dim() != 4:
            raise ValueError(f"expected a batch (B, C, H, W), got shape {tuple(x.shape)}; "
                             "for one image use x[None]")
        if x.shape[1] != self.config.in_channels:
            raise ValueError(f"model expects {self.config.in_channels} channels, got {x.shape[1]} "
                             f"(shape {tuple(x.shape)}); build it with in_channels={x.shape[1]} or convert the image")
        if not x.is_floating_point():
            raise TypeError(f"expected a float tensor in [0, 1], got {x.dtype}; divide uint8 images by 255")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        height, width = x.shape[-2:]
        return self.forward_padded(pad_to_multiple(x))[..., :height, :width]

    def forward_padded(self, inp: torch.Tensor) -> torch.Tensor:
        """The U-Net on an input whose H and W are already multiples of 8 (no checks, no crop).

        ``forward`` pads, calls this and crops; the exporter (``exda_lite.training.export``) pads inside
        the exported graph instead, with shape arithmetic that stays symbolic.
        """
        skip1 = self.encoder1(self.embed(inp))                          # (B, C,  H,   W)
        skip2 = self.encoder2(self.down1_2(skip1))                      # (B, 2C, H/2, W/2)
        skip3 = self.encoder3(self.down2_3(skip2))                      # (B, 4C, H/4, W/4)
        y = self.latent(self.down3_4(skip3))                            # (B, 8C, H/8, W/8)
        y = self.decoder3(self.reduce3(torch.cat([self.up4_3(y), skip3], 1)))  # (B, 4C, H/4, W/4)
        y = self.decoder2(self.reduce2(torch.cat([self.up3_2(y), skip2], 1)))  # (B, 2C, H/2, W/2)
        y = self.decoder1(torch.cat([self.up2_1(y), skip1], 1))        # (B, 2C, H,   W)
        y = self.output(self.refinement(y))                             # (B, out, H, W)
        if self.config.global_residual and self.config.in_channels == self.config.out_channels:
            y = y + inp
        return y


def build_model(name: str = "exda_t", **overrides) -> ExDA:
    """Build a named model (``restormer``, ``exda_b``, ``exda_s``, ``exda_t``, ``exda_nano``).

    Keyword arguments override fields of :class:`ExDAConfig`, e.g.
    ``build_model("exda_t", gst=False, value_where="encoder")``.
    """
    return ExDA(get_config(name, **overrides))

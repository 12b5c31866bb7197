"""``exda-lite convert``: an official Restormer checkpoint -> our ``restormer`` safetensors.

The Restormer authors publish their trained weights (github.com/swz30/Restormer: the v1.0 release
page, and the Google Drive links in each task's ``pretrained_models/README.md``) as ``.pth`` files
holding ``{"params": state_dict}``. They are the **backbone only**: Restormer has no nonlinear value
and no GST, so they load into our ``restormer`` config (``nonlinear_value=False, gst=False``), never
into an ExDA model. Nothing is downloaded here: fetch the file yourself, then convert it.

Key map (official ``basicsr/models/archs/restormer_arch.py`` name <- ours); block keys keep their
index ``N`` and the inner names ``attn.temperature``, ``attn.qkv``, ``attn.qkv_dwconv``,
``attn.project_out``, ``ffn.project_in``, ``ffn.dwconv``, ``ffn.project_out``:

=========================================== ===============================================
official                                    ours (``exda_lite.nn.model.ExDA``)
=========================================== ===============================================
``patch_embed.proj.weight``                 ``embed.weight``
``encoder_level{1,2,3}.N.*``                ``encoder{1,2,3}.N.*``
``latent.N.*``                              ``latent.N.*``
``decoder_level{3,2,1}.N.*``                ``decoder{3,2,1}.N.*``
``refinement.N.*``                          ``refinement.N.*``
``*.norm{1,2}.body.weight`` / ``.bias``     ``*.norm{1,2}.weight`` / ``.bias``
``down1_2.body.0.weight`` (also 2_3, 3_4)   ``down1_2.0.weight``
``up4_3.body.0.weight`` (also 3_2, 2_1)     ``up4_3.0.weight``
``reduce_chan_level{3,2}.weight``           ``reduce{3,2}.weight``
``output.weight``                           ``output.weight``
=========================================== ===============================================

The published variants and what we make of them (read from the tensors, not the file name):

* deraining, motion deblurring, single-image defocus deblurring: WithBias LayerNorm, 3 channels -> our
  ``restormer`` as is;
* Gaussian colour and real denoising: BiasFree LayerNorm -> ``restormer`` with ``layernorm="biasfree"``;
  Gaussian gray denoising: also ``in_channels = out_channels = 1``;
* dual-pixel defocus deblurring: 6 input channels *and* a ``skip_conv`` (embedding -> decoder level 1,
  no global residual), a path our U-Net does not have: refused in one line.

Official Restormer expects inputs padded to a multiple of 8 by its test scripts; our model pads itself.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from ..nn.configs import get_config
from ..nn.model import ExDA
from .checkpoints import CheckpointMismatchError, load_state_checked, save_weights

STAGES = {"encoder_level1": "encoder1", "encoder_level2": "encoder2", "encoder_level3": "encoder3",
          "latent": "latent", "decoder_level3": "decoder3", "decoder_level2": "decoder2",
          "decoder_level1": "decoder1", "refinement": "refinement"}
"""Official stage name -> ours (blocks inside keep their index)."""

RULES = [  # (official pattern, ours), applied left to right; each is reversible
    (r"^patch_embed\.proj\.", "embed."),
    (r"^reduce_chan_level(\d)\.", r"reduce\1."),
    (r"^(down\d_\d|up\d_\d)\.body\.0\.", r"\1.0."),
    (r"\.(norm[12])\.body\.", r".\1."),
] + [(rf"^{official}\.", f"{ours}.") for official, ours in STAGES.items() if official != ours]


def from_official(state: dict) -> dict:
    """An official Restormer state dict with our key names (tensors shared, not copied)."""
    out = {}
    for key, value in state.items():
        for pattern, ours in RULES:
            key = re.sub(pattern, ours, key)
        out[key] = value
    return out


def to_official(state: dict) -> dict:
    """Our ``restormer`` state dict with the official key names (the inverse of :func:`from_official`)."""
    reverse = [(r"^embed\.", "patch_embed.proj."), (r"^reduce(\d)\.", r"reduce_chan_level\1."),
               (r"^(down\d_\d|up\d_\d)\.0\.", r"\1.body.0."), (r"\.(norm[12])\.", r".\1.body.")]
    reverse += [(rf"^{ours}\.", f"{official}.") for official, ours in STAGES.items() if official != ours]
    out = {}
    for key, value in state.items():
        for pattern, official in reverse:
            key = re.sub(pattern, official, key)
        out[key] = value
    return out


def count_blocks(state: dict, stage: str) -> int:
    indices = {int(m[1]) for k in state if (m := re.match(rf"^{stage}\.(\d+)\.", k))}
    return max(indices) + 1 if indices else 0


def official_overrides(state: dict) -> dict:
    """The ``ExDAConfig`` fields of an official checkpoint, read from its tensor shapes and keys."""
    if "skip_conv.weight" in state:
        raise CheckpointMismatchError(
            "this is Restormer's dual-pixel defocus model (6 input channels and a skip_conv from the embedding to "
            "decoder level 1, no global residual): our U-Net has no skip_conv, so it cannot hold these weights")
    needed = ("patch_embed.proj.weight", "output.weight", "encoder_level1.0.attn.temperature",
              "encoder_level1.0.ffn.project_in.weight")
    missing = [k for k in needed if k not in state]
    if missing:
        raise CheckpointMismatchError(f"not an official Restormer state dict: no {missing[0]} "
                                      f"(found keys like {sorted(state)[:3]})")
    embed = state["patch_embed.proj.weight"]
    dim = embed.shape[0]
    blocks = tuple(count_blocks(state, s) for s in ("encoder_level1", "encoder_level2", "encoder_level3", "latent"))
    heads = tuple(state[f"{s}.0.attn.temperature"].shape[0] for s in ("encoder_level1", "encoder_level2",
                                                                         "encoder_level3", "latent"))
    hidden = state["encoder_level1.0.ffn.project_in.weight"].shape[0] // 2
    ffn = 2.66 if int(dim * 2.66) == hidden else hidden / dim
    return {"in_channels": embed.shape[1], "out_channels": state["output.weight"].shape[0], "dim": dim,
            "blocks": blocks, "heads": heads, "refinement": count_blocks(state, "refinement"), "ffn_factor": ffn,
            "bias": "encoder_level1.0.attn.qkv.bias" in state,
            "layernorm": "withbias" if "encoder_level1.0.norm1.body.bias" in state else "biasfree"}


def read_official(path) -> dict:
    """The state dict of an official ``.pth`` (its ``params`` entry, else ``params_ema``, else the dict itself)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"convert: no file at {path}")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - zip, pickle and weights_only errors alike
        reason = str(error).splitlines()[0][:100]
        raise CheckpointMismatchError(f"{path}: not a readable torch checkpoint ({reason})") from None
    if not isinstance(checkpoint, dict):
        raise CheckpointMismatchError(f"{path}: holds a {type(checkpoint).__name__}, not a state dict")
    state = checkpoint.get("params", checkpoint.get("params_ema", checkpoint))
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointMismatchError(f"{path}: no 'params' state dict (keys: {sorted(checkpoint)[:5]})")
    return state


def convert_official(source, destination) -> tuple[ExDA, dict]:
    """Convert an official Restormer ``.pth`` into our ``restormer`` safetensors; returns (model, overrides).

    Unmatched keys or shapes raise ``CheckpointMismatchError`` naming them in one line.
    """
    official = read_official(source)
    overrides = official_overrides(official)
    model = ExDA(get_config("restormer", **overrides))
    load_state_checked(model, from_official(official), source)
    save_weights(model, destination, "restormer",
                 extra={"converted_from": str(source), "source": "official Restormer (backbone only: no NV, no GST)"})
    return model.eval(), overrides

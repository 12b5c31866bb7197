"""The assembled U-Net in numbers (notebook 06): stage shapes, sizes beside Table A, how the count grows with H*W.

* ``stage_table``  one row per stage of the U-Net: output shape, MDABs, nonlinear values, GST layers
* ``size_table``   parameters and MACs at 224 x 224 of named configurations beside the paper's Table A
* ``mac_growth``   the exponent with which the counted MACs grow with the number of pixels
"""

from __future__ import annotations

import math
import time

import pandas as pd
import torch

from ..nn import configs
from ..nn.block import ExDABlock
from ..nn.gst import GlobalSpatialTokens
from ..nn.model import build_model
from ..nn.nonlinear_value import NonlinearValue
from ..utils import count_flops, count_parameters

STAGES = ("embed", "encoder1", "down1_2", "encoder2", "down2_3", "encoder3", "down3_4", "latent",
          "up4_3", "reduce3", "decoder3", "up3_2", "reduce2", "decoder2", "up2_1", "decoder1", "refinement", "output")
"""The U-Net's stages in the order an image passes through them (attribute names of ``ExDA``)."""


def stage_table(model: torch.nn.Module, input_shape=(1, 3, 64, 64)) -> pd.DataFrame:
    """Run ``model`` once on a random input and record every stage's output shape (forward hooks)."""
    shapes = {}
    hooks = [getattr(model, name).register_forward_hook(
        lambda module, inputs, output, name=name: shapes.__setitem__(name, tuple(output.shape))) for name in STAGES]
    try:
        with torch.no_grad():
            model(torch.rand(*input_shape))
    finally:
        for hook in hooks:
            hook.remove()

    def count(module, kind):
        return sum(isinstance(m, kind) for m in module.modules())

    return pd.DataFrame([{"stage": name, "output shape": shapes[name], "MDABs": count(getattr(model, name), ExDABlock),
                          "nonlinear values": count(getattr(model, name), NonlinearValue),
                          "GST layers": count(getattr(model, name), GlobalSpatialTokens)} for name in STAGES])


def size_table(names, flop_side: int = 56) -> pd.DataFrame:
    """Parameters (M) and MACs at 224^2 (counted at ``flop_side``^2, scaled by (224/flop_side)^2) beside Table A.

    ``names``: configuration names (built here), or a mapping name -> an already built model.
    """
    scale = (224 / flop_side) ** 2
    models = names if isinstance(names, dict) else {name: None for name in names}
    rows = []
    for name, model in models.items():
        model = (model if model is not None else build_model(name)).eval()
        start = time.time()
        macs = count_flops(model, (1, 3, flop_side, flop_side)) / 2 * scale
        paper_params, paper_g = configs.PAPER_SIZES[name]
        rows.append({"model": name, "params (M)": count_parameters(model) / 1e6,
                     "paper params (M)": paper_params / 1e6 if paper_params else float("nan"),
                     "GMAC @ 224²": macs / 1e9, "paper G @ 224²": paper_g or float("nan"),
                     "count time (s)": time.time() - start})
    return pd.DataFrame(rows).set_index("model")


def mac_growth(model: torch.nn.Module, side: int) -> dict:
    """MACs counted at ``side``^2 and (2 side)^2, and the exponent: MACs ~ (H W)^exponent."""
    small, large = (count_flops(model, (1, 3, s, s)) / 2 for s in (side, 2 * side))
    return {"side": side, "macs_small": small, "macs_large": large, "exponent": math.log(large / small) / math.log(4)}

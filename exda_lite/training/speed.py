"""Speed and memory options of a run: channels_last, torch.compile, activation checkpointing, EMA.

* ``channels_last``: weights and inputs in NHWC. Outputs equal NCHW within 1e-5 (tested); whether it
  is faster depends on the device (see README *Speed*: measured, chosen where it helps).
* ``compile``: ``torch.compile`` of the forward module (after DDP wrapping); the first step compiles.
* ``checkpoint_activations``: every ``ExDABlock`` recomputes its activations in backward
  (``torch.utils.checkpoint``, non-reentrant): the same gradients for less memory, ~1/3 more compute.
* ``ema``: ``torch.optim.swa_utils.AveragedModel`` with ``get_ema_multi_avg_fn(decay)``; its copy of
  the network is what is validated and exported.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.checkpoint import checkpoint

from ..nn.block import ExDABlock


def to_channels_last(model: nn.Module) -> nn.Module:
    return model.to(memory_format=torch.channels_last)


def checkpoint_blocks(model: nn.Module) -> int:
    """Make every ExDABlock of ``model`` recompute its activations in backward; returns how many.

    Only the instances' ``forward`` changes: the state dict, and so every checkpoint, stays the same.
    """
    count = 0
    for module in model.modules():
        if isinstance(module, ExDABlock) and not getattr(module, "_exda_checkpointed", False):
            plain = module.forward

            def forward(*args, _plain=plain, _module=module, **kwargs):
                if _module.training and torch.is_grad_enabled():
                    return checkpoint(_plain, *args, use_reentrant=False, **kwargs)
                return _plain(*args, **kwargs)

            module.forward, module._exda_checkpointed = forward, True
            count += 1
    return count


def make_ema(model: nn.Module, decay: float) -> AveragedModel | None:
    """An EMA of ``model``'s weights (and buffers), or None when ``decay`` is 0."""
    if not decay:
        return None
    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)


def ema_state(ema: AveragedModel) -> dict:
    return {"weights": {k: v.detach().cpu() for k, v in ema.module.state_dict().items()},
            "n_averaged": ema.n_averaged.detach().cpu()}


def load_ema_state(ema: AveragedModel, state: dict) -> None:
    ema.module.load_state_dict(state["weights"])
    ema.n_averaged.copy_(state["n_averaged"])


def maybe_compile(module: nn.Module, enabled: bool) -> nn.Module:
    return torch.compile(module) if enabled else module


class ChannelsLastInput(nn.Module):
    """Inference wrapper: the network's weights in channels_last, and every input converted to it."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = to_channels_last(model)
        if hasattr(model, "config"):
            self.config = model.config  # restore.py reads the channel count from it

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x.contiguous(memory_format=torch.channels_last))


def channels_last_default(device: torch.device | str) -> bool:
    """Where channels_last is our default: measured faster for ExDA/Restormer forwards on CPU (README *Speed*).

    Not measured on a GPU yet (no GPU was lent): off there until ``make gpu-check`` says otherwise.
    """
    return torch.device(device).type == "cpu"


def prepare_for_inference(model: nn.Module, device, channels_last: bool | None = None,
                          compile_model: bool = False) -> nn.Module:
    """The model as eval/restore run it: channels_last where it is faster (``None``: the device's default),
    optionally ``torch.compile``d. Outputs equal the plain NCHW forward within 1e-5 (tested)."""
    use = channels_last_default(device) if channels_last is None else channels_last
    model = ChannelsLastInput(model.eval()) if use else model.eval()
    return maybe_compile(model, compile_model)

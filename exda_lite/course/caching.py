"""Train once, reuse afterwards: weights cached under a hash of the values that define their run."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

from torch import nn


def signature_of(values: dict) -> str:
    """A short hash of the values that define a trained model (parameters of its run)."""
    return hashlib.sha1(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:10]


def cached_model(path, model: nn.Module, signature: dict, train: Callable[[nn.Module], dict],
                 retrain: bool = False) -> tuple[nn.Module, dict, bool]:
    """Load ``model``'s weights from ``path`` if they were trained with ``signature``, else train and save.

    ``train(model)`` trains in place and returns a dict of facts about the run (JSON-friendly).
    Returns ``(model, info, reused)``. ``retrain=True`` always trains.
    """
    from ..training.checkpoints import load_state_checked, read_weights, save_weights

    path = Path(path)
    if path.is_file() and not retrain:
        state, info = read_weights(path)
        if info.get("signature") == signature_of(signature):
            load_state_checked(model, state, path)
            return model.eval(), info.get("run", {}), True
    info = train(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_weights(model, path, extra={"signature": signature_of(signature), "values": signature, "run": info})
    return model.eval(), info, False

"""Mixed degradations at test time: how an all-in-one model handles a combination it never saw.

AdaIR (Table 8) and others test all-in-one restorers on test images carrying two degradations at once
(e.g. noise + rain), although every training image had one. ``--mix noise+rain`` on ``exda-lite eval``
does the same with the synthetic degradations of ``exda_lite.data.degradations``: each part is applied
with its default parameters, in ``MIX_ORDER`` (the scene's atmosphere first, the camera's blur, exposure,
noise and compression last) whatever the order written, with ``numpy.random.default_rng([seed, index])``
for item ``index``: the same mixture of the same image every time.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from .augment import to_tensor
from .degradations import degrade

MIX_ORDER = ("haze", "rain", "snow", "motion_blur", "gaussian_blur", "low_light", "noise", "jpeg")
"""The order in which the parts of a mixture are applied (physical: scene, then optics, then sensor)."""


def parse_mix(text: str) -> tuple[str, ...]:
    """``"noise+rain"`` -> ``("rain", "noise")`` (in ``MIX_ORDER``); a clear error for unknown parts."""
    parts = tuple(p.strip() for p in str(text).split("+") if p.strip())
    unknown = [p for p in parts if p not in MIX_ORDER]
    if len(parts) < 2 or unknown or len(set(parts)) != len(parts):
        raise ValueError(f"mix {text!r}: give two or more different degradations joined by '+', "
                         f"e.g. noise+rain; parts are {', '.join(MIX_ORDER)}")
    return tuple(p for p in MIX_ORDER if p in parts)


def mix_degrade(image: np.ndarray, parts, rng) -> np.ndarray:
    """``image`` (H, W, C) float in [0, 1] with every degradation of ``parts`` applied in ``MIX_ORDER``."""
    out = np.asarray(image, dtype=np.float32)
    for name in parse_mix("+".join(parts)):
        out = degrade(out, name, rng=rng)
        out = out[:, :, None] if out.ndim == 2 else out
    return np.clip(out, 0, 1).astype(np.float32)


class MixedDegradations(Dataset):
    """Clean test images, degraded again by a mixture: items ``(degraded, clean, 0)``.

    Args:
        sources: ``(dataset, index)`` pairs; the clean image of ``dataset[index]`` (a ``(degraded, clean,
            label)`` test set) is used. Give each clean image once.
        mix: e.g. ``"noise+rain"``.
        seed: item ``i`` is degraded with ``numpy.random.default_rng([seed, i])``.
        names: item names (the image names of the eval table; default ``0000``, ``0001``, ...).
    """

    def __init__(self, sources, mix: str, seed: int = 0, names=None):
        self.sources, self.parts, self.seed = list(sources), parse_mix(mix), int(seed)
        self.tasks = ("+".join(self.parts),)
        names = list(names) if names is not None else [f"{i:04d}" for i in range(len(self.sources))]
        self.names = [f"{n}/mix" for n in names]

    def __len__(self) -> int:
        return len(self.sources)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        dataset, item = self.sources[index]
        _, clean, _ = dataset[item]
        image = clean.permute(1, 2, 0).numpy()
        degraded = mix_degrade(image, self.parts, np.random.default_rng([self.seed, index]))
        return to_tensor(degraded), clean.clone(), 0

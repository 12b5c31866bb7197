"""Fixed-seed forward hashes of every named config: the behaviour a refactor must keep.

    python tools/forward_hashes.py          # prints name hash, one per line

For each config: ``torch.manual_seed(0)``, build the model, ``torch.manual_seed(1)``, input
``torch.rand(1, 3, 32, 32)``, one thread, eval, no_grad forward; the first 16 hex digits of the
sha256 of the output's bytes. ``tests/test_forward_hashes.py`` holds the expected values.
"""

from __future__ import annotations

import hashlib

import torch

from exda_lite.nn.configs import CONFIGS
from exda_lite.nn.model import build_model


def forward_hash(name: str) -> str:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = build_model(name).eval()
    torch.manual_seed(1)
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        out = model(x)
    return hashlib.sha256(out.numpy().tobytes()).hexdigest()[:16]


def forward_hashes() -> dict[str, str]:
    return {name: forward_hash(name) for name in CONFIGS}


if __name__ == "__main__":
    for name, digest in forward_hashes().items():
        print(name, digest)

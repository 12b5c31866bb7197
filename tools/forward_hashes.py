"""Fixed-seed forward hashes and fingerprints of every named config: the behaviour a refactor must keep.

    python tools/forward_hashes.py          # prints name, hash and fingerprint, one config per line

For each config: ``torch.manual_seed(0)``, build the model, ``torch.manual_seed(1)``, input
``torch.rand(1, 3, 32, 32)``, one thread, eval, no_grad forward. Two summaries of the output:

* the **hash**: the first 16 hex digits of the sha256 of the output's bytes. Bit-exact, so it also changes
  with the CPU (another vector unit, another oneDNN kernel): compare hashes on one machine only;
* the **fingerprint**: of 1000 x (output - input), the mean, its standard deviation and six projections onto fixed random
  +-1 patterns (means over the pixels), 8 numbers that any change of the network moves by far more than
  the 1e-6 that separates two CPUs. ``tests/test_forward_hashes.py`` holds the expected fingerprints
  (tolerance 1e-3, i.e. 1e-6 of the output), recorded from the code whose hashes issue 19 fixed.
"""

from __future__ import annotations

import hashlib

import torch

from exda_lite.nn.configs import CONFIGS
from exda_lite.nn.model import build_model


def forward_output(name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The fixed input and the model's output."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = build_model(name).eval()
    torch.manual_seed(1)
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        return x, model(x)


def forward_hash(name: str) -> str:
    return hashlib.sha256(forward_output(name)[1].numpy().tobytes()).hexdigest()[:16]


def forward_fingerprint(name: str) -> list[float]:
    """Of the network's own part, output - input (the global residual would otherwise hide it), x 1000."""
    x, y = forward_output(name)
    out = (y.double() - x.double()) * 1000
    patterns = torch.randint(0, 2, (6, *out.shape), generator=torch.Generator().manual_seed(2)).double() * 2 - 1
    return [out.mean().item(), out.std().item(), *(out * patterns).mean(dim=(1, 2, 3, 4)).tolist()]


def forward_hashes() -> dict[str, str]:
    return {name: forward_hash(name) for name in CONFIGS}


if __name__ == "__main__":
    for name, digest in forward_hashes().items():
        print(name, digest, [round(v, 8) for v in forward_fingerprint(name)])

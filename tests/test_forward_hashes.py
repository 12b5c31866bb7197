"""The five fixed-seed forward fingerprints of issue 11's table: a refactor must not change the network."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from forward_hashes import forward_fingerprint  # noqa: E402

# mean, std and six +-1 projections of 1000 x (output - input) of each config's fixed-seed forward
# (tools/forward_hashes.py), recorded from
# the code whose bit-exact hashes issue 19 fixed (restormer e267142beba70c84, exda_b a05584531ab41aab, exda_s
# 34771d9d884fa353, exda_t 3138e81bc1a513dc, exda_nano 1a1154a81da00c2d on the machine of that time; the same
# code hashes differently on another CPU, hence the fingerprints).
EXPECTED = {
    "restormer": [-95.20160267, 126.6016892, -3.39178793, -6.01044362, 2.11411492, 1.71163064, 0.35706414, 1.03449299],
    "exda_b": [22.9500635, 99.55221263, -0.87007084, -0.69035509, -0.77165874, -0.29610623, 2.167598, 1.81023648],
    "exda_s": [25.92315591, 104.14297663, -2.00087087, 2.98172159, -2.7958024, 2.0500571, 4.19000791, -1.01021788],
    "exda_t": [80.21305286, 132.53361934, 1.82535254, 1.90840185, -0.08527588, 2.66314456, -0.76349765, -1.29990979],
    "exda_nano": [20.49582578, 130.77446922, -0.85261862, -1.6897871, -0.93070987, 1.09134286, -0.20093033, 0.8198234],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_forward_fingerprint_is_unchanged(name):
    assert forward_fingerprint(name) == pytest.approx(EXPECTED[name], abs=1e-3)


def test_the_fingerprint_sees_a_small_change_of_the_network():
    """The control: the output convolution scaled by 1.001 moves the fingerprint 100x beyond the tolerance."""
    import forward_hashes

    from exda_lite.nn import model as model_module

    build = model_module.build_model

    def nudged(name, **kwargs):
        model = build(name, **kwargs)
        with torch.no_grad():
            model.output.weight.mul_(1.001)
        return model

    forward_hashes.build_model = nudged
    try:
        moved = forward_fingerprint("exda_nano")
    finally:
        forward_hashes.build_model = build
    assert max(abs(a - b) for a, b in zip(moved, EXPECTED["exda_nano"])) > 1e-2


@pytest.mark.gpu
def test_the_forward_on_cuda_matches_the_cpu():
    from exda_lite.nn.model import build_model

    torch.manual_seed(0)
    model = build_model("exda_nano").eval()
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        cpu = model(x)
        gpu = model.cuda()(x.cuda()).cpu()
    torch.testing.assert_close(gpu, cpu, atol=1e-4, rtol=1e-4)

"""The five fixed-seed forward hashes of issue 11's table: a refactor must not change the network."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from forward_hashes import forward_hash  # noqa: E402

EXPECTED = {
    "restormer": "e267142beba70c84",
    "exda_b": "a05584531ab41aab",
    "exda_s": "34771d9d884fa353",
    "exda_t": "3138e81bc1a513dc",
    "exda_nano": "1a1154a81da00c2d",
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_forward_hash_is_unchanged(name):
    assert forward_hash(name) == EXPECTED[name]


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

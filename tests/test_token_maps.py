"""The secondary analysis of gst_mechanism: how much of each GST map lies on the flat rectangle."""

from __future__ import annotations

import math

import pytest
import torch

from exda_lite.nn.gst import GlobalSpatialTokens
from exda_lite.reference import experiments, token_maps

SETTINGS = {**experiments.EXPERIMENTS["gst_mechanism"].settings, "channels": 8}


def task(n=12, size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    rects = torch.tensor([[2, 3, 5 + i % 4, 6] for i in range(n)])
    return torch.rand(n, 3, size, size, generator=g), rects, torch.linspace(0.01, 0.15, n)


class RectangleTokens(GlobalSpatialTokens):
    """Maps that put all their mass on the rectangle the test sets in ``RectangleTokens.mask`` (a rigged control)."""

    mask, seen = None, 0

    def forward(self, x):
        b = x.shape[0]
        m = RectangleTokens.mask[RectangleTokens.seen:RectangleTokens.seen + b].flatten(1)
        RectangleTokens.seen += b
        return (m / m.sum(-1, keepdim=True))[:, None, None].expand(b, self.heads, self.tokens, -1)


def test_constant_maps_have_no_preference_and_no_correlation():
    images, rects, sigma = task()
    model = experiments.mechanism_model("uniform_rms", 0, SETTINGS).eval()
    mass = token_maps.rectangle_mass(model, images, rects)
    d = token_maps.describe(mass, rects, sigma, images.shape[-1])
    assert abs(d["selectivity"] - 1) < 1e-5 and math.isnan(d["spearman"])


def test_maps_on_the_rectangle_are_found():
    images, rects, sigma = task()
    model = experiments.mechanism_model("gst_rms", 0, SETTINGS).eval()
    mask = torch.zeros(len(images), 16, 16)
    for i, (r, c, h, w) in enumerate(rects.tolist()):
        mask[i, r:r + h, c:c + w] = 1
    RectangleTokens.mask = mask
    model.body = model.body[:1]  # one GST layer, so the masks follow the batches
    for m in model.modules():
        if isinstance(m, GlobalSpatialTokens):
            m.__class__ = RectangleTokens
    mass = token_maps.rectangle_mass(model, images, rects, batch_size=5)
    assert torch.allclose(mass, torch.ones_like(mass))  # across batches of 5, 5 and 2
    d = token_maps.describe(mass, rects, sigma, 16)
    assert d["selectivity"] > 3  # the rectangles cover 10-20 % of the image


def test_learned_maps_give_a_finite_correlation():
    images, rects, sigma = task()
    model = experiments.mechanism_model("gst_rms", 0, SETTINGS).eval()
    d = token_maps.describe(token_maps.rectangle_mass(model, images, rects), rects, sigma, 16)
    assert math.isfinite(d["spearman"]) and 0.2 < d["selectivity"] < 5


def test_a_model_without_tokens_is_a_clear_error():
    images, rects, _ = task(n=2)
    model = experiments.mechanism_model("mdta", 0, SETTINGS).eval()
    try:
        token_maps.rectangle_mass(model, images, rects)
    except ValueError as error:
        assert "no GST layer" in str(error)
    else:
        raise AssertionError("expected a ValueError")


def test_spearman_follows_sigma_and_not_the_image_order():
    _, rects, sigma = task()
    mass = (0.1 + sigma)[:, None, None, None].expand(-1, 2, 1, 4)  # more mass where the noise is stronger
    assert token_maps.describe(mass, rects, sigma, 16)["spearman"] == 1.0
    shuffled = mass[torch.randperm(len(mass), generator=torch.Generator().manual_seed(1))]
    assert abs(token_maps.describe(shuffled, rects, sigma, 16)["spearman"]) < 0.9


def test_sigma_scores_see_a_feature_that_carries_sigma_and_not_one_that_does_not():
    import numpy as np

    from exda_lite.reference.token_maps import sigma_scores

    rng = np.random.default_rng(0)
    sigma = np.exp(rng.uniform(np.log(0.01), np.log(0.15), 300))
    informative = np.stack([np.log(sigma) + 0.05 * rng.standard_normal(300), rng.standard_normal(300)], 1)
    noise = rng.standard_normal((300, 2))
    assert sigma_scores(informative, sigma)["probe_r2"] > 0.9
    assert sigma_scores(noise, sigma)["probe_r2"] < 0.05
    assert sigma_scores(informative, sigma)["nmi"] > sigma_scores(noise, sigma)["nmi"] + 0.3


def test_pixel_features_read_the_noise_level():
    from exda_lite.reference.token_maps import pixel_features

    clean = torch.full((2, 3, 16, 16), 0.5)
    noisy = clean + torch.tensor([0.01, 0.1]).reshape(2, 1, 1, 1) * torch.randn(2, 3, 16, 16)
    f = pixel_features(noisy)
    assert f.shape == (2, 9) and (f[1, 6:] > 5 * f[0, 6:]).all()  # the Laplacian's std grows with sigma


def test_gst_mechanism_summary_analyses_its_stored_models(tmp_path, monkeypatch):
    """Three training steps per arm, then the summary: token maps for the arms with tokens, sigma awareness for all."""
    import dataclasses

    from exda_lite.reference import runner

    torch.set_num_threads(1)
    small = {**experiments.EXPERIMENTS["gst_mechanism"].settings, "n_train": 32, "n_test": 40, "channels": 8}
    e = dataclasses.replace(experiments.EXPERIMENTS["gst_mechanism"], steps=3, settings=small)
    monkeypatch.setitem(runner.EXPERIMENTS, "gst_mechanism", e)
    summary = runner.run_experiment(e, [0, 1], "cpu", tmp_path, progress=False)
    assert set(summary["token_maps"]) == {"gst", "gst_rms", "uniform_rms"}
    assert summary["token_maps"]["uniform_rms"]["mean"]["selectivity"] == pytest.approx(1.0, abs=1e-5)
    awareness = summary["sigma_awareness"]
    assert set(awareness["arms"]) == set(e.arms) and awareness["note"].startswith("exploratory")
    assert awareness["probe_r2_comparisons"]["gst_rms_minus_mdta"]["n"] == 2
    assert summary["decision"]["status"].startswith("incomplete: 2 of 10")
    assert "Sigma awareness" in token_maps.reading(summary)

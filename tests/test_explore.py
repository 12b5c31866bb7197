"""The explorers' logic, headless: degradation strength, GST maps, attention maps, demo task."""

import numpy as np
import pytest
import torch

from exda_lite import build_model
from exda_lite.nn.block import TokenOptions, ValueOptions
from exda_lite.course.explore import (STRENGTHS, attention_maps_for, degraded_photo, demo_task, gst_maps_for,
                               strength_params)
from exda_lite.nn.tiny import TinyRestorer


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_model("exda_nano").eval()


@pytest.fixture(scope="module")
def photo():
    rng = np.random.default_rng(0)
    return (0.2 + 0.6 * rng.random((32, 40, 3))).astype(np.float32)


@pytest.mark.parametrize("name", sorted(STRENGTHS))
def test_strength_zero_is_mild_and_one_is_severe(name, photo):
    mild = np.abs(degraded_photo(photo, name, 0.0) - photo).mean()
    severe = np.abs(degraded_photo(photo, name, 1.0) - photo).mean()
    assert severe > mild and mild < 0.05


def test_strength_params_validate():
    assert strength_params("motion_blur", 0.5) == {"length": 16}
    with pytest.raises(ValueError, match="strength"):
        strength_params("noise", 1.5)
    with pytest.raises(KeyError, match="fog"):
        strength_params("fog", 0.5)


def test_gst_maps_shapes_and_normalisation(model, photo):
    out = gst_maps_for(model, photo, "haze", 0.7)
    heads, tokens = model.config.heads[0], model.config.gst_tokens
    assert out["maps"].shape == (heads, tokens, 32, 40)
    s = model.config.gst_stride
    assert out["compact"].shape == (heads, tokens, -(-32 // s), -(-40 // s)) and out["stride"] == s
    np.testing.assert_allclose(out["compact"].sum(axis=(-2, -1)), 1.0, rtol=1e-5)
    assert out["degraded"].shape == photo.shape


def test_gst_maps_depend_on_the_degradation_and_are_deterministic(model, photo):
    a = gst_maps_for(model, photo, "noise", 1.0, seed=3)["maps"]
    assert np.array_equal(a, gst_maps_for(model, photo, "noise", 1.0, seed=3)["maps"])
    assert not np.allclose(a, gst_maps_for(model, photo, "clean")["maps"])


def test_deeper_layers_and_errors(model, photo):
    deep = gst_maps_for(model, photo, "rain", 0.5, index=-1)  # last GST layer (refinement, full resolution)
    assert deep["maps"].ndim == 4
    with pytest.raises(IndexError, match="999"):
        gst_maps_for(model, photo, index=999)
    with pytest.raises(ValueError, match="GlobalSpatialTokens"):
        gst_maps_for(build_model("exda_nano", gst=False), photo)


def test_attention_maps_include_the_token_rows(model, photo):
    out = attention_maps_for(model, photo)
    c_head = out["channels_per_head"]
    n = c_head + model.config.gst_tokens
    assert out["attention"].shape == (model.config.heads[0], n, n)
    np.testing.assert_allclose(out["attention"].sum(-1), 1.0, rtol=1e-5)


def test_demo_task_is_balanced_tensors():
    task = demo_task(("noise", "haze"), patch_size=32, samples_per_degradation=3, test_crop=32)
    assert task["train_degraded"].shape == (6, 3, 32, 32) == task["train_clean"].shape
    assert task["test_clean"].shape[1:] == (3, 32, 32)
    assert task["train_labels"].tolist() == [0, 1, 0, 1, 0, 1]


def test_tiny_restorer_variants_and_gst_maps(photo):
    x = torch.rand(2, 3, 12, 10)
    plain = TinyRestorer(8, blocks=1)
    full = TinyRestorer(8, blocks=2, heads=2, value=ValueOptions(), tokens=TokenOptions(tokens=3, stride=4))
    assert plain(x).shape == full(x).shape == x.shape
    assert sum(p.numel() for p in full.parameters()) > sum(p.numel() for p in plain.parameters())
    assert gst_maps_for(full, photo, "noise", 0.5)["compact"].shape == (2, 3, 8, 10)


def test_tiny_restorer_value_blocks():
    model = TinyRestorer(8, blocks=2, value=ValueOptions(), value_blocks=[0])
    assert model.body[0].attn.value_path is not None and model.body[1].attn.value_path is None


def test_explorer_redraws_its_image_when_a_control_moves():
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    from exda_lite.course.explore import explorer

    calls = []

    def draw(strength=0.5, kind="a"):
        calls.append((strength, kind))
        fig, ax = plt.subplots(figsize=(2, 2))
        ax.imshow(np.full((4, 4), strength), vmin=0, vmax=1)
        return fig

    open_before = set(plt.get_fignums())  # figures other tests left open are not the explorer's
    slider = widgets.FloatSlider(value=0.5, min=0, max=1, step=0.1)
    box = explorer(draw, strength=slider, kind=widgets.Dropdown(options=["a", "b"], value="a"))
    first = box.image.value
    assert first[:8] == b"\x89PNG\r\n\x1a\n" and calls == [(0.5, "a")]
    slider.value = 0.9
    assert calls[-1] == (0.9, "a") and box.image.value != first
    assert set(plt.get_fignums()) <= open_before  # every figure the explorer drew was closed

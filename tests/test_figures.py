"""The course's figures: each renders, returns a Figure, and writes the shapes the code really produces."""

import pytest
import torch
from matplotlib.figure import Figure

from exda_lite.course import figures
from exda_lite.nn.configs import get_config
from exda_lite.nn.model import ExDA


def texts(fig: Figure) -> str:
    return "\n".join(t.get_text() for ax in fig.axes for t in ax.texts)


@pytest.mark.parametrize("draw", [
    lambda: figures.attention_panels(),
    lambda: figures.attention_panels(C=64, h=2, K=3, H=32, W=48, patch=8),
    lambda: figures.mdta_flow(),
    lambda: figures.gst_pipeline(C=32, h=2, K=4, s=4, H=30, W=30),
    lambda: figures.unet_figure("exda_t", 100, 120),
    lambda: figures.unet_figure(get_config("exda_nano", gst=False, nonlinear_value=False), 64, 64),
], ids=["attention", "attention-sizes", "mdta", "gst", "unet", "unet-config"])
def test_each_figure_renders_to_a_png(draw, tmp_path):
    fig = draw()
    assert isinstance(fig, Figure)
    path = tmp_path / "figure.png"
    fig.savefig(path)
    assert path.stat().st_size > 10_000 and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_shapes_follow_the_sizes():
    assert "(2, 4, 8, 384)" in texts(figures.mdta_flow(B=2, C=32, h=4, H=16, W=24))
    assert "A: 12 × 12 per head" in texts(figures.attention_panels(C=32, h=4, K=4))
    gst = texts(figures.gst_pipeline(B=1, C=32, h=2, K=3, s=4, H=30, W=30))  # ceil: 30 / 4 -> 8
    assert "(1, 32, 8, 8)" in gst and "(1, 2, 3, 64)" in gst and "(1, 2, 3, 900)" in gst and "(1, 2, 19, 900)" in gst


def test_unet_levels_match_the_model():
    """The per-level shapes drawn are those the U-Net produces (forward hooks on a tiny model)."""
    config = get_config("exda_nano", dim=8, blocks=(1, 1, 1, 1), refinement=1)
    model = ExDA(config).eval()
    stages = ["encoder1", "encoder2", "encoder3", "latent", "decoder3", "decoder2", "decoder1", "refinement"]
    seen = {}
    for name in stages:
        getattr(model, name).register_forward_hook(lambda m, i, o, name=name: seen.__setitem__(name, o.shape[1:]))
    with torch.no_grad():
        model(torch.rand(1, 3, 20, 27))
    levels = figures.unet_levels(config, 20, 27)
    assert [(lv["channels"], lv["height"], lv["width"]) for lv in levels] == [tuple(seen[n]) for n in stages]
    assert [lv["blocks"] for lv in levels] == [1, 1, 1, 1, 1, 1, 1, 1]
    assert "input padded to 24 × 32" in texts(figures.unet_figure(config, 20, 27))


def test_as_image_gives_a_png_for_notebooks():
    image = figures.as_image(figures.mdta_flow(), dpi=40)
    assert image.data[:4] == b"\x89PNG"

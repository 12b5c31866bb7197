"""The U-Net, the named configs and build_model."""

import pytest
import torch

from exda_lite import CONFIGS, ExDA, build_model, count_parameters, get_config, seed_everything
from exda_lite.nn.model import pad_to_multiple

# Exact counts of our implementation. Restormer and its BiasFree variant are the official
# code's numbers; the ExDA ones are ours (Table A: 22.42M / 10.05M / 5.83M, see configs.py).
EXPECTED_PARAMS = {
    "restormer": 26_126_644,
    "exda_b": 23_463_024,
    "exda_s": 10_534_110,
    "exda_t": 6_199_445,
    "exda_nano": 946_104,
}
TABLE_A = {"exda_b": 22.42e6, "exda_s": 10.05e6, "exda_t": 5.83e6}


@pytest.mark.parametrize("name", sorted(EXPECTED_PARAMS))
def test_parameter_counts_are_exact(name):
    assert count_parameters(build_model(name)) == EXPECTED_PARAMS[name]


def test_restormer_biasfree_matches_official_count():
    assert count_parameters(build_model("restormer", layernorm="biasfree")) == 26_111_668


def test_restormer_block_sizes_match_official():
    # one block: 31,279 params at dim 48 / 1 head; 1,796,306 at dim 384 / 8 heads
    model = build_model("restormer")
    assert count_parameters(model.encoder1[0]) == 31_279
    assert count_parameters(model.latent[0]) == 1_796_306


@pytest.mark.parametrize("name", sorted(TABLE_A))
def test_exda_sizes_within_ten_percent_of_table_a(name):
    params = count_parameters(build_model(name))
    assert abs(params / TABLE_A[name] - 1) < 0.10


@pytest.mark.parametrize("name", sorted(TABLE_A))
def test_backbone_without_primitives_is_what_table_a_reports(name):
    # Documented finding: Table A matches the ffn-2 backbone with NV and GST switched off.
    params = count_parameters(build_model(name, nonlinear_value=False, gst=False))
    assert abs(params / TABLE_A[name] - 1) < 0.015


def test_restormer_config_has_primitives_off():
    cfg = CONFIGS["restormer"]
    assert (cfg.dim, cfg.blocks, cfg.heads, cfg.refinement, cfg.ffn_factor, cfg.bias, cfg.layernorm) == \
        (48, (4, 6, 6, 8), (1, 2, 4, 8), 4, 2.66, False, "withbias")
    assert not cfg.nonlinear_value and not cfg.gst


@pytest.mark.parametrize("shape", [(1, 3, 37, 53), (2, 3, 8, 8), (3, 3, 1, 1), (1, 3, 5, 64), (1, 3, 17, 3)])
def test_nano_restores_any_size_to_same_shape(shape):
    model = build_model("exda_nano").eval()
    with torch.no_grad():
        y = model(torch.rand(shape))
    assert y.shape == shape
    assert torch.isfinite(y).all()


def test_batch_items_are_independent():
    model = build_model("exda_nano").eval()
    x = torch.rand(3, 3, 24, 20)
    with torch.no_grad():
        torch.testing.assert_close(model(x)[1:2], model(x[1:2]), rtol=1e-4, atol=1e-5)


def test_grayscale_model():
    model = build_model("exda_nano", in_channels=1, out_channels=1)
    assert model(torch.rand(2, 1, 12, 12)).shape == (2, 1, 12, 12)


def test_padding_reflects_and_falls_back_to_replicate():
    x = torch.arange(12.0).reshape(1, 1, 3, 4)
    padded = pad_to_multiple(x)
    assert padded.shape == (1, 1, 8, 8)  # too small to reflect by 5 -> replicate
    torch.testing.assert_close(padded[..., :3, :4], x)
    y = torch.rand(1, 1, 13, 11)
    torch.testing.assert_close(pad_to_multiple(y)[..., 13, :11], y[..., 11, :])  # reflect


def test_global_residual_at_init_is_close_to_identity_plus_conv():
    model = build_model("exda_nano", global_residual=False)
    assert model(torch.rand(1, 3, 8, 8)).shape == (1, 3, 8, 8)


@pytest.mark.parametrize("overrides", [{}, {"gst_token_to_channel": "linear"}, {"value_form": "inplace"},
                                       {"value_where": "encoder"}])
def test_every_parameter_receives_a_gradient(overrides):
    seed_everything(0)
    model = build_model("exda_nano", **overrides)
    # 32x32: the latent is 4x4, pooled to 2x2. At 16x16 the latent GST map would be a single
    # pixel whose spatial softmax is the constant 1, so its projection gets no gradient.
    model(torch.rand(2, 3, 32, 32)).square().mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.any(p.grad != 0)]
    assert missing == []


def test_value_where_places_the_nonlinear_value():
    enc = build_model("exda_nano", value_where="encoder")
    dec = build_model("exda_nano", value_where="decoder")
    assert enc.encoder1[0].attn.value_path is not None and enc.decoder1[0].attn.value_path is None
    assert enc.latent[0].attn.value_path is not None and enc.refinement[0].attn.value_path is None
    assert dec.encoder1[0].attn.value_path is None and dec.refinement[0].attn.value_path is not None


def test_same_seed_same_weights_and_outputs():
    outs = []
    for _ in range(2):
        seed_everything(123)
        model = build_model("exda_nano").eval()
        x = torch.rand(1, 3, 16, 16)
        with torch.no_grad():
            outs.append(model(x))
    torch.testing.assert_close(outs[0], outs[1], rtol=0, atol=0)


def test_different_seeds_differ():
    seed_everything(1)
    a = build_model("exda_nano").embed.weight.clone()
    seed_everything(2)
    assert not torch.equal(a, build_model("exda_nano").embed.weight)


def test_unknown_name_and_field_give_clear_errors():
    with pytest.raises(ValueError, match="exda_t"):
        build_model("exda_xl")
    with pytest.raises(TypeError, match="gst_stide"):
        build_model("exda_t", gst_stide=2)
    with pytest.raises(ValueError, match="value_form"):
        get_config("exda_t", value_form="postagg")
    with pytest.raises(ValueError, match="divisible"):
        build_model("exda_nano", heads=(3, 2, 4, 8))


def test_bad_inputs_give_clear_errors():
    model = build_model("exda_nano")
    with pytest.raises(ValueError, match="3 channels"):
        model(torch.rand(1, 4, 8, 8))
    with pytest.raises(ValueError, match="x\\[None\\]"):
        model(torch.rand(3, 8, 8))
    with pytest.raises(TypeError, match="255"):
        model(torch.zeros(1, 3, 8, 8, dtype=torch.uint8))


def test_model_is_an_nn_module_with_its_config():
    model = build_model("exda_t")
    assert isinstance(model, ExDA) and model.config == CONFIGS["exda_t"]

"""The building blocks against plain, independent formulations written here."""

import pytest
import torch
import torch.nn.functional as F

from exda_lite import (GDFN, ExDAAttention, ExDABlock, GlobalSpatialTokens, LayerNorm2d,
                       NonlinearValue, TokenOptions, ValueOptions)
from exda_lite.course.span import attention_span_residual, span_residual


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def randomise(module):
    """Give every parameter a random value so that no test passes by symmetry."""
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn_like(p) * 0.3 + (1.0 if p.dim() == 3 else 0.0))
    return module


# ---------------------------------------------------------------- LayerNorm
def test_layernorm_withbias_matches_torch_layer_norm_over_channels():
    norm = randomise(LayerNorm2d(8, "withbias"))
    x = torch.randn(2, 8, 5, 7)
    expected = F.layer_norm(x.permute(0, 2, 3, 1), (8,), norm.weight, norm.bias, eps=1e-5).permute(0, 3, 1, 2)
    torch.testing.assert_close(norm(x), expected)


def test_layernorm_biasfree_does_not_subtract_the_mean():
    norm = randomise(LayerNorm2d(6, "biasfree"))
    x = torch.randn(1, 6, 3, 4) + 2.0
    pixel = x[0, :, 1, 2]
    expected = pixel / torch.sqrt(pixel.var(unbiased=False) + 1e-5) * norm.weight
    torch.testing.assert_close(norm(x)[0, :, 1, 2], expected)
    assert norm.bias is None


def test_layernorm_rejects_unknown_kind():
    with pytest.raises(ValueError, match="withbias"):
        LayerNorm2d(4, "nobias")


# ---------------------------------------------------------------- GDFN
def test_gdfn_is_gelu_gate_times_linear_branch():
    ffn = randomise(GDFN(6, 2.66, bias=True))
    hidden = int(6 * 2.66)
    x = torch.randn(2, 6, 5, 4)
    y = F.conv2d(F.conv2d(x, ffn.project_in.weight, ffn.project_in.bias), ffn.dwconv.weight, ffn.dwconv.bias,
                 padding=1, groups=2 * hidden)
    expected = F.conv2d(F.gelu(y[:, :hidden]) * y[:, hidden:], ffn.project_out.weight, ffn.project_out.bias)
    torch.testing.assert_close(ffn(x), expected)


# ---------------------------------------------------------------- MDTA
def reference_mdta(module, x, value_fn=None):
    """Restormer's MDTA written head by head with explicit norms and softmax."""
    b, c, h, w = x.shape
    heads = module.heads
    qkv = F.conv2d(x, module.qkv.weight, module.qkv.bias)
    qkv = F.conv2d(qkv, module.qkv_dwconv.weight, module.qkv_dwconv.bias, padding=1, groups=3 * c)
    q, k, v = qkv[:, :c], qkv[:, c:2 * c], qkv[:, 2 * c:]
    if value_fn is not None:
        v = value_fn(v)
    ch = c // heads
    outs = []
    for head in range(heads):
        sl = slice(head * ch, (head + 1) * ch)
        qh = q[:, sl].reshape(b, ch, h * w)
        kh = k[:, sl].reshape(b, ch, h * w)
        vh = v[:, sl].reshape(b, ch, h * w)
        qh = qh / qh.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        kh = kh / kh.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        logits = torch.einsum("bin,bjn->bij", qh, kh) * module.temperature[head]
        weights = torch.exp(logits - logits.amax(-1, keepdim=True))
        weights = weights / weights.sum(-1, keepdim=True)
        outs.append(torch.einsum("bij,bjn->bin", weights, vh).reshape(b, ch, h, w))
    return F.conv2d(torch.cat(outs, 1), module.project_out.weight, module.project_out.bias)


@pytest.mark.parametrize("heads,bias", [(1, False), (2, True), (4, False)])
def test_mdta_matches_independent_restormer_formulation(heads, bias):
    attn = randomise(ExDAAttention(8, heads, bias=bias))
    x = torch.randn(2, 8, 6, 5)
    torch.testing.assert_close(attn(x), reference_mdta(attn, x), rtol=1e-4, atol=1e-5)


def test_mdta_attention_map_is_channel_by_channel_and_row_stochastic():
    attn = ExDAAttention(8, 2)
    _, a = attn(torch.randn(3, 8, 9, 7), return_attention=True)
    assert a.shape == (3, 2, 4, 4)
    torch.testing.assert_close(a.sum(-1), torch.ones(3, 2, 4))


def test_temperature_starts_at_one_per_head():
    assert torch.equal(ExDAAttention(8, 4).temperature, torch.ones(4, 1, 1))


# ---------------------------------------------------------------- nonlinear value
def test_nonlinear_value_is_residual_conv_dw_gelu_conv():
    nv = randomise(NonlinearValue(8, heads=2))
    v = torch.randn(2, 8, 5, 5)
    c1, dw, _, c2 = nv.g
    g = F.conv2d(F.gelu(F.conv2d(F.conv2d(v, c1.weight, groups=2), dw.weight, padding=1, groups=8)),
                 c2.weight, groups=2)
    torch.testing.assert_close(nv(v), v + g)


@pytest.mark.parametrize("form,act,learnable", [("inplace", "gelu", True), ("residual", "sigmoid", True),
                                                ("residual", "gelu", False), ("inplace", "sigmoid", False)])
def test_nonlinear_value_table7_variants(form, act, learnable):
    nv = NonlinearValue(8, heads=2, form=form, act=act, learnable=learnable)
    v = torch.randn(1, 8, 4, 4)
    g = nv.g(v)
    if not learnable:
        expected_g = torch.sigmoid(v) if act == "sigmoid" else F.gelu(v)
        torch.testing.assert_close(g, expected_g)
        assert sum(p.numel() for p in nv.parameters()) == 0
    torch.testing.assert_close(nv(v), v + g if form == "residual" else g)


def test_nonlinear_value_full_groups_mixes_heads():
    assert NonlinearValue(8, heads=4, groups="full").g[0].weight.shape == (8, 8, 1, 1)
    assert NonlinearValue(8, heads=4, groups="head").g[0].weight.shape == (8, 2, 1, 1)


def test_mdta_with_nonlinear_value_applies_it_before_aggregation():
    nv = randomise(NonlinearValue(8, heads=2))
    attn = randomise(ExDAAttention(8, 2, value_path=nv))
    x = torch.randn(1, 8, 6, 6)
    torch.testing.assert_close(attn(x), reference_mdta(attn, x, value_fn=nv), rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------- span property (Eq. 6-10)
def test_span_residual_is_zero_inside_and_positive_outside():
    basis = torch.randn(4, 50)
    inside = torch.randn(3, 4) @ basis
    outside = torch.randn(3, 50)
    assert span_residual(inside, basis) < 1e-6  # float32 rounding of the product
    assert span_residual(outside, basis) > 0.5


def test_linear_values_keep_attention_in_the_span_of_the_values():
    attn = randomise(ExDAAttention(8, 2))
    residual = attention_span_residual(attn, torch.randn(2, 8, 8, 8))
    assert residual.shape == (2, 2)
    assert residual.max() < 1e-6


def test_nonlinear_values_leave_the_span_of_the_linear_values():
    attn = randomise(ExDAAttention(8, 2, value_path=randomise(NonlinearValue(8, 2))))
    residual = attention_span_residual(attn, torch.randn(2, 8, 8, 8))
    assert residual.min() > 1e-2


# ---------------------------------------------------------------- GST (Algorithm 1, Eq. 2-3)
@pytest.mark.parametrize("stride,size", [(1, (8, 8)), (2, (8, 8)), (2, (7, 5)), (4, (9, 6)), (8, (5, 3))])
def test_gst_maps_sum_to_one_before_upsampling(stride, size):
    gst = randomise(GlobalSpatialTokens(8, heads=2, tokens=3, stride=stride))
    x = torch.randn(2, 8, *size)
    compact = gst.compact_maps(x)
    assert compact.shape[:3] == (2, 2, 3)
    torch.testing.assert_close(compact.flatten(-2).sum(-1), torch.ones(2, 2, 3))
    assert gst(x).shape == (2, 2, 3, size[0] * size[1])


def test_gst_follows_algorithm1_step_by_step():
    gst = randomise(GlobalSpatialTokens(4, heads=2, tokens=2, stride=2))
    x = torch.randn(1, 4, 6, 6)
    pooled = F.avg_pool2d(x, 2)  # step 1
    phi = F.conv2d(pooled, gst.proj.weight).reshape(1, 2, 2, 9)  # step 2
    compact = torch.softmax(phi, dim=-1).reshape(1, 4, 3, 3)  # steps 3-4
    up = F.interpolate(compact, size=(6, 6), mode="bilinear", align_corners=False)  # step 5
    torch.testing.assert_close(gst(x), up.reshape(1, 2, 2, 36))


def test_gst_attention_alpha_starts_at_0_1_and_matches_eq2_eq3():
    gst = randomise(GlobalSpatialTokens(8, heads=2, tokens=3, stride=2))
    attn = randomise(ExDAAttention(8, 2, gst=gst))
    with torch.no_grad():
        attn.alpha.fill_(0.1)
    assert attn.alpha.item() == pytest.approx(0.1)
    x = torch.randn(1, 8, 6, 6)
    # independent Eq. 2-3 with the "mean" token-to-channel reading
    qkv = attn.qkv_dwconv(attn.qkv(x))
    q, k, v = (t.reshape(1, 2, 4, 36) for t in qkv.chunk(3, 1))
    g = gst(x)
    qs, ks, vs = torch.cat([q, g], 2), torch.cat([k, g], 2), torch.cat([v, g], 2)
    qs, ks = F.normalize(qs, dim=-1), F.normalize(ks, dim=-1)
    a = torch.softmax(qs @ ks.transpose(-1, -2) * attn.temperature, -1)
    out = a @ vs
    out = out[:, :, :4] + 0.1 * out[:, :, 4:].mean(2, keepdim=True)
    expected = attn.project_out(out.reshape(1, 8, 6, 6))
    torch.testing.assert_close(attn(x), expected, rtol=1e-4, atol=1e-5)


def test_gst_alpha_initialised_to_0_1_by_default():
    attn = ExDAAttention(8, 2, gst=GlobalSpatialTokens(8, 2))
    assert attn.alpha.item() == pytest.approx(0.1)


def test_linear_token_to_channel_starts_equal_to_mean():
    gst = GlobalSpatialTokens(8, heads=2, tokens=3)
    mean_attn = ExDAAttention(8, 2, gst=gst, token_to_channel="mean")
    lin_attn = ExDAAttention(8, 2, gst=gst, token_to_channel="linear")
    lin_attn.load_state_dict(mean_attn.state_dict(), strict=False)
    x = torch.randn(1, 8, 6, 6)
    torch.testing.assert_close(lin_attn(x), mean_attn(x))
    assert lin_attn.token_to_channel.shape == (2, 4, 3)


def test_gst_attention_map_includes_token_rows():
    attn = ExDAAttention(8, 2, gst=GlobalSpatialTokens(8, 2, tokens=3))
    _, a = attn(torch.randn(1, 8, 6, 6), return_attention=True)
    assert a.shape == (1, 2, 4 + 3, 4 + 3)


# ---------------------------------------------------------------- block
def test_block_is_prenorm_residual():
    block = randomise(ExDABlock(8, 2, value=ValueOptions(), tokens=TokenOptions(tokens=2)))
    x = torch.randn(1, 8, 5, 6)
    y = x + block.attn(block.norm1(x))
    torch.testing.assert_close(block(x), y + block.ffn(block.norm2(y)))

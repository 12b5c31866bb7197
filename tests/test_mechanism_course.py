"""exda_lite.course.mechanism: the facts notebooks 01 and 05 teach, checked on the library's layers."""

import torch
import torch.nn.functional as F

from exda_lite.course.mechanism import per_image_weight, rms, smooth_fields, token_rows
from exda_lite.nn.attention import ExDAAttention
from exda_lite.nn.gst import GlobalSpatialTokens


def test_mdta_with_linear_values_is_one_1x1_conv_per_image():
    torch.manual_seed(0)
    layer = ExDAAttention(8, heads=2)
    x = torch.randn(3, 8, 10, 12)
    with torch.no_grad():
        out, attn = layer(x, return_attention=True)
        v = layer.qkv_dwconv(layer.qkv(x)).chunk(3, dim=1)[2]
        weights = per_image_weight(attn, layer.project_out.weight[:, :, 0, 0])
        conv = torch.stack([F.conv2d(v[b:b + 1], weights[b, :, :, None, None])[0] for b in range(3)])
        assert torch.allclose(conv, out, atol=1e-5)
        assert not torch.allclose(weights[0], weights[1], atol=1e-4)  # one weight per image
        assert torch.allclose(layer(2.5 * x), 2.5 * out, atol=1e-5)  # positively homogeneous (no biases)


def test_token_rows_rebuild_the_layers_v_star_and_are_tiny_unless_rescaled():
    torch.manual_seed(0)
    x = torch.randn(1, 8, 16, 16)
    for scale in ("softmax", "rms"):
        layer = ExDAAttention(8, heads=2, gst=GlobalSpatialTokens(8, heads=2, tokens=2, stride=2),
                              token_value_scale=scale)
        with torch.no_grad():
            out, attn = layer(x, return_attention=True)
            rows = token_rows(layer, x)
            av = attn @ torch.cat([rows["value"], rows["token"]], dim=2)
            c = rows["value"].shape[2]
            mixed = av[:, :, :c] + layer.alpha * av[:, :, c:].mean(dim=2, keepdim=True)
            assert torch.allclose(layer.project_out(mixed.reshape(1, 8, 16, 16)), out, atol=1e-5)
        ratio = rms(rows["token"]) / rms(rows["value"])
        assert (ratio < 0.05) if scale == "softmax" else abs(ratio - 1) < 0.05


def test_smooth_fields_span_zero_to_one():
    fields = smooth_fields(4, 16, torch.Generator().manual_seed(0))
    assert fields.shape == (4, 1, 16, 16)
    assert torch.allclose(fields.amin((1, 2, 3)), torch.zeros(4)) and torch.allclose(fields.amax((1, 2, 3)), torch.ones(4))

"""channels_last (NHWC) is the CPU default of training (issue 20): the same network and the same statistics.

* every fast path (LayerNorm as ``F.layer_norm``, the Gram-scaled cosine, GST rows appended pixel-major,
  the dense GDFN gate) gives the NCHW outputs and gradients within float rounding;
* the NCHW path is bit for bit what it was (the forward hashes in test_forward_hashes.py);
* ``train`` and ``toy.train_toy`` default to channels_last on a CPU, and a short run's results match NCHW's.
"""

from __future__ import annotations

import pytest
import torch

from exda_lite.course import toy
from exda_lite.nn.block import TokenOptions, ValueOptions
from exda_lite.nn.layernorm import LayerNorm2d, is_channels_last
from exda_lite.nn.model import build_model
from exda_lite.nn.tiny import TinyRestorer, ToyAttentionNet
from exda_lite.training.speed import to_channels_last

NHWC = torch.channels_last


def outputs_and_grads(model: torch.nn.Module, x: torch.Tensor, channels_last: bool):
    if channels_last:
        model, x = to_channels_last(model), x.contiguous(memory_format=NHWC)
    x = x.clone().requires_grad_()
    out = model(x)
    out.square().mean().backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    return out.detach(), grads, x.grad


@pytest.mark.parametrize("tokens", [None, TokenOptions(), TokenOptions(token_value_scale="rms"),
                                    TokenOptions(eq3="separate"), TokenOptions(token_to_channel="linear")],
                         ids=["mdta", "gst", "gst_rms", "eq3_separate", "token_linear"])
@pytest.mark.parametrize("heads", [1, 2])
def test_tiny_restorer_nhwc_equals_nchw_in_outputs_and_gradients(tokens, heads):
    torch.manual_seed(0)
    plain = TinyRestorer(channels=16, blocks=2, heads=heads, value=ValueOptions(), tokens=tokens).train()
    fast = TinyRestorer(channels=16, blocks=2, heads=heads, value=ValueOptions(), tokens=tokens).train()
    fast.load_state_dict(plain.state_dict())
    x = torch.rand(3, 3, 24, 20)
    out, grads, x_grad = outputs_and_grads(plain, x, False)
    out_cl, grads_cl, x_grad_cl = outputs_and_grads(fast, x, True)
    assert is_channels_last(out_cl)  # the layout survives the whole network
    torch.testing.assert_close(out_cl, out, rtol=0, atol=1e-5)
    torch.testing.assert_close(x_grad_cl, x_grad, rtol=1e-4, atol=1e-7)
    assert grads_cl.keys() == grads.keys()
    for name in grads:
        torch.testing.assert_close(grads_cl[name], grads[name], rtol=1e-4, atol=1e-6, msg=name)


@pytest.mark.parametrize("name", ["restormer", "exda_t"])
def test_u_nets_nhwc_equal_nchw(name):
    torch.manual_seed(0)
    model = build_model(name, dim=8).eval()
    x = torch.rand(1, 3, 32, 40)
    with torch.no_grad():
        reference = model(x)
        fast = to_channels_last(model)(x.contiguous(memory_format=NHWC))
    torch.testing.assert_close(fast, reference, rtol=0, atol=1e-5)


@pytest.mark.parametrize("kind", ["withbias", "biasfree"])
def test_layernorm_nhwc_path_is_the_equation(kind):
    torch.manual_seed(0)
    norm = LayerNorm2d(12, kind)
    torch.nn.init.normal_(norm.weight)
    if norm.bias is not None:
        torch.nn.init.normal_(norm.bias)
    x = torch.randn(2, 12, 5, 7) * 3 + 1
    fast = norm(x.contiguous(memory_format=NHWC))
    assert is_channels_last(fast)
    torch.testing.assert_close(fast, norm(x), rtol=0, atol=1e-5)


def test_is_channels_last_leaves_ambiguous_tensors_on_the_nchw_path():
    assert not is_channels_last(torch.rand(2, 3, 4, 5))
    assert is_channels_last(torch.rand(2, 3, 4, 5).contiguous(memory_format=NHWC))
    assert not is_channels_last(torch.rand(2, 1, 4, 5).contiguous(memory_format=NHWC))  # C = 1: both layouts
    assert not is_channels_last(torch.rand(2, 3, 1, 1).contiguous(memory_format=NHWC))  # H = W = 1: both
    assert not is_channels_last(torch.rand(3, 4, 5))


def test_toy_trainer_defaults_to_channels_last_for_images_and_nchw_for_signals():
    assert toy.toy_channels_last(torch.rand(4, 3, 16, 16))
    assert toy.toy_channels_last(torch.rand(4, 1, 14, 14))
    assert not toy.toy_channels_last(torch.rand(4, 1, 1, 64))  # 1 x L signals: no gain measured
    assert not toy.toy_channels_last(torch.rand(4, 3, 16, 16), device="meta")


def small_task(seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    clean = torch.rand(96, 3, 16, 16, generator=g)
    degraded = (clean + 0.1 * torch.randn(clean.shape, generator=g)).clamp(0, 1) ** 1.5
    return {"train_clean": clean[:64], "train_degraded": degraded[:64],
            "test_clean": clean[64:], "test_degraded": degraded[64:]}


def test_toy_training_in_nhwc_has_the_statistics_of_nchw_and_returns_nchw_weights():
    """Same seed, both layouts: the curves agree to float rounding, which grows slowly over 60 Adam steps."""
    task, finals = small_task(), {}
    for channels_last in (False, True):
        torch.manual_seed(0)
        model = TinyRestorer(channels=8, blocks=1, value=ValueOptions(), tokens=TokenOptions())
        history = toy.train_toy(model, task, steps=60, batch_size=8, lr=3e-3, eval_every=20, seed=0,
                                progress=False, ema=0.9, channels_last=channels_last)
        finals[channels_last] = [h["test_psnr"] for h in history]
        assert all(p.is_contiguous() for p in model.parameters())  # plain NCHW weights for safetensors
    assert finals[True] == pytest.approx(finals[False], abs=0.02)  # dB, after 60 steps
    assert finals[True][-1] > finals[True][0]


def test_train_defaults_to_channels_last_on_cpu_and_keeps_an_explicit_choice(tmp_path):
    from exda_lite.training.config import TrainConfig
    from exda_lite.training.loop import train

    def run(**kwargs):
        config = TrainConfig(out_dir=str(tmp_path / str(kwargs)), setting="demo", model="exda_nano", patch_size=32,
                             batch_size=2, samples_per_degradation=2, max_steps=2, device="cpu", progress=False,
                             tensorboard=False, val_every=0, val_images=0, **kwargs)
        train(config)
        return config.channels_last

    assert TrainConfig(setting="demo").channels_last is None  # resolved by the device when training starts
    assert run() is True
    assert run(channels_last=False) is False


def test_cli_takes_no_channels_last_for_training():
    from exda_lite.cli import build_parser

    args = build_parser().parse_args(["train", "--no-channels-last"])
    assert args.channels_last is False
    assert build_parser().parse_args(["train"]).channels_last is None


def test_toy_attention_net_on_digits_sized_images_equal_in_both_layouts():
    torch.manual_seed(0)
    plain = ToyAttentionNet(values="nonlinear", norm="groupnorm", ffn=True)
    fast = ToyAttentionNet(values="nonlinear", norm="groupnorm", ffn=True)
    fast.load_state_dict(plain.state_dict())
    x = torch.rand(4, 1, 14, 14)
    out, grads, _ = outputs_and_grads(plain, x, False)
    out_cl, grads_cl, _ = outputs_and_grads(fast, x, True)
    torch.testing.assert_close(out_cl, out, rtol=0, atol=1e-5)
    for name in grads:
        torch.testing.assert_close(grads_cl[name], grads[name], rtol=1e-4, atol=1e-6, msg=name)


def test_make_bench_prints_every_row(capsys):
    """``benchmarks/speed.py`` (make bench) at toy sizes: forward ratios, training rows, reference rows."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import speed

    speed.main(["--size", "16", "--rounds", "1", "--no-compile", "--train-models", "exda_nano", "--train-batch", "1",
                "--train-steps", "1", "--reference", "span_synthetic", "--reference-steps", "2", "--threads", "1"])
    out = capsys.readouterr().out
    assert "x plain (medians)" in out and "train step exda_nano" in out
    assert "reference span_synthetic" in out and "default (NCHW)" in out  # 1 x L signals stay NCHW

"""Toy experiments of notebooks 02-03: synthetic function, digits, matched models, training."""

import struct

import numpy as np
import pytest
import torch

from exda_lite import count_parameters
from exda_lite.data import digits, synthetic
from exda_lite.course import toy
from exda_lite.nn.nonlinear_value import NonlinearValue


# ---------------------------------------------------------------- synthetic function
def test_synthetic_task_shapes_ranges_and_determinism():
    a = synthetic.make_synthetic_task(n_train=32, n_test=16, length=40, seed=3)
    b = synthetic.make_synthetic_task(n_train=32, n_test=16, length=40, seed=3)
    assert a["train_clean"].shape == (32, 1, 1, 40) and a["test_degraded"].shape == (16, 1, 1, 40)
    for key in a:
        assert torch.equal(a[key], b[key])
        assert a[key].min() >= 0 and a[key].max() <= 1
    assert not torch.equal(a["train_clean"], synthetic.make_synthetic_task(32, 16, 40, seed=4)["train_clean"])


def test_synthetic_test_set_does_not_depend_on_train_size():
    small = synthetic.make_synthetic_task(n_train=8, n_test=16, seed=0)
    large = synthetic.make_synthetic_task(n_train=64, n_test=16, seed=0)
    assert torch.equal(small["test_degraded"], large["test_degraded"])


def test_degraded_signals_are_quantised_to_their_levels():
    rng = np.random.default_rng(0)
    x = synthetic.clean_signals(20, 64, rng)
    y, p = synthetic.degrade_signals(x, rng)
    for row, levels in zip(y, p["levels"]):
        assert np.allclose(row * (levels - 1), np.round(row * (levels - 1)))


def test_clean_signals_span_their_range():
    x = synthetic.clean_signals(5, 64, np.random.default_rng(1))
    np.testing.assert_allclose(x.min(1), 0.05)
    np.testing.assert_allclose(x.max(1), 0.95)


# ---------------------------------------------------------------- digits
def write_idx(path, array, magic):
    with open(path, "wb") as f:
        f.write(struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in array.shape))
        f.write(array.astype(np.uint8).tobytes())


@pytest.fixture
def tiny_mnist(tmp_path):
    """A real MNIST-format folder (idx files) with 12 train and 5 test images."""
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 12), ("t10k", 5)):
        write_idx(raw / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)), 2051)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", rng.integers(0, 10, (n,)), 2049)
    return tmp_path


def test_real_mnist_loading_path_reads_idx_files(tiny_mnist):
    images = digits.load_digit_images(root=tiny_mnist, download=False, source="mnist")
    assert images.source == "mnist"
    assert images.train.shape == (12, 28, 28) and images.test.shape == (5, 28, 28)
    assert images.train.dtype == np.float32 and 0 <= images.train.min() and images.train.max() <= 1


def test_missing_mnist_required_says_how_to_get_it(tmp_path):
    with pytest.raises(RuntimeError, match="raw/"):
        digits.load_digit_images(root=tmp_path, download=False, source="mnist")


def test_missing_mnist_falls_back_to_bundled_digits(tmp_path):
    images = digits.load_digit_images(root=tmp_path, download=False, source="auto")
    assert images.source == "sklearn-digits" and "MNIST unavailable" in images.note
    assert images.train.shape[1:] == (28, 28) and len(images.train) + len(images.test) == 1797
    assert images.train[:, :4].max() == 0  # MNIST layout: empty 4-pixel border


def test_digit_corruption_is_deterministic_and_in_range():
    images = digits.load_sklearn_digits()
    a = digits.make_digit_task(images, n_train=10, n_test=4, seed=1)
    b = digits.make_digit_task(images, n_train=10, n_test=4, seed=1)
    assert a["train_degraded"].shape == (10, 1, 28, 28)
    assert torch.equal(a["train_degraded"], b["train_degraded"])
    assert 0 <= a["train_degraded"].min() and a["train_degraded"].max() <= 1
    assert (a["train_degraded"] - a["train_clean"]).abs().mean() > 0.02


def test_ramp_noise_std_goes_from_low_to_high():
    std = digits.ramp_noise_std((10, 10), 0.1, 0.3, angle=0.0)
    np.testing.assert_allclose(std[:, 0], 0.1)
    np.testing.assert_allclose(std[:, -1], 0.3)


# ---------------------------------------------------------------- matched models
def test_linear_and_nonlinear_models_are_matched():
    lin, nl = toy.ToyAttentionNet("linear"), toy.ToyAttentionNet("nonlinear")
    assert count_parameters(lin) == count_parameters(nl)
    y = torch.rand(2, 1, 1, 32)
    assert lin(y).shape == nl(y).shape == y.shape


def test_linear_value_transform_is_affine_and_nonlinear_is_not():
    torch.manual_seed(0)
    v = torch.randn(1, 8, 5, 5)
    for act, affine in (("identity", True), ("gelu", False)):
        g = NonlinearValue(8, heads=2, act=act, bias=True)
        zero = g(torch.zeros_like(v))
        midpoint_gap = (g(2 * v) - zero - 2 * (g(v) - zero)).abs().max()
        assert bool(midpoint_gap < 1e-5) is affine


def test_toy_model_options():
    no_norm = toy.ToyAttentionNet("linear", norm=False, ffn=True)
    assert isinstance(no_norm.blocks[0].norm1, torch.nn.Identity) and no_norm.blocks[0].ffn is not None
    with pytest.raises(ValueError, match="linear"):
        toy.ToyAttentionNet("quadratic")


def test_training_reduces_test_error():
    task = synthetic.make_synthetic_task(n_train=128, n_test=32, length=32, seed=0)
    torch.manual_seed(0)
    history = toy.train_toy(toy.ToyAttentionNet("nonlinear", channels=8, blocks=1), task, steps=40,
                            batch_size=16, lr=1e-2, eval_every=10, progress=False)
    assert [h["step"] for h in history] == [10, 20, 30, 40]
    assert history[-1]["test_mse"] < history[0]["test_mse"]


def test_cosine_lr_warms_up_and_decays():
    assert toy.cosine_lr(0, 100, 1.0, warmup=10) == pytest.approx(0.1)
    assert toy.cosine_lr(10, 100, 1.0, warmup=10) == pytest.approx(1.0)
    assert toy.cosine_lr(100, 100, 1.0, warmup=10) == pytest.approx(0.0)


def test_cosine_lr_is_bit_for_bit_the_toy_formula_of_the_reference_runs():
    """toy.cosine_lr now calls schedule.lr_factor; the committed reference runs used this closed form."""
    import math

    def committed(step, total, base, warmup=0):
        if step < warmup:
            return base * (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return 0.5 * base * (1 + math.cos(math.pi * progress))

    for base in (1e-2, 2e-3, 3e-3):
        for total in (300, 3000, 5000):
            warmup = min(50, total // 10)
            assert all(toy.cosine_lr(s, total, base, warmup) == committed(s, total, base, warmup)
                       for s in range(total))

"""Losses (Eq. 4-5) and metrics (all-in-one protocol) against independent computations."""

import numpy as np
import pytest
import torch
from skimage import data, img_as_float
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from exda_lite import RestorationLoss, evaluate_pair, fourier_loss, psnr
from exda_lite.training.metrics import centre_crop, rgb_to_y


@pytest.fixture(scope="module")
def photo_pair():
    """A real photo (scikit-image's astronaut, cropped) and a noisy copy, as in the test-noise convention."""
    clean = data.astronaut()[100:183, 150:251]  # 83 x 101: not a multiple of 16
    rng = np.random.RandomState(0)
    noisy = np.clip(clean + rng.randn(*clean.shape) * 25, 0, 255).astype(np.uint8)
    return img_as_float(clean), img_as_float(noisy)


def test_torch_psnr_matches_scikit_image(photo_pair):
    clean, noisy = photo_pair
    t = lambda a: torch.from_numpy(a).permute(2, 0, 1)[None].float()  # noqa: E731
    ours = psnr(t(noisy), t(clean)).item()
    assert ours == pytest.approx(peak_signal_noise_ratio(clean, noisy, data_range=1.0), abs=1e-3)


def test_evaluate_pair_follows_the_protocol(photo_pair):
    clean, noisy = photo_pair
    result = evaluate_pair(noisy, clean)
    c, n = clean[1:81, 2:98], noisy[1:81, 2:98]  # centre crop to 80 x 96
    assert result["psnr"] == pytest.approx(peak_signal_noise_ratio(c, n, data_range=1.0))
    assert result["ssim"] == pytest.approx(structural_similarity(c, n, data_range=1.0, channel_axis=-1))
    assert 15 < result["psnr"] < 30 and 0 < result["ssim"] < 1


def test_evaluate_pair_accepts_tensors_and_clips(photo_pair):
    clean, noisy = photo_pair
    as_tensor = torch.from_numpy(noisy).permute(2, 0, 1)
    assert evaluate_pair(as_tensor, clean) == pytest.approx(evaluate_pair(noisy, clean))
    over = evaluate_pair(noisy * 1.5, clean)
    assert over == pytest.approx(evaluate_pair(np.clip(noisy * 1.5, 0, 1), clean))


def test_y_channel_and_border_options(photo_pair):
    clean, noisy = photo_pair
    y = evaluate_pair(noisy, clean, y_channel=True, border=4)
    cy, ny = rgb_to_y(centre_crop(clean, 16))[4:-4, 4:-4], rgb_to_y(centre_crop(noisy, 16))[4:-4, 4:-4]
    assert y["psnr"] == pytest.approx(peak_signal_noise_ratio(cy, ny, data_range=1.0))
    assert y["psnr"] != pytest.approx(evaluate_pair(noisy, clean)["psnr"])


def test_rgb_to_y_matches_bt601():
    assert rgb_to_y(np.array([1.0, 1.0, 1.0])) == pytest.approx(235 / 255)
    assert rgb_to_y(np.array([0.0, 0.0, 0.0])) == pytest.approx(16 / 255)


def test_grayscale_evaluation():
    rng = np.random.RandomState(1)
    a = rng.rand(40, 40)
    b = np.clip(a + rng.randn(40, 40) * 0.05, 0, 1)
    assert evaluate_pair(b, a)["psnr"] == pytest.approx(peak_signal_noise_ratio(a[4:36, 4:36], b[4:36, 4:36],
                                                                                 data_range=1.0))


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="differ"):
        evaluate_pair(np.zeros((8, 8, 3)), np.zeros((8, 9, 3)))


def test_fourier_loss_matches_numpy_rfft2():
    rng = np.random.RandomState(0)
    a, b = rng.rand(2, 3, 8, 10), rng.rand(2, 3, 8, 10)
    fa, fb = np.fft.rfft2(a), np.fft.rfft2(b)
    expected = np.abs(fa.real - fb.real).mean() + np.abs(fa.imag - fb.imag).mean()
    assert fourier_loss(torch.tensor(a), torch.tensor(b)).item() == pytest.approx(expected, rel=1e-5)


def test_restoration_loss_is_l1_plus_tenth_fourier():
    torch.manual_seed(0)
    pred, target = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)
    parts = RestorationLoss()(pred, target)
    l1 = (pred - target).abs().mean()
    torch.testing.assert_close(parts["l1"], l1)
    torch.testing.assert_close(parts["total"], l1 + 0.1 * fourier_loss(pred, target))
    assert set(RestorationLoss(fourier_weight=0)(pred, target)) == {"l1", "total"}


def test_loss_zero_for_identical_images_and_shape_checked():
    x = torch.rand(1, 3, 8, 8)
    assert RestorationLoss()(x, x)["total"].item() == 0
    with pytest.raises(ValueError, match="shape"):
        RestorationLoss()(x, x[..., :7])

"""Degradation synthesis: determinism, shapes and ranges, and the physics each model claims."""

import matplotlib
import numpy as np
import pytest
from skimage import data as skdata
from skimage.metrics import peak_signal_noise_ratio
from skimage.transform import resize

from exda_lite.data.degradations import (
    CDD11_TYPES,
    DEGRADATIONS,
    add_test_noise,
    composite,
    degradation_gallery,
    degrade,
    gaussian_blur,
    gaussian_noise,
    haze,
    jpeg,
    kspace_centre_mask,
    low_count_pet,
    low_dose_ct,
    low_light,
    motion_blur,
    mri_undersample,
    rain,
    rain_layer,
    snow,
)

matplotlib.use("Agg")
COMPOSITES = {name for name, parts in CDD11_TYPES.items() if len(parts) > 1}
STOCHASTIC = {"noise", "rain", "low_light", "snow", "ct", "pet"} | COMPOSITES


@pytest.fixture(scope="module")
def photo():
    """A real photo, odd-sized: 37 x 53 x 3 float32."""
    return resize(skdata.astronaut()[100:300, 150:420], (37, 53), anti_aliasing=True).astype(np.float32)


@pytest.fixture(scope="module")
def phantom():
    return resize(skdata.shepp_logan_phantom(), (64, 64), anti_aliasing=True).astype(np.float32)


@pytest.mark.parametrize("name", sorted(DEGRADATIONS))
def test_every_degradation_is_deterministic_float32_in_range_and_keeps_shape(name, photo):
    images = [photo.mean(axis=-1)] if DEGRADATIONS[name].grayscale_only else [photo, photo.mean(axis=-1)]
    for image in images:
        out = degrade(image, name, rng=3)
        assert out.shape == image.shape and out.dtype == np.float32
        assert 0 <= out.min() and out.max() <= 1
        np.testing.assert_array_equal(out, degrade(image, name, rng=3))
        np.testing.assert_array_equal(out, degrade(image, name, rng=np.random.default_rng(3)))
        if name in STOCHASTIC:
            assert not np.array_equal(out, degrade(image, name, rng=4)), "a different seed must change the result"
        assert not np.allclose(out, image, atol=1e-3), f"{name} left the image unchanged"


def test_gaussian_noise_sigma_is_on_the_255_scale():
    flat = np.full((128, 128), 0.5, np.float32)
    noise = gaussian_noise(flat, sigma=25, rng=0) - flat
    assert abs(noise.std() * 255 - 25) < 1.0 and abs(noise.mean()) < 0.005
    quantised = gaussian_noise(flat, sigma=25, rng=0, quantize=True)
    np.testing.assert_allclose(quantised * 255, np.round(quantised * 255), atol=1e-3)


def test_add_test_noise_is_the_published_convention():
    clean = (skdata.camera()[:40, :56]).astype(np.uint8)
    np.random.seed(0)
    expected = np.clip(clean + np.random.randn(*clean.shape) * 25, 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(add_test_noise(clean, 25), expected)
    with pytest.raises(TypeError, match="uint8"):
        add_test_noise(clean / 255.0, 25)


def test_haze_lowers_contrast_more_with_denser_haze(photo):
    stds = [haze(photo, beta=b).std() for b in (0.0, 0.5, 1.5, 3.0)]
    assert stds[0] == pytest.approx(photo.std(), rel=1e-5)
    assert stds == sorted(stds, reverse=True)
    dense = haze(photo, beta=6.0, airlight=0.8)
    assert abs(dense.mean() - 0.8) < 0.05, "very dense haze converges to the airlight"


def test_haze_is_denser_far_away_at_the_top(photo):
    gray = np.full((40, 30), 0.2, np.float32)
    hazy = haze(gray)
    assert hazy[:5].mean() > hazy[-5:].mean()


def test_blurs_preserve_the_mean_and_remove_detail(photo):
    for out in (gaussian_blur(photo, sigma=2), motion_blur(photo, length=9, angle=0)):
        assert out.mean() == pytest.approx(photo.mean(), abs=0.01)
        assert np.abs(np.diff(out, axis=1)).mean() < 0.7 * np.abs(np.diff(photo, axis=1)).mean()


def test_motion_blur_smears_along_its_direction():
    rng = np.random.default_rng(0)
    texture = rng.random((48, 48)).astype(np.float32)
    horizontal = motion_blur(texture, length=11, angle=0)
    assert np.abs(np.diff(horizontal, axis=1)).mean() < 0.5 * np.abs(np.diff(horizontal, axis=0)).mean()


def test_rain_streaks_are_bright_additive_and_near_vertical(photo):
    wet = rain(photo, rng=0)
    assert (wet >= photo - 1e-6).all() and wet.mean() > photo.mean() + 0.005
    layer = rain_layer((96, 96), angle=0.0, rng=1)
    vertical = np.corrcoef(layer[:-3].ravel(), layer[3:].ravel())[0, 1]
    horizontal = np.corrcoef(layer[:, :-3].ravel(), layer[:, 3:].ravel())[0, 1]
    assert vertical > 0.5 > horizontal


def test_low_light_is_dark_and_noisier_with_fewer_photons(photo):
    dark = low_light(photo, rng=0)
    assert dark.mean() < 0.4 * photo.mean()
    clean_dark = 0.3 * photo**1.8
    errors = [np.abs(low_light(photo, photons=p, read_noise=0, rng=0) - clean_dark).mean() for p in (50, 500, 5000)]
    assert errors == sorted(errors, reverse=True)


def test_snow_adds_white_flakes(photo):
    snowy = snow(photo, density=0.02, veil=0.0, rng=0)
    assert (snowy.min(axis=-1) > 0.9).mean() > (photo.min(axis=-1) > 0.9).mean() + 0.02


def test_jpeg_error_falls_as_quality_rises(photo):
    errors = [np.abs(jpeg(photo, quality=q) - photo).mean() for q in (5, 20, 50, 90)]
    assert errors == sorted(errors, reverse=True) and errors[-1] < 0.02


def test_composites_apply_in_physical_order_whatever_the_order_given(photo):
    np.testing.assert_array_equal(composite(photo, ("low_light", "haze"), rng=0),
                                  composite(photo, ("haze", "low_light"), rng=0))
    assert composite(photo, ("low_light", "haze", "rain"), rng=0).mean() < photo.mean()
    with pytest.raises(ValueError, match="fog"):
        composite(photo, ("haze", "fog"))
    assert set(CDD11_TYPES) <= set(DEGRADATIONS) | {"low", "haze", "rain", "snow"}


@pytest.mark.parametrize("shape", [(64, 64), (128, 96), (400, 400)])
def test_mri_mask_keeps_exactly_the_central_6_25_percent_of_kspace(shape):
    mask = kspace_centre_mask(shape, factor=4)
    assert mask.sum() == shape[0] * shape[1] / 16  # 6.25 %
    assert mask[shape[0] // 2, shape[1] // 2], "the zero frequency must be kept"
    rows, cols = np.nonzero(mask)
    assert rows.max() - rows.min() + 1 == shape[0] // 4 and cols.max() - cols.min() + 1 == shape[1] // 4


def test_mri_undersampling_keeps_low_and_removes_high_frequencies(phantom):
    y, x = np.mgrid[:64, :64] / 64
    smooth = (0.5 + 0.3 * np.cos(2 * np.pi * 3 * x) * np.cos(2 * np.pi * 2 * y)).astype(np.float32)
    np.testing.assert_allclose(mri_undersample(smooth), smooth, atol=1e-5)
    checker = ((np.indices((64, 64)).sum(axis=0) % 2) * 0.5 + 0.25).astype(np.float32)
    np.testing.assert_allclose(mri_undersample(checker), 0.5, atol=1e-5)
    lowres = mri_undersample(phantom)
    assert 15 < peak_signal_noise_ratio(phantom, lowres, data_range=1) < 40
    with pytest.raises(ValueError, match="rgb2gray"):
        mri_undersample(np.zeros((8, 8, 3), np.float32))


def test_low_dose_ct_noise_falls_with_dose(phantom):
    reference = low_dose_ct(phantom, photons=None)
    assert peak_signal_noise_ratio(phantom, reference, data_range=1) > 25
    errors = [np.abs(low_dose_ct(phantom, photons=p, rng=0) - reference).mean() for p in (1e3, 1e4, 1e5)]
    assert errors == sorted(errors, reverse=True)
    assert low_dose_ct(phantom[:, :50], rng=0).shape == (64, 50)


def test_low_count_pet_is_poisson_counting_noise(phantom):
    flat = np.full((64, 64), 0.5, np.float32)
    for counts in (10, 100):
        out = low_count_pet(flat, counts=counts, resolution=0, rng=0)
        assert out.mean() == pytest.approx(0.5, abs=0.01)
        assert out.var() == pytest.approx(0.5 / counts, rel=0.1)  # Poisson: variance = mean (in counts)
        np.testing.assert_allclose(out * counts, np.round(out * counts), atol=1e-3)  # whole numbers of decays


def test_clear_errors_for_wrong_inputs():
    with pytest.raises(ValueError, match="permute"):
        degrade(np.zeros((3, 16, 16), np.float32), "noise")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        degrade(np.full((8, 8), 2.0, np.float32), "haze")
    with pytest.raises(KeyError, match="fog"):
        degrade(np.zeros((8, 8), np.float32), "fog")
    assert degrade(np.full((8, 8), 128, np.uint8), "jpeg").dtype == np.float32  # uint8 is converted


def test_gallery_shows_the_clean_image_and_each_degradation(photo):
    import matplotlib.pyplot as plt

    fig = degradation_gallery(photo, names=["noise", "haze", "mri"], ncols=2)
    assert len([ax for ax in fig.axes if ax.images]) == 4
    assert "haze" in " ".join(ax.get_title() for ax in fig.axes)
    plt.close(fig)

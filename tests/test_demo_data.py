"""The demo all-in-one dataset: balanced, deterministic, correctly paired, fast."""

import time
from collections import Counter

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from exda_lite.data.augment import dihedral
from exda_lite.data.degradations import degrade
from exda_lite.data.demo_data import (
    DEMO_DEGRADATIONS,
    MEDICAL_DEGRADATIONS,
    MEDICAL_TEST_PHOTOS,
    MEDICAL_TRAIN_PHOTOS,
    TEST_PHOTOS,
    TRAIN_PHOTOS,
    DemoAllInOne,
    DemoAllInOneTest,
    demo_photo,
)


@pytest.fixture(scope="module")
def train():
    return DemoAllInOne(patch_size=32, samples_per_degradation=12, seed=0)


def test_split_is_by_image_and_photos_are_rgb_float():
    assert not set(TRAIN_PHOTOS) & set(TEST_PHOTOS)
    assert not set(MEDICAL_TRAIN_PHOTOS) & set(MEDICAL_TEST_PHOTOS)
    for name in ("chelsea", "brick"):
        photo = demo_photo(name)
        assert photo.dtype == np.float32 and photo.ndim == 3 and photo.shape[2] == 3 and min(photo.shape[:2]) == 256


def test_items_are_patches_with_balanced_labels(train):
    assert len(train) == len(DEMO_DEGRADATIONS) * 12
    labels = []
    for degraded, clean, label in (train[i] for i in range(len(train))):
        assert degraded.shape == clean.shape == (3, 32, 32)
        assert degraded.dtype == clean.dtype == torch.float32
        assert 0 <= degraded.min() and degraded.max() <= 1
        labels.append(label)
    assert Counter(labels) == {i: 12 for i in range(len(DEMO_DEGRADATIONS))}


def test_same_seed_same_items_new_epoch_new_patches(train):
    again = DemoAllInOne(patch_size=32, samples_per_degradation=12, seed=0)
    other = DemoAllInOne(patch_size=32, samples_per_degradation=12, seed=1)
    for i in (0, 7):
        assert all(torch.equal(a, b) for a, b in zip(train[i][:2], again[i][:2]))
        assert not torch.equal(train[i][1], other[i][1])
    again.set_epoch(1)
    assert not torch.equal(train[0][1], again[0][1])


def test_degraded_and_clean_share_crop_and_dihedral_transform(train):
    ks = set()
    for i in range(15):
        p = train.sample_params(i)
        crop = demo_photo(p["photo"])[p["top"]:p["top"] + 32, p["left"]:p["left"] + 32]
        degraded, clean, label = train[i]
        np.testing.assert_array_equal(clean.permute(1, 2, 0).numpy(), dihedral(crop, p["k"]))
        expected = dihedral(degrade(crop, train.degradations[label], rng=p["rng"]), p["k"])
        np.testing.assert_allclose(degraded.permute(1, 2, 0).numpy(), expected, atol=1e-6)
        ks.add(p["k"])
    assert len(ks) > 2, "the dihedral transform should vary between items"


def test_test_set_is_fixed_full_size_or_cropped():
    full = DemoAllInOneTest(degradations=("noise", "haze"))
    assert len(full) == len(TEST_PHOTOS) * 2 and full.names[:2] == ["chelsea/noise", "chelsea/haze"]
    degraded, clean, label = full[1]
    assert degraded.shape == clean.shape and min(clean.shape[1:]) == 256 and label == 1
    assert torch.equal(DemoAllInOneTest(degradations=("noise", "haze"))[0][0], full[0][0])
    cropped = DemoAllInOneTest(degradations=("rain",), crop=64)
    assert all(cropped[i][0].shape == (3, 64, 64) for i in range(len(cropped)))


def test_loader_batches_and_speed():
    dataset = DemoAllInOne(patch_size=64, samples_per_degradation=8)
    start = time.perf_counter()
    degraded, _, labels = next(iter(DataLoader(dataset, batch_size=len(dataset))))
    per_item = (time.perf_counter() - start) / len(dataset)
    assert degraded.shape == (len(dataset), 3, 64, 64) and labels.tolist()[:5] == [0, 1, 2, 3, 4]
    assert per_item < 0.05, f"{per_item * 1000:.1f} ms per item: the demo set must stay cheap on CPU"


def test_medical_track_is_grayscale_with_mri_ct_pet():
    train = DemoAllInOne(MEDICAL_DEGRADATIONS, patch_size=32, samples_per_degradation=2, channels=1)
    assert train.photos == MEDICAL_TRAIN_PHOTOS
    for i in range(len(train)):
        degraded, clean, label = train[i]
        assert degraded.shape == clean.shape == (1, 32, 32) and label == i % 3
        p = train.sample_params(i)
        crop = demo_photo(p["photo"], channels=1)[p["top"]:p["top"] + 32, p["left"]:p["left"] + 32]
        np.testing.assert_array_equal(clean[0].numpy(), dihedral(crop, p["k"]))
    test = DemoAllInOneTest(("mri",), channels=1)
    assert test.names == ["shepp_logan_phantom/mri", "microaneurysms/mri"]
    assert test[0][0].shape == (1, 256, 256)


def test_clear_errors():
    with pytest.raises(ValueError, match="channels=1"):
        DemoAllInOne(degradations=("noise", "mri"))
    with pytest.raises(ValueError, match="fog"):
        DemoAllInOne(degradations=("fog",))
    with pytest.raises(KeyError, match="lena"):
        demo_photo("lena")

"""Dataset classes of the six settings on tiny made-up trees in each public layout.

Every fixture pair is related by a known map: degraded = 1 - clean, pixel by pixel, on a
random-noise clean image. A yielded pair that still satisfies it got the same crop and
the same dihedral transform; searching the clean patch in the 8 transforms of its source
file tells which transform was applied.
"""

import numpy as np
import pytest
import torch
from PIL import Image

from exda_lite.data.augment import dihedral
from exda_lite.data.augment import centre_crop
from exda_lite.data.datasets import CDD11, AllInOneTest, AllInOneTrain, AllWeather, MedicalAMIR, WeatherBench
from exda_lite.data.degradations import add_test_noise
from exda_lite.data.layout import CDD11_FOLDERS, DATA_SUBDIRS, DataLayoutError, default_root, load_image, pair_by_name

PATCH = 16
RNG = np.random.default_rng(0)


def write(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".npy":
        np.save(path, array)
    else:
        Image.fromarray(array).save(path)


def write_pair(degraded_path, clean_path, shape=(37, 50, 3), dtype=np.uint8):
    top = np.iinfo(dtype).max if dtype != np.float32 else 1.0
    clean = RNG.integers(0, 256, shape).astype(dtype) if dtype != np.float32 else RNG.random(shape).astype(dtype)
    if dtype == np.uint16:
        clean = (clean.astype(np.uint32) * 257).astype(np.uint16)
    write(clean_path, clean)
    write(degraded_path, (top - clean).astype(dtype))


def write_clean(path, shape=(37, 50, 3)):
    write(path, RNG.integers(100, 156, shape).astype(np.uint8))


@pytest.fixture(scope="module")
def allinone(tmp_path_factory):
    root = tmp_path_factory.mktemp("allinone")
    for name in ("a.png", "b.png"):
        write_clean(root / "Train/Denoise" / name)
    for n in (1, 2):
        write_pair(root / f"Train/Derain/rainy/rain-{n}.png", root / f"Train/Derain/gt/norain-{n}.png")
    write_pair(root / "Train/Dehaze/synthetic/part1/0001_0.8_0.2.png", root / "Train/Dehaze/original/0001.png")
    write_pair(root / "Train/Dehaze/synthetic/part2/0002_1_0.08.png", root / "Train/Dehaze/original/0002.png")
    gopro = "GOPR0372_07_00-000047.png"
    write_pair(root / "Train/Deblur/blur" / gopro, root / "Train/Deblur/sharp" / gopro)
    write_pair(root / "Train/Enhance/low/22.png", root / "Train/Enhance/gt/22.png", shape=(12, 14, 3))  # < patch
    write_clean(root / "test/denoise/bsd68/3096.png")
    write_clean(root / "test/denoise/urban100/img_001.png")
    write_pair(root / "test/derain/Rain100L/input/rain-001.png", root / "test/derain/Rain100L/target/norain-001.png")
    write_pair(root / "test/dehaze/input/0001_0.8_0.2.png", root / "test/dehaze/target/0001.png")
    write_pair(root / "test/deblur/input/x.png", root / "test/deblur/target/x.png")
    write_pair(root / "test/enhance/input/1.png", root / "test/enhance/target/1.png")
    return root


def find_transform(patch: np.ndarray, source: np.ndarray) -> int:
    """The dihedral k such that ``patch`` is a crop of ``dihedral(source, k)`` (source padded like the dataset)."""
    from exda_lite.data.augment import pad_to

    source = pad_to(source, PATCH)
    for k in range(8):
        # the dataset crops first, then transforms: a crop of the transformed image is the same set of patches
        image = dihedral(source, k)
        corner = np.all(image[:image.shape[0] - PATCH + 1, :image.shape[1] - PATCH + 1] == patch[0, 0], axis=-1)
        for top, left in np.argwhere(corner):
            if np.array_equal(image[top:top + PATCH, left:left + PATCH], patch):
                return k
    raise AssertionError("patch not found in any dihedral transform of its source")


def check_paired_patches(dataset, indices, channels=3):
    ks = set()
    for i in indices:
        degraded, clean, label = dataset[i]
        assert degraded.shape == clean.shape == (channels, PATCH, PATCH) and degraded.dtype == torch.float32
        assert label == dataset.tasks.index(dataset.samples[i].task)
        torch.testing.assert_close(degraded, 1 - clean, atol=1e-6, rtol=0)  # same crop, same transform
        source = load_image(dataset.samples[i].clean, channels)
        ks.add(find_transform(clean.permute(1, 2, 0).numpy(), source))
    return ks


def test_3deg_train_pairs_repeats_and_augmentation(allinone):
    ds = AllInOneTrain(allinone, "3deg", patch_size=PATCH, seed=0)
    assert ds.tasks == ("denoise_15", "denoise_25", "denoise_50", "derain", "dehaze")
    assert ds.task_counts() == {"denoise_15": 6, "denoise_25": 6, "denoise_50": 6, "derain": 240, "dehaze": 2}
    paired = [i for i, s in enumerate(ds.samples) if s.task in ("derain", "dehaze")]
    ks = check_paired_patches(ds, paired[:6] + paired[-2:])
    ks |= check_paired_patches(ds, paired[6:30])
    assert len(ks) >= 3, f"dihedral transforms seen: {ks}"
    assert torch.equal(ds[paired[0]][1], AllInOneTrain(allinone, "3deg", patch_size=PATCH, seed=0)[paired[0]][1])


def test_3deg_denoising_noise_matches_sigma(allinone):
    ds = AllInOneTrain(allinone, "3deg", patch_size=PATCH, seed=0, repeats={f"denoise_{s}": 10 for s in (15, 25, 50)})
    spread = {}
    for i, sample in enumerate(ds.samples):
        if sample.degraded is None:
            degraded, clean, _ = ds[i]
            spread.setdefault(sample.sigma, []).append((degraded - clean).std().item() * 255)
            assert find_transform(clean.permute(1, 2, 0).numpy(), load_image(sample.clean)) in range(8)
    for sigma, values in spread.items():
        assert abs(np.mean(values) - sigma) < 0.15 * sigma, (sigma, np.mean(values))


def test_5deg_train_adds_deblur_and_enhance(allinone):
    ds = AllInOneTrain(allinone, "5deg", patch_size=PATCH)
    # all three sigmas, as AdaIR's and MoCE-IR's 5-degradation training does (the paper reports sigma 25)
    assert ds.tasks == ("denoise_15", "denoise_25", "denoise_50", "derain", "dehaze", "deblur", "enhance")
    counts = ds.task_counts()
    assert counts["deblur"] == 5 and counts["enhance"] == 20
    check_paired_patches(ds, [i for i, s in enumerate(ds.samples) if s.task in ("deblur", "enhance")][:8])


def test_all_in_one_test_sets_are_full_images_with_the_test_noise_convention(allinone):
    for task in ("derain", "dehaze", "deblur", "enhance"):
        degraded, clean, label = AllInOneTest(allinone, task)[0]
        assert degraded.shape == clean.shape == (3, 32, 48) and label == 0  # 37 x 50 -> multiple of 16
        torch.testing.assert_close(degraded, 1 - clean, atol=1e-6, rtol=0)
    ds = AllInOneTest(allinone, "denoise_bsd68", sigma=25)
    noisy, clean, _ = ds[0]
    clean8 = centre_crop(np.asarray(Image.open(ds.samples[0].clean).convert("RGB")), 16)
    np.testing.assert_array_equal((noisy.permute(1, 2, 0).numpy() * 255).round(), add_test_noise(clean8, 25))
    assert torch.equal(noisy, AllInOneTest(allinone, "denoise_bsd68", sigma=25)[0][0])
    with pytest.raises(ValueError, match="sigma"):
        AllInOneTest(allinone, "denoise_urban100")


def test_cdd11_train_and_test(tmp_path):
    for split in ("train", "test"):
        for name in ("1.png", "2.png"):
            clean = RNG.integers(0, 256, (30, 40, 3)).astype(np.uint8)
            write(tmp_path / split / "clear" / name, clean)
            for kind in CDD11_FOLDERS:
                write(tmp_path / split / kind / name, 255 - clean)
    train = CDD11(tmp_path, "train", patch_size=PATCH)
    assert len(train) == 11 * 2 * 2 and train.task_counts()["low_haze_snow"] == 4
    check_paired_patches(train, range(0, len(train), 5))
    test = CDD11(tmp_path, "test", types=("haze", "low_rain"))
    degraded, clean, label = test[3]
    assert degraded.shape == (3, 16, 32) and label == 1


def test_allweather_pairs_raindrop_and_outdoor_rain_names(tmp_path):
    write_pair(tmp_path / "train/input/0_rain.png", tmp_path / "train/gt/0_clean.png")
    write_pair(tmp_path / "train/input/im_0001_s80_a04.png", tmp_path / "train/gt/im_0001.png")
    write_pair(tmp_path / "train/input/snow_003.jpg".replace(".jpg", ".png"), tmp_path / "train/gt/snow_003.png")
    train = AllWeather(tmp_path, "train", patch_size=PATCH)
    assert [(s.degraded.stem, s.clean.stem) for s in train.samples] == [
        ("0_rain", "0_clean"), ("im_0001_s80_a04", "im_0001"), ("snow_003", "snow_003")]
    check_paired_patches(train, range(3))
    write_pair(tmp_path / "test/raindrop/input/5_rain.png", tmp_path / "test/raindrop/gt/5_clean.png")
    assert AllWeather(tmp_path, "raindrop")[0][0].shape == (3, 32, 48)


def test_weatherbench_labels_by_weather_type(tmp_path):
    for split in ("train", "test"):
        for kind in ("rain", "haze", "snow"):
            write_pair(tmp_path / f"{split}/{kind}/input/{kind}1.png", tmp_path / f"{split}/{kind}/target/{kind}1.png")
    train = WeatherBench(tmp_path, "train", patch_size=PATCH)
    assert [train[i][2] for i in range(3)] == [0, 1, 2]
    check_paired_patches(train, range(3))
    assert WeatherBench(tmp_path, "test", types=("snow",))[0][2] == 0


def test_medical_reads_16_bit_png_8_bit_png_and_npy(tmp_path):
    write_pair(tmp_path / "train/mri/lq/s1.png", tmp_path / "train/mri/hq/s1.png", (40, 36), np.uint16)
    write_pair(tmp_path / "train/ct/lq/s1.npy", tmp_path / "train/ct/hq/s1.npy", (40, 36), np.float32)
    write_pair(tmp_path / "train/pet/lq/s1.png", tmp_path / "train/pet/hq/s1.png", (40, 36), np.uint8)
    train = MedicalAMIR(tmp_path, "train", patch_size=PATCH)
    check_paired_patches(train, range(3), channels=1)
    assert MedicalAMIR(tmp_path, "train", tasks=("mri",), channels=3, patch_size=PATCH)[0][0].shape == (3, 16, 16)
    assert load_image(tmp_path / "train/mri/hq/s1.png", 1).max() > 0.9  # 16 bit read as 16 bit, not clipped


def test_missing_tree_names_path_found_and_fix(tmp_path):
    with pytest.raises(DataLayoutError) as err:
        AllInOneTrain(tmp_path / "nowhere", "3deg")
    text = str(err.value)
    assert "Train/Denoise" in text and "exist" in text and f"{tmp_path} contains" in text
    assert f"python data_scripts/3deg.py download --root {tmp_path / 'nowhere'}" in text
    assert "data_scripts/3deg.py verify" in text


def test_mislaid_tree_hints_at_case_and_points_to_the_right_script(allinone, tmp_path):
    write_clean(tmp_path / "train/Denoise/a.png")  # lower-case "train"
    with pytest.raises(DataLayoutError, match="case-sensitive"):
        AllInOneTrain(tmp_path, "3deg", tasks=("denoise_25",))
    with pytest.raises(DataLayoutError, match=r"data_scripts/5deg\.py"):
        AllInOneTrain(tmp_path, "5deg", tasks=("deblur",))
    (tmp_path / "Train/Denoise").mkdir(parents=True)
    with pytest.raises(DataLayoutError, match="empty"):
        AllInOneTrain(tmp_path, "3deg", tasks=("denoise_25",))


def test_unpaired_files_are_reported(tmp_path):
    write_pair(tmp_path / "rainy/rain-1.png", tmp_path / "gt/norain-1.png")
    write_clean(tmp_path / "rainy/rain-7.png")
    with pytest.raises(DataLayoutError, match=r"rain-7\.png"):
        pair_by_name(sorted((tmp_path / "rainy").iterdir()), sorted((tmp_path / "gt").iterdir()), "3deg", tmp_path,
                     "derain")


def test_default_roots_follow_exda_data(monkeypatch, tmp_path):
    monkeypatch.setenv("EXDA_DATA", str(tmp_path))
    assert default_root("5deg") == tmp_path / "allinone" == default_root("3deg")
    assert set(DATA_SUBDIRS) == {"3deg", "5deg", "cdd11", "allweather", "weatherbench", "medical"}


def test_allweather_can_leave_out_training_images_that_share_a_test1_background(tmp_path):
    # Outdoor-Rain Test1 renders a few backgrounds (im_XXXX) with several rain/fog settings; a training image
    # of the same background is not an unseen scene
    write_pair(tmp_path / "train/input/im_0001_s80_a04.png", tmp_path / "train/gt/im_0001_s80_a04.png")
    write_pair(tmp_path / "train/input/im_0100_s85_a05.png", tmp_path / "train/gt/im_0100_s85_a05.png")
    write_pair(tmp_path / "train/input/3_rain.png", tmp_path / "train/gt/3_clean.png")
    write_pair(tmp_path / "test/outdoor_rain/input/im_0001_s90_a06.png",
               tmp_path / "test/outdoor_rain/gt/im_0001_s90_a06.png")
    assert len(AllWeather(tmp_path, "train", patch_size=PATCH)) == 3  # the published protocol keeps all
    kept = AllWeather(tmp_path, "train", patch_size=PATCH, exclude_test1_overlap=True)
    assert sorted(s.degraded.name for s in kept.samples) == ["3_rain.png", "im_0100_s85_a05.png"]
    assert [p.name for p in kept.excluded] == ["im_0001_s80_a04.png"]


def test_allweather_raindrop_test_b_is_its_own_optional_split(tmp_path):
    write_pair(tmp_path / "test/raindrop_b/input/7_rain.png", tmp_path / "test/raindrop_b/gt/7_clean.png")
    assert len(AllWeather(tmp_path, "raindrop_b")) == 1
    with pytest.raises(DataLayoutError, match="test/raindrop/input"):  # test_a is a separate folder
        AllWeather(tmp_path, "raindrop")


def test_medical_patients_follow_the_slice_names(tmp_path):
    for name in ("IXI002-Guys-0828_000.png", "IXI002-Guys-0828_001.png", "IXI012-HH-1211_000.png"):
        write_pair(tmp_path / "train/mri/lq" / name, tmp_path / "train/mri/hq" / name, shape=(16, 16), dtype=np.uint8)
    write_pair(tmp_path / "train/ct/lq/L067_00001.png", tmp_path / "train/ct/hq/L067_00001.png", shape=(16, 16))
    ds = MedicalAMIR(tmp_path, "train", tasks=("mri", "ct"), patch_size=8)
    assert ds.patients() == {"mri": {"IXI002-Guys-0828", "IXI012-HH-1211"}, "ct": {"L067"}}
    assert MedicalAMIR.PATIENT_SPLITS == {"mri": (405, 59, 114), "ct": (8, 1, 1), "pet": (120, 10, 29)}

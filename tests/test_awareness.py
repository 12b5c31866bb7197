"""Degradation-awareness analysis (notebook 08): separability scores, spectra, readout, foundation lookup, cache."""

import sys

import numpy as np
import pytest
import torch

from exda_lite.course import awareness, caching, foundation
from exda_lite.nn.block import TokenOptions, ValueOptions
from exda_lite.data.demo_data import DEMO_DEGRADATIONS
from exda_lite.nn.tiny import TinyRestorer


def tiny(gst: bool, seed: int = 0) -> TinyRestorer:
    torch.manual_seed(seed)
    return TinyRestorer(8, 1, 1, value=ValueOptions(), tokens=TokenOptions(tokens=2, stride=2) if gst else None).eval()


# ----------------------------------------------------------------------------- separability

def separated(n_per_class=20, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(classes), n_per_class)
    centres = 10.0 * rng.normal(size=(classes, 6))
    return centres[labels] + 0.1 * rng.normal(size=(len(labels), 6)), labels


def test_perfectly_separated_embeddings_score_one():
    x, labels = separated()
    scores = awareness.cluster_scores(x, labels)
    assert scores["nmi"] == pytest.approx(1.0) and scores["ari"] == pytest.approx(1.0)
    assert awareness.probe_accuracy(x, labels) == pytest.approx(1.0)
    assert np.all(awareness.majority_recall(labels, scores["clusters"]) == 1.0)
    spread = awareness.resampled_scores(x, labels, repeats=3)
    assert spread["nmi_mean"] == pytest.approx(1.0) and spread["nmi_std"] == pytest.approx(0.0, abs=1e-9)


def test_random_embeddings_score_about_zero():
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(5), 60)
    scores = awareness.cluster_scores(rng.normal(size=(300, 8)), labels)
    assert scores["nmi"] < 0.05 and abs(scores["ari"]) < 0.03


def test_scores_ignore_cluster_names_but_not_a_merged_class():
    x, labels = separated(classes=3)
    assert awareness.cluster_scores(x, (labels + 1) % 3)["nmi"] == pytest.approx(1.0)  # renamed classes
    merged = np.where(labels == 2, 1, labels)  # clusters that merge classes 1 and 2
    recall = awareness.majority_recall(labels, merged)
    assert recall[0] == 1.0 and sorted(recall[1:]) == [0.0, 1.0]


def test_standardising_removes_a_dominant_nuisance_dimension():
    x, labels = separated(classes=3)
    rng = np.random.default_rng(2)
    x = np.concatenate([0.01 * x, 1000 * rng.normal(size=(len(x), 1))], axis=1)  # huge noise dimension
    assert awareness.cluster_scores(x, labels, standardize=False)["nmi"] < 0.2
    assert awareness.cluster_scores(x, labels, standardize=True)["nmi"] > 0.5


def test_balanced_indices_cap_each_class_and_keep_small_ones_whole():
    labels = np.array([0] * 100 + [1] * 80 + [2] * 15)
    idx = awareness.balanced_indices(labels, 68)
    assert np.bincount(labels[idx]).tolist() == [68, 68, 15]  # the paper: 68 each, all 15 of low light
    assert len(set(idx)) == len(idx) and np.all(np.diff(idx) > 0)
    assert np.bincount(labels[awareness.balanced_indices(labels, [10, 20, 5])]).tolist() == [10, 20, 5]
    assert not np.array_equal(awareness.balanced_indices(labels, 10, seed=0), awareness.balanced_indices(labels, 10, seed=1))
    with pytest.raises(ValueError, match="per_class"):
        awareness.balanced_indices(labels, [10, 10])


# ----------------------------------------------------------------------------- spectra

@pytest.mark.parametrize("shape", [(2, 3, 16, 16), (5, 9, 12), (1, 31, 17)])
def test_band_energies_add_up_to_the_energy_of_the_centred_maps(shape):
    x = torch.rand(shape, dtype=torch.float64) + 3.0
    energy = awareness.band_energy(x)
    assert energy.shape == shape[:-2] + (len(awareness.BANDS),) and torch.all(energy >= 0)
    centred = x - x.mean(dim=(-2, -1), keepdim=True)
    torch.testing.assert_close(energy.sum(-1), centred.pow(2).sum(dim=(-2, -1)))  # Parseval
    torch.testing.assert_close(awareness.band_fractions(x.reshape(-1, 1, *shape[-2:])).sum(-1),
                               torch.ones(x.reshape(-1, *shape[-2:]).shape[0], dtype=torch.float64))


def test_a_cosine_lands_in_its_band_and_constants_have_no_energy():
    _, x = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    for cycles_per_pixel, band in ((2 / 32, 0), (6 / 32, 1), (12 / 32, 2)):  # rho = 0.125, 0.375, 0.75 Nyquist
        energy = awareness.band_energy(torch.cos(2 * np.pi * cycles_per_pixel * x))
        assert energy.argmax().item() == band and energy[band] / energy.sum() > 0.999
    assert awareness.band_energy(torch.full((8, 8), 0.7)).abs().max() < 1e-10


def test_white_noise_is_mostly_high_frequency_and_blur_is_not():
    noise = torch.randn(1, 1, 64, 64, generator=torch.Generator().manual_seed(0))
    high = awareness.band_fractions(noise)[0]
    assert 0.75 < high[2] < 0.85  # the high band covers ~80 % of the frequency plane
    blurred = torch.nn.functional.avg_pool2d(noise, 5, stride=1, padding=2)
    assert awareness.band_fractions(blurred)[0, 0] > 0.5


def test_pixel_statistics_see_low_light():
    data = awareness.degraded_crops(("noise", "low_light"), per_class=4, crop=32)
    stats = awareness.pixel_statistics(data["images"])
    assert stats.shape == (8, 9)
    dark, noisy = stats[data["labels"] == 1, :3].mean(), stats[data["labels"] == 0, :3].mean()
    assert dark < 0.5 * noisy


# ----------------------------------------------------------------------------- the embedding set and the readout

def test_degraded_crops_are_balanced_deterministic_and_cycle_the_photos():
    data = awareness.degraded_crops(DEMO_DEGRADATIONS, per_class=4, crop=24, seed=3)
    assert data["images"].shape == (20, 3, 24, 24) and data["clean"].shape == (20, 3, 24, 24)
    assert np.bincount(data["labels"]).tolist() == [4] * 5 and data["names"] == list(DEMO_DEGRADATIONS)
    assert data["photos"][:4].tolist() == [0, 1, 2, 0]
    again = awareness.degraded_crops(DEMO_DEGRADATIONS, per_class=4, crop=24, seed=3)
    assert torch.equal(data["images"], again["images"])
    assert not torch.equal(data["images"], data["clean"])
    assert float(data["images"].min()) >= 0 and float(data["images"].max()) <= 1


def fake_5deg_test_sets(root, counts):
    """A 5-degradation test layout; each degraded image is 255 - its clean image."""
    from PIL import Image

    rng = np.random.default_rng(0)

    def save(path, array):
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(array).save(path)

    folders = {"dehaze": "test/dehaze", "derain": "test/derain/Rain100L", "deblur": "test/deblur",
               "enhance": "test/enhance"}
    for task, n in counts.items():
        for i in range(n):
            clean = rng.integers(0, 256, (20 + i, 26, 3)).astype(np.uint8)
            if task == "denoise":
                save(root / "test/denoise/bsd68" / f"{i}.png", clean)
                continue
            name = f"{i:04d}_0.8_0.2.png" if task == "dehaze" else f"{i}.png"
            clean_name = f"{i:04d}.png" if task == "dehaze" else name
            save(root / folders[task] / "input" / name, 255 - clean)
            save(root / folders[task] / "target" / clean_name, clean)


def test_benchmark_crops_sample_each_test_set_and_keep_small_ones_whole(tmp_path):
    counts = {"dehaze": 3, "derain": 3, "denoise": 3, "deblur": 3, "enhance": 2}
    fake_5deg_test_sets(tmp_path, counts)
    data = awareness.benchmark_crops("5deg", per_class=3, crop=16, data_root=tmp_path)
    assert data["names"] == ["SOTS", "Rain100L", "BSD68 σ=25", "GoPro", "LOLv1"]
    assert np.bincount(data["labels"]).tolist() == [3, 3, 3, 3, 2]  # like the paper's "all 15 for low-light"
    assert data["images"].shape == (14, 3, 16, 16)
    paired = data["labels"] != 2  # the noisy images are clean + noise, the others 255 - clean
    torch.testing.assert_close(data["images"][paired] + data["clean"][paired],
                               torch.ones_like(data["images"][paired]), atol=1e-6, rtol=0)
    assert np.bincount(awareness.benchmark_crops("5deg", per_class=2, crop=16, data_root=tmp_path)["labels"]).tolist() \
        == [2] * 5


def test_centre_crop_pads_small_images():
    image = torch.rand(3, 20, 30)
    assert torch.equal(awareness.centre_crop(image, 10), image[:, 5:15, 10:20])
    assert awareness.centre_crop(image, 40).shape == (3, 40, 40)


def test_readout_shapes_and_what_it_measures():
    model, images = tiny(gst=True), torch.rand(5, 3, 16, 20)
    out = awareness.readout(model, images, "body", gst=("body", 0), clean=images, batch_size=2)
    assert out["pooled"].shape == (5, 8) and out["bands"].shape == (5, 3) and out["psnr"].shape == (5,)
    assert out["compact"].shape == (5, 1, 2, 8, 10)  # (N, h, K, H/s, W/s)
    torch.testing.assert_close(out["compact"].sum(dim=(-2, -1)), torch.ones(5, 1, 2))
    assert out["tokens"].shape == (5, 1 * 2 * 8)
    assert torch.all((out["token_share"] > 0) & (out["token_share"] < 1))
    with torch.no_grad():
        features = model.body(model.embed(images))
    torch.testing.assert_close(out["pooled"], features.mean(dim=(-2, -1)))
    assert not model.body._forward_hooks and not model.body[0].attn._forward_pre_hooks  # hooks removed


def test_readout_errors_are_clear():
    with pytest.raises(KeyError, match="latent"):
        awareness.readout(tiny(gst=True), torch.rand(1, 3, 8, 8), "latent")
    with pytest.raises(ValueError, match="GST"):
        awareness.readout(tiny(gst=False), torch.rand(1, 3, 8, 8), "body", gst=("body", 0))


def test_token_pooling_is_attention_pooling():
    features = torch.randn(2, 4, 5, 6)
    one_hot = torch.zeros(2, 1, 1, 5, 6)
    one_hot[:, 0, 0, 3, 2] = 7.0  # any scale: the weights are normalised
    torch.testing.assert_close(awareness.token_pooled(features, one_hot), features[:, :, 3, 2])
    uniform = torch.ones(2, 1, 1, 5, 6)
    torch.testing.assert_close(awareness.token_pooled(features, uniform), features.mean(dim=(-2, -1)))


def test_embed_2d_tsne_and_a_clear_message_without_umap(monkeypatch):
    x, _ = separated(n_per_class=10, classes=3)
    assert awareness.embed_2d(x, "tsne").shape == (30, 2)
    monkeypatch.setitem(sys.modules, "umap", None)  # "import umap" now raises ImportError
    assert not awareness.umap_available()
    with pytest.raises(ImportError, match="umap-learn"):
        awareness.embed_2d(x, "umap")
    with pytest.raises(ValueError, match="tsne"):
        awareness.embed_2d(x, "pca")


# ----------------------------------------------------------------------------- foundation model

def test_no_cached_foundation_model_gives_none_and_a_reason(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    model, reason = foundation.find_foundation_model()
    assert model is None
    assert str(tmp_path) in reason and "Nothing is downloaded" in reason
    for name in foundation.FOUNDATION_CANDIDATES:
        assert name in reason


def test_a_cached_torchvision_model_is_found_and_embeds(tmp_path, monkeypatch):
    import torchvision

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    path = foundation.torchvision_weight_files("resnet18")[0]
    assert str(path).startswith(str(tmp_path))
    path.parent.mkdir(parents=True)
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), path)  # stands in for the real weights
    model, reason = foundation.find_foundation_model(("vit_b_16", "resnet18"))
    assert model is not None and model.name == "resnet18" and reason == "" and model.source == str(path)
    features = foundation.foundation_features(model, torch.rand(3, 3, 40, 40), batch_size=2)
    assert features.shape == (3, 512) and torch.isfinite(features).all()


def test_a_broken_cache_entry_is_reported_not_raised(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    path = foundation.torchvision_weight_files("resnet18")[0]
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a checkpoint")
    model, reason = foundation.find_foundation_model(("resnet18",))
    assert model is None and "resnet18:" in reason


# ----------------------------------------------------------------------------- the model cache

def test_cached_model_trains_once_and_retrains_when_asked_or_changed(tmp_path):
    calls = []

    def train(model):
        calls.append(1)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.5)
        return {"seconds": 1.0}

    path = tmp_path / "run" / "model.safetensors"
    trained, info, reused = caching.cached_model(path, tiny(True), {"steps": 3}, train)
    assert not reused and len(calls) == 1 and path.is_file() and info == {"seconds": 1.0}
    loaded, info, reused = caching.cached_model(path, tiny(True), {"steps": 3}, train)
    assert reused and len(calls) == 1 and info == {"seconds": 1.0}
    for a, b in zip(trained.state_dict().values(), loaded.state_dict().values()):
        assert torch.equal(a, b)
    caching.cached_model(path, tiny(True), {"steps": 4}, train)  # other parameters: train again
    caching.cached_model(path, tiny(True), {"steps": 4}, train, retrain=True)
    assert len(calls) == 3

"""Your own data (issue 24): folder pairs, restore --reference, convert, mixed degradations, fine-tuning."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from PIL import Image

from exda_lite import build_model, evaluate_pair
from exda_lite.cli import main
from exda_lite.data.degradations import degrade
from exda_lite.data.demo_data import TRAIN_PHOTOS, demo_photo
from exda_lite.data.layout import DataLayoutError
from exda_lite.data.mixtures import MixedDegradations, mix_degrade, parse_mix
from exda_lite.data.pairs import FolderPairs, check_pairs, parse_pairs
from exda_lite.training.checkpoints import load_model, save_weights
from exda_lite.training.convert import from_official, official_overrides, to_official
from exda_lite.training.restore import read_image, restore_pixels
from exda_lite.weights import demo_weights_path


def write_png(path, pixels):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.round(np.clip(pixels, 0, 1) * 255).astype(np.uint8)).save(path)


def read_csv(path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def make_pairs(root, degradation="noise", photos=TRAIN_PHOTOS[:4], size=(48, 56)):
    """degraded/ + clean/ PNGs (same stems) cut from the demo photos; returns (degraded dir, clean dir)."""
    for k, name in enumerate(photos):
        clean = demo_photo(name)[:size[0], :size[1]]
        write_png(root / "clean" / f"{name}.png", clean)
        write_png(root / degradation / f"{name}.png", degrade(clean, degradation, rng=k))
    return root / degradation, root / "clean"


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    root = tmp_path_factory.mktemp("pairs")
    return make_pairs(root, "noise") + make_pairs(root, "rain")


# --------------------------------------------------------------------------- the pairs setting

def test_parse_pairs_cli_syntax_and_spec_file(pairs, tmp_path):
    noisy, clean, rainy, _ = pairs
    tasks = parse_pairs([f"noise={noisy}:{clean}", f"rain={rainy}:{clean}:3"])
    assert [(t.name, t.repeat) for t in tasks] == [("noise", 1), ("rain", 3)]
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"train": {"noise": {"degraded": str(noisy), "clean": str(clean), "repeat": 2}},
                                "test": {"rain": {"degraded": str(rainy), "clean": str(clean)}}}))
    assert [t.name for t in parse_pairs([str(spec)])] == ["noise"]
    assert [t.name for t in parse_pairs([str(spec)], split="test")] == ["rain"]
    train = FolderPairs([str(spec)], "train", patch_size=32)
    assert len(train) == 8 and train[0][0].shape == (3, 32, 32)  # 4 pairs x repeat 2
    test = FolderPairs([str(spec)], "test")
    assert test.tasks == ("rain",) and test[0][0].shape == (3, 48, 48)  # centre crop to a multiple of 16
    with pytest.raises(ValueError, match="NAME=DEGRADED_DIR:CLEAN_DIR"):
        parse_pairs(["noise:nothing"])


@pytest.mark.parametrize("problem", ["unmatched", "size", "unreadable"])
def test_a_bad_pair_fails_in_one_line_naming_the_file(pairs, tmp_path, problem):
    noisy, clean = make_pairs(tmp_path, "noise")
    bad = noisy / "astronaut.png"
    if problem == "unmatched":
        bad = noisy / "extra.png"
        write_png(bad, np.zeros((48, 56, 3)))
    elif problem == "size":
        write_png(bad, np.zeros((40, 56, 3)))
    else:
        bad.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    with pytest.raises(DataLayoutError) as error:
        check_pairs(parse_pairs([f"noise={noisy}:{clean}"]))
    message = str(error.value)
    assert "\n" not in message and str(bad) in message


def test_train_and_eval_on_pairs_from_the_cli(pairs, tmp_path, capsys):
    noisy, clean, rainy, _ = pairs
    out = tmp_path / "run"
    tasks = [f"a={noisy}:{clean}:8", f"b={rainy}:{clean}:8"]  # repeats: 2 epochs of 12 steps, not 20 of 1
    code = main(["train", "--setting", "pairs", "--pairs", *tasks, "--model", "exda_nano", "--max-steps", "20",
                 "--batch-size", "4", "--patch-size", "32", "--val-images", "1", "--out-dir", str(out),
                 "--no-progress", "--no-tensorboard"])
    assert code == 0 and (out / "model.safetensors").is_file()
    assert json.loads((out / "config.json").read_text())["pairs"] == tasks
    assert "held-out PSNR" in capsys.readouterr().out
    code = main(["eval", "--weights", str(out / "model.safetensors"), "--setting", "pairs",
                 "--pairs", f"a={noisy}:{clean}", f"b={rainy}:{clean}", "--no-save-images", "--out-dir", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    assert "ours (this run)" in printed and "degraded input" in printed
    table = (out / "eval_pairs_per_image.csv").read_text().splitlines()
    assert len(table) == 1 + 8 and table[1].startswith("a,astronaut")


def test_an_unmatched_file_stops_train_before_anything_runs(tmp_path, capsys):
    noisy, clean = make_pairs(tmp_path, "noise")
    write_png(clean / "lonely.png", np.zeros((48, 56, 3)))
    out = tmp_path / "run"
    code = main(["train", "--setting", "pairs", "--pairs", f"a={noisy}:{clean}", "--model", "exda_nano",
                 "--max-steps", "20", "--out-dir", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "lonely.png" in err
    assert not (out / "model.safetensors").exists() and not (out / "last.pt").exists()


def test_pairs_setting_needs_pairs_and_pairs_need_the_setting():
    from exda_lite.training.config import TrainConfig

    with pytest.raises(ValueError, match=r"\bpairs="):
        TrainConfig(setting="pairs", model="exda_nano")
    with pytest.raises(ValueError, match=r"\bpairs="):
        TrainConfig(setting="demo", pairs=("a=x:y",))


def test_fine_tuning_from_the_demo_weights_and_a_one_line_mismatch(pairs, tmp_path, capsys):
    noisy, clean, _, _ = pairs
    common = ["train", "--setting", "pairs", "--pairs", f"a={noisy}:{clean}", "--max-steps", "2", "--batch-size",
              "2", "--patch-size", "32", "--val-every", "0", "--no-progress", "--no-tensorboard",
              "--init-weights", str(demo_weights_path())]
    assert main(common + ["--model", "exda_nano", "--out-dir", str(tmp_path / "ok")]) == 0
    assert "initialised the weights from" in capsys.readouterr().out
    assert main(common + ["--model", "exda_t", "--out-dir", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "does not fit this model" in err and "other shapes" in err


# --------------------------------------------------------------------------- restore --reference

def test_restore_reference_equals_evaluate_pair(pairs, tmp_path, capsys):
    noisy, clean, _, _ = pairs
    out = tmp_path / "restored"
    code = main(["restore", str(noisy), "--reference", str(clean), "--output", str(out), "--tile", "0",
                 "--no-channels-last"])
    printed = capsys.readouterr().out
    assert code == 0 and "mean over 4 image(s): PSNR" in printed
    rows = read_csv(out / "metrics.csv")
    assert [r["image"] for r in rows][-1] == "mean" and len(rows) == 5
    model, _ = load_model(demo_weights_path())
    for row in rows[:-1]:
        image = read_image(row["image"])
        restored, _ = restore_pixels(model, image.pixels, tile=None)
        expected = evaluate_pair(restored, read_image(row["reference"]).pixels)
        assert float(row["psnr"]) == pytest.approx(expected["psnr"], abs=1e-9)
        assert float(row["ssim"]) == pytest.approx(expected["ssim"], abs=1e-9)
        assert f"PSNR {expected['psnr']:.2f} dB" in printed
    assert float(rows[-1]["psnr"]) == pytest.approx(np.mean([float(r["psnr"]) for r in rows[:-1]]))


def test_restore_reference_protocol_flags_and_missing_reference(pairs, tmp_path, capsys):
    noisy, clean, _, _ = pairs
    one = noisy / "coffee.png"
    code = main(["restore", str(one), "--reference", str(clean / "coffee.png"), "--output", str(tmp_path / "c.png"),
                 "--protocol", "y", "--border", "4", "--csv", str(tmp_path / "m.csv"), "--tile", "0",
                 "--no-channels-last"])
    assert code == 0
    row = read_csv(tmp_path / "m.csv")[0]
    model, _ = load_model(demo_weights_path())
    restored, _ = restore_pixels(model, read_image(one).pixels, tile=None)
    expected = evaluate_pair(restored, read_image(clean / "coffee.png").pixels, y_channel=True, border=4)
    assert float(row["psnr"]) == pytest.approx(expected["psnr"], abs=1e-9)
    (tmp_path / "refs").mkdir()
    capsys.readouterr()
    code = main(["restore", str(noisy), "--reference", str(tmp_path / "refs"), "--output", str(tmp_path / "x")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "has no reference" in err
    assert not (tmp_path / "x").exists()


# --------------------------------------------------------------------------- convert (official Restormer)

# Official names and shapes from the public Restormer code (basicsr/models/archs/restormer_arch.py), written
# out independently of our key map: 11 tensors per block x 44 blocks + embed, 3 down, 3 up, 2 reduce, output.
OFFICIAL_SHAPES = {
    "patch_embed.proj.weight": (48, 3, 3, 3),
    "encoder_level1.0.norm1.body.weight": (48,), "encoder_level1.0.norm1.body.bias": (48,),
    "encoder_level1.0.attn.temperature": (1, 1, 1), "encoder_level1.0.attn.qkv.weight": (144, 48, 1, 1),
    "encoder_level1.0.attn.qkv_dwconv.weight": (144, 1, 3, 3), "encoder_level1.0.attn.project_out.weight":
        (48, 48, 1, 1), "encoder_level1.3.ffn.project_in.weight": (254, 48, 1, 1),
    "encoder_level1.3.ffn.dwconv.weight": (254, 1, 3, 3), "encoder_level1.3.ffn.project_out.weight": (48, 127, 1, 1),
    "down1_2.body.0.weight": (24, 48, 3, 3), "down3_4.body.0.weight": (96, 192, 3, 3),
    "latent.7.attn.temperature": (8, 1, 1), "up4_3.body.0.weight": (768, 384, 3, 3),
    "reduce_chan_level3.weight": (192, 384, 1, 1), "decoder_level3.5.norm2.body.weight": (192,),
    "up3_2.body.0.weight": (384, 192, 3, 3), "reduce_chan_level2.weight": (96, 192, 1, 1),
    "up2_1.body.0.weight": (192, 96, 3, 3), "decoder_level1.3.ffn.project_out.weight": (96, 255, 1, 1),
    "refinement.3.attn.qkv.weight": (288, 96, 1, 1), "output.weight": (3, 96, 3, 3),
}


@pytest.fixture(scope="module")
def restormer():
    torch.manual_seed(0)
    return build_model("restormer").eval()


def test_official_key_names_and_shapes(restormer):
    official = to_official(restormer.state_dict())
    assert len(official) == 11 * 44 + 10
    for key, shape in OFFICIAL_SHAPES.items():
        assert tuple(official[key].shape) == shape, key
    assert set(from_official(official)) == set(restormer.state_dict())


def test_convert_round_trips_to_zero_difference_and_restore_runs(restormer, tmp_path, capsys):
    official = {k: v.clone() for k, v in to_official(restormer.state_dict()).items()}
    torch.save({"params": official}, tmp_path / "deraining.pth")
    out = tmp_path / "restormer.safetensors"
    assert main(["convert", str(tmp_path / "deraining.pth"), "--out", str(out)]) == 0
    model, info = load_model(out)
    assert info["model_name"] == "restormer"
    for key, value in restormer.state_dict().items():
        assert (model.state_dict()[key] - value).abs().max().item() == 0.0
    x = torch.rand(1, 3, 20, 28)
    with torch.no_grad():
        assert (model(x) - restormer(x)).abs().max().item() == 0.0
    photo = tmp_path / "photo.png"
    write_png(photo, demo_photo("coffee")[:24, :32])
    code = main(["restore", str(photo), "--weights", str(out), "--model", "restormer", "--output",
                 str(tmp_path / "restored.png")])
    assert code == 0 and (tmp_path / "restored.png").is_file()


def test_convert_reads_the_denoising_variants_and_refuses_dual_pixel(tmp_path, capsys):
    gray = build_model("restormer", layernorm="biasfree", in_channels=1, out_channels=1)
    overrides = official_overrides(to_official(gray.state_dict()))
    assert (overrides["layernorm"], overrides["in_channels"], overrides["ffn_factor"]) == ("biasfree", 1, 2.66)
    dual = to_official(build_model("restormer", in_channels=6).state_dict())
    dual["skip_conv.weight"] = torch.zeros(96, 48, 1, 1)
    torch.save({"params": dual}, tmp_path / "dual_pixel_defocus_deblurring.pth")
    assert main(["convert", str(tmp_path / "dual_pixel_defocus_deblurring.pth"), "--out",
                 str(tmp_path / "x.safetensors")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "dual-pixel" in err and "skip_conv" in err


# --------------------------------------------------------------------------- mixed degradations

def test_mixture_is_deterministic_and_ordered():
    assert parse_mix("noise+rain") == ("rain", "noise") == parse_mix("rain+noise")
    with pytest.raises(ValueError, match=r"noise\+fog"):
        parse_mix("noise+fog")
    image = demo_photo("coffee")[:32, :32]
    a = mix_degrade(image, ("noise", "rain"), np.random.default_rng(0))
    assert np.array_equal(a, mix_degrade(image, ("rain", "noise"), np.random.default_rng(0)))
    assert a.shape == image.shape and not np.array_equal(a, image)


def test_eval_demo_with_a_mixture_column(tmp_path, capsys):
    weights = save_weights(build_model("exda_nano"), tmp_path / "w.safetensors", "exda_nano")
    assert main(["eval", "--weights", str(weights), "--setting", "demo", "--model", "restormer"]) == 2
    assert "'restormer'" in capsys.readouterr().err
    code = main(["eval", "--weights", str(weights), "--setting", "demo", "--mix", "noise+rain", "--demo-crop", "32",
                 "--no-save-images", "--out-dir", str(tmp_path)])
    printed = capsys.readouterr().out
    assert code == 0 and "mix rain+noise" in printed
    rows = read_csv(tmp_path / "eval_demo_per_image.csv")
    assert [r["image"] for r in rows if r["benchmark"] == "mix rain+noise"] == ["chelsea", "rocket", "camera"]
    summary = json.loads((tmp_path / "eval_demo.json").read_text())
    regular = [v for k, v in summary["psnr"].items() if k not in ("Average", "mix rain+noise")]
    assert summary["psnr"]["Average"] == pytest.approx(np.mean(regular))  # the mixture is not in the Average


def test_mixed_degradations_dataset_uses_clean_images_once():
    from exda_lite.data.demo_data import DemoAllInOneTest

    base = DemoAllInOneTest(crop=32)
    mixed = MixedDegradations([(base, 0), (base, 5)], "noise+haze")
    degraded, clean, label = mixed[1]
    assert torch.equal(clean, base[5][1]) and label == 0 and not torch.equal(degraded, clean)
    assert torch.equal(mixed[1][0], degraded)

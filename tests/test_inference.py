"""Tiled inference, image files (gray, RGBA, 16-bit, corrupt), the evaluator and the exda-lite CLI."""

import json
import resource
import zlib
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import exda_lite
from exda_lite import cli
from exda_lite.training import evaluate as E, restore as R
from exda_lite import training as T
from exda_lite.training.tiling import blend_weights, blend_weights_1d, tile_starts, tiled_forward

SMALL = {"dim": 2, "blocks": (1, 1, 1, 1), "refinement": 1}  # the smallest ExDA: CI restores 2048² with it
PAPER = Path("/work/shared/paper/exda-paper.md")


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory):
    """An (untrained) small ExDA saved like `exda-lite train` saves it."""
    torch.manual_seed(0)
    model = exda_lite.build_model("exda_nano", **SMALL)
    return T.save_weights(model, tmp_path_factory.mktemp("w") / "model.safetensors", "exda_nano")


# ----------------------------------------------------------------------------- tiling

def test_tile_starts_cover_the_axis_and_end_at_the_border():
    assert tile_starts(100, 256, 32) == [0]
    starts = tile_starts(1000, 256, 32)
    assert starts[0] == 0 and starts[-1] == 1000 - 256
    assert all(b - a <= 256 - 32 for a, b in zip(starts, starts[1:]))


def test_blend_weights_ramp_and_are_positive():
    w = blend_weights_1d(8, 3)
    assert torch.allclose(w, torch.tensor([.25, .5, .75, 1, 1, .75, .5, .25]))
    assert blend_weights(8, 3).shape == (8, 8) and (blend_weights(8, 3) > 0).all()
    assert torch.equal(blend_weights_1d(5, 0), torch.ones(5))


def test_tiled_forward_of_a_pointwise_model_is_exact():
    model = torch.nn.Conv2d(3, 3, 1)
    x = torch.rand(2, 3, 70, 101)
    with torch.no_grad():
        torch.testing.assert_close(tiled_forward(model, x, tile=32, overlap=8), model(x), rtol=1e-5, atol=1e-6)


def test_tiled_exda_stays_close_to_whole_image_inference():
    torch.manual_seed(0)
    model = exda_lite.build_model("exda_nano", **SMALL).eval()
    x = torch.rand(1, 3, 96, 120)
    with torch.no_grad():
        whole, tiled = model(x), tiled_forward(model, x, tile=64, overlap=16)
    assert tiled.shape == whole.shape
    assert exda_lite.psnr(tiled, whole).item() > 30  # attention/GST see the tile, not the image: close, not equal


# ----------------------------------------------------------------------------- image files

def png16(path, array):
    """Write a 16-bit PNG by hand (Pillow cannot write 16-bit colour)."""
    h, w, c = array.shape
    raw = b"".join(b"\x00" + array[y].astype(">u2").tobytes() for y in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    header = struct.pack(">IIBBBBB", w, h, 16, {1: 0, 2: 4, 3: 2, 4: 6}[c], 0, 0, 0)
    Path(path).write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
                           + chunk(b"IEND", b""))


def test_read_image_handles_gray_rgba_palette_and_16_bit(tmp_path):
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((9, 7)) * 255).astype(np.uint8)).save(tmp_path / "gray.png")
    Image.fromarray((rng.random((9, 7, 4)) * 255).astype(np.uint8), "RGBA").save(tmp_path / "rgba.png")
    Image.fromarray((rng.random((9, 7, 3)) * 255).astype(np.uint8)).convert("P").save(tmp_path / "palette.gif")
    rgb16 = (rng.random((9, 7, 3)) * 65535).astype(np.uint16)
    png16(tmp_path / "rgb16.png", rgb16)
    gray16 = (rng.random((9, 7)) * 65535).astype(np.uint16)
    Image.fromarray(gray16).save(tmp_path / "gray16.png")

    gray = R.read_image(tmp_path / "gray.png")
    assert gray.pixels.shape == (9, 7, 1) and gray.alpha is None and gray.bit_depth == 8
    rgba = R.read_image(tmp_path / "rgba.png")
    assert rgba.pixels.shape == (9, 7, 3) and rgba.alpha.shape == (9, 7)
    assert R.read_image(tmp_path / "palette.gif").pixels.shape == (9, 7, 3)
    colour16 = R.read_image(tmp_path / "rgb16.png")
    assert colour16.bit_depth == 16
    np.testing.assert_allclose(colour16.pixels, rgb16 / 65535, atol=1e-6)  # all 16 bits, not Pillow's 8
    assert R.read_image(tmp_path / "gray16.png").bit_depth == 16


def test_corrupt_and_unsupported_files_are_clear_errors(tmp_path):
    (tmp_path / "noise.png").write_bytes(np.random.default_rng(0).bytes(300))
    with pytest.raises(R.ImageReadError, match=r"noise\.png"):
        R.read_image(tmp_path / "noise.png")
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(tmp_path / "full.jpg")
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[:len(data) // 2])
    with pytest.raises(R.ImageReadError, match="truncated"):
        R.read_image(tmp_path / "cut.jpg")
    Image.fromarray(np.full((4, 4), 7.5, np.float32)).save(tmp_path / "hdr.tif")
    with pytest.raises(R.ImageReadError, match=r"\[0, 1\]"):
        R.read_image(tmp_path / "hdr.tif")


def test_write_png_round_trips_16_bit_and_alpha(tmp_path):
    rng = np.random.default_rng(1)
    pixels, alpha = rng.random((5, 6, 3)).astype(np.float32), rng.random((5, 6)).astype(np.float32)
    R.write_png(tmp_path / "out.png", pixels, alpha, bit_depth=16)
    back = R.read_image(tmp_path / "out.png")
    assert back.bit_depth == 16
    np.testing.assert_allclose(back.pixels, pixels, atol=1 / 65535)
    np.testing.assert_allclose(back.alpha, alpha, atol=1 / 65535)


def test_restore_files_keeps_alpha_gray_and_depth_and_reports_bad_files(tmp_path, weights_file):
    model, _ = T.load_model(weights_file)
    folder = tmp_path / "in"
    folder.mkdir()
    rng = np.random.default_rng(2)
    Image.fromarray((rng.random((40, 50, 4)) * 255).astype(np.uint8), "RGBA").save(folder / "a_rgba.png")
    Image.fromarray((rng.random((33, 21)) * 255).astype(np.uint8)).save(folder / "b_gray.jpg")
    png16(folder / "c_rgb16.png", (rng.random((30, 30, 3)) * 65535).astype(np.uint16))
    (folder / "d_broken.png").write_bytes(b"not a png")
    (folder / "notes.txt").write_text("ignored: not an image suffix")
    logs = []
    report = R.restore_files(model, [folder], tmp_path / "out", tile=16, overlap=4, log=logs.append)
    by_name = {Path(r["input"]).name: r for r in report}
    assert set(by_name) == {"a_rgba.png", "b_gray.jpg", "c_rgb16.png", "d_broken.png"}
    assert "error" in by_name["d_broken.png"] and "d_broken.png" in by_name["d_broken.png"]["error"]
    assert Image.open(tmp_path / "out" / "a_rgba.png").mode == "RGBA"
    assert Image.open(tmp_path / "out" / "b_gray.png").mode == "L"
    assert R.read_image(tmp_path / "out" / "c_rgb16.png").bit_depth == 16
    assert any("alpha kept" in line for line in logs)


def test_restore_2048_photo_tiled_in_bounded_memory(tmp_path, weights_file):
    """A 2048 x 2048 photo through the CLI in 256-pixel tiles; peak RSS stays far below an untiled run."""
    photo = exda_lite.data.demo_data.demo_photo("astronaut", short_side=2048)
    assert photo.shape == (2048, 2048, 3)
    Image.fromarray((photo * 255).round().astype(np.uint8)).save(tmp_path / "big.png")
    code = cli.main(["restore", str(tmp_path / "big.png"), "--weights", str(weights_file), "--output",
                     str(tmp_path / "big_restored.png"), "--tile", "256", "--overlap", "32", "--device", "cpu"])
    assert code == 0
    out = np.asarray(Image.open(tmp_path / "big_restored.png"))
    assert out.shape == (2048, 2048, 3)
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    assert peak_gb < 6, f"peak RSS {peak_gb:.1f} GB"  # untiled, even this small model needs several GB


# ----------------------------------------------------------------------------- evaluation

def test_paper_numbers_match_the_paper_text():
    if not PAPER.exists():
        pytest.skip("the paper's markdown is not in this checkout")
    lines = [line for line in PAPER.read_text().splitlines() if line.startswith("ExDA (Ours)")]
    assert len(lines) == 6
    for line, setting in zip(lines, ["3deg", "5deg", "cdd11", "allweather", "weatherbench", "medical"]):
        numbers = [float(v) for v in __import__("re").findall(r"(?<![\d.])(\d+\.\d+|\.\d+)", line)]
        expected = [v for pair in E.PAPER_EXDA[setting].values() for v in pair]
        assert numbers[-len(expected):] == pytest.approx(expected), setting


def test_evaluate_demo_gives_the_table_layout_and_saves_images(tmp_path, weights_file):
    model, _ = T.load_model(weights_file)
    result = E.evaluate(model, "demo", demo_crop=32, save_dir=tmp_path, max_images=1, progress=False)
    assert result.partial and list(result.per_image.benchmark) == list(exda_lite.data.demo_data.DEMO_DEGRADATIONS)
    assert list(result.table.index) == ["degraded input", "ours (this run)"]
    assert result.table.columns[-1] == ("Average", "SSIM")
    assert (tmp_path / "haze" / "chelsea.png").exists()
    assert "RGB" in result.protocol


def test_paper_table_has_the_paper_row_and_protocols_differ_by_setting():
    per_image = E.pd.DataFrame([{"benchmark": b, "image": "x", "psnr": 30.0, "ssim": 0.9, "psnr_input": 20.0,
                                 "ssim_input": 0.5} for b in ["Dehaze", "Derain", "Desnow"]])
    table = E.paper_table(per_image, "weatherbench")
    assert table.loc["ExDA (paper, Table 5)", ("Average", "PSNR")] == 29.68
    assert table.loc["ours (this run)", ("Average", "PSNR")] == 30.0
    assert E.protocol_of("weatherbench") == (True, 4) and E.protocol_of("3deg") == (False, 0)
    assert E.protocol_of("weatherbench", "rgb") == (False, 0)
    assert E.format_table(table).loc["ExDA (paper, Table 5)", ("Dehaze", "SSIM")] == "0.739"


def test_evaluate_on_missing_benchmark_data_names_the_fix(tmp_path, weights_file):
    model, _ = T.load_model(weights_file)
    with pytest.raises(exda_lite.DataLayoutError, match="data_scripts/cdd11.py"):
        E.evaluate(model, "cdd11", data_root=tmp_path, progress=False)


# ----------------------------------------------------------------------------- CLI

def test_cli_train_then_eval_then_restore(tmp_path, capsys):
    run = tmp_path / "run"
    code = cli.main(["train", "--model", "exda_nano", "--model-overrides", json.dumps(SMALL), "--patch", "16",
                     "--batch-size", "4", "--samples-per-degradation", "2", "--epochs", "1", "--val-crop", "16",
                     "--no-progress", "--out-dir", str(run)])
    assert code == 0 and "held-out PSNR" in capsys.readouterr().out
    code = cli.main(["eval", "--weights", str(run / "model.safetensors"), "--setting", "demo", "--demo-crop", "32",
                     "--max-images", "1", "--out-dir", str(tmp_path / "eval")])
    out = capsys.readouterr().out
    assert code == 0 and "PARTIAL" in out and "degraded input" in out
    assert json.loads((tmp_path / "eval" / "eval_demo.json").read_text())["images"] == 5


def test_cli_errors_are_one_line_with_exit_code_2(tmp_path, capsys, weights_file):
    assert cli.main(["restore", str(tmp_path / "missing.png"), "--weights", str(weights_file)]) == 2
    assert "missing.png: no such file or folder" in capsys.readouterr().err
    assert cli.main(["eval", "--weights", str(weights_file), "--setting", "3deg", "--data-root", str(tmp_path)]) == 2
    assert "data_scripts/3deg.py download" in capsys.readouterr().err
    (tmp_path / "x.png").write_bytes(b"broken")
    assert cli.main(["restore", str(tmp_path / "x.png"), "--weights", str(weights_file), "-o",
                     str(tmp_path / "y.png")]) == 1
    with pytest.raises(SystemExit):
        cli.main(["train", "--setting", "4deg"])  # argparse lists the choices
    assert "invalid choice: '4deg'" in capsys.readouterr().err

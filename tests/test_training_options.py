"""Training options beyond the basic loop: weight-file errors, the paper's recipe per setting, validation split and best checkpoints,
EMA, gradient accumulation, activation checkpointing, channels_last, SSIM protocols."""

import csv
import json

import numpy as np
import pytest
import torch

from exda_lite import cli
from exda_lite import training as T
from exda_lite.nn.model import build_model
from exda_lite.training import checkpoints as C

TINY = {"dim": 8, "blocks": (1, 1, 1, 1), "refinement": 1}
pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_model():
    return build_model("exda_nano", **TINY)


def tiny_config(out_dir, **changes):
    values = dict(out_dir=str(out_dir), model="exda_nano", model_overrides=TINY, patch_size=16, batch_size=4,
                  samples_per_degradation=4, epochs=2, log_every=1, val_every=0, progress=False, lr=1e-3)
    values.update(changes)
    return T.TrainConfig(**values)


# ----------------------------------------------------------------------------- 10: bad weight files

@pytest.fixture()
def bad_files(tmp_path):
    good = C.save_weights(tiny_model(), tmp_path / "good.safetensors", "exda_nano")
    data = good.read_bytes()
    files = {"empty (0 bytes)": b"", "text file": b"just some text\n", "truncated": data[: len(data) // 2]}
    paths = {}
    for i, (what, content) in enumerate(files.items()):
        paths[what] = tmp_path / f"bad{i}.safetensors"
        paths[what].write_bytes(content)
    torch.save({"a": torch.zeros(3)}, tmp_path / "plain.pt")
    paths["not exda-lite"] = tmp_path / "plain.pt"
    return paths


def test_bad_weight_files_are_one_line_errors_naming_the_file(bad_files, tmp_path, capsys):
    words = {"empty (0 bytes)": "empty file", "text file": "text file", "truncated": "truncated",
             "not exda-lite": "not an exda-lite"}
    for what, path in bad_files.items():
        with pytest.raises(T.CheckpointMismatchError, match=words[what]) as info:
            T.load_model(path)
        assert str(path) in str(info.value) and "\n" not in str(info.value)
        (tmp_path / "x.png").write_bytes(b"")
        assert cli.main(["restore", str(tmp_path / "x.png"), "--weights", str(path)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and str(path) in err and "Traceback" not in err


def test_another_models_weights_is_a_clear_error(tmp_path):
    C.save_weights(build_model("exda_nano", **{**TINY, "dim": 16}), tmp_path / "big.safetensors", "exda_nano")
    run = tiny_config(tmp_path / "run", epochs=1, init_weights=str(tmp_path / "big.safetensors"))
    with pytest.raises(T.CheckpointMismatchError, match=r"big\.safetensors"):
        T.train(run)


# ----------------------------------------------------------------------------- 6: the paper's recipe per setting

RESOLVED = {  # setting -> (model, epochs, max_steps) when none of them is given
    "3deg": ("exda_b", 130, 0), "5deg": ("exda_b", 150, 0), "cdd11": ("exda_b", 150, 0),
    "allweather": ("exda_b", 0, 300_000), "weatherbench": ("exda_b", 120, 0), "medical": ("exda_b", 100, 0),
    "demo": ("exda_t", 130, 0),
}


@pytest.mark.parametrize("setting", sorted(RESOLVED))
def test_resolved_recipe_of_each_setting(setting):
    config = T.TrainConfig(setting=setting)
    assert (config.model, config.epochs, config.max_steps) == RESOLVED[setting]
    assert config.recipe_differences() == []
    assert config.filled_from_recipe == ["model", "epochs", "max_steps"]
    choices = " ".join(config.our_choices())
    if setting == "medical":
        assert "does not state the medical training length" in choices
    if setting == "allweather":
        assert "Y channel: our choice" in choices
    if not setting.startswith("demo"):
        assert "precision='fp32'" in choices and "warmup_steps=0" in choices


def test_given_values_win_over_the_recipe_and_departures_are_named():
    config = T.TrainConfig(setting="5deg", model="exda_t")
    assert (config.model, config.epochs) == ("exda_t", 150)
    assert config.recipe_differences() == ["model='exda_t' (paper: 'exda_b')"]
    weather = T.TrainConfig(setting="allweather", epochs=3)
    assert (weather.epochs, weather.max_steps) == (3, 0)
    assert "max_steps=0 (paper: 300,000 iterations)" in weather.recipe_differences()
    assert T.TrainConfig(setting="3deg", max_steps=10).max_steps == 10


def test_cli_prints_the_recipe_and_every_departure(tmp_path, capsys):
    from exda_lite.training import loop

    config = cli.train_config_from_args(cli.build_parser().parse_args(["train", "--setting", "cdd11"]))
    assert (config.model, config.epochs) == ("exda_b", 150)
    run = type("R", (), {"config": T.TrainConfig(setting="cdd11", lr=1e-3), "say": print, "model": tiny_model(),
                         "train_set": [0], "steps_per_epoch": 1, "epochs": 1, "total_steps": 1,
                         "ctx": type("C", (), {"world_size": 1})(), "device": "cpu"})()
    loop.announce(run)
    out = capsys.readouterr().out
    assert "from the paper (App. A.1 'Composited Degradation': 150 epochs" in out
    assert "departs from the paper: lr=0.001 (paper: 0.0002)" in out and "our choice: warmup_steps=0" in out


# ----------------------------------------------------------------------------- 1: validation split, best, snapshots

def fake_dataset(tasks, scenes, shared_scenes):
    from exda_lite.data.datasets import PairedImageDataset, Sample

    samples = []
    for t, task in enumerate(tasks):
        for i in range(scenes):
            clean = f"clean/{i}.png" if shared_scenes else f"clean/{task}_{i}.png"
            samples += [Sample(f"deg/{task}_{i}.png", clean, task)] * 2  # repeated, as PromptIR's repeats
    return PairedImageDataset(samples, tasks, patch_size=16)


def test_held_out_split_is_disjoint_seeded_and_shares_scenes():
    from exda_lite.training.validation import held_out_split

    tasks = ("haze", "rain", "snow")
    data = fake_dataset(tasks, scenes=10, shared_scenes=True)  # CDD11-like: all types share scenes
    train, val = held_out_split(data, per_task=3, seed=0)
    held = {s.clean for s in val.dataset.samples}
    assert len(val) == 9 and len(held) == 3  # the same 3 scenes for the 3 types
    assert not held & {s.clean for s in train.samples} and len(train.samples) == 2 * 3 * 7
    assert val.dataset.patch_size is None and data.patch_size == 16  # test mode; the original untouched
    again, _ = held_out_split(data, per_task=3, seed=0)
    other, _ = held_out_split(data, per_task=3, seed=1)
    assert again.samples == train.samples and other.samples != train.samples
    small = held_out_split(fake_dataset(tasks, scenes=4, shared_scenes=False), per_task=20, seed=0)[1]
    assert len(small) == 6  # at most half of a task's images


def test_done_criterion_run_leaves_best_snapshots_and_logs_and_eval_scores_them(tmp_path, capsys):
    out = tmp_path / "R"
    code = cli.main(["train", "--setting", "demo", "--model", "exda_nano", "--epochs", "2", "--val-every", "1",
                     "--keep-every", "1", "--ema", "0.999", "--accumulate", "2", "--out-dir", str(out),
                     "--model-overrides", json.dumps(TINY), "--batch-size", "4", "--patch-size", "16",
                     "--samples-per-degradation", "2", "--val-crop", "16", "--no-progress"])
    assert code == 0
    for name in ("best.safetensors", "epoch_0001.safetensors", "epoch_0002.safetensors", "val_log.csv",
                 "train_log.csv", "last.pt", "model.safetensors"):
        assert (out / name).is_file(), name
    with open(out / "val_log.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    assert {"val_psnr", "val_ssim", "psnr_noise", "ssim_haze"} <= set(rows[0])
    best = max(rows, key=lambda r: float(r["val_psnr"]))
    assert T.read_weights(out / "best.safetensors")[1]["val_psnr"] == pytest.approx(float(best["val_psnr"]))
    assert T.read_weights(out / "model.safetensors")[1]["ema"] == 0.999
    capsys.readouterr()
    for name in ("best.safetensors", "epoch_0001.safetensors", "last.pt"):
        assert cli.main(["eval", "--weights", str(out / name), "--setting", "demo", "--demo-crop", "16",
                         "--max-images", "1", "--no-save-images"]) == 0
        assert "protocol: RGB" in capsys.readouterr().out


# ----------------------------------------------------------------------------- 2/3: EMA, accumulation, checkpointing

def test_ema_is_an_averaged_model_and_last_pt_exports_its_weights(tmp_path):
    from torch.optim.swa_utils import AveragedModel

    result = T.train(tiny_config(tmp_path, epochs=1, ema=0.5))
    checkpoint = T.load_checkpoint(tmp_path / "last.pt")
    assert int(checkpoint["ema_n_averaged"]) == 5 and checkpoint["ema_decay"] == 0.5
    exported = T.read_weights(result.weights)[0]
    raw = checkpoint["model"]
    assert all(torch.equal(exported[k], checkpoint["ema"][k]) for k in exported)
    assert any(not torch.equal(exported[k], raw[k]) for k in exported)  # EMA != the raw weights
    from exda_lite.training.speed import make_ema
    assert isinstance(make_ema(tiny_model(), 0.9), AveragedModel) and make_ema(tiny_model(), 0) is None


def test_accumulate_4x8_equals_1x32(tmp_path):
    common = dict(batch_size=32, samples_per_degradation=8, epochs=2, lr=1e-4)
    one = T.train(tiny_config(tmp_path / "one", **common))
    four = T.train(tiny_config(tmp_path / "four", accumulate=4, **common))
    assert one.global_step == four.global_step == 2
    a, b = T.read_weights(one.weights)[0], T.read_weights(four.weights)[0]
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6, msg=key)
    assert [r["loss"] for r in one.history] == pytest.approx([r["loss"] for r in four.history], rel=1e-5)
    with pytest.raises(ValueError, match="accumulate=3"):
        T.TrainConfig(batch_size=32, accumulate=3)


def test_activation_checkpointing_gives_the_same_gradients():
    from exda_lite.training.speed import checkpoint_blocks

    torch.manual_seed(0)
    plain = tiny_model().train()
    patched = tiny_model().train()
    patched.load_state_dict(plain.state_dict())
    assert checkpoint_blocks(patched) > 0
    x = torch.rand(2, 3, 32, 32)
    for model in (plain, patched):
        model(x).square().mean().backward()
    for (name, p), q in zip(plain.named_parameters(), patched.parameters()):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-5, atol=1e-7, msg=name)
    assert patched.state_dict().keys() == plain.state_dict().keys()


def test_channels_last_output_equals_nchw_within_1e5():
    from exda_lite.training.speed import to_channels_last

    torch.manual_seed(0)
    model = build_model("exda_nano").eval()
    x = torch.rand(1, 3, 48, 64)
    with torch.no_grad():
        reference = model(x)
        fast = to_channels_last(model)(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(fast, reference, rtol=0, atol=1e-5)


# ----------------------------------------------------------------------------- 7: SSIM protocol of CDD11

def test_cdd11_ssim_is_moce_irs_gaussian_window_checked_against_scikit_image():
    from skimage.metrics import structural_similarity

    from exda_lite.training.evaluate import describe_protocol
    from exda_lite.training.metrics import SSIM_WINDOW, evaluate_pair

    rng = np.random.default_rng(0)
    clean = rng.random((48, 48, 3))
    noisy = np.clip(clean + rng.normal(0, 0.1, clean.shape), 0, 1)
    gaussian = evaluate_pair(noisy, clean, ssim=SSIM_WINDOW["cdd11"])["ssim"]
    expected = structural_similarity(clean, noisy, data_range=1.0, channel_axis=-1, gaussian_weights=True,
                                     sigma=1.5, use_sample_covariance=False)
    assert gaussian == pytest.approx(expected, abs=1e-12)
    assert abs(gaussian - evaluate_pair(noisy, clean)["ssim"]) > 1e-4  # not the uniform 7x7 window
    assert "Gaussian 11x11" in describe_protocol(False, 0, "gaussian", "cdd11")
    assert "our choice" in describe_protocol(True, 0, "uniform", "allweather")


def test_inference_default_channels_last_on_cpu_equals_plain_forward():
    from exda_lite.training.speed import ChannelsLastInput, prepare_for_inference

    torch.manual_seed(0)
    model = build_model("exda_nano").eval()
    x = torch.rand(1, 3, 40, 56)
    with torch.no_grad():
        reference = model(x)
        prepared = prepare_for_inference(build_model("exda_nano"), "cpu")
        prepared.model.load_state_dict(model.state_dict())
        assert isinstance(prepared, ChannelsLastInput) and prepared.config.in_channels == 3
        torch.testing.assert_close(prepared(x), reference, rtol=0, atol=1e-5)
    assert not isinstance(prepare_for_inference(model, "cpu", channels_last=False), ChannelsLastInput)


# ----------------------------------------------------------------------------- 8: tracking

class FakeTracker:
    """Stands in for a TensorBoard SummaryWriter and a wandb run (neither is installed in CI)."""

    def __init__(self):
        self.scalars, self.images, self.logged, self.closed = [], [], [], False

    def add_scalar(self, key, value, step):
        self.scalars.append((key, step))

    def add_image(self, key, image, step):
        self.images.append((key, tuple(image.shape), step))

    def log(self, values, step):
        self.logged.append((sorted(values), step))

    def close(self):
        self.closed = True

    finish = close


def test_tensorboard_gets_image_grids_and_wandb_runs_offline(tmp_path, monkeypatch):
    import sys
    import types

    from exda_lite.training import logs

    board, run = FakeTracker(), FakeTracker()
    modes = []
    fake_wandb = types.SimpleNamespace(init=lambda **kw: modes.append(kw["mode"]) or run)
    monkeypatch.setitem(sys.modules, "wandb", fake_wandb)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setattr(logs, "make_tensorboard", lambda config, out_dir: board)
    T.train(tiny_config(tmp_path, epochs=1, val_every=1, val_crop=16, wandb=True))
    assert modes == ["offline"] and board.closed and run.closed
    assert ("val_images/noise", (3, 16, 48), 5) in board.images  # degraded | restored | clean
    assert any(key == "val/val_ssim" for key, _ in board.scalars)
    assert any("val/psnr_haze" in keys for keys, _ in run.logged)
    monkeypatch.setitem(sys.modules, "wandb", None)  # not installed: a clear error
    with pytest.raises(ImportError, match=r"exda-lite\[wandb\]"):
        T.train(tiny_config(tmp_path / "b", epochs=1, wandb=True))


def test_a_checkpoint_from_before_the_new_fields_still_resumes(tmp_path):
    T.train(tiny_config(tmp_path, epochs=1))
    checkpoint = T.load_checkpoint(tmp_path / "last.pt")
    for key in ("accumulate", "val_images", "val_seed", "ema", "keep_every"):
        del checkpoint["train_config"][key]
    del checkpoint["best_val_psnr"]
    torch.save(checkpoint, tmp_path / "last.pt")
    again = T.train(tiny_config(tmp_path, epochs=2, resume="auto"))
    assert again.resumed_from_step == 5 and again.global_step == 10

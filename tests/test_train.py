"""The trainer: kill-and-resume gives the same weights, mismatches and NaNs stop with clear errors,
checkpoints are atomic and load with weights_only, the schedule, mixed precision, DDP with gloo."""

import csv
import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import exda_lite
from exda_lite import training as T
from exda_lite.training import checkpoints

ROOT = Path(__file__).resolve().parents[1]
TINY = {"dim": 8, "blocks": (1, 1, 1, 1), "refinement": 1}


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def tiny_config(out_dir, **changes) -> T.TrainConfig:
    values = dict(out_dir=str(out_dir), model="exda_nano", model_overrides=TINY, patch_size=16, batch_size=4,
                  samples_per_degradation=4, epochs=2, log_every=1, val_every=0, progress=False, lr=1e-3)
    values.update(changes)
    return T.TrainConfig(**values)


def weights(path) -> dict:
    return T.read_weights(path)[0]


class Crash(RuntimeError):
    pass


def crash_at(step):
    def callback(info):
        if info["step"] == step:
            raise Crash(f"simulated crash after step {step}")
    return callback


def test_killed_mid_epoch_and_resumed_equals_uninterrupted(tmp_path):
    # 20 samples / batch 4 = 5 steps per epoch, 2 epochs = 10 steps; checkpoints every 3 steps
    reference = T.train(tiny_config(tmp_path / "full", checkpoint_every=3))
    with pytest.raises(Crash):
        T.train(tiny_config(tmp_path / "crashed", checkpoint_every=3), callbacks=[crash_at(8)])
    checkpoint = T.load_checkpoint(tmp_path / "crashed" / "last.pt")
    assert (checkpoint["global_step"], checkpoint["epoch"], checkpoint["step_in_epoch"]) == (6, 1, 1)  # mid-epoch
    resumed = T.train(tiny_config(tmp_path / "crashed", checkpoint_every=3, resume="auto"))
    assert resumed.resumed_from_step == 6 and resumed.global_step == 10
    a, b = weights(reference.weights), weights(resumed.weights)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key  # bit-identical on CPU
    # the log was rewound to the checkpoint and replayed: same losses as the uninterrupted run
    assert [r["step"] for r in resumed.history] == list(range(1, 11))
    assert [r["loss"] for r in resumed.history] == pytest.approx([r["loss"] for r in reference.history], rel=1e-6)


KILLED_RUN = """
import json, os, signal, sys
import torch
from exda_lite import training as T
torch.set_num_threads(1)
values = json.loads(sys.argv[1])
values["model_overrides"]["blocks"] = tuple(values["model_overrides"]["blocks"])

def sigkill_after_step_8(info):
    if info["step"] == 8:
        os.kill(os.getpid(), signal.SIGKILL)  # no exception, no finally, no flush: the process just dies

T.train(T.TrainConfig(**values), callbacks=[sigkill_after_step_8])
"""


def test_sigkilled_process_resumes_to_the_same_weights(tmp_path):
    """A real kill: the training process gets SIGKILL after step 8; `resume="auto"` in a new process finishes it.

    With EMA and gradient accumulation on: the exported (EMA) weights, the raw weights, the EMA count and
    best.safetensors all equal those of the uninterrupted run, bit for bit.
    """
    extra = dict(checkpoint_every=3, ema=0.9, accumulate=2, val_every=1, val_crop=16)
    config = tiny_config(tmp_path / "killed", **extra)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    process = subprocess.run([sys.executable, "-c", KILLED_RUN, json.dumps(config.to_dict())], env=env,
                             capture_output=True, text=True, timeout=240)
    assert process.returncode == -signal.SIGKILL, process.stderr[-3000:]
    assert T.load_checkpoint(tmp_path / "killed" / "last.pt")["global_step"] == 6
    assert not list((tmp_path / "killed").glob("*.tmp*")), "a temporary checkpoint file was left behind"
    resumed = T.train(tiny_config(tmp_path / "killed", resume="auto", **extra))
    reference = T.train(tiny_config(tmp_path / "full", **extra))
    assert resumed.resumed_from_step == 6 and resumed.global_step == reference.global_step == 10
    for name in ("model.safetensors", "best.safetensors"):
        a, b = weights(tmp_path / "full" / name), weights(tmp_path / "killed" / name)
        for key in a:
            assert torch.equal(a[key], b[key]), (name, key)
    a, b = (T.load_checkpoint(tmp_path / run / "last.pt") for run in ("full", "killed"))
    assert torch.equal(a["ema_n_averaged"], b["ema_n_averaged"]) and a["best_val_psnr"] == b["best_val_psnr"]
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key


def test_resume_of_a_finished_run_does_nothing_and_keeps_weights(tmp_path):
    first = T.train(tiny_config(tmp_path, epochs=1))
    again = T.train(tiny_config(tmp_path, epochs=1, resume="auto"))
    assert again.global_step == first.global_step == 5
    assert all(torch.equal(first.model.state_dict()[k], v) for k, v in again.model.state_dict().items())


def test_resume_with_another_model_is_a_clear_error(tmp_path):
    T.train(tiny_config(tmp_path, epochs=1))
    other = tiny_config(tmp_path, epochs=1, resume="auto", model_overrides={**TINY, "dim": 16})
    with pytest.raises(T.CheckpointMismatchError, match=r"\bdim\b"):
        T.train(other)
    with pytest.raises(T.CheckpointMismatchError, match=r"\bbatch_size\b"):
        T.train(tiny_config(tmp_path, epochs=1, resume="auto", batch_size=2))


def test_missing_resume_path_and_foreign_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.pt"):
        T.train(tiny_config(tmp_path, resume=str(tmp_path / "nope.pt")))
    torch.save({"model": {}}, tmp_path / "foreign.pt")
    with pytest.raises(T.CheckpointMismatchError, match="exda-lite"):
        T.load_checkpoint(tmp_path / "foreign.pt")


def test_checkpoint_loads_with_weights_only_and_rebuilds_the_model(tmp_path):
    result = T.train(tiny_config(tmp_path, epochs=1))
    checkpoint = torch.load(result.checkpoint, map_location="cpu", weights_only=True)  # no pickled code
    assert {"model", "optimizer", "scheduler", "scaler", "rng", "epoch", "step_in_epoch"} <= checkpoint.keys()
    model, info = T.load_model(result.weights)
    assert info["model_name"] == "exda_nano" and info["global_step"] == 5
    x = torch.rand(1, 3, 20, 24)
    with torch.no_grad():
        assert torch.equal(model(x), result.model(x))
    model2, _ = T.load_model(result.checkpoint)  # last.pt works too
    assert all(torch.equal(model2.state_dict()[k], v) for k, v in model.state_dict().items())


def test_atomic_save_keeps_the_old_file_when_writing_fails(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    checkpoints.atomic_torch_save({"a": torch.ones(2)}, path)

    def broken_save(obj, f):
        f.write(b"half a checkpoint")
        raise OSError("disk full")
    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        checkpoints.atomic_torch_save({"a": torch.zeros(2)}, path)
    monkeypatch.undo()
    assert torch.equal(torch.load(path, weights_only=True)["a"], torch.ones(2))
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]  # no temporary file left behind


class NaNAfter(torch.utils.data.Dataset):
    """A demo dataset whose items turn into NaN from index ``start`` on."""

    def __init__(self, start):
        self.inner, self.start = exda_lite.DemoAllInOne(patch_size=16, samples_per_degradation=4), start

    def __len__(self):
        return len(self.inner)

    def __getitem__(self, i):
        degraded, clean, label = self.inner[i]
        return (degraded * float("nan") if i >= self.start else degraded), clean, label


def test_non_finite_loss_stops_with_a_clear_message(tmp_path):
    config = tiny_config(tmp_path, epochs=1)
    with pytest.raises(T.NonFiniteLossError, match="non-finite"):
        T.train(config, train_set=NaNAfter(0))


def test_lr_schedule_warmup_then_cosine_to_min():
    assert T.lr_factor(0, 100, warmup=10) == pytest.approx(0.1)
    assert T.lr_factor(9, 100, warmup=10) == pytest.approx(1.0)
    assert T.lr_factor(10, 100, warmup=10) == pytest.approx(1.0)
    assert T.lr_factor(55, 100, warmup=10) == pytest.approx(0.5)
    assert T.lr_factor(100, 100, warmup=10, min_ratio=0.1) == pytest.approx(0.1)
    assert T.lr_factor(0, 100) == 1.0


def test_logged_lr_follows_the_schedule_and_csv_is_written(tmp_path):
    result = T.train(tiny_config(tmp_path, epochs=2, warmup_steps=2, lr=1e-3))
    lrs = [row["lr"] for row in result.history]
    expected = [1e-3 * T.lr_factor(s, 10, warmup=2) for s in range(10)]
    assert lrs == pytest.approx(expected)
    with open(tmp_path / "train_log.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 10 and {"loss", "l1", "fourier", "grad_norm", "images_per_s"} <= rows[0].keys()
    assert json.loads((tmp_path / "config.json").read_text())["warmup_steps"] == 2


def test_grad_clip_bounds_the_update(tmp_path):
    """Adam's first step is lr * g / (|g| + eps): a gradient clipped to norm 1e-12 is far below eps = 1e-8,
    so the clipped step almost vanishes, while the unclipped one moves every weight by ~lr. Without the
    clip both runs move the weights by the same amount and this test fails. (The logged grad_norm is the
    norm *before* clipping, so it cannot show the clip.)"""
    one_step = dict(epochs=0, max_steps=1, seed=3)
    start = T.train(tiny_config(tmp_path / "start", lr=0.0, **one_step)).model
    free = T.train(tiny_config(tmp_path / "free", **one_step))
    clipped = T.train(tiny_config(tmp_path / "clip", grad_clip=1e-12, **one_step))

    def moved(model):
        return sum((a - b).abs().sum().item() for a, b in zip(model.parameters(), start.parameters()))

    assert moved(free.model) > 0
    assert moved(clipped.model) < 1e-3 * moved(free.model)
    assert all(math.isfinite(r["grad_norm"]) for r in clipped.history)


def test_bf16_autocast_trains_on_cpu_and_fp16_needs_cuda(tmp_path):
    result = T.train(tiny_config(tmp_path / "bf16", epochs=1, precision="bf16"))
    assert all(math.isfinite(r["loss"]) for r in result.history)
    assert all(p.dtype == torch.float32 for p in result.model.parameters())  # weights stay fp32
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA"):
            T.train(tiny_config(tmp_path / "fp16", epochs=1, precision="fp16"))


def test_config_validation_lists_the_choices():
    with pytest.raises(ValueError, match=r"'4deg'.*demo_medical"):
        T.TrainConfig(setting="4deg")
    with pytest.raises(ValueError, match=r"batch_size=0"):
        T.TrainConfig(batch_size=0)
    with pytest.raises(TypeError, match="batchsize.*batch_size"):
        T.config_from_dict({"batchsize": 3})


def test_recipe_differences_name_what_departs_from_the_paper():
    paper = T.TrainConfig(setting="3deg", model="exda_b", epochs=130)
    assert paper.recipe_differences() == []
    off = T.TrainConfig(setting="3deg", model="exda_t", epochs=130, lr=1e-3, fourier_weight=0)
    text = " ".join(off.recipe_differences())
    assert "lr=0.001 (paper: 0.0002)" in text and "fourier_weight=0" in text and "model='exda_t'" in text
    assert T.TrainConfig(setting="demo").recipe_differences() == []


def test_missing_benchmark_data_names_the_fix(tmp_path):
    with pytest.raises(exda_lite.DataLayoutError, match="data_scripts/3deg.py"):
        T.train(T.TrainConfig(setting="3deg", data_root=str(tmp_path), out_dir=str(tmp_path / "run"), progress=False))


def test_validation_psnr_is_logged_per_epoch(tmp_path):
    result = T.train(tiny_config(tmp_path, epochs=2, val_every=1, val_crop=16))
    assert [r["epoch"] for r in result.val_history] == [0, 1, 2]  # 0: before training
    assert all(r["val_psnr_input"] > 5 for r in result.val_history)


def test_torchrun_two_gloo_processes_stay_in_sync_and_match_one_process(tmp_path):
    """The same CLI under torchrun with 2 CPU processes (gloo), with accumulation and activation checkpointing:
    ranks in sync, weights = one plain process, batch 4."""
    flags = ["train", "--model", "exda_nano", "--model-overrides", json.dumps(TINY), "--patch-size", "16",
             "--batch-size", "4", "--samples-per-degradation", "4", "--epochs", "1", "--lr", "1e-3",
             "--val-every", "0", "--no-progress", "--checkpoint-every", "2",
             "--accumulate", "2", "--checkpoint-activations"]  # both compose with DDP (no_sync)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", "exda_lite", *flags, "--out-dir", str(tmp_path / "ddp")]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)  # its own process group: a hang cannot leave orphans
    try:
        stdout, stderr = process.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        pytest.fail("torchrun did not finish in 240 s:\n" + stdout[-2000:] + stderr[-4000:])
    assert process.returncode == 0, stdout[-2000:] + stderr[-4000:]
    assert "batch 4 (2 process(es))" in stdout
    checkpoint = T.load_checkpoint(tmp_path / "ddp" / "last.pt")
    assert checkpoint["world_size"] == 2 and len(checkpoint["rng"]) == 2 and checkpoint["global_step"] == 5
    # the in-sync check ran at every checkpoint (steps 2, 4 and the end) without raising; now compare with 1 process
    single = T.train(tiny_config(tmp_path / "single", epochs=1))
    a, b = weights(tmp_path / "ddp" / "model.safetensors"), weights(single.weights)
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5, msg=key)


def test_a_model_override_typo_fails_when_the_config_is_built():
    with pytest.raises(ValueError, match="gst_tokenz"):
        T.TrainConfig(model="exda_nano", model_overrides={"gst_tokenz": 2})
    assert T.TrainConfig(model="exda_nano", model_overrides={"gst_tokens": 2}).model_overrides == {"gst_tokens": 2}

"""Long jobs under faults (issue 25): each fault gives one line and loses nothing.

* a kill during each writer                  test_a_writer_that_dies_mid_write_keeps_the_old_file
* a full disk for each writer                test_a_full_disk_is_one_line_for_each_writer,
                                             test_train_on_a_full_disk_is_one_line_and_keeps_the_checkpoint,
                                             test_train_on_a_real_full_tmpfs (root on Linux, else skipped),
                                             test_restore_on_a_full_disk_is_one_line,
                                             test_reference_run_on_a_full_disk_is_one_line,
                                             test_data_script_download_on_a_full_disk_is_one_line_and_resumes,
                                             test_data_script_manifest_on_a_full_disk_is_one_line
* two processes on one experiment            test_two_processes_write_one_json_without_errors,
                                             test_two_reference_processes_on_one_experiment
* SIGTERM / SIGINT during training           test_sigterm_mid_epoch_then_resume_equals_uninterrupted,
                                             test_sigint_in_process_saves_and_raises_keyboard_interrupt,
                                             test_external_sigterm_stops_at_a_saved_step,
                                             test_a_second_signal_stops_at_once,
                                             test_a_repeated_signal_is_one_request_and_a_pending_one_stops_after_the_block,
                                             test_under_torchrun_every_rank_stops_after_the_same_step
* SIGTERM / SIGINT during a reference run    test_reference_run_stops_on_a_signal_and_continues_exactly[SIGTERM|SIGINT]
* a corrupt last.pt                          test_corrupt_last_pt_is_one_line_naming_the_previous_snapshot
"""

from __future__ import annotations

import errno
import hashlib
import importlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from exda_lite import cli, files
from exda_lite import training as T
from exda_lite.course import notebook, toy
from exda_lite.reference import runner
from exda_lite.training import checkpoints, logs, preemption, restore
from exda_lite.training.preemption import EXIT_PREEMPTED, Preempted

ROOT = Path(__file__).resolve().parents[1]
TINY = {"dim": 8, "blocks": (1, 1, 1, 1), "refinement": 1}
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def tiny_config(out_dir, **changes) -> T.TrainConfig:
    values = {"out_dir": str(out_dir), "model": "exda_nano", "model_overrides": TINY, "patch_size": 16, "batch_size": 4,
              "samples_per_degradation": 4, "epochs": 2, "log_every": 1, "val_every": 0, "progress": False, "lr": 1e-3}
    values.update(changes)
    return T.TrainConfig(**values)


def weights(path) -> dict:
    return T.read_weights(path)[0]


def same_weights(a, b) -> bool:
    a, b = weights(a), weights(b)
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def sha256(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


# --------------------------------------------------------------------------- every writer

class Linear(torch.nn.Module):
    def __init__(self, value: float):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.full((64, 64), value))


def write_csv(path, version):
    log = logs.CSVLog(path, ["step", "loss"], fresh=True)
    log.rows = [{"step": s, "loss": version} for s in range(200)]
    log.rewrite()


WRITERS = {  # name -> (file name, write(path, version))
    "last.pt": ("last.pt", lambda p, v: checkpoints.atomic_torch_save({"v": torch.full((4000,), v)}, p)),
    "model.safetensors": ("model.safetensors", lambda p, v: checkpoints.save_weights(Linear(v), p)),
    "reference json": ("fig5.json", lambda p, v: runner.write_json(p, {"v": v, "runs": list(range(2000))})),
    "reference weights": ("baseline-seed0.safetensors", lambda p, v: runner.save_weights(Linear(v), p)),
    "toy state": ("state.pt", lambda p, v: toy.save_state(p, {"v": torch.full((4000,), v)})),
    "notebook results": ("results.json", lambda p, v: notebook.write_results(p.parent, "results",
                                                                             {"v": v, "x": list(range(2000))})),
    "train log csv": ("train_log.csv", write_csv),
    "png": ("out.png", lambda p, v: restore.write_png(p, np.random.default_rng(int(v)).random((64, 64, 3)))),
    "png 16-bit": ("out16.png", lambda p, v: restore.write_png(p, np.full((64, 64, 3), v / 10), bit_depth=16)),
    "text": ("SCOREBOARD.md", lambda p, v: files.write_text(p, f"version {v}\n" * 500)),
}


class DyingFile:
    """A temporary file that writes ``limit`` bytes, then raises ``error`` (a kill or a full disk mid-write)."""

    def __init__(self, real, error: BaseException, limit: int = 100):
        self.real, self.error, self.left = real, error, limit

    def write(self, data):
        data = bytes(data)
        if len(data) > self.left:
            self.real.write(data[:self.left])
            self.left = 0
            raise self.error
        self.left -= len(data)
        return self.real.write(data)

    def __getattr__(self, name):
        return getattr(self.real, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.real.close()


def dying_writes(monkeypatch, error):
    real = tempfile.NamedTemporaryFile
    monkeypatch.setattr(files.tempfile, "NamedTemporaryFile", lambda *a, **k: DyingFile(real(*a, **k), error))


class Killed(Exception):
    pass


@pytest.mark.parametrize("name", WRITERS)
def test_a_writer_that_dies_mid_write_keeps_the_old_file(name, tmp_path, monkeypatch):
    filename, write = WRITERS[name]
    path = tmp_path / filename
    write(path, 1.0)
    before = sha256(path)
    dying_writes(monkeypatch, Killed("killed mid-write"))
    with pytest.raises(Exception) as caught:  # torch.save wraps it in its own RuntimeError
        write(path, 2.0)
    assert not isinstance(caught.value, files.DiskFullError)
    monkeypatch.undo()
    assert sha256(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [filename]  # no temporary file left behind


@pytest.mark.parametrize("name", WRITERS)
def test_a_full_disk_is_one_line_for_each_writer(name, tmp_path, monkeypatch):
    filename, write = WRITERS[name]
    path = tmp_path / filename
    write(path, 1.0)
    before = sha256(path)
    dying_writes(monkeypatch, OSError(errno.ENOSPC, "No space left on device"))
    with pytest.raises(files.DiskFullError) as caught:
        write(path, 2.0)
    monkeypatch.undo()
    message = str(caught.value)
    assert lines(message) == [message]
    assert message.startswith(f"no space left on device while writing {path} (") and "needed" in message
    assert message.endswith(f"the previous {path} is intact")
    assert sha256(path) == before and sorted(p.name for p in tmp_path.iterdir()) == [filename]


def test_new_files_get_the_usual_permissions_and_replacements_keep_theirs(tmp_path):
    path = files.write_text(tmp_path / "a.json", "{}")
    assert path.stat().st_mode & 0o777 == files.default_mode()
    path.chmod(0o640)
    files.write_text(path, "[]")
    assert path.stat().st_mode & 0o777 == 0o640 and path.read_text() == "[]"


def test_only_the_writer_module_renames_files():
    callers = [p.relative_to(ROOT).as_posix() for p in (ROOT / "exda_lite").rglob("*.py")
               if "os.replace(" in p.read_text()]
    assert callers == ["exda_lite/files.py"]


# --------------------------------------------------------------------------- a full disk, end to end

def disk_full_on(monkeypatch, name: str, write: int = 1):
    """The ``write``-th write of a file called ``name`` hits a full disk (after 100 bytes)."""
    real, calls = tempfile.NamedTemporaryFile, []

    def make(*args, **kwargs):
        handle = real(*args, **kwargs)
        if Path(handle.name).name.startswith(f".{name}."):
            calls.append(handle.name)
            if len(calls) == write:
                return DyingFile(handle, OSError(errno.ENOSPC, "No space left on device"))
        return handle
    monkeypatch.setattr(files.tempfile, "NamedTemporaryFile", make)


def train_flags(out_dir, *more):
    return ["train", "--model", "exda_nano", "--model-overrides", json.dumps(TINY), "--patch-size", "16",
            "--batch-size", "4", "--samples-per-degradation", "4", "--epochs", "2", "--lr", "1e-3",
            "--val-every", "0", "--log-every", "1", "--no-progress", "--out-dir", str(out_dir), *more]


def test_train_on_a_full_disk_is_one_line_and_keeps_the_checkpoint(tmp_path, monkeypatch, capsys):
    disk_full_on(monkeypatch, "last.pt", write=2)
    assert cli.main(train_flags(tmp_path)) == cli.EXIT_ERROR
    err = capsys.readouterr().err
    last = tmp_path / "last.pt"
    assert lines(err) == [err.strip()], err
    assert err.startswith(f"exda-lite train: error: no space left on device while writing {last} (")
    assert f"the previous checkpoint {last} is intact; free space and rerun with --resume auto" in err
    assert T.load_checkpoint(last)["global_step"] == 5  # the end of epoch 1, intact
    assert not [p.name for p in tmp_path.iterdir() if ".tmp" in p.name]


def tmpfs(path: Path, size: str):
    """Mount a small tmpfs at ``path`` (root on Linux only), or skip."""
    if sys.platform != "linux" or os.geteuid() != 0:
        pytest.skip("a real tmpfs needs root on Linux")
    path.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                            capture_output=True, text=True, check=False)
    if result.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")


def test_train_on_a_real_full_tmpfs(tmp_path):
    disk = tmp_path / "disk"
    tmpfs(disk, "8m")
    try:
        out = disk / "run"
        assert cli.main(train_flags(out, "--epochs", "1")) == 0
        before = sha256(out / "last.pt")
        stat = os.statvfs(disk)
        (disk / "filler").write_bytes(b"\0" * (stat.f_bavail * stat.f_frsize - 64 * 1024))  # 64 KB left
        process = subprocess.run([sys.executable, "-m", "exda_lite", *train_flags(out, "--resume", "auto")],
                                 env=ENV, capture_output=True, text=True, timeout=120, check=False)
        assert process.returncode == cli.EXIT_ERROR, process.stderr[-2000:]
        assert lines(process.stderr) == [process.stderr.strip()], process.stderr[-2000:]
        assert f"no space left on device while writing {out / 'last.pt'}" in process.stderr
        assert f"the previous checkpoint {out / 'last.pt'} is intact" in process.stderr
        assert sha256(out / "last.pt") == before and not [p for p in out.iterdir() if ".tmp" in p.name]
    finally:
        subprocess.run(["umount", str(disk)], check=False)


def test_restore_on_a_full_disk_is_one_line(tmp_path, monkeypatch, capsys):
    from PIL import Image

    for i in range(2):
        Image.fromarray(np.full((24, 24, 3), 40 * i, np.uint8)).save(tmp_path / f"{i}.png")
    disk_full_on(monkeypatch, "1.png")
    code = cli.main(["restore", str(tmp_path / "0.png"), str(tmp_path / "1.png"), "--output", str(tmp_path / "out"),
                     "--device", "cpu", "--tile", "0"])
    err = capsys.readouterr().err
    assert code == cli.EXIT_ERROR and lines(err) == [err.strip()], err
    assert f"no space left on device while writing {tmp_path / 'out' / '1.png'}" in err
    assert "the images restored before it are complete" in err
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["0.png"]


# --------------------------------------------------------------------------- preemption of training

SIGNALLED_RUN = """
import os, signal, sys
import torch
torch.set_num_threads(1)
import exda_lite.training.loop as loop
from exda_lite import cli
from exda_lite.training import preemption

signals, step = [getattr(signal, s) for s in sys.argv[1].split(",")], int(sys.argv[2])
original = loop.train

def send_after_step(info):
    if info["step"] == step:
        for number in signals:  # a real signal to this process, in the middle of the run
            os.kill(os.getpid(), number)
            if len(signals) > 1:  # a repeat within REPEAT_WINDOW is the same request (torchrun forwards it)
                import time; time.sleep(preemption.REPEAT_WINDOW + 0.3)

loop.train = lambda config, **kwargs: original(config, callbacks=[send_after_step])
sys.exit(cli.main(sys.argv[3:]))
"""


def signalled(signals: str, step: int, flags: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", SIGNALLED_RUN, signals, str(step), *flags], env=ENV,
                          capture_output=True, text=True, timeout=240, check=False)


def test_sigterm_mid_epoch_then_resume_equals_uninterrupted(tmp_path):
    """SIGTERM after step 8 (epoch 2 of 2, batch 3 of 5): last.pt at step 8, exit 75, one line;
    `--resume auto` finishes the run with the weights (raw and EMA) of an uninterrupted one, bit for bit."""
    extra = ["--ema", "0.9", "--accumulate", "2"]
    process = signalled("SIGTERM", 8, train_flags(tmp_path / "stopped", *extra))
    assert process.returncode == EXIT_PREEMPTED, process.stderr[-3000:]
    expected = (f"exda-lite train: stopped at step 8 by SIGTERM; state saved to {tmp_path / 'stopped' / 'last.pt'}; "
                "resume with --resume auto")
    assert lines(process.stderr) == [expected]
    checkpoint = T.load_checkpoint(tmp_path / "stopped" / "last.pt")
    assert (checkpoint["global_step"], checkpoint["epoch"], checkpoint["step_in_epoch"]) == (8, 1, 3)
    assert "ema" in checkpoint and "rng" in checkpoint and "scaler" in checkpoint
    assert cli.main(train_flags(tmp_path / "stopped", *extra, "--resume", "auto")) == 0
    assert cli.main(train_flags(tmp_path / "full", *extra)) == 0
    assert same_weights(tmp_path / "full" / "model.safetensors", tmp_path / "stopped" / "model.safetensors")
    a, b = (T.load_checkpoint(tmp_path / run / "last.pt") for run in ("full", "stopped"))
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])


def test_sigint_in_process_saves_and_raises_keyboard_interrupt(tmp_path):
    """A notebook's "interrupt kernel" (SIGINT) while train() runs in-process: the state is saved at the step,
    the cell ends with a KeyboardInterrupt (not sys.exit), and the previous handlers are back."""
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)

    def interrupt(info):
        if info["step"] == 3:
            os.kill(os.getpid(), signal.SIGINT)
    with pytest.raises(KeyboardInterrupt, match="stopped at step 3 by SIGINT") as caught:
        T.train(tiny_config(tmp_path), callbacks=[interrupt])
    assert isinstance(caught.value, Preempted) and caught.value.step == 3
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
    assert T.load_checkpoint(tmp_path / "last.pt")["global_step"] == 3
    assert T.train(tiny_config(tmp_path, resume="auto")).global_step == 10


def test_a_second_signal_stops_at_once(tmp_path):
    """Ctrl-C twice (a second apart): the second one ends the process at once, without saving; last.pt keeps
    step 6 (--checkpoint-every 3)."""
    process = signalled("SIGINT,SIGINT", 8, train_flags(tmp_path, "--checkpoint-every", "3"))
    assert process.returncode in (-signal.SIGINT, 128 + signal.SIGINT, 1), process.stderr[-2000:]
    assert "KeyboardInterrupt" in process.stderr
    assert T.load_checkpoint(tmp_path / "last.pt")["global_step"] == 6


def test_external_sigterm_stops_at_a_saved_step(tmp_path):
    """A scheduler's SIGTERM from outside, at whatever moment: the step in the line is the step in last.pt."""
    command = [sys.executable, "-m", "exda_lite", *train_flags(tmp_path, "--epochs", "200")]
    process = subprocess.Popen(command, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log = tmp_path / "train_log.csv"
    deadline = time.time() + 120
    while time.time() < deadline and not (log.is_file() and len(log.read_text().splitlines()) >= 3):
        time.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == EXIT_PREEMPTED, err[-2000:]
    assert len(lines(err)) == 1 and err.startswith("exda-lite train: stopped at step "), err
    step = int(err.split("stopped at step ")[1].split()[0])
    assert 2 <= step < 1000 and T.load_checkpoint(tmp_path / "last.pt")["global_step"] == step


def test_a_repeated_signal_is_one_request_and_a_pending_one_stops_after_the_block():
    """The same SIGTERM twice within REPEAT_WINDOW (terminal or scheduler, then torchrun's agent) is one request;
    a stop still pending when the block ends stops the caller (reference runner) or is moot (train)."""
    received = []
    before = signal.signal(signal.SIGTERM, lambda number, frame: received.append(number))
    try:
        with pytest.raises(Preempted, match="stopped by SIGTERM; everything finished so far is saved; rerun"), \
                preemption.stop_on_signals("rerun") as request:
            os.kill(os.getpid(), signal.SIGTERM)
            os.kill(os.getpid(), signal.SIGTERM)
            assert request.signal_name == "SIGTERM" and preemption.stop_requested() == "SIGTERM"
        with preemption.stop_on_signals():
            os.kill(os.getpid(), signal.SIGTERM)
        assert received == [] and preemption.stop_requested() is None
        os.kill(os.getpid(), signal.SIGTERM)
        assert received == [signal.SIGTERM]  # our handler is gone, the previous one is back
    finally:
        signal.signal(signal.SIGTERM, before)


RANK_1_SIGNALLED = """
import os, signal, sys
import torch
torch.set_num_threads(1)
import exda_lite.training.loop as loop
from exda_lite import cli

original = loop.train

def sigterm_on_rank_1(info):
    if info["step"] == 3 and os.environ["RANK"] == "1":
        os.kill(os.getpid(), signal.SIGTERM)

loop.train = lambda config, **kwargs: original(config, callbacks=[sigterm_on_rank_1])
sys.exit(cli.main(sys.argv[1:]))
"""


def test_under_torchrun_every_rank_stops_after_the_same_step(tmp_path):
    """Only rank 1 gets SIGTERM (after step 3): both ranks stop after step 3, rank 0 writes last.pt (both
    ranks' RNGs) and prints the one line, each worker exits with 75."""
    driver = tmp_path / "driver.py"
    driver.write_text(RANK_1_SIGNALLED)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(driver),
               *train_flags(tmp_path / "ddp", "--epochs", "1")]
    process = subprocess.Popen(command, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    try:
        _, err = process.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        pytest.fail("torchrun did not finish in 240 s")
    last = tmp_path / "ddp" / "last.pt"
    assert err.count("exda-lite train: stopped at step 3 by SIGTERM") == 1, err[-3000:]
    assert f"exitcode  : {EXIT_PREEMPTED}" in err or process.returncode == EXIT_PREEMPTED, err[-3000:]
    checkpoint = T.load_checkpoint(last)
    assert (checkpoint["global_step"], checkpoint["world_size"], len(checkpoint["rng"])) == (3, 2, 2)


# --------------------------------------------------------------------------- a corrupt last.pt

def test_corrupt_last_pt_is_one_line_naming_the_previous_snapshot(tmp_path, capsys):
    assert cli.main(train_flags(tmp_path, "--keep-every", "1")) == 0
    last = tmp_path / "last.pt"
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])  # half a file
    (tmp_path / "model.safetensors").unlink()
    (tmp_path / "best.safetensors").unlink(missing_ok=True)
    capsys.readouterr()
    assert cli.main(train_flags(tmp_path, "--keep-every", "1", "--resume", "auto", "--epochs", "3")) == 2
    err = capsys.readouterr().err
    assert lines(err) == [err.strip()], err
    assert f"{last}: unreadable torch checkpoint, truncated or corrupt" in err
    assert f"the previous snapshot {tmp_path / 'epoch_0002.safetensors'} is intact" in err
    assert "--init-weights" in err
    (tmp_path / "epoch_0001.safetensors").unlink()
    (tmp_path / "epoch_0002.safetensors").unlink()
    assert cli.main(train_flags(tmp_path, "--resume", "auto", "--epochs", "3")) == 2
    assert "no earlier snapshot beside it" in capsys.readouterr().err


# --------------------------------------------------------------------------- the reference runner

TINY_EXPERIMENT = """
import sys
from exda_lite.reference import experiments as E, runner

E.EXPERIMENTS["tiny_faults"] = E.Experiment(
    name="tiny_faults", description="a tiny experiment for the fault tests", notebook="none",
    arms=("linear", "nonlinear"), control="nonlinear", metric="test_mse", steps=int(sys.argv[1]),
    settings={"n_train": 256, "n_test": 64, "length": 16, "channels": 4, "blocks": 1, "heads": 1, "norm": False,
              "ffn": False, "batch_size": 16, "lr": 1e-2},
    make_task=E.synthetic_task, make_model=E.toy_model)
signal_at = int(sys.argv[2])
if signal_at:  # send a real signal to this process at the start of that step of the first run
    import os, signal
    from exda_lite.course import toy
    original = toy.cosine_lr
    def cosine_lr(step, *args, **kwargs):
        if step + 1 == signal_at:
            os.kill(os.getpid(), getattr(signal, sys.argv[3]))
        return original(step, *args, **kwargs)
    toy.cosine_lr = cosine_lr
sys.exit(runner.entry(["run", "tiny_faults", "--no-progress", "--threads", "1", *sys.argv[4:]]))
"""


def reference_run(out: Path, *seeds: int, steps: int = 30, signal_at: int = 0, signal_name: str = "SIGTERM"):
    return subprocess.Popen([sys.executable, "-c", TINY_EXPERIMENT, str(steps), str(signal_at), signal_name,
                             "--out", str(out), "--seeds", *map(str, seeds)],
                            env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process, timeout=120):
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def test_two_processes_write_one_json_without_errors(tmp_path):
    """The issue's race: two processes writing one JSON 200 times each (a fixed .tmp name failed here)."""
    code = ("import sys; from pathlib import Path; from exda_lite.reference.runner import write_json\n"
            "for i in range(200): write_json(Path(sys.argv[1]), {'writer': sys.argv[2], 'i': i, 'pad': 'x' * 4000})")
    path = tmp_path / "fig5.json"
    writers = [subprocess.Popen([sys.executable, "-c", code, str(path), name], env=ENV, stderr=subprocess.PIPE,
                                text=True) for name in "ab"]
    for writer in writers:
        _, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err[-2000:]
    assert json.loads(path.read_text())["i"] == 199
    assert [p.name for p in tmp_path.iterdir()] == ["fig5.json"]


def test_two_reference_processes_on_one_experiment(tmp_path):
    """`run` twice on one experiment in opposite seed orders (the reference README's recipe): both exit 0 and
    the experiment JSON holds every run."""
    first, second = reference_run(tmp_path, 0, 1, 2), reference_run(tmp_path, 2, 1, 0)
    for process in (first, second):
        code, _, err = finish(process)
        assert code == 0, err[-3000:]
    summary = json.loads((tmp_path / "tiny_faults.json").read_text())
    assert {arm: sorted(runs) for arm, runs in summary["runs"].items()} == {"linear": ["0", "1", "2"],
                                                                           "nonlinear": ["0", "1", "2"]}
    assert not list(tmp_path.rglob("*.tmp"))
    run = json.loads((tmp_path / "runs" / "tiny_faults" / "linear-seed0.json").read_text())
    assert run["memory_format"] in ("nchw", "channels_last")  # every run records the layout it trained in


@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGINT"])
def test_reference_run_stops_on_a_signal_and_continues_exactly(signal_name, tmp_path):
    """A signal during a reference run: the run's state is saved at that step (exit 75, one line); rerunning
    the same command continues it to the result of an uninterrupted run."""
    full = reference_run(tmp_path / "full", 0) if signal_name == "SIGTERM" else None  # meanwhile, uninterrupted
    code, _, err = finish(reference_run(tmp_path / "stopped", 0, signal_at=13, signal_name=signal_name))
    state = tmp_path / "stopped" / ".state" / "tiny_faults" / "linear-seed0.pt"
    assert code == EXIT_PREEMPTED, err[-3000:]
    expected = (f"python -m exda_lite.reference: stopped at step 13 by {signal_name}; state saved to {state}; "
                "rerun the same command to continue")
    assert lines(err) == [expected]
    assert torch.load(state, weights_only=True)["step"] == 13
    if signal_name == "SIGINT":
        return  # the rest is the same for both signals
    for process in (reference_run(tmp_path / "stopped", 0), full):
        code, _, err = finish(process)
        assert code == 0, err[-3000:]
    a, b = (json.loads((tmp_path / run / "tiny_faults.json").read_text())["runs"] for run in ("stopped", "full"))
    for arm in ("linear", "nonlinear"):
        assert a[arm]["0"]["final"] == b[arm]["0"]["final"] and a[arm]["0"]["curve"] == b[arm]["0"]["curve"]
    assert not state.exists()


def test_reference_run_on_a_full_disk_is_one_line(tmp_path, monkeypatch, capsys):
    from exda_lite.reference import experiments as E

    tiny = E.Experiment(name="tiny_faults", description="tiny", notebook="none", arms=("linear", "nonlinear"),
                        control="nonlinear", metric="test_mse", steps=10,
                        settings={"n_train": 64, "n_test": 32, "length": 16, "channels": 4, "blocks": 1, "heads": 1,
                                  "norm": False, "ffn": False, "batch_size": 16, "lr": 1e-2},
                        make_task=E.synthetic_task, make_model=E.toy_model)
    monkeypatch.setitem(E.EXPERIMENTS, "tiny_faults", tiny)
    disk_full_on(monkeypatch, "nonlinear-seed0.json")
    code = runner.entry(["run", "tiny_faults", "--seeds", "0", "--no-progress", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and lines(err) == [err.strip()], err
    run = tmp_path / "runs" / "tiny_faults" / "nonlinear-seed0.json"
    assert err.startswith(f"python -m exda_lite.reference: error: no space left on device while writing {run}")
    assert "finished runs are kept" in err and "free space and rerun the same command" in err
    assert (tmp_path / "runs" / "tiny_faults" / "linear-seed0.json").is_file() and not run.exists()


# --------------------------------------------------------------------------- the data scripts

sys.path.insert(0, str(ROOT / "data_scripts"))
datatool = importlib.import_module("datatool")
data_tests = importlib.import_module("test_data_scripts")
host = data_tests.host  # the local HTTP server fixture


def test_data_script_download_on_a_full_disk_is_one_line_and_resumes(host, tmp_path, monkeypatch, capsys):
    body = data_tests.make_zip({f"train/a/{i}.png": data_tests.png_bytes(i, (64, 64, 3)) for i in range(4)})
    host.files["pack.zip"] = body
    real_open = open

    def full_after_half(path, mode="r", *args, **kwargs):
        handle = real_open(path, mode, *args, **kwargs)
        if str(path).endswith(".part") and "b" in mode:
            return DyingFile(handle, OSError(errno.ENOSPC, "No space left on device"), limit=len(body) // 2)
        return handle
    monkeypatch.setattr(datatool, "open", full_after_half, raising=False)
    flags = ["download", "--root", str(tmp_path), "--mirror", host.url, "--quiet"]
    assert datatool.main(data_tests.tiny_setting(), flags) == 1
    err = capsys.readouterr().err
    part = tmp_path / "downloads" / "pack.zip.part"
    assert len(lines(err)) == 1 and lines(err)[0].startswith("FAILED [pack] no space left on device while writing")
    assert str(part) in err and "run the same command again to resume" in err
    assert part.stat().st_size == len(body) // 2  # what was written is kept for the resume
    monkeypatch.undo()
    assert datatool.main(data_tests.tiny_setting(), flags) == 0
    assert (tmp_path / "downloads" / "pack.zip").read_bytes() == body


def test_data_script_manifest_on_a_full_disk_is_one_line(host, tmp_path, monkeypatch, capsys):
    host.files["pack.zip"] = data_tests.make_zip({"train/a/1.png": data_tests.png_bytes(1)})

    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(datatool.os, "fsync", no_space)
    code = datatool.main(data_tests.tiny_setting(), ["download", "--root", str(tmp_path), "--mirror", host.url,
                                                     "--quiet"])
    err = capsys.readouterr().err
    assert code == 1 and lines(err) == [err.strip()], err
    manifest = tmp_path / "downloads" / "manifest.json"
    assert err.startswith(f"error: no space left on device while writing {manifest}")
    assert not [p.name for p in manifest.parent.iterdir() if ".tmp" in p.name]


def test_a_run_another_process_holds_is_skipped_without_waiting(tmp_path):
    """``run`` first skips runs that another process is training (so two processes fill two cores, whatever
    their seed order), then waits for them; the lock says which."""
    from exda_lite.reference.runner import run_lock

    path = tmp_path / "runs" / "x" / "a-seed0.json"
    with run_lock(path) as held:
        assert held is True
        with run_lock(path, wait=False) as other:  # a second open file description: another process's view
            assert other is False
    with run_lock(path, wait=False) as free:
        assert free is True

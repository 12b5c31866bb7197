"""Issue 13: weight-file errors, the paper's recipe per setting, validation split and best checkpoints,
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
    with pytest.raises(T.CheckpointMismatchError, match="big.safetensors does not fit this model"):
        T.train(run)

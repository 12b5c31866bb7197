"""Real layouts, offline: every setting's tree built from the real file names and published counts
(tools/realtrees.py), then prepare, verify and the dataset classes run on it as on the real data.

Per setting: ``prepare`` on the archive-like download tree, ``verify`` exits 0 with every count equal
to the paper's (App. A.1), the dataset classes pair every image, and one epoch has as many samples as
PromptIR / AdaIR / MoCE-IR / TransWeather / AMIR would draw from the same tree by their published
rules (re-stated below, not their code). Then 1 % of the files go and ``verify`` must fail and name them.
Trees are built once per module (hard links: ~400,000 names, a few MB).
"""

import importlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "data_scripts"))
sys.path.insert(0, str(ROOT / "tools"))
datatool = importlib.import_module("datatool")
names = importlib.import_module("names")
realtrees = importlib.import_module("realtrees")

from exda_lite.data.settings import PAPER_SETTINGS  # noqa: E402
from exda_lite.data.datasets import CDD11, AllInOneTest, AllInOneTrain, AllWeather, MedicalAMIR, WeatherBench  # noqa: E402

pytestmark = pytest.mark.slow  # full-size name trees of the six benchmarks: minutes

SETTINGS = tuple(s.name for s in PAPER_SETTINGS)  # the six benchmarks (exda_lite.data.settings)

# App. A.1 of the paper (and, for RainDrop test_a and OTS's clear images, the public lists): folder -> count
PAPER = {
    "3deg": {"Train/Denoise": 400 + 4744, "Train/Derain/rainy": 200, "Train/Derain/gt": 200,
             "Train/Dehaze/synthetic": 72135, "test/denoise/bsd68": 68, "test/denoise/urban100": 100,
             "test/derain/Rain100L/input": 100, "test/dehaze/input": 500},
    "5deg": {"Train/Deblur/blur": 2103, "test/deblur/input": 1111, "Train/Enhance/low": 485,
             "test/enhance/input": 15},
    "cdd11": {f"train/{kind}": 1183 for kind in realtrees.CDD11_FOLDERS},
    "allweather": {"train/input": 18069, "test/snow100k_s/input": 16611, "test/snow100k_l/input": 16801,
                   "test/outdoor_rain/input": 750, "test/raindrop_b/input": 249, "test/raindrop/input": 58},
    "weatherbench": {"train/*/input": 41402, "test/rain/input": 200, "test/haze/input": 200,
                     "test/snow/input": 200},
    "medical": {"train/ct/hq": 18531, "val/ct/hq": 128, "test/ct/hq": 211},
}


def run(setting_name, *argv):
    return datatool.main(datatool.load_setting(setting_name), list(argv))


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    """setting -> prepared root, built on first use; 3deg and 5deg share one tree (as they share a root)."""
    base = tmp_path_factory.mktemp("real")
    made = {}

    def get(setting):
        if setting in made:
            return made[setting]
        if setting in ("3deg", "5deg"):
            root = base / "allinone"
            if not root.exists():
                realtrees.build("5deg", root)
                assert run("3deg", "prepare", "--root", str(root)) == 0
            if setting == "5deg":
                assert run("5deg", "prepare", "--root", str(root), "--only", "gopro_train", "gopro_test", "lol") == 0
        else:
            root = base / realtrees.SUBDIRS[setting]
            realtrees.build(setting, root)
            only = ("--only", "allweather_train", "snow100k_test", "outdoor_rain_test", "raindrop_test",
                    "raindrop_test_b") if setting == "allweather" else ()
            assert run(setting, "prepare", "--root", str(root), *only) == 0
        made[setting] = root
        return root

    yield get
    subprocess.run(["rm", "-rf", str(base)], check=False)  # ~2x faster than shutil.rmtree on 800,000 entries


# --------------------------------------------------------------------------- the reference projects' epoch rules

def listdir(path):
    return os.listdir(path) if os.path.isdir(path) else []


def promptir_epoch(root, five=False):
    """PromptIR (3deg) / AdaIR (5deg): denoise = files of Train/Denoise named in denoise.txt, x3 per sigma, 3 sigmas;
    derain = rainTrain.txt x120; dehaze = hazy_outside.txt x1; AdaIR adds listdir(blur) x5 and listdir(low) x20."""
    denoise = [n for n in listdir(root / "Train/Denoise") if n in names.denoise_train()]
    total = 3 * 3 * len(denoise) + 120 * len(names.rain100l_rainy()) + len(names.ots_hazy())
    if five:
        total += 5 * len(listdir(root / "Train/Deblur/blur")) + 20 * len(listdir(root / "Train/Enhance/low"))
    return total


def moce_cdd11_epoch(root):
    """MoCE-IR: every train/<type>/*.png (lower-case .png only) of the 11 non-clear folders, x2."""
    return sum(2 * sum(n.endswith(".png") for n in listdir(root / "train" / kind))
               for kind in realtrees.CDD11_FOLDERS if kind != "clear")


def transweather_epoch(root):
    """TransWeather: one sample per line of allweather.txt, i.e. per training input image, no repetition."""
    return len(listdir(root / "train/input"))


def weatherbench_epoch(root):
    return sum(len(listdir(root / "train" / kind / "input")) for kind in ("rain", "haze", "snow"))


def amir_epoch(root):
    return sum(len(listdir(root / "train" / task / "lq")) for task in ("mri", "ct", "pet"))


# --------------------------------------------------------------------------- the tests

def verify_table(capsys, setting, root):
    capsys.readouterr()  # drop what prepare printed
    code = run(setting, "verify", "--root", str(root))
    out = capsys.readouterr().out
    rows = {}
    for line in out.splitlines():
        match = re.match(r"^(train|val|test) +.+? {2,}(\S+) +(\d+|\?) +(\d+) +(.+)$", line)
        if match:
            rows[match[2]] = (match[3], int(match[4]), match[5])
    return code, out, rows


def load_some(dataset, n=4):
    """A batch through a DataLoader: items spread over the epoch (every task)."""
    step = max(1, len(dataset) // n)
    batch = next(iter(torch.utils.data.DataLoader(torch.utils.data.Subset(dataset, range(0, len(dataset), step)),
                                                  batch_size=n + 1, shuffle=False)))
    return batch


@pytest.mark.parametrize("setting", SETTINGS)
def test_real_tree_prepares_verifies_and_loads(setting, trees, capsys):
    root = trees(setting)
    code, out, rows = verify_table(capsys, setting, root)
    assert code == 0, out
    assert "all folders complete" in out and "MISSING" not in out and "extra)" not in out
    for folder, count in PAPER[setting].items():  # every count the paper publishes, found exactly
        assert rows[folder][:2] == (str(count), count), (folder, rows[folder])
    for folder, (expected, found, status) in rows.items():
        if status.startswith(("absent", "ok (count not")):
            continue
        assert status == "ok" and found == int(expected), (folder, rows[folder])

    if setting in ("3deg", "5deg"):
        train = AllInOneTrain(root, setting, patch_size=8)
        assert len(train) == promptir_epoch(root, five=setting == "5deg")
        # PromptIR keeps the Denoise files whose exact name is a line of its list: denoise.txt's names match all
        # 5,144; a list whose lines carry folders (a PromptIR fork's denoise_airnet.txt: noise/mix/00001.bmp) none
        present = set(listdir(root / "Train/Denoise"))
        assert len(present & names.denoise_train()) == 5144
        assert not present & {f"noise/mix/{name}" for name in names.wed()}
        counts = train.task_counts()
        assert counts["derain"] == 24000 and counts["dehaze"] == 72135 and counts["denoise_25"] == 3 * 5144
        if setting == "5deg":
            assert counts["deblur"] == 5 * 2103 and counts["enhance"] == 20 * 485
        tests = {"derain": 100, "dehaze": 500} | ({"deblur": 1111, "enhance": 15} if setting == "5deg" else {})
        for task, n in tests.items():
            assert len(AllInOneTest(root, task)) == n
        assert len(AllInOneTest(root, "denoise_urban100", sigma=25)) == 100
    elif setting == "cdd11":
        train = CDD11(root, "train", patch_size=8)
        assert len(train) == moce_cdd11_epoch(root) == 11 * 1183 * 2
        assert len(CDD11(root, "test")) == 11 * realtrees.CDD11_TEST_PER_TYPE
    elif setting == "allweather":
        train = AllWeather(root, "train", patch_size=8)
        assert len(train) == transweather_epoch(root) == 18069
        for split, n in (("snow100k_s", 16611), ("snow100k_l", 16801), ("outdoor_rain", 750), ("raindrop", 58),
                         ("raindrop_b", 249)):
            assert len(AllWeather(root, split)) == n
        assert "WARNING" not in out  # the generated Outdoor-Rain training backgrounds are not Test1's
    elif setting == "weatherbench":
        train = WeatherBench(root, "train", patch_size=8)
        assert len(train) == weatherbench_epoch(root) == 41402
        assert len(WeatherBench(root, "test")) == 600
    else:
        train = MedicalAMIR(root, "train", patch_size=8)
        assert len(train) == amir_epoch(root)
        for split, column in (("train", 0), ("val", 1), ("test", 2)):
            found = MedicalAMIR(root, split, patch_size=8).patients() if split == "train" else \
                MedicalAMIR(root, split).patients()
            assert {task: len(p) for task, p in found.items()} == {
                task: counts[column] for task, counts in MedicalAMIR.PATIENT_SPLITS.items()}
    degraded, clean, labels = load_some(train)
    assert degraded.shape[1:] == clean.shape[1:] and degraded.shape[-2:] == (8, 8)
    assert labels.unique().numel() > 1 or len(train.tasks) == 1


def layout_files(root, setting):
    """Every image of the prepared layout that verify checks (relative '/'-paths)."""
    found = set()
    for expect in datatool.load_setting(setting).expected:
        found.update(datatool.image_files(root, expect.folder))
    return sorted(found)


@pytest.mark.parametrize("setting", SETTINGS)
def test_one_percent_missing_fails_and_is_named(setting, trees, capsys):
    root = trees(setting)
    capsys.readouterr()
    files = layout_files(root, setting)
    removed = files[::100]  # 1 %
    for rel in removed:
        os.unlink(root / rel)
    try:
        code = run(setting, "verify", "--root", str(root))
        out = capsys.readouterr().out
        assert code == 1, out
        assert "INCOMPLETE" in out and "verify-missing.txt" in out
        report = (root / "verify-missing.txt").read_text()
        report_keys = {key for line in report.splitlines()
                       for key in datatool.pair_keys(datatool.stem_of(line.split()[-1]))}
        count_only = [e.folder for e in datatool.load_setting(setting).expected
                      if e.names is None and not any(e.folder in pair for pair in datatool.load_setting(setting).pairs)]
        removed_keys = {}
        for rel in removed:
            for key in set(datatool.pair_keys(datatool.stem_of(rel))):
                removed_keys[key] = removed_keys.get(key, 0) + 1
        for rel in removed:
            if any(rel.startswith(folder + "/") for folder in count_only):
                continue  # no list, no partner: only the count can tell (the row says INCOMPLETE)
            keys = datatool.pair_keys(datatool.stem_of(rel))
            if rel in report or any(k in report_keys for k in keys):
                continue
            # both files of a pair gone and no list names them: only the counts can tell
            assert any(removed_keys[k] > 1 for k in set(keys)), f"{rel} is missing but verify does not name it"
    finally:  # put the files back for any later test of this module
        for rel in removed:
            template = next(p for p in (root / ".templates").iterdir()
                            if p.suffix.lower() == os.path.splitext(rel)[1].lower())
            shutil.copy(template, root / rel)

"""Build each benchmark's download tree from its real file names and published counts, with tiny images.

    python tools/realtrees.py SETTING DIR        # DIR/downloads/... laid out like the upstream archives

Then ``python data_scripts/<setting>.py prepare --root DIR`` and ``verify --root DIR`` run on it as on
the real data (tests/test_real_layouts.py does exactly that). Every file is a hard link to one of a
few 8x8 images (1x1 is not used: the loaders crop training patches), so a tree of 100,000 names
costs about 100,000 directory entries and a few KB of data, and builds in seconds.

Where the names come from (see also data_scripts/README.md, "Where each name and count comes from"):

* LIST     a public list of names, committed in data_scripts/lists (via data_scripts/names.py)
* PATTERN  only a count and a name pattern are published: names are generated from the pattern
* LAYOUT   the archive's inner folders as the public READMEs describe them; not checked against the
           archives themselves (they cannot be downloaded offline)

Pitfalls built in on purpose: Rain100L's rain-N / norain-N in one folder; OTS images that exist in
RESIDE but are not in PromptIR's list; upper-case extensions (WeatherBench, an illustration: which
real archives have them is not known offline); nested archive folders; CDD11's twelve folder names
(longest first: low_haze_rain must not land in rain); Snow100K's S/M/L splits and mask folders (M and
the masks are not used); RainDrop's test_a (58) and test_b (249); a real zip per setting.
"""

from __future__ import annotations

import argparse
import os
import sys
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "data_scripts"))
import names  # noqa: E402  (data_scripts/names.py: the public lists)

from exda_lite.data import settings as S  # noqa: E402

SETTINGS = tuple(s.name for s in S.PAPER_SETTINGS)
SUBDIRS = {s.name: s.folder for s in S.PAPER_SETTINGS}
LINKS_PER_TEMPLATE = 30_000  # ext4 allows 65,000 links per file; prepare's staging adds one more per name


class Tree:
    """Writes image names under a folder as hard links to small template images."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.templates: dict[str, list[Path]] = {}
        self.uses: dict[str, int] = {}
        self.count = 0

    def template(self, suffix: str, gray: bool) -> Path:
        key = suffix.lower() + ("-gray" if gray else "")
        n = self.uses.get(key, 0)
        self.uses[key] = n + 1
        index = n // LINKS_PER_TEMPLATE
        made = self.templates.setdefault(key, [])
        if index == len(made):
            folder = self.root / ".templates"
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{key}-{index}{suffix.lower()}"
            rng = np.random.default_rng(len(made))
            pixels = rng.integers(0, 256, (8, 8) if gray else (8, 8, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(path, format={".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP"}.get(
                suffix.lower(), "PNG"))
            made.append(path)
        return made[index]

    def add(self, folder: str, file_names, gray: bool = False) -> None:
        target = self.root / folder
        target.mkdir(parents=True, exist_ok=True)
        for name in file_names:
            os.link(self.template(Path(name).suffix, gray), target / name)
            self.count += 1

    def zip(self, archive: str, members: dict[str, list[str]]) -> None:
        """A real zip archive: {folder inside the archive: file names}."""
        path = self.root / archive
        path.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
            for folder, file_names in members.items():
                for name in file_names:
                    zf.write(self.template(Path(name).suffix, False), f"{folder}/{name}")
                    self.count += 1


# --------------------------------------------------------------------------- per setting

def allinone(tree: Tree, five: bool) -> None:
    d = "downloads"
    # LIST: PromptIR's denoise.txt; LAYOUT: BSD400 in a BSD400/ folder, WED as the Waterloo release nests it
    tree.add(f"{d}/bsd400/BSD400", sorted(names.bsd400()))
    tree.add(f"{d}/wed/exploration_database_and_code/pristine_images", sorted(names.wed()))
    # LIST: rainTrain.txt (200); PATTERN: the 100 test pairs. LAYOUT: JORDER's RainTrainL keeps rain-N and
    # norain-N side by side in one folder, the test pairs in Rain100L/; served as a zip inside the Drive folder
    train = sorted(names.rain100l_rainy() | names.rain100l_gt())
    test = [f"{kind}-{i}.png" for i in range(1, 101) for kind in ("rain", "norain")]
    tree.zip(f"{d}/rain100l/Rain100L.zip", {"RainTrainL": train, "Rain100L": test})
    # PATTERN: Restormer's test bundle: CBSD68 (68), Urban100 (100); BSD68 (grayscale) and Kodak are not used
    tree.zip(f"{d}/denoise_test.zip", {"test/CBSD68": [f"{i:04d}.png" for i in range(68)],
                                       "test/Urban100": [f"img_{i:03d}.png" for i in range(1, 101)],
                                       "test/BSD68": [f"test{i:03d}.png" for i in range(1, 69)],
                                       "test/Kodak": [f"kodim{i:02d}.png" for i in range(1, 25)]})
    # LIST: hazy_outside.txt (72,135 hazy of 2,061 clear); three OTS ids PromptIR does not use, with their clear
    # images, show that prepare keeps to the list. LAYOUT: RESIDE-beta's OTS folders (haze/partK, clear_images)
    for part, i in names.ots_ids():
        tree.add(f"{d}/ots/OTS_BETA/haze/{part}", [f"{i}_{a}_{b}.jpg" for a in names.OTS_A for b in names.OTS_B])
    tree.add(f"{d}/ots/OTS_BETA/clear/clear_images", sorted(names.ots_clear()))
    unused = [f"{i:04d}" for i in (1, 2, 3)]
    tree.add(f"{d}/ots/OTS_BETA/haze/part1", [f"{i}_0.8_0.2.jpg" for i in unused])
    tree.add(f"{d}/ots/OTS_BETA/clear/clear_images", [f"{i}.jpg" for i in unused])
    # PATTERN: SOTS outdoor, 500 pairs XXXX_A_B.jpg (hazy) / XXXX.png (clear): different extensions
    sots = [f"{i:04d}" for i in range(1, 501)]
    tree.add(f"{d}/sots/SOTS/outdoor/hazy", [f"{i}_0.8_0.2.jpg" for i in sots])
    tree.add(f"{d}/sots/SOTS/outdoor/gt", [f"{i}.png" for i in sots])
    if not five:
        return
    # PATTERN: GoPro (Restormer's copies): 2,103 / 1,111 pairs named SEQUENCE-FRAME.png, same name in input/target
    gopro_train = [f"GOPR{372 + i // 100:04d}_07_00-{i % 100:06d}.png" for i in range(2103)]
    gopro_test = [f"GOPR{900 + i // 100:04d}_11_00-{i % 100:06d}.png" for i in range(1111)]
    for part in ("input", "target"):
        tree.add(f"{d}/gopro_train/train/{part}", gopro_train)
        tree.add(f"{d}/gopro_test/test/GoPro/{part}", gopro_test)
    # PATTERN: LOL-v1 our485 (485) and eval15 (15), N.png in low/ and high/
    for split, ids in (("our485", range(2, 487)), ("eval15", range(1, 16))):
        for part in ("low", "high"):
            tree.add(f"{d}/lol/LOLdataset/{split}/{part}", [f"{i}.png" for i in ids])


CDD11_FOLDERS = ("clear", "low", "haze", "rain", "snow", "low_haze", "low_rain", "low_snow", "haze_rain",
                 "haze_snow", "low_haze_rain", "low_haze_snow")
CDD11_TEST_PER_TYPE = 200  # OneRestore's test split size as we recall it; our paper publishes no test count


def cdd11(tree: Tree) -> None:
    # PATTERN: 1,183 training images per folder (paper), the same NNNNNN.png name in every folder (OneRestore's
    # README); LAYOUT: the Hugging Face archive's CDD-11_train / CDD-11_test top folders
    for split, count in (("train", 1183), ("test", CDD11_TEST_PER_TYPE)):
        file_names = [f"{i:06d}.png" for i in range(1, count + 1)]
        for folder in CDD11_FOLDERS:
            tree.add(f"downloads/cdd11_{split}/CDD-11_{split}/{folder}", file_names)


ALLWEATHER_PARTS = {"snow100k": 9000, "outdoor_rain": 8000, "raindrop": 1069}  # sum 18,069 (published); split assumed


def allweather_train_names() -> list[str]:
    snow = [f"scene_{i:05d}.jpg" for i in range(ALLWEATHER_PARTS["snow100k"])]
    # Outdoor-Rain: backgrounds im_0001.. with 15 rain/fog settings each; kept apart from Test1's backgrounds here
    outdoor = [f"im_{1000 + i // 15:04d}_s{80 + 5 * (i % 5)}_a0{4 + i % 3}.png"
               for i in range(ALLWEATHER_PARTS["outdoor_rain"])]
    raindrop = [f"{i}_rain.png" for i in range(ALLWEATHER_PARTS["raindrop"])]
    return snow + outdoor + raindrop


def allweather(tree: Tree) -> None:
    d = "downloads"
    # PATTERN: 18,069 pairs (published), same name in input/ and gt/ (TransWeather's convention)
    train = allweather_train_names()
    tree.add(f"{d}/allweather_train/allweather/input", train)
    tree.add(f"{d}/allweather_train/allweather/gt", train)
    # PATTERN: Snow100K-S 16,611 / -L 16,801 (published); -M and the masks are in the archive but not used
    nest = f"{d}/snow100k_test/Snow100K-testset/test"
    for split, count in (("Snow100K-S", 16611), ("Snow100K-L", 16801), ("Snow100K-M", 12)):
        file_names = [f"scene_{i:05d}.jpg" for i in range(count)]
        for part in ("synthetic", "gt"):
            tree.add(f"{nest}/{split}/{part}", file_names)
        tree.add(f"{nest}/{split}/mask", file_names[:3])
    # PATTERN: Outdoor-Rain Test1, 750 = 50 backgrounds x 15 settings, im_XXXX_sNN_aNN.png in input/ and gt/
    test1 = [f"im_{1 + i // 15:04d}_s{80 + 5 * (i % 5)}_a0{4 + (i // 5) % 3}.png" for i in range(750)]
    tree.add(f"{d}/outdoor_rain_test/test1/input", test1)
    tree.add(f"{d}/outdoor_rain_test/test1/gt", test1)
    # PATTERN: RainDrop test_a 58 and test_b 249 pairs, N_rain.png in data/, N_clean.png in gt/ (a real zip)
    tree.zip(f"{d}/raindrop_test.zip", {"test_a/data": [f"{i}_rain.png" for i in range(58)],
                                        "test_a/gt": [f"{i}_clean.png" for i in range(58)]})
    tree.zip(f"{d}/raindrop_test_b.zip", {"test_b/data": [f"{i}_rain.png" for i in range(249)],
                                          "test_b/gt": [f"{i}_clean.png" for i in range(249)]})


WEATHERBENCH_TRAIN = {"rain": 13801, "haze": 13801, "snow": 13800}  # sum 41,402 (published); per-type split assumed


def weatherbench(tree: Tree) -> None:
    # PATTERN + LAYOUT: counts from the paper, our layout nested one folder down; every 7th name upper-case
    for split, counts in (("train", WEATHERBENCH_TRAIN), ("test", dict.fromkeys(WEATHERBENCH_TRAIN, 200))):
        for kind, count in counts.items():
            file_names = [f"{kind}_{i:05d}" + (".PNG" if i % 7 == 0 else ".png") for i in range(count)]
            tree.add(f"downloads/weatherbench/WeatherBench/{split}/{kind}/input", file_names)
            tree.add(f"downloads/weatherbench/WeatherBench/{split}/{kind}/target", file_names)


AAPM = ("L067", "L096", "L109", "L143", "L192", "L286", "L291", "L310", "L333", "L506")  # the challenge's 10 patients
CT_SLICES = {"train": 18531, "val": 128, "test": 211}
MRI_SLICES_PER_VOLUME, PET_SLICES_PER_PATIENT = 2, 2  # not published; small on purpose


def medical_names() -> dict[tuple[str, str], list[str]]:
    """{(split, task): slice names}: patients split as App. A.1 (which patient goes where is not published)."""
    out = {}
    patients = {"ct": {"train": AAPM[:8], "val": AAPM[8:9], "test": AAPM[9:]}}
    ixi = [f"IXI{i:03d}-Guys-{1000 + i:04d}" for i in range(2, 580)]
    patients["mri"] = {"train": ixi[:405], "val": ixi[405:464], "test": ixi[464:]}
    pet = [f"PET{i:03d}" for i in range(159)]
    patients["pet"] = {"train": pet[:120], "val": pet[120:130], "test": pet[130:]}
    for split in ("train", "val", "test"):
        ct, n = patients["ct"][split], CT_SLICES[split]
        out[split, "ct"] = [f"{ct[i * len(ct) // n]}_{i:05d}.png" for i in range(n)]
        out[split, "mri"] = [f"{p}_{s:03d}.png" for p in patients["mri"][split] for s in range(MRI_SLICES_PER_VOLUME)]
        out[split, "pet"] = [f"{p}_{s:03d}.png" for p in patients["pet"][split] for s in range(PET_SLICES_PER_PATIENT)]
    return out


def medical(tree: Tree) -> None:
    # PATTERN: our layout (AMIR's own bundle is on Baidu, its layout unpublished), grayscale 8x8 PNG slices named
    # PATIENT_SLICE; MRI ships hq only: prepare makes lq by 4x k-space truncation
    for (split, task), file_names in medical_names().items():
        parts = ("hq",) if task == "mri" else ("lq", "hq")
        for part in parts:
            tree.add(f"downloads/amir/AMIR/{split}/{task}/{part}", file_names, gray=True)


def build(setting: str, root: Path) -> int:
    """Write ``root/downloads`` for ``setting`` (5deg includes 3deg); returns the number of files."""
    if setting not in SETTINGS:
        raise ValueError(f"unknown setting {setting!r}; choose from {list(SETTINGS)}")
    tree = Tree(root)
    {S.THREE_DEG.name: lambda: allinone(tree, False), S.FIVE_DEG.name: lambda: allinone(tree, True),
     S.CDD11.name: lambda: cdd11(tree), S.ALLWEATHER.name: lambda: allweather(tree),
     S.WEATHERBENCH.name: lambda: weatherbench(tree), S.MEDICAL.name: lambda: medical(tree)}[setting]()
    return tree.count


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("setting", choices=SETTINGS)
    parser.add_argument("root", type=Path)
    args = parser.parse_args()
    print(f"{build(args.setting, args.root)} files under {args.root / 'downloads'}")

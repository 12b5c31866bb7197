"""AllWeather adverse-weather data (App. A.1, TransWeather's protocol).

Layout (read by exda_lite.data.datasets.AllWeather):
    train/{input,gt}/                                  18,069 pairs (Snow100K + Outdoor-Rain + RainDrop)
    test/{snow100k_s,snow100k_l,outdoor_rain,raindrop}/{input,gt}/   16,611 / 16,801 / 750 / 58
    test/raindrop_b/{input,gt}/                        optional: RainDrop test_b, 249 pairs

RainDrop: test_a has 58 pairs and is the set TransWeather-style tables use; test_b has 249.
The paper's "Raindrop (249 images)" is test_b's count; test_b is an optional source here
(``--only raindrop_test_b``) and verify checks it only when present.

Outdoor-Rain: its Test1 images are renders of a small set of clear backgrounds with several
rain/fog parameters (``im_XXXX_sNN_aNN``); a training image made from one of the same
backgrounds is not an unseen scene. ``verify`` names every AllWeather training image whose
background id (``im_XXXX``) also occurs in Test1, and ``AllWeather(exclude_test1_overlap=True)``
leaves them out (the published protocol trains on all 18,069, so the default keeps them).

Usage: python data_scripts/allweather.py {download,prepare,verify} [--root ROOT]
"""

import re
import sys
from pathlib import Path

from datatool import IMAGE_SUFFIXES, Expect, Place, Setting, Source, main

IMG = r"[^/]+\.(png|jpe?g)$"
# Outdoor-Rain names: im_0001_s80_a04 (rainy) / im_0001 (clear); the background id is im_0001
OUTDOOR_RAIN_NAME = re.compile(r"^(?P<background>im_\d+)(_s\d+_a\d+)?$", re.IGNORECASE)

SOURCES = (
    Source("allweather_train", "AllWeather training set (TransWeather's copy)", "allweather.zip", (
        Place(r"allweather/input/" + IMG, "train/input"),
        Place(r"allweather/gt/" + IMG, "train/gt"),
    ), gdrive_file="1tfeBnjZX1wIhIFPl6HOzzOKOyo0GdGHl", size="~12 GB",
        licence="Snow100K, Outdoor-Rain, RainDrop: research use"),
    # the Snow100K test archive nests its splits deep (e.g. .../test/Snow100K-L/synthetic/); Snow100K-M and the
    # mask/ folders are not used and stay in staging
    Source("snow100k_test", "Snow100K test: Snow100K-S (16,611) and Snow100K-L (16,801)", "snow100k_test.zip", (
        Place(r"snow100k-s/(synthetic|input)/" + IMG, "test/snow100k_s/input"),
        Place(r"snow100k-s/(gt|target)/" + IMG, "test/snow100k_s/gt"),
        Place(r"snow100k-l/(synthetic|input)/" + IMG, "test/snow100k_l/input"),
        Place(r"snow100k-l/(gt|target)/" + IMG, "test/snow100k_l/gt"),
    ), manual="Snow100K is on its project page, https://sites.google.com/view/yunfuliu/desnownet "
              "(download the test set).", size="~8 GB", licence="Snow100K: research use"),
    Source("outdoor_rain_test", "Outdoor-Rain test1 (750 pairs)", "outdoor_rain_test.zip", (
        Place(r"test1/input/" + IMG, "test/outdoor_rain/input"),
        Place(r"test1/gt/" + IMG, "test/outdoor_rain/gt"),
    ), manual="Outdoor-Rain (Li et al., CVPR 2019, 'Heavy Rain Image Restoration'): the test1 split is linked "
              "from TransWeather's README (https://github.com/jeya-maria-jose/TransWeather).", size="~1 GB",
        licence="Outdoor-Rain: research use"),
    Source("raindrop_test", "RainDrop test_a (58 pairs)", "raindrop_test.zip", (
        Place(r"test_a/(data|input)/" + IMG, "test/raindrop/input"),
        Place(r"test_a/(gt|target)/" + IMG, "test/raindrop/gt"),
    ), manual="RainDrop (Qian et al. 2018) is linked from https://github.com/rui1996/DeRaindrop "
              "(download test_a).", size="~60 MB", licence="RainDrop: research use"),
    Source("raindrop_test_b", "RainDrop test_b (249 pairs; the paper's '249')", "raindrop_test_b.zip", (
        Place(r"test_b/(data|input)/" + IMG, "test/raindrop_b/input"),
        Place(r"test_b/(gt|target)/" + IMG, "test/raindrop_b/gt"),
    ), manual="RainDrop (Qian et al. 2018) is linked from https://github.com/rui1996/DeRaindrop "
              "(download test_b).", size="~200 MB", licence="RainDrop: research use", optional=True),
    Source("mirage_weather", "MIRAGE's 4-task weather bundle (alternative; layout searched)", "mirage_weather.zip", (
        Place(r"(?P<keep>(train|test)/.+)$", "."),
    ), gdrive_file="1l4inlkSWCRIE0LMAc_bQD-cqrZdmLIuT", size="15.9 GB", licence="as the parts", optional=True),
)

TESTS = (("snow100k_s", "Snow100K-S", 16611, False), ("snow100k_l", "Snow100K-L", 16801, False),
         ("outdoor_rain", "Outdoor-Rain", 750, False), ("raindrop", "RainDrop test_a", 58, False),
         ("raindrop_b", "RainDrop test_b", 249, True))
EXPECTED = (Expect("train", "AllWeather input", "train/input", 18069),
            Expect("train", "AllWeather gt", "train/gt", 18069)) + tuple(
    Expect("test", f"{label} {part}", f"test/{folder}/{part}", count, optional=optional)
    for folder, label, count, optional in TESTS for part in ("input", "gt"))
PAIRS = (("train/input", "train/gt"),) + tuple((f"test/{folder}/input", f"test/{folder}/gt") for folder, *_ in TESTS)


def background(stem: str) -> str | None:
    """The Outdoor-Rain background id of a file stem (``im_0001_s80_a04`` -> ``im_0001``), else None."""
    match = OUTDOOR_RAIN_NAME.match(stem)
    return match["background"].lower() if match else None


def test1_overlap(root: Path) -> list[str]:
    """AllWeather training inputs (names) whose Outdoor-Rain background also occurs in Test1."""
    root = Path(root)
    test_dir, train_dir = root / "test/outdoor_rain/input", root / "train/input"
    if not test_dir.is_dir() or not train_dir.is_dir():
        return []
    test_backgrounds = {background(p.stem) for p in test_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES}
    test_backgrounds.discard(None)
    return sorted(p.name for p in train_dir.iterdir()
                  if p.suffix.lower() in IMAGE_SUFFIXES and background(p.stem) in test_backgrounds)


def check_overlap(root: Path) -> tuple[list[str], list[str]]:
    overlap = test1_overlap(root)
    if not overlap:
        return [], []
    shown = ", ".join(overlap[:10]) + (f", ... and {len(overlap) - 10} more" if len(overlap) > 10 else "")
    return [], [f"{len(overlap)} training image(s) share an Outdoor-Rain background with Test1 (not unseen scenes; "
                f"AllWeather(exclude_test1_overlap=True) leaves them out): {shown}"]


SETTING = Setting("allweather", "allweather", "Adverse weather removal (AllWeather: snow, rain + fog, raindrops)",
                  SOURCES, EXPECTED, pairs=PAIRS, extra_verify=check_overlap)

if __name__ == "__main__":
    sys.exit(main(SETTING))

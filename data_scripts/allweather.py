"""AllWeather adverse-weather data (App. A.1, TransWeather's protocol).

Layout (read by exda_lite.data.datasets.AllWeather):
    train/{input,gt}/                                  18,069 pairs (Snow100K + Outdoor-Rain + RainDrop)
    test/{snow100k_s,snow100k_l,outdoor_rain,raindrop}/{input,gt}/

Usage: python data_scripts/allweather.py {download,prepare,verify} [--root ROOT]
"""

import sys

from datatool import Expect, Place, Setting, Source, main

IMG = r"[^/]+\.(png|jpe?g)$"

SOURCES = (
    Source("allweather_train", "AllWeather training set (TransWeather's copy)", "allweather.zip", (
        Place(r"allweather/input/" + IMG, "train/input"),
        Place(r"allweather/gt/" + IMG, "train/gt"),
    ), gdrive_file="1tfeBnjZX1wIhIFPl6HOzzOKOyo0GdGHl", size="~12 GB",
        licence="Snow100K, Outdoor-Rain, RainDrop: research use"),
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
    Source("raindrop_test", "RainDrop test_a (249 pairs)", "raindrop_test.zip", (
        Place(r"test_a/(data|input)/" + IMG, "test/raindrop/input"),
        Place(r"test_a/(gt|target)/" + IMG, "test/raindrop/gt"),
    ), manual="RainDrop (Qian et al. 2018) is linked from https://github.com/rui1996/DeRaindrop "
              "(download test_a).", size="~200 MB", licence="RainDrop: research use"),
    Source("mirage_weather", "MIRAGE's 4-task weather bundle (alternative; layout searched)", "mirage_weather.zip", (
        Place(r"(?P<keep>(train|test)/.+)$", "."),
    ), gdrive_file="1l4inlkSWCRIE0LMAc_bQD-cqrZdmLIuT", size="15.9 GB", licence="as the parts", optional=True),
)

TESTS = (("snow100k_s", "Snow100K-S", 16611), ("snow100k_l", "Snow100K-L", 16801),
         ("outdoor_rain", "Outdoor-Rain", 750), ("raindrop", "RainDrop", 249))
EXPECTED = (Expect("train", "AllWeather input", "train/input", 18069),
            Expect("train", "AllWeather gt", "train/gt", 18069)) + tuple(
    Expect("test", f"{label} {part}", f"test/{folder}/{part}", count)
    for folder, label, count in TESTS for part in ("input", "gt"))

SETTING = Setting("allweather", "allweather", "Adverse weather removal (AllWeather: snow, rain + fog, raindrops)",
                  SOURCES, EXPECTED)

if __name__ == "__main__":
    sys.exit(main(SETTING))

"""Real-world WeatherBench (App. A.1; Guan et al. 2025): rain, haze, snow.

Layout (read by exda_lite.data.datasets.WeatherBench):
    {train,test}/{rain,haze,snow}/{input,target}/     41,402 training pairs in all; 200 test pairs per type

The archive's own folder names are not documented publicly; prepare places files that are
already in this layout and lists the rest. Move those by hand if needed, then verify.

Usage: python data_scripts/weatherbench.py {download,prepare,verify} [--root ROOT]
"""

import sys

from datatool import Expect, Place, Setting, Source, main

LAYOUT = r"(?P<keep>(train|test)/(rain|haze|snow)/(input|target)/[^/]+\.(png|jpe?g))$"

SOURCES = (
    Source("weatherbench", "WeatherBench (train + test)", "weatherbench.zip", (Place(LAYOUT, "."),),
           gdrive_folder="1TWIqyxPewjIzdtcO2Nuo0gSnlAzWCSSm", size="~30 GB (estimate)",
           licence="WeatherBench (Guan et al. 2025): research use; see its repository"),
)

EXPECTED = (Expect("train", "all types, input", "train/*/input", 41402),
            Expect("train", "all types, target", "train/*/target", 41402)) + tuple(
    Expect("test", f"{kind} {part}", f"test/{kind}/{part}", 200)
    for kind in ("rain", "haze", "snow") for part in ("input", "target"))

PAIRS = tuple((f"{split}/{kind}/input", f"{split}/{kind}/target") for split in ("train", "test")
              for kind in ("rain", "haze", "snow"))

SETTING = Setting("weatherbench", "weatherbench", "Real-world WeatherBench (rain, haze, snow)", SOURCES, EXPECTED,
                  pairs=PAIRS)

if __name__ == "__main__":
    sys.exit(main(SETTING))

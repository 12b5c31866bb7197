"""CDD11 composite degradations (App. A.1): 11 types, each paired with the clear image of the same name.

Layout (read by exda_lite.data.datasets.CDD11):
    {train,test}/clear/NAME
    {train,test}/{low,haze,rain,snow,low_haze,low_rain,low_snow,haze_rain,haze_snow,low_haze_rain,low_haze_snow}/NAME

Usage: python data_scripts/cdd11.py {download,prepare,verify} [--root ROOT]
"""

import sys

from datatool import Expect, Place, Setting, Source, main

TYPES = ("low", "haze", "rain", "snow", "low_haze", "low_rain", "low_snow", "haze_rain", "haze_snow",
         "low_haze_rain", "low_haze_snow")
# longest names first so that "low_haze_rain/x.png" is not read as "rain/x.png"
FOLDER = "(?P<keep>(" + "|".join(sorted(("clear",) + TYPES, key=len, reverse=True)) + r")/[^/]+\.(png|jpe?g))$"

SOURCES = (
    Source("cdd11_train", "CDD11 training set (MIRAGE's copy)", "cdd11_train.zip",
           (Place(r"(^|/)" + FOLDER, "train"),), gdrive_file="1lbh4BoL9T210vv4YnW33FbIcoC7vbzk6", size="21 GB",
           licence="CDD11 (OneRestore, Guo et al. 2024): research use"),
    Source("cdd11_test", "CDD11 test set (MIRAGE's copy)", "cdd11_test.zip",
           (Place(r"(^|/)" + FOLDER, "test"),), gdrive_file="1LzTq3-qy2N8cNWuriqfJvHVaYHeimKQp", size="3.5 GB",
           licence="CDD11 (OneRestore, Guo et al. 2024): research use"),
)

EXPECTED = tuple(Expect("train", f"{kind}", f"train/{kind}", 1183) for kind in ("clear",) + TYPES) + tuple(
    Expect("test", f"{kind}", f"test/{kind}", None) for kind in ("clear",) + TYPES)

PAIRS = tuple((f"{split}/{kind}", f"{split}/clear") for split in ("train", "test") for kind in TYPES)

SETTING = Setting("cdd11", "cdd11", "CDD11: 11 single and composite degradations (1,183 training images per type)",
                  SOURCES, EXPECTED, pairs=PAIRS)

if __name__ == "__main__":
    sys.exit(main(SETTING))

"""3-degradation all-in-one data (App. A.1): BSD400 + WED (denoise), Rain100L (derain), OTS/SOTS (dehaze).

Layout (PromptIR's; read by exda_lite.data.datasets.AllInOneTrain / AllInOneTest):
    Train/Denoise/*                           BSD400 + WED clean images (noise added on the fly)
    Train/Derain/{rainy,gt}/                  rain-N.png / norain-N.png
    Train/Dehaze/{synthetic/partK,original}/  XXXX_A_B.jpg / XXXX.jpg  (PromptIR's 72,135 / 2,061 only)
    test/denoise/{bsd68,urban100}/            clean images (test noise: seed 0)
    test/derain/Rain100L/{input,target}/
    test/dehaze/{input,target}/               SOTS outdoor

Usage: python data_scripts/3deg.py {download,prepare,verify} [--root ROOT]
"""

import sys

import names
from datatool import Expect, Place, Setting, Source, main

IMG = r"\.(png|jpe?g|bmp|tif)$"
RESIDE = ("RESIDE-beta is distributed from its project page, "
          "https://sites.google.com/view/reside-dehaze-datasets (mirrors change; some are on Baidu/Dropbox).")

SOURCES = (
    Source("bsd400", "BSD400 clean training images (400)", "BSD400.zip", (Place(IMG, "Train/Denoise"),),
           gdrive_file="1idKFDkAHJGAFDn1OyXZxsTbOSBx9GS8N", size="~15 MB",
           licence="Berkeley Segmentation Dataset: non-commercial research"),
    Source("wed", "Waterloo Exploration Database (4,744 clean images)", "WED.zip", (Place(IMG, "Train/Denoise"),),
           gdrive_file="19_mCE_GXfmE5yYsm-HEzuZQqmwMjPpJr", size="~2 GB",
           licence="Waterloo Exploration Database: research use, cite Ma et al. 2016"),
    Source("rain100l", "Rain100L train (200 pairs) + test (100 pairs)", "Rain100L.zip", (
        Place(r"train.*/norain-\d+" + IMG, "Train/Derain/gt"),
        Place(r"train.*/rain-\d+" + IMG, "Train/Derain/rainy"),
        Place(r"test.*/norain-\d+" + IMG, "test/derain/Rain100L/target"),
        Place(r"test.*/rain-\d+" + IMG, "test/derain/Rain100L/input"),
        # the JORDER release keeps the test pairs in a folder named after the set: Rain100L/{rain,norain}-N
        Place(r"(^|/)rain100l/norain-\d+" + IMG, "test/derain/Rain100L/target"),
        Place(r"(^|/)rain100l/rain-\d+" + IMG, "test/derain/Rain100L/input"),
        Place(r"(?P<keep>(Train|test)/.+)$", "."),  # already in the PromptIR layout
    ), gdrive_folder="1-_Tw-LHJF4vh8fpogKgZx1EQ9MhsJI_f", size="~150 MB", licence="Rain100L: research use"),
    Source("denoise_test", "Restormer's test bundle: CBSD68 (68) and Urban100 (100)", "denoise_test.zip", (
        Place(r"cbsd68/[^/]+" + IMG, "test/denoise/bsd68"),
        Place(r"urban100/[^/]+" + IMG, "test/denoise/urban100"),
    ), gdrive_file="1mwMLt-niNqcQpfN_ZduG9j4k6P_ZkOl0", size="~300 MB",
        licence="BSD: non-commercial research; Urban100: research use"),
    # OTS has 313,950 hazy images of 8,970 clear ones; the benchmark uses the 72,135 / 2,061 of PromptIR's
    # list (lists/ots_promptir.txt): only those are placed, the rest stay in staging/ (reported)
    Source("ots", "RESIDE-beta OTS: part1..part4 hazy (72,135 of them) + clear originals (2,061)", "ots.zip", (
        Place(r"(?P<keep>part\d+/\d+_[\d.]+_[\d.]+\.(jpg|png))$", "Train/Dehaze/synthetic", allow=names.ots_hazy()),
        Place(r"(clear|gt|original)[^/]*/\d+\.(jpg|png)$", "Train/Dehaze/original", allow=names.ots_clear()),
    ), manual=f"{RESIDE} Download OTS (the hazy parts 1-4 and the clear images).", size="~40 GB",
        licence="RESIDE: non-commercial research"),
    Source("sots", "RESIDE SOTS outdoor test (500 pairs)", "sots.zip", (
        Place(r"outdoor/(hazy|input)/[^/]+\.(jpg|png)$", "test/dehaze/input"),
        Place(r"outdoor/(gt|clear|target)/[^/]+\.(jpg|png)$", "test/dehaze/target"),
    ), manual=f"{RESIDE} Download SOTS (the outdoor part is used).", size="~450 MB",
        licence="RESIDE: non-commercial research"),
    Source("mirage_dehaze", "MIRAGE's preprocessed dehazing set (alternative to ots + sots)", "mirage_dehaze.zip", (
        Place(r"(?P<keep>(Train|test)/.+)$", "."),
        Place(r"(?P<keep>part\d+/\d+_[\d.]+_[\d.]+\.(jpg|png))$", "Train/Dehaze/synthetic"),
    ), gdrive_file="13LBouXHNsMKyL5rEpnnpXer2RaBZ1Xwq", size="?", licence="RESIDE: non-commercial research",
        optional=True),
)

EXPECTED = (
    Expect("train", "Denoise: BSD400 + WED", "Train/Denoise", 5144, names.denoise_train()),
    Expect("train", "Rain100L rainy", "Train/Derain/rainy", 200, names.rain100l_rainy()),
    Expect("train", "Rain100L gt", "Train/Derain/gt", 200, names.rain100l_gt()),
    Expect("train", "OTS hazy (part1-4)", "Train/Dehaze/synthetic", 72135, names.ots_hazy()),
    Expect("train", "OTS clear", "Train/Dehaze/original", 2061, names.ots_clear()),
    Expect("test", "CBSD68", "test/denoise/bsd68", 68),
    Expect("test", "Urban100", "test/denoise/urban100", 100),
    Expect("test", "Rain100L input", "test/derain/Rain100L/input", 100),
    Expect("test", "Rain100L target", "test/derain/Rain100L/target", 100),
    Expect("test", "SOTS outdoor input", "test/dehaze/input", 500),
    Expect("test", "SOTS outdoor target", "test/dehaze/target", 500),
)

PAIRS = (("Train/Derain/rainy", "Train/Derain/gt"), ("Train/Dehaze/synthetic", "Train/Dehaze/original"),
         ("test/derain/Rain100L/input", "test/derain/Rain100L/target"), ("test/dehaze/input", "test/dehaze/target"))

SETTING = Setting("3deg", "allinone", "All-in-one, 3 degradations (noise, rain, haze)", SOURCES, EXPECTED,
                  pairs=PAIRS)

if __name__ == "__main__":
    sys.exit(main(SETTING))

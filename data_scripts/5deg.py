"""5-degradation all-in-one data (App. A.1): the 3-degradation data + GoPro (deblur) + LOL-v1 (enhance).

Same root as 3deg (PromptIR/AdaIR layout), adding:
    Train/Deblur/{blur,sharp}/      GoPro train, 2,103 pairs
    Train/Enhance/{low,gt}/         LOL-v1 our485, 485 pairs
    test/deblur/{input,target}/     GoPro test, 1,111 pairs
    test/enhance/{input,target}/    LOL-v1 eval15, 15 pairs

Usage: python data_scripts/5deg.py {download,prepare,verify} [--root ROOT]
"""

import sys

from datatool import Expect, Place, Setting, Source, load_setting, main

THREE = load_setting("3deg")
PNG = r"[^/]+\.png$"

SOURCES = THREE.sources + (
    Source("gopro_train", "GoPro train (2,103 pairs), Restormer's copy", "gopro_train.zip", (
        Place(r"(input|blur)/" + PNG, "Train/Deblur/blur"),
        Place(r"(target|sharp)/" + PNG, "Train/Deblur/sharp"),
    ), gdrive_file="1zgALzrLCC_tcXKu_iHQTHukKUVT1aodI", size="~7 GB", licence="GoPro (Nah et al.): CC BY 4.0"),
    Source("gopro_test", "GoPro test (1,111 pairs), Restormer's copy", "gopro_test.zip", (
        Place(r"gopro/(input|blur)/" + PNG, "test/deblur/input"),
        Place(r"gopro/(target|sharp)/" + PNG, "test/deblur/target"),
    ), gdrive_file="1k6DTSHu4saUgrGTYkkZXTptILyG9RRll", size="~2.5 GB", licence="GoPro (Nah et al.): CC BY 4.0"),
    Source("lol", "LOL-v1: our485 (train) and eval15 (test)", "LOLdataset.zip", (
        Place(r"our485/low/" + PNG, "Train/Enhance/low"),
        Place(r"our485/high/" + PNG, "Train/Enhance/gt"),
        Place(r"eval15/low/" + PNG, "test/enhance/input"),
        Place(r"eval15/high/" + PNG, "test/enhance/target"),
    ), manual="LOL-v1 is linked from its project page, https://daooshee.github.io/BMVC2018website/ "
              "(Google Drive / Baidu); download LOLdataset.zip.", size="~350 MB",
        licence="LOL: research use, cite Wei et al. 2018"),
    Source("mirage_lowlight", "MIRAGE's preprocessed low-light set (alternative to lol)", "mirage_lowlight.zip", (
        Place(r"(?P<keep>(Train|test)/.+)$", "."),
    ), gdrive_file="1P9tVjPp4G4jftG-9VhYv_0-kRpoZimlu", size="?", licence="LOL: research use", optional=True),
    Source("mirage_deblur", "MIRAGE's preprocessed deblurring set (alternative to gopro_*)", "mirage_deblur.zip", (
        Place(r"(?P<keep>(Train|test)/.+)$", "."),
    ), gdrive_file="1d7ga-ZE4iWTsW-CFnKpTsgWB4d6rHVru", size="?", licence="GoPro: CC BY 4.0", optional=True),
)

EXPECTED = THREE.expected + (
    Expect("train", "GoPro blur", "Train/Deblur/blur", 2103),
    Expect("train", "GoPro sharp", "Train/Deblur/sharp", 2103),
    Expect("train", "LOL-v1 low", "Train/Enhance/low", 485),
    Expect("train", "LOL-v1 gt", "Train/Enhance/gt", 485),
    Expect("test", "GoPro input", "test/deblur/input", 1111),
    Expect("test", "GoPro target", "test/deblur/target", 1111),
    Expect("test", "LOL-v1 input", "test/enhance/input", 15),
    Expect("test", "LOL-v1 target", "test/enhance/target", 15),
)

PAIRS = THREE.pairs + (("Train/Deblur/blur", "Train/Deblur/sharp"), ("Train/Enhance/low", "Train/Enhance/gt"),
                       ("test/deblur/input", "test/deblur/target"), ("test/enhance/input", "test/enhance/target"))

SETTING = Setting("5deg", "allinone", "All-in-one, 5 degradations (noise, rain, haze, blur, low light)",
                  SOURCES, EXPECTED, pairs=PAIRS)

if __name__ == "__main__":
    sys.exit(main(SETTING))

"""Data: synthetic degradations, augmentation, the offline demo set, the six benchmarks, the toy data.

Imports nothing from ``exda_lite.training`` or ``exda_lite.course``.

* ``degradations``          noise, blur, haze, rain, low light, snow, JPEG, CDD11 mixes (how each is synthesised)
* ``medical_degradations``  MRI under-sampling, low-dose CT, low-count PET
* ``augment``               paired random crops, the 8 dihedral transforms, centre crops
* ``demo_data``             the offline demo all-in-one set (scikit-image photos)
* ``layout``                finding and pairing the benchmark files on disk, clear errors when they are missing
* ``datasets``              the six benchmark settings (Tables 1-6) as torch datasets
* ``synthetic``             the 1-D multi-faceted degradation (Sec. 3.2, Fig. 3a)
* ``digits``                MNIST (or scikit-learn's digits offline) and its corruptions (Sec. 3.2, Fig. 3b)
* ``paths``                 where datasets are cached (``$EXDA_DATA``)
"""

from .datasets import CDD11, AllInOneTest, AllInOneTrain, AllWeather, MedicalAMIR, WeatherBench
from .degradations import DEGRADATIONS, add_test_noise, degradation_gallery, degrade
from .demo_data import DemoAllInOne, DemoAllInOneTest
from .layout import DataLayoutError

__all__ = ["CDD11", "DEGRADATIONS", "AllInOneTest", "AllInOneTrain", "AllWeather", "DataLayoutError",
           "DemoAllInOne", "DemoAllInOneTest", "MedicalAMIR", "WeatherBench", "add_test_noise",
           "degradation_gallery", "degrade"]

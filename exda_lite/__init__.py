"""exda-lite: rebuild and train ExDA (ICLR'26) step by step.

"Rethinking Expressivity and Degradation-Awareness in Attention for All-in-One Blind
Image Restoration" adds two primitives to Restormer-style channel attention: a
nonlinear value path (Eq. 1) and Global Spatial Tokens (Algorithm 1, Eq. 2-3).

The folders follow the system:

* ``exda_lite.nn``        the paper's network, one class per concept (LayerNorm, GDFN, nonlinear
                          value, GST, attention, block, configs, U-Net); imports nothing else here
* ``exda_lite.data``      degradations, augmentation, the offline demo set, the six benchmarks,
                          the toy data of Sec. 3.2
* ``exda_lite.training``  loss, metrics, the training loop, checkpoints, evaluation, tiled restoration
* ``exda_lite.course``    what the notebooks need besides: parameters, exercises, explorers,
                          toy models, the span measurement, the analyses of notebooks 08-09
* ``exda_lite.cli``       the ``exda-lite`` command: train, eval, restore
* ``exda_lite.utils``     seeding, device, parameter / FLOP counts, timing
* ``exda_lite.files``     the one atomic file writer; a full disk as one line

The most used names are importable from the top: ``import exda_lite as E; E.build_model("exda_t")``.
"""

from .nn.attention import ExDAAttention, channel_attention
from .nn.block import ExDABlock, TokenOptions, ValueOptions
from .nn.configs import CONFIGS, PAPER_SIZES, ExDAConfig, get_config
from .data.datasets import CDD11, AllInOneTest, AllInOneTrain, AllWeather, MedicalAMIR, WeatherBench
from .data.layout import DataLayoutError
from .data.degradations import DEGRADATIONS, add_test_noise, degradation_gallery, degrade
from .data.demo_data import DemoAllInOne, DemoAllInOneTest
from .nn.gdfn import GDFN
from .nn.gst import GlobalSpatialTokens
from .nn.layernorm import LayerNorm2d
from .training.losses import RestorationLoss, fourier_loss
from .training.metrics import evaluate_pair, psnr
from .nn.model import ExDA, build_model
from .nn.nonlinear_value import NonlinearValue
from .training.tiling import tiled_forward
from .training.checkpoints import load_model
from .training.config import TrainConfig
from .utils import count_flops, count_parameters, pick_device, seed_everything, time_forward

__version__ = "0.1.0"

__all__ = sorted([
    "CONFIGS", "PAPER_SIZES", "GDFN", "ExDA", "ExDAAttention", "ExDABlock", "ExDAConfig",
    "GlobalSpatialTokens", "LayerNorm2d", "NonlinearValue", "RestorationLoss", "TokenOptions",
    "ValueOptions", "build_model", "channel_attention", "count_flops", "count_parameters",
    "evaluate_pair", "fourier_loss", "get_config", "pick_device", "psnr", "seed_everything",
    "time_forward",
    # data: degradations, the demo set, the six benchmark settings
    "CDD11", "DEGRADATIONS", "AllInOneTest", "AllInOneTrain", "AllWeather", "DataLayoutError", "DemoAllInOne",
    "DemoAllInOneTest", "MedicalAMIR", "WeatherBench", "add_test_noise", "degradation_gallery", "degrade",
    # training and inference (the functions train() and evaluate() live in exda_lite.training)
    "TrainConfig", "load_model", "tiled_forward",
])

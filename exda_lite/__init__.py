"""exda-lite: rebuild and train ExDA (ICLR'26) step by step.

"Rethinking Expressivity and Degradation-Awareness in Attention for All-in-One Blind
Image Restoration" adds two primitives to Restormer-style channel attention: a
nonlinear value path (Eq. 1) and Global Spatial Tokens (Algorithm 1, Eq. 2-3).

One module per concept:

* ``layernorm``        per-pixel LayerNorm (WithBias / BiasFree)
* ``gdfn``             gated-dconv feed-forward network
* ``nonlinear_value``  V' = V + g(V) and its Table 7 variants
* ``gst``              Global Spatial Tokens (Algorithm 1)
* ``attention``        MDTA with optional nonlinear value and GST (Eq. 2-3)
* ``block``            the ExDA block (MDAB)
* ``configs``          ``ExDAConfig`` and the named configs (Table A)
* ``model``            the U-Net and ``build_model``
* ``losses``           L1 + 0.1 * Fourier (Eq. 4-5)
* ``metrics``          PSNR / SSIM in the all-in-one protocol
* ``degradations``     synthetic noise, blur, haze, rain, low light, snow, JPEG, CDD11 mixes, MRI, CT, PET
* ``augment``          paired random crops and the 8 dihedral transforms
* ``demo_data``        the offline demo all-in-one dataset (scikit-image photos)
* ``datasets``         the six benchmark settings in their public layouts (see data_scripts/)
* ``span``             measuring the span limitation (Eq. 6-10)
* ``synthetic``        the synthetic multi-faceted 1-D degradation (Sec. 3.2, Fig. 3a)
* ``digits``           MNIST (or bundled digits) and its corruptions (Sec. 3.2, Fig. 3b)
* ``toy``              matched linear/nonlinear-value toy models and their training loop
* ``ablation``         Fig. 5 variants over seeds (Welch / paired t-tests), overhead ratios of the primitives
* ``train``            the training loop: ``TrainConfig``, ``train``, checkpoints, resume, DDP (App. A.2-A.3)
* ``evaluate``         per-benchmark PSNR/SSIM in the layout of Tables 1-6, the paper's numbers alongside
* ``awareness``        degradation awareness (Sec. 4, Fig. 7-8): embeddings, k-means NMI/ARI, band spectra
* ``tiling``           tiled inference with blended overlaps (any image size in bounded memory)
* ``restore``          reading/writing image files (gray, RGBA, 16-bit) and restoring them
* ``cli``              the ``exda-lite`` command: train, eval, restore
* ``exercises``        auto-checked exercises for the notebooks
* ``utils``            seeding, device, parameter / FLOP counts, timing
* ``notebook``         helpers the notebooks share (parameters, smoke mode, results)
"""

from .attention import ExDAAttention, channel_attention
from .block import ExDABlock, TokenOptions, ValueOptions
from .configs import CONFIGS, PAPER_SIZES, ExDAConfig, get_config
from .datasets import CDD11, AllInOneTest, AllInOneTrain, AllWeather, DataLayoutError, MedicalAMIR, WeatherBench
from .degradations import DEGRADATIONS, add_test_noise, degradation_gallery, degrade
from .demo_data import DemoAllInOne, DemoAllInOneTest
from .gdfn import GDFN
from .gst import GlobalSpatialTokens
from .layernorm import LayerNorm2d
from .losses import RestorationLoss, fourier_loss
from .metrics import evaluate_pair, psnr
from .model import ExDA, build_model
from .nonlinear_value import NonlinearValue
from .tiling import tiled_forward
from .train import TrainConfig, load_model
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
    # training and inference (the functions train() and evaluate() live in exda_lite.train / exda_lite.evaluate)
    "TrainConfig", "load_model", "tiled_forward",
])

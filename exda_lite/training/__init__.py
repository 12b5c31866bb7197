"""Training and inference: the loss, the metrics, the loop, checkpoints, evaluation, tiled restoration.

* ``config``       ``TrainConfig`` and the paper's recipe (App. A.2)
* ``schedule``     Adam and the warm-up + cosine schedule
* ``loaders``      the setting's datasets, a sampler that resumes mid-epoch
* ``loop``         ``train(config)``: forward -> loss -> backward -> step, epoch after epoch
* ``checkpoints``  atomic safetensors / last.pt files, exact resume
* ``distributed``  torchrun: rank, world size, process group
* ``logs``         train_log.csv, val_log.csv, TensorBoard
* ``losses``       L1 + 0.1 * Fourier (Eq. 4-5)
* ``metrics``      PSNR / SSIM in the all-in-one protocol
* ``evaluate``     per-benchmark tables in the layout of Tables 1-6
* ``tiling``       tiled inference with blended overlaps
* ``restore``      reading, restoring and writing image files
* ``validation``   the split held out of the training folders, per-task PSNR/SSIM
* ``speed``        channels_last, torch.compile, activation checkpointing, EMA
* ``preemption``   SIGTERM/SIGINT: finish the step, save, stop (exit code 75)
"""

from .checkpoints import (CHECKPOINT_FORMAT, CheckpointMismatchError, load_checkpoint, load_model,
                          load_state_checked, read_weights, save_weights)
from .config import PAPER_RECIPE, PRECISIONS, SETTINGS, TrainConfig, config_from_dict
from .loaders import build_datasets
from .loop import NonFiniteLossError, TrainResult, check_precision, train
from .losses import RestorationLoss, fourier_loss
from .metrics import evaluate_pair, psnr
from .schedule import lr_factor
from .tiling import tiled_forward

__all__ = ["CHECKPOINT_FORMAT", "CheckpointMismatchError", "NonFiniteLossError", "PAPER_RECIPE", "PRECISIONS",
           "RestorationLoss", "SETTINGS", "TrainConfig", "TrainResult", "build_datasets", "check_precision", "config_from_dict", "evaluate_pair",
           "fourier_loss", "load_checkpoint", "load_model", "load_state_checked", "lr_factor", "psnr",
           "read_weights", "save_weights", "tiled_forward", "train"]

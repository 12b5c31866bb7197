"""What defines a training run: ``TrainConfig`` and the paper's recipe (App. A.1-A.3).

The recipe, sentence by sentence, and the field that holds it:

* "we train the model with a batch size of 32"                  -> ``TrainConfig.batch_size``
* "a combination of L1 and Fourier loss" (Eq. 4, lambda = 0.1)  -> ``fourier_weight`` (``losses.RestorationLoss``)
* "Adam (initial learning rate of 2e-4, beta1 = 0.9, beta2 = 0.999)" -> ``lr``, ``beta1``, ``beta2``
* "and a cosine decay schedule"                                  -> ``schedule.lr_factor``, stepped every iteration
* "random cropping to 128 x 128 patches, along with horizontal and vertical flipping"
                                                                 -> ``patch_size`` (the datasets crop and flip)
* epochs: 130 (3deg), 150 (5deg, CDD11), 120 (WeatherBench), 300,000 iterations (AllWeather) -> ``PAPER_RECIPE``

What the paper leaves open, and our defaults: no warm-up (``warmup_steps``), cosine decay
to 0 (``min_lr``), no gradient clipping (``grad_clip``), fp32 (``precision``; bf16 autocast is
the usual GPU choice).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields

from ..nn.configs import CONFIGS

SETTINGS = ("demo", "demo_medical", "3deg", "5deg", "cdd11", "allweather", "weatherbench", "medical")
"""``demo``/``demo_medical``: offline scikit-image photos; the others: the paper's six benchmarks (Tables 1-6)."""
PRECISIONS = ("fp32", "bf16", "fp16")

PAPER_RECIPE = {
    "common": {"batch_size": 32, "patch_size": 128, "lr": 2e-4, "beta1": 0.9, "beta2": 0.999,
               "fourier_weight": 0.1, "model": "exda_b"},
    "epochs": {"3deg": 130, "5deg": 150, "cdd11": 150, "weatherbench": 120},
    "max_steps": {"allweather": 300_000},
    "table": {"3deg": 1, "5deg": 2, "cdd11": 3, "allweather": 4, "weatherbench": 5, "medical": 6},
}
"""The paper's training recipe (App. A.1-A.2). Medical: the number of epochs is not stated.
Tables 1-6 report the 22M-parameter model (``exda_b``); App. A.2 quotes 42 GB of GPU memory for ExDA-T."""


@dataclass
class TrainConfig:
    """Everything that defines a training run, grouped by concern (all fields are CLI flags too)."""

    # I/O
    out_dir: str = "runs/exda"  # checkpoints, CSV logs, config.json, TensorBoard
    resume: str = ""  # "": fresh run; "auto": out_dir/last.pt if it exists; or a path to a last.pt
    init_weights: str = ""  # start from these weights (.safetensors or .pt) but a fresh optimizer/schedule
    log_every: int = 10  # steps per row of train_log.csv
    checkpoint_every: int = 0  # steps between checkpoints; 0: at the end of every epoch only
    val_every: int = 1  # epochs between validation PSNRs (0: never)
    tensorboard: bool = True  # also log to TensorBoard when it is installed
    progress: bool = True  # tqdm progress bars (rank 0 only)
    # data
    setting: str = "demo"  # see SETTINGS
    data_root: str = ""  # the setting's folder ("" -> $EXDA_DATA/<setting folder>)
    patch_size: int = 128  # random square crops (App. A.2: 128)
    batch_size: int = 32  # global batch (App. A.2: 32), split over processes under torchrun
    num_workers: int = 0  # DataLoader worker processes
    samples_per_degradation: int = 200  # demo settings only: epoch length per degradation
    val_crop: int = 128  # demo settings only: centre crop of the held-out photos for validation (0: full)
    # model
    model: str = "exda_t"  # restormer, exda_b, exda_s, exda_t, exda_nano
    model_overrides: dict = field(default_factory=dict)  # ExDAConfig fields, e.g. {"gst": False}
    # loss (Eq. 4-5)
    fourier_weight: float = 0.1  # lambda_fre; 0 switches the Fourier term off (and says so)
    # optimizer
    lr: float = 2e-4  # Adam's initial learning rate
    beta1: float = 0.9
    beta2: float = 0.999
    weight_decay: float = 0.0
    grad_clip: float = 0.0  # clip the global gradient norm to this value (0: off)
    # schedule
    epochs: int = 130  # passes over the training set
    max_steps: int = 0  # > 0: stop after this many iterations instead (AllWeather: 300,000)
    warmup_steps: int = 0  # linear warm-up iterations before the cosine decay
    min_lr: float = 0.0  # the cosine decays from lr to min_lr
    # system
    device: str = "auto"  # auto, cpu, cuda, cuda:N, mps (under torchrun: cuda:LOCAL_RANK or cpu)
    precision: str = "fp32"  # fp32, bf16 (autocast), fp16 (autocast + GradScaler, CUDA only)
    seed: int = 0  # model initialisation, data order, patches
    deterministic: bool = False  # ask torch for deterministic kernels (slower on GPU)

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        """Clear errors for invalid values (called on construction)."""
        problems = []
        if self.setting not in SETTINGS:
            problems.append(f"setting={self.setting!r} (choose from {', '.join(SETTINGS)})")
        if self.model not in CONFIGS:
            problems.append(f"model={self.model!r} (choose from {', '.join(CONFIGS)})")
        if self.precision not in PRECISIONS:
            problems.append(f"precision={self.precision!r} (choose from {', '.join(PRECISIONS)})")
        for name in ("patch_size", "batch_size", "epochs", "log_every"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                problems.append(f"{name}={getattr(self, name)!r} (a positive integer)")
        for name in ("checkpoint_every", "val_every", "max_steps", "warmup_steps", "num_workers",
                     "samples_per_degradation", "val_crop"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 0:
                problems.append(f"{name}={getattr(self, name)!r} (an integer >= 0)")
        for name in ("lr", "fourier_weight", "weight_decay", "grad_clip", "min_lr"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0 or not math.isfinite(value):
                problems.append(f"{name}={value!r} (a finite number >= 0)")
        if not 0 <= self.beta1 < 1 or not 0 <= self.beta2 < 1:
            problems.append(f"beta1={self.beta1}, beta2={self.beta2} (each in [0, 1))")
        if problems:
            raise ValueError("invalid training configuration: " + "; ".join(problems))

    @property
    def channels(self) -> int:
        """Image channels of the setting: 1 for the medical tracks, else 3."""
        return 1 if self.setting in ("medical", "demo_medical") else 3

    def to_dict(self) -> dict:
        return asdict(self)

    def recipe_differences(self) -> list[str]:
        """Where this run departs from the paper's recipe for its setting (empty for the demo settings)."""
        if self.setting.startswith("demo"):
            return []
        diffs = [f"{name}={getattr(self, name)!r} (paper: {value!r})"
                 for name, value in PAPER_RECIPE["common"].items() if getattr(self, name) != value]
        epochs = PAPER_RECIPE["epochs"].get(self.setting)
        if epochs is not None and (self.epochs != epochs or self.max_steps):
            diffs.append(f"epochs={self.epochs}, max_steps={self.max_steps} (paper: {epochs} epochs)")
        steps = PAPER_RECIPE["max_steps"].get(self.setting)
        if steps is not None and self.max_steps != steps:
            diffs.append(f"max_steps={self.max_steps} (paper: {steps:,} iterations)")
        return diffs


# Fields that fix the data order and the objective: a resumed run must keep them.
RESUME_MUST_MATCH = ("setting", "patch_size", "batch_size", "seed", "samples_per_degradation", "fourier_weight")


def config_from_dict(values: dict) -> TrainConfig:
    """A ``TrainConfig`` from a dict (e.g. ``config.json``), with a clear error for unknown keys."""
    valid = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(values) - valid)
    if unknown:
        raise TypeError(f"unknown training option(s) {unknown}; valid options are {sorted(valid)}")
    return TrainConfig(**values)

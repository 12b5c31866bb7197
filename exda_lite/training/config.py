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

from ..data.settings import DEMO, DEMO_RECIPE as REGISTRY_DEMO_RECIPE, PAIRS, PAPER_SETTINGS
from ..data.settings import SETTINGS as REGISTRY
from ..nn.configs import CONFIGS, ExDAConfig

SETTINGS = tuple(REGISTRY)
"""``demo``/``demo_medical``: offline scikit-image photos; ``pairs``: your own degraded/clean folders
(``--pairs``, ``exda_lite.data.pairs``); the others: the paper's six benchmarks (Tables 1-6).
Their facts are in ``exda_lite.data.settings``."""
OWN_DATA_SETTINGS = tuple(name for name, s in REGISTRY.items() if s.own_data)
"""Settings with no paper row: no recipe departures or paper choices are printed for them."""
PRECISIONS = ("fp32", "bf16", "fp16")

PAPER_RECIPE = {
    "common": {"batch_size": 32, "patch_size": 128, "lr": 2e-4, "beta1": 0.9, "beta2": 0.999,
               "fourier_weight": 0.1},
    # setting -> (model, epochs, max_steps, where the paper says so)
    **{s.name: s.recipe.row() for s in PAPER_SETTINGS},
    "table": {s.name: s.paper_table for s in PAPER_SETTINGS},
}
"""The paper's training recipe, one row per setting (App. A.1-A.2). Tables 1-6 report the
22M-parameter model (``exda_b``); App. A.2 quotes 42 GB of GPU memory for ExDA-T at batch 32."""

PAPER_RECIPE["epochs"] = {s.name: s.recipe.epochs for s in PAPER_SETTINGS  # stated only
                          if s.recipe.epochs and s.recipe.length_stated}
PAPER_RECIPE["max_steps"] = {s.name: s.recipe.max_steps for s in PAPER_SETTINGS if s.recipe.max_steps}
DEMO_RECIPE = REGISTRY_DEMO_RECIPE.row()

OUR_CHOICES = {  # what the paper leaves open: (field, our value, why)
    "warmup_steps": (0, "no warm-up (the paper names none)"),
    "min_lr": (0.0, "cosine decays to 0 (the floor is not stated)"),
    "grad_clip": (0.0, "no clipping (not stated)"),
    "precision": ("fp32", "fp32 (not stated; bf16 is the usual GPU choice)"),
    "ema": (0.0, "no EMA (the paper states none)"),
}


def recipe_row(setting: str) -> tuple[str, int, int, str]:
    """(model, epochs, max_steps, source) of ``setting``'s recipe."""
    return PAPER_RECIPE.get(setting, DEMO_RECIPE) if setting in SETTINGS else DEMO_RECIPE


@dataclass
class TrainConfig:
    """Everything that defines a training run, grouped by concern (all fields are CLI flags too)."""

    # I/O
    out_dir: str = "runs/exda"  # checkpoints, CSV logs, config.json, TensorBoard
    resume: str = ""  # "": fresh run; "auto": out_dir/last.pt if it exists; or a path to a last.pt
    init_weights: str = ""  # start from these weights (.safetensors or .pt) but a fresh optimizer/schedule
    log_every: int = 10  # steps per row of train_log.csv
    checkpoint_every: int = 0  # steps between checkpoints; 0: at the end of every epoch only
    val_every: int = 1  # epochs between validations (PSNR + SSIM per task; 0: never)
    keep_every: int = 0  # keep a snapshot epoch_NNNN.safetensors every N epochs (0: none)
    tensorboard: bool = True  # also log to TensorBoard when it is installed
    progress: bool = True  # tqdm progress bars (rank 0 only)
    # data
    setting: str = DEMO.name  # see SETTINGS (exda_lite.data.settings)
    data_root: str = ""  # the setting's folder ("" -> $EXDA_DATA/<setting folder>)
    patch_size: int = 128  # random square crops (App. A.2: 128)
    batch_size: int = 32  # global batch (App. A.2: 32), split over processes under torchrun
    num_workers: int = 0  # DataLoader worker processes
    samples_per_degradation: int = 200  # demo settings only: epoch length per degradation
    pairs: tuple = ()  # setting pairs: NAME=DEGRADED_DIR:CLEAN_DIR[:REPEAT] ... or one spec.json (README)
    val_crop: int = 128  # centre crop of the held-out images for validation (0: full images)
    val_images: int = 20  # paper settings: images per task held out of the *training* folders for validation
    val_seed: int = 0  # which images are held out (fixed, independent of seed)
    # model
    model: str = ""  # restormer, exda_b, exda_s, exda_t, exda_nano ("": the setting's recipe, PAPER_RECIPE)
    model_overrides: dict = field(default_factory=dict)  # ExDAConfig fields, e.g. {"gst": False}
    # loss (Eq. 4-5)
    fourier_weight: float = 0.1  # lambda_fre; 0 switches the Fourier term off (and says so)
    # optimizer
    lr: float = 2e-4  # Adam's initial learning rate
    beta1: float = 0.9
    beta2: float = 0.999
    weight_decay: float = 0.0
    grad_clip: float = 0.0  # clip the global gradient norm to this value (0: off)
    ema: float = 0.0  # EMA decay of the weights, e.g. 0.999 (0: off; the paper states none)
    accumulate: int = 1  # gradient accumulation: micro-batches per optimizer step (global batch kept)
    # schedule
    epochs: int = 0  # passes over the training set (0: the setting's recipe, e.g. 130 for 3deg)
    max_steps: int = -1  # > 0: stop after this many iterations instead (-1: the setting's recipe; AllWeather 300,000)
    warmup_steps: int = 0  # linear warm-up iterations before the cosine decay
    min_lr: float = 0.0  # the cosine decays from lr to min_lr
    # system
    device: str = "auto"  # auto, cpu, cuda, cuda:N, mps (under torchrun: cuda:LOCAL_RANK or cpu)
    precision: str = "fp32"  # fp32, bf16 (autocast), fp16 (autocast + GradScaler, CUDA only)
    seed: int = 0  # model initialisation, data order, patches
    deterministic: bool = False  # ask torch for deterministic kernels (slower on GPU)
    channels_last: bool | None = None  # NHWC memory for the model and its inputs (None: on for CPU, where it is faster)
    compile: bool = False  # torch.compile the model (slow first step)
    checkpoint_activations: bool = False  # recompute each block's activations in backward (less memory)
    wandb: bool = False  # also log to Weights & Biases (offline unless WANDB_MODE says otherwise)

    def __post_init__(self):
        self.filled_from_recipe: list[str] = []  # not a field: which values came from the recipe table
        if self.setting in SETTINGS:
            model, epochs, max_steps, _ = recipe_row(self.setting)
            if self.model == "":
                self.model = model
                self.filled_from_recipe.append("model")
            if self.epochs == 0 and self.max_steps == -1:  # no length given: the recipe's
                self.epochs, self.max_steps = epochs, max_steps
                self.filled_from_recipe += ["epochs", "max_steps"]
        self.max_steps = max(self.max_steps, 0)
        self.validate()

    def validate(self) -> None:
        """Clear errors for invalid values (called on construction)."""
        problems = []
        self.pairs = tuple(str(p) for p in self.pairs)
        if (self.setting == PAIRS.name) != bool(self.pairs):
            problems.append(f"pairs={list(self.pairs)} with setting={self.setting!r} (setting pairs needs "
                            "pairs=NAME=DEGRADED_DIR:CLEAN_DIR ..., and only setting pairs takes them)")
        if self.setting not in SETTINGS:
            problems.append(f"setting={self.setting!r} (choose from {', '.join(SETTINGS)})")
        if self.model not in CONFIGS:
            problems.append(f"model={self.model!r} (choose from {', '.join(CONFIGS)})")
        unknown = sorted(set(self.model_overrides) - {f.name for f in fields(ExDAConfig)})
        if unknown:  # checked here, before any data or distributed set-up, not first in build_run
            problems.append(f"model_overrides has unknown ExDAConfig field(s) {unknown} "
                            f"(valid: {', '.join(f.name for f in fields(ExDAConfig))})")
        if self.precision not in PRECISIONS:
            problems.append(f"precision={self.precision!r} (choose from {', '.join(PRECISIONS)})")
        if self.epochs == 0 and self.max_steps <= 0:
            problems.append("epochs=0 needs max_steps > 0")
        for name in ("patch_size", "batch_size", "log_every"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                problems.append(f"{name}={getattr(self, name)!r} (a positive integer)")
        if not 0 <= self.ema < 1:
            problems.append(f"ema={self.ema!r} (a decay in [0, 1), e.g. 0.999; 0: off)")
        if not isinstance(self.accumulate, int) or self.accumulate < 1 or self.batch_size % max(self.accumulate, 1):
            problems.append(f"accumulate={self.accumulate!r} (a positive integer dividing batch_size)")
        for name in ("epochs", "keep_every", "val_images", "val_seed", "checkpoint_every", "val_every", "max_steps", "warmup_steps", "num_workers",
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
        return REGISTRY[self.setting].channels if self.setting in REGISTRY else 3

    def to_dict(self) -> dict:
        return asdict(self)

    def recipe_differences(self) -> list[str]:
        """Where this run departs from the paper's recipe for its setting (empty for the demo settings)."""
        if self.setting in OWN_DATA_SETTINGS:
            return []
        diffs = [f"{name}={getattr(self, name)!r} (paper: {value!r})"
                 for name, value in PAPER_RECIPE["common"].items() if getattr(self, name) != value]
        model, epochs, steps, _ = recipe_row(self.setting)
        if self.model != model:
            diffs.append(f"model={self.model!r} (paper: {model!r})")
        if steps == 0 and (self.epochs != epochs or self.max_steps):
            diffs.append(f"epochs={self.epochs}, max_steps={self.max_steps} (paper: {epochs} epochs)")
        if steps and self.max_steps != steps:
            diffs.append(f"max_steps={self.max_steps} (paper: {steps:,} iterations)")
        return diffs

    def our_choices(self) -> list[str]:
        """What the paper does not state and this run decides (printed at the start of every paper run)."""
        if self.setting in OWN_DATA_SETTINGS:
            return []
        notes = [f"{name}={getattr(self, name)!r}: " + (why if getattr(self, name) == value else "changed by you")
                 for name, (value, why) in OUR_CHOICES.items()]
        notes += [note.format(epochs=self.epochs) for note in REGISTRY[self.setting].notes]
        notes.append(f"validation: {self.val_images} images per task held out of the training folders "
                     f"(seed {self.val_seed}): our choice, the paper does not describe one")
        return notes


# Fields that fix the data order and the objective: a resumed run must keep them.
RESUME_MUST_MATCH = ("setting", "pairs", "accumulate", "val_images", "val_seed", "patch_size", "batch_size", "seed", "samples_per_degradation", "fourier_weight")


def config_from_dict(values: dict) -> TrainConfig:
    """A ``TrainConfig`` from a dict (e.g. ``config.json``), with a clear error for unknown keys."""
    valid = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(values) - valid)
    if unknown:
        raise TypeError(f"unknown training option(s) {unknown}; valid options are {sorted(valid)}")
    return TrainConfig(**values)

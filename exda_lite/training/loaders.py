"""The data a training run reads: the setting's datasets and a sampler that can resume mid-epoch."""

from __future__ import annotations

from typing import Iterator

from torch.utils.data import Dataset, Sampler

from ..data import settings as S
from .config import TrainConfig


def build_datasets(config: TrainConfig) -> tuple[Dataset, Dataset | None]:
    """The training set of ``config.setting`` and its validation set.

    Demo settings: the held-out demo photos. Paper settings: ``val_images`` images per task held out of
    the training folders (``validation.held_out_split``), never the test sets.
    """
    train_set, val_set = setting_datasets(config)
    if val_set is None and config.val_images and hasattr(train_set, "samples"):
        from .validation import held_out_split

        train_set, val_set = held_out_split(train_set, config.val_images, config.val_seed, config.val_crop)
    return train_set, val_set


def setting_datasets(config: TrainConfig) -> tuple[Dataset, Dataset | None]:
    from ..data import datasets, demo_data

    root = config.data_root or None
    if config.setting in (S.DEMO.name, S.DEMO_MEDICAL.name):
        medical = config.setting == S.DEMO_MEDICAL.name
        degradations = demo_data.MEDICAL_DEGRADATIONS if medical else demo_data.DEMO_DEGRADATIONS
        train_set = demo_data.DemoAllInOne(degradations, patch_size=config.patch_size,
                                           samples_per_degradation=config.samples_per_degradation,
                                           seed=config.seed, channels=config.channels)
        val_set = demo_data.DemoAllInOneTest(degradations, crop=config.val_crop or None, channels=config.channels)
        return train_set, val_set
    common = {"patch_size": config.patch_size, "seed": config.seed}
    if config.setting == S.PAIRS.name:  # your own folders, every pair checked first (exda_lite.data.pairs)
        from ..data.pairs import FolderPairs

        return FolderPairs(config.pairs, "train", channels=config.channels, **common), None
    if config.setting in (S.THREE_DEG.name, S.FIVE_DEG.name):
        return datasets.AllInOneTrain(root, setting=config.setting, **common), None
    if config.setting == S.CDD11.name:
        return datasets.CDD11(root, split="train", **common), None
    if config.setting == S.ALLWEATHER.name:
        return datasets.AllWeather(root, split="train", **common), None
    if config.setting == S.WEATHERBENCH.name:
        return datasets.WeatherBench(root, split="train", **common), None
    return datasets.MedicalAMIR(root, split="train", **common), None


class SkipSampler(Sampler):
    """Yield the indices of ``sampler`` after dropping the first ``skip`` (resuming inside an epoch)."""

    def __init__(self, sampler: Sampler, skip: int = 0):
        self.sampler, self.skip = sampler, skip

    def __iter__(self) -> Iterator[int]:
        iterator = iter(self.sampler)
        for _ in range(self.skip):
            next(iterator, None)
        return iterator

    def __len__(self) -> int:
        return max(0, len(self.sampler) - self.skip)

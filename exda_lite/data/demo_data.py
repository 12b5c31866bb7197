"""The demo all-in-one dataset: real photos shipped with scikit-image, degraded on the fly.

Every CPU run and test of the course uses it: no download, a few milliseconds per
sample (low-dose CT, a radon transform and a back-projection, takes about 50 ms per 64 x 64
patch). It imitates the paper's all-in-one setting (one model, several degradations,
no label given to the model) at teaching scale.

Photos and the fixed split *by image* (no photo is in both splits; the two stereo
motorcycle views show one scene and are both in train):

* train: ``TRAIN_PHOTOS`` (6 colour photos + 4 grayscale textures copied to 3 channels)
* test:  ``TEST_PHOTOS`` (chelsea the cat, the rocket launch, the cameraman)

The medical track (``channels=1``, ``MEDICAL_DEGRADATIONS``: MRI k-space truncation,
low-dose CT, low-count PET) uses grayscale images instead:

* train: ``MEDICAL_TRAIN_PHOTOS`` (microscopy cells, a retina fundus, grayscale photos)
* test:  ``MEDICAL_TEST_PHOTOS`` (the Shepp-Logan CT phantom, a retina detail with microaneurysms)

Each photo is resized once (cached) so that its shorter side is ``DEMO_SHORT_SIDE`` = 256
pixels. The images are scikit-image's sample data; each ``skimage.data`` function's
docstring gives the image's source and licence (public domain or CC0 for these).

``DemoAllInOne`` (training): item ``i`` has degradation ``i % len(degradations)`` (so the
degradations are exactly balanced), a random photo, a random ``patch_size`` crop, then
the degradation, then one random dihedral transform applied to both images. Everything
is drawn from ``numpy.random.default_rng([seed, epoch, i])``: the same seed, epoch and
index give the same sample in any worker; ``set_epoch`` gives new patches each epoch.

``DemoAllInOneTest`` (evaluation): every test photo x every degradation, full size (or a
fixed centre crop), degraded with a fixed seed.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import torch
from skimage import data as skdata
from skimage.color import gray2rgb, rgb2gray
from skimage.transform import rescale
from skimage.util import img_as_float32
from torch.utils.data import Dataset

from .augment import apply_patch, dihedral, patch_params, to_tensor
from .degradations import DEGRADATIONS, degrade

TRAIN_PHOTOS = ("astronaut", "coffee", "hubble_deep_field", "immunohistochemistry", "motorcycle_left",
                "motorcycle_right", "brick", "grass", "gravel", "coins")
TEST_PHOTOS = ("chelsea", "rocket", "camera")
MEDICAL_TRAIN_PHOTOS = ("cell", "retina", "moon", "brick", "coins", "gravel")
MEDICAL_TEST_PHOTOS = ("shepp_logan_phantom", "microaneurysms")
ALL_PHOTOS = TRAIN_PHOTOS + TEST_PHOTOS + MEDICAL_TRAIN_PHOTOS + MEDICAL_TEST_PHOTOS
DEMO_SHORT_SIDE = 256
DEMO_DEGRADATIONS = ("noise", "motion_blur", "haze", "rain", "low_light")
"""Default tasks: Gaussian noise sigma 25, motion blur, haze, rain streaks, low light."""
MEDICAL_DEGRADATIONS = ("mri", "ct", "pet")
"""The medical track (AMIR): 4x k-space truncation, low-dose CT, low-count PET; use with ``channels=1``."""


def _load_skimage_photo(name: str) -> np.ndarray:
    if name in ("motorcycle_left", "motorcycle_right"):
        left, right, _ = skdata.stereo_motorcycle()
        return left if name == "motorcycle_left" else right
    return getattr(skdata, name)()


@cache
def demo_photo(name: str, short_side: int = DEMO_SHORT_SIDE, channels: int = 3) -> np.ndarray:
    """A demo photo, float32 in [0, 1], shorter side ``short_side`` (cached: do not modify it).

    ``channels=3``: RGB (H, W, 3), grayscale photos copied to 3 channels; ``channels=1``:
    luminance (H, W).
    """
    if name not in ALL_PHOTOS:
        raise KeyError(f"unknown demo photo {name!r}; choose from {ALL_PHOTOS}")
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    image = img_as_float32(_load_skimage_photo(name))
    if channels == 3 and image.ndim == 2:
        image = gray2rgb(image)
    if channels == 1 and image.ndim == 3:
        image = rgb2gray(image)
    image = rescale(image, short_side / min(image.shape[:2]), anti_aliasing=True,
                    channel_axis=-1 if image.ndim == 3 else None)
    image = np.clip(image, 0, 1).astype(np.float32)
    image.setflags(write=False)
    return image


def check_degradations(degradations, channels: int) -> tuple[str, ...]:
    degradations = tuple(degradations)
    unknown = [d for d in degradations if d not in DEGRADATIONS]
    if unknown or not degradations:
        raise ValueError(f"unknown or empty degradations {unknown or degradations}; choose from {sorted(DEGRADATIONS)}")
    grayscale = [d for d in degradations if DEGRADATIONS[d].grayscale_only]
    if grayscale and channels != 1:
        raise ValueError(f"{grayscale} work on grayscale images only: pass channels=1 "
                         "(e.g. DemoAllInOne(MEDICAL_DEGRADATIONS, channels=1))")
    return degradations


class DemoAllInOne(Dataset):
    """Training patches from the demo photos: ``(degraded, clean, label)``.

    Args:
        degradations: names from ``exda_lite.data.degradations.DEGRADATIONS``; ``label`` is the
            index in this tuple (for analysis only: the model never sees it).
        patch_size: side of the square patches (the paper trains on 128; 64 is fast on CPU).
        samples_per_degradation: the epoch holds this many samples of each degradation.
        seed: fixes every sample (with the epoch and the index).
        photos: the photo names to draw from (default ``TRAIN_PHOTOS``, or
            ``MEDICAL_TRAIN_PHOTOS`` when ``channels=1``).
        channels: 3 (RGB photos) or 1 (grayscale: the medical track).

    Returns per item: degraded and clean float32 tensors (channels, patch, patch) in [0, 1],
    and the degradation label as an int.
    """

    def __init__(self, degradations=DEMO_DEGRADATIONS, patch_size: int = 64, samples_per_degradation: int = 200,
                 seed: int = 0, photos=None, channels: int = 3):
        self.degradations = check_degradations(degradations, channels)
        self.patch_size, self.samples_per_degradation = int(patch_size), int(samples_per_degradation)
        self.seed, self.epoch, self.channels = int(seed), 0, channels
        self.photos = tuple(photos or (TRAIN_PHOTOS if channels == 3 else MEDICAL_TRAIN_PHOTOS))
        for name in self.photos:
            self.photo(name)  # load and cache now: the first epoch is as fast as the others

    def photo(self, name: str) -> np.ndarray:
        return demo_photo(name, channels=self.channels)

    def __len__(self) -> int:
        return len(self.degradations) * self.samples_per_degradation

    def set_epoch(self, epoch: int) -> None:
        """Draw new patches: the samples depend on (seed, epoch, index)."""
        self.epoch = int(epoch)

    def sample_params(self, index: int) -> dict:
        """What item ``index`` is made of: label, photo, crop (top, left), dihedral ``k``, and the rng to degrade it."""
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} samples")
        rng = np.random.default_rng([self.seed, self.epoch, index])
        label = index % len(self.degradations)
        photo = self.photos[int(rng.integers(len(self.photos)))]
        top, left, k = patch_params(self.photo(photo).shape, self.patch_size, rng)
        return {"label": label, "photo": photo, "top": top, "left": left, "k": k, "rng": rng}

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        p = self.sample_params(index)
        clean = apply_patch(self.photo(p["photo"]), self.patch_size, p["top"], p["left"], 0)
        degraded = degrade(clean, self.degradations[p["label"]], rng=p["rng"])  # degrade upright: rain falls down
        return to_tensor(dihedral(degraded, p["k"])), to_tensor(dihedral(clean, p["k"])), p["label"]


class DemoAllInOneTest(Dataset):
    """Fixed evaluation pairs: every test photo x every degradation, ``(degraded, clean, label)``.

    Args:
        degradations: as in :class:`DemoAllInOne` (use the same tuple so labels agree).
        crop: ``None`` for the full photo (shorter side 256), or the side of a fixed centre crop.
        seed: fixes the degradation of every pair.
        photos: default ``TEST_PHOTOS`` (``MEDICAL_TEST_PHOTOS`` when ``channels=1``).
        channels: 3 or 1, as in :class:`DemoAllInOne`.

    Item ``i`` is photo ``i // len(degradations)`` with degradation ``i % len(degradations)``;
    ``names[i]`` says which ("chelsea/haze"). Pairs are computed once and cached.
    """

    def __init__(self, degradations=DEMO_DEGRADATIONS, crop: int | None = None, seed: int = 0, photos=None,
                 channels: int = 3):
        self.degradations = check_degradations(degradations, channels)
        self.crop, self.seed, self.channels = crop, int(seed), channels
        self.photos = tuple(photos or (TEST_PHOTOS if channels == 3 else MEDICAL_TEST_PHOTOS))
        self.names = [f"{photo}/{name}" for photo in self.photos for name in self.degradations]
        self._cache: dict[int, tuple[torch.Tensor, torch.Tensor, int]] = {}

    def __len__(self) -> int:
        return len(self.names)

    def clean_image(self, photo: str) -> np.ndarray:
        image = demo_photo(photo, channels=self.channels)
        if self.crop is None:
            return image
        h, w = image.shape[:2]
        top, left = max(0, (h - self.crop) // 2), max(0, (w - self.crop) // 2)
        return image[top:top + self.crop, left:left + self.crop]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} pairs")
        if index not in self._cache:
            photo_index, label = divmod(index, len(self.degradations))
            clean = self.clean_image(self.photos[photo_index])
            rng = np.random.default_rng([self.seed, photo_index, label])
            degraded = degrade(clean, self.degradations[label], rng=rng)
            self._cache[index] = (to_tensor(degraded), to_tensor(clean), label)
        degraded, clean, label = self._cache[index]
        return degraded.clone(), clean.clone(), label

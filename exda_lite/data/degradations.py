"""Synthetic degradations: what the all-in-one benchmarks contain, made from any clean image.

The six benchmark settings of the paper (Appendix A.1) are built from real degraded
photographs or from physical models of the degradation. This module implements those
models so that the course runs offline on CPU with real photos from scikit-image:

* ``gaussian_noise``   y = clip(x + n), n ~ N(0, (sigma/255)^2)      (BSD400/WED, sigma 15/25/50)
* ``gaussian_blur``    y = k_sigma * x                                (defocus)
* ``motion_blur``      y = k_line * x                                 (GoPro: camera shake)
* ``haze``             I = J t + A (1 - t),  t = exp(-beta d)         (RESIDE / SOTS)
* ``rain``             O = B + S, S = streaks                         (Rain100L)
* ``low_light``        y = Poisson(P e x^gamma) / P + read noise      (LOL-v1)
* ``snow``             y = x (1 - m) + m w, m = flakes                (Snow100K)
* ``jpeg``             Pillow's JPEG codec at a given quality
* ``composite``        CDD11's mixtures (L+H, L+R, L+S, H+R, H+S, L+H+R, L+H+S)
* ``mri_undersample``  keep the central 1/4 x 1/4 of k-space (6.25 %, AMIR's MRI task)
* ``low_dose_ct``      Poisson photon noise on the sinogram, filtered back-projection (AMIR's CT task)
* ``low_count_pet``    Poisson counting noise of a short / low-dose PET acquisition (AMIR's PET task)

Conventions: images are float32 in [0, 1], shape (H, W) or (H, W, 3) (uint8 input is
converted); any size, odd ones included. Every function takes ``rng``: a
``numpy.random.Generator`` or an int seed (the default 0 makes every call reproducible).
``DEGRADATIONS`` maps a name to its function and default parameters; ``degrade`` applies
one by name, ``degradation_gallery`` plots them all on one photo.

The test-noise convention of the denoising tables is separate: ``add_test_noise`` works
on uint8 images exactly as ``clip(clean + randn * sigma, 0, 255).astype(uint8)`` with
seed 0.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import numpy as np
from PIL import Image
from skimage.draw import line_aa
from skimage.filters import gaussian
from skimage.util import img_as_float32

from .imageops import RngLike, as_image, as_rng, channel_axis, convolve, finish, luminance
from .medical_degradations import kspace_centre_mask, low_count_pet, low_dose_ct, mri_undersample

__all__ = [
    "CDD11_TYPES", "DEGRADATIONS", "PHYSICAL_ORDER", "Degradation", "add_test_noise", "as_image", "as_rng",
    "composite", "degradation_gallery", "degrade", "depth_proxy", "gaussian_blur", "gaussian_noise", "haze",
    "jpeg", "kspace_centre_mask", "low_count_pet", "low_dose_ct", "low_light", "motion_blur", "motion_kernel",
    "mri_undersample", "rain", "rain_layer", "snow", "snow_layer",
]

def gaussian_noise(image, sigma: float = 25.0, rng: RngLike = 0, quantize: bool = False) -> np.ndarray:
    """Additive white Gaussian noise: ``y = clip(x + n, 0, 1)``, ``n ~ N(0, (sigma/255)^2)``.

    Args:
        sigma: standard deviation on the 0-255 scale, as the literature quotes it
            (BSD68 at sigma 15, 25, 50).
        quantize: also round down to 8 bits, as ``astype(uint8)`` does in the test convention
            (so that training noise matches test noise).
    """
    image = as_image(image)
    noisy = image + as_rng(rng).standard_normal(image.shape, dtype=np.float32) * (sigma / 255.0)
    if quantize:
        noisy = np.floor(np.clip(noisy, 0, 1) * 255.0 + 1e-4) / 255.0
    return finish(noisy)


def add_test_noise(clean: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    """The denoising test convention: ``clip(clean + randn * sigma, 0, 255).astype(uint8)``, seed 0.

    ``clean`` is the uint8 (H, W[, C]) image as loaded (PromptIR/AdaIR first centre-crop it
    to a multiple of 16; the test datasets here do the same). Noise comes from NumPy's
    legacy ``RandomState(seed).randn``, the stream ``np.random.seed(0); np.random.randn``
    gives. We reseed for every image, so each image's noise is independent of the order
    of evaluation.
    """
    clean = np.asarray(clean)
    if clean.dtype != np.uint8:
        raise TypeError(f"add_test_noise works on uint8 images (as loaded from disk), got {clean.dtype}; "
                        "use gaussian_noise for float images, or convert with skimage.util.img_as_ubyte")
    noise = np.random.RandomState(seed).randn(*clean.shape)
    return np.clip(clean + noise * sigma, 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------- blur

def gaussian_blur(image, sigma: float = 2.0, rng: RngLike = 0) -> np.ndarray:
    """Defocus-like blur: convolution with an isotropic Gaussian of ``sigma`` pixels.

    ``rng`` is accepted for a uniform interface; the blur is deterministic.
    """
    image = as_image(image)
    return finish(gaussian(image, sigma=sigma, mode="reflect", channel_axis=channel_axis(image),
                           preserve_range=True))


def motion_kernel(length: int = 15, angle: float = 0.0) -> np.ndarray:
    """A normalised (L, L) line kernel (L = ``length`` rounded up to odd), anti-aliased.

    ``angle`` in degrees, counter-clockwise from the horizontal image axis.
    """
    size = int(length) | 1
    centre, half = size // 2, (length - 1) / 2
    dx, dy = half * np.cos(np.deg2rad(angle)), half * np.sin(np.deg2rad(angle))
    rows, cols, weights = line_aa(round(centre + dy), round(centre - dx), round(centre - dy), round(centre + dx))
    kernel = np.zeros((size, size), np.float32)
    keep = (rows >= 0) & (rows < size) & (cols >= 0) & (cols < size)
    np.maximum.at(kernel, (rows[keep], cols[keep]), weights[keep].astype(np.float32))
    return kernel / kernel.sum()


def motion_blur(image, length: int = 15, angle: float = 30.0, rng: RngLike = 0) -> np.ndarray:
    """Camera shake during exposure: the scene moves ``length`` pixels along a straight line.

    Args:
        length: how far (pixels) the image travels during the exposure.
        angle: direction of the motion, degrees counter-clockwise from horizontal.
        rng: accepted for a uniform interface; the blur is deterministic.
    """
    image = as_image(image)
    return finish(convolve(image, motion_kernel(length, angle)))


# --------------------------------------------------------------------------- haze

def depth_proxy(image, near: float = 0.3, smooth_weight: float = 0.3) -> np.ndarray:
    """A relative scene depth in [near, 1] for images without a depth map, shape (H, W).

    Outdoor photos are usually farther away at the top (sky, horizon) and bright, flat
    regions are often far (sky, fog banks). The proxy is a vertical ramp (1 at the top,
    ``near`` at the bottom) mixed with heavily smoothed luminance (weight
    ``smooth_weight``). RESIDE uses depth estimated by a network; this proxy only has to
    make haze grow with distance.
    """
    image = as_image(image)
    h, w = image.shape[:2]
    ramp = np.repeat(np.linspace(1.0, 0.0, h, dtype=np.float32)[:, None], w, axis=1)
    smooth = gaussian(luminance(image), sigma=max(h, w) / 8, mode="reflect")
    relative = (1 - smooth_weight) * ramp + smooth_weight * smooth
    return (near + (1 - near) * relative).astype(np.float32)


def haze(image, beta: float = 1.2, airlight: float = 0.9, depth: np.ndarray | None = None,
         rng: RngLike = 0) -> np.ndarray:
    """Atmospheric scattering (Koschmieder): ``I = J t + A (1 - t)``, ``t = exp(-beta d)``.

    Args:
        beta: scattering coefficient per unit of depth; larger = denser haze
            (t ranges over [exp(-beta), exp(-beta * near)] with the default depth proxy).
        airlight: A, the brightness of the atmospheric light (the colour of the haze, grey here).
        depth: relative depth d (H, W); default ``depth_proxy(image)``.
        rng: accepted for a uniform interface; haze is deterministic.
    """
    image = as_image(image)
    depth = depth_proxy(image) if depth is None else np.asarray(depth, np.float32)
    if depth.shape != image.shape[:2]:
        raise ValueError(f"depth {depth.shape} must match the image's (H, W) {image.shape[:2]}")
    t = np.exp(-beta * depth)
    if image.ndim == 3:
        t = t[:, :, None]
    return finish(image * t + airlight * (1 - t))


# --------------------------------------------------------------------------- rain and snow

def rain_layer(shape: tuple[int, int], density: float = 0.006, length: int = 17, angle: float = 10.0,
               rng: RngLike = 0) -> np.ndarray:
    """Rain streaks S (H, W) in [0, 1]: random drops smeared along the falling direction.

    Args:
        density: fraction of pixels where a drop starts.
        length: streak length in pixels (drop speed x exposure time).
        angle: degrees from vertical (wind), positive leans the top to the right.
    """
    rng = as_rng(rng)
    drops = (rng.random(shape) < density) * rng.uniform(0.6, 1.0, shape)
    streaks = convolve(drops.astype(np.float32), motion_kernel(length, 90.0 - angle)) * (length / 2)
    return np.clip(gaussian(streaks, sigma=0.6, mode="reflect"), 0, 1).astype(np.float32)


def rain(image, density: float = 0.006, length: int = 17, angle: float = 10.0, brightness: float = 0.7,
         rng: RngLike = 0) -> np.ndarray:
    """Rain streaks added to the background, ``O = clip(B + brightness * S)`` (Rain100L's model).

    ``density``, ``length`` and ``angle`` as in :func:`rain_layer`; ``brightness`` is how
    much light a streak adds at its core.
    """
    image = as_image(image)
    layer = brightness * rain_layer(image.shape[:2], density, length, angle, rng)
    return finish(image + (layer[:, :, None] if image.ndim == 3 else layer))


def snow_layer(shape: tuple[int, int], density: float = 0.004, fall_length: int = 5, angle: float = 20.0,
               rng: RngLike = 0) -> np.ndarray:
    """Snow flakes m (H, W) in [0, 1]: three sizes of soft discs, slightly blurred by falling.

    Args:
        density: fraction of pixels holding a small flake; medium and large flakes are
            4x and 16x rarer (near flakes are big and few, far ones small and many).
        fall_length: motion blur of a flake during the exposure, pixels.
        angle: falling direction, degrees from vertical.
    """
    rng = as_rng(rng)
    flakes = np.zeros(shape, np.float32)
    for radius, rarity in ((0.7, 1), (1.3, 4), (2.2, 16)):
        seeds = (rng.random(shape) < density / rarity) * rng.uniform(0.7, 1.0, shape)
        disc = gaussian(seeds.astype(np.float32), sigma=radius, mode="reflect") * (2 * np.pi * radius**2)
        flakes = np.maximum(flakes, disc)
    if fall_length > 1:
        flakes = convolve(flakes, motion_kernel(fall_length, 90.0 - angle)) * 1.5
    return np.clip(flakes, 0, 1).astype(np.float32)


def snow(image, density: float = 0.004, veil: float = 0.15, whiteness: float = 0.95, rng: RngLike = 0,
         fall_length: int = 5, angle: float = 20.0) -> np.ndarray:
    """Snowfall: flakes occlude the scene, ``y = x (1 - m) + m w``, over a light veil.

    Args:
        density, fall_length, angle: see :func:`snow_layer`.
        veil: how much the falling snow lightens and flattens the whole image (0 = none).
        whiteness: w, the brightness of a flake.
    """
    image = as_image(image)
    mask = snow_layer(image.shape[:2], density, fall_length, angle, rng)
    if image.ndim == 3:
        mask = mask[:, :, None]
    veiled = image * (1 - veil) + veil * whiteness
    return finish(veiled * (1 - mask) + whiteness * mask)


# --------------------------------------------------------------------------- low light, JPEG

def low_light(image, exposure: float = 0.3, gamma: float = 1.8, photons: float = 400.0,
              read_noise: float = 2.0, rng: RngLike = 0) -> np.ndarray:
    """Under-exposed capture: darken, then sensor noise (LOL-v1 style).

    ``dark = exposure * x ** gamma``; shot noise ``Poisson(photons * dark) / photons``; read
    noise ``N(0, (read_noise/255)^2)``.

    Args:
        exposure: fraction of the normal light reaching the sensor.
        gamma: > 1 crushes the shadows, as a camera's response does in dim light.
        photons: photons a pixel collects at full scale; fewer = noisier (shot noise is
            the square root of the count).
        read_noise: sensor read-out noise, 0-255 scale.
    """
    image = as_image(image)
    rng = as_rng(rng)
    dark = exposure * image**gamma
    shot = rng.poisson(photons * dark) / photons
    return finish(shot + rng.standard_normal(image.shape) * (read_noise / 255.0))


def jpeg(image, quality: int = 10, rng: RngLike = 0) -> np.ndarray:
    """JPEG compression artefacts from Pillow's encoder at ``quality`` (1 worst ... 95 best).

    The result is 8-bit (the codec quantises); ``rng`` is accepted for a uniform interface.
    """
    image = as_image(image)
    buffer = io.BytesIO()
    Image.fromarray(np.round(image * 255).astype(np.uint8)).save(buffer, format="JPEG", quality=int(quality))
    buffer.seek(0)
    return img_as_float32(np.asarray(Image.open(buffer)))


# --------------------------------------------------------------------------- CDD11 composites

PHYSICAL_ORDER = ("haze", "rain", "snow", "low_light")
"""Order in which composites apply their parts: the atmosphere (haze) scatters light from the
scene, rain and snow sit in front of it, and the dim exposure (low light) darkens everything
the camera records, airlight included."""

CDD11_TYPES = {
    "low": ("low_light",), "haze": ("haze",), "rain": ("rain",), "snow": ("snow",),
    "low_haze": ("low_light", "haze"), "low_rain": ("low_light", "rain"), "low_snow": ("low_light", "snow"),
    "haze_rain": ("haze", "rain"), "haze_snow": ("haze", "snow"),
    "low_haze_rain": ("low_light", "haze", "rain"), "low_haze_snow": ("low_light", "haze", "snow"),
}
"""CDD11's 11 degradation types (its folder names) -> the single degradations they mix."""


def composite(image, components=("low_light", "haze", "rain"), rng: RngLike = 0, params: dict | None = None):
    """Several degradations at once, applied in ``PHYSICAL_ORDER`` whatever the order given.

    Args:
        components: names among ``PHYSICAL_ORDER``.
        params: optional ``{name: {parameter: value}}`` overrides per component.
    """
    unknown = set(components) - set(PHYSICAL_ORDER)
    if unknown:
        raise ValueError(f"composite parts must be among {PHYSICAL_ORDER}, got {sorted(unknown)}")
    rng, params = as_rng(rng), params or {}
    out = as_image(image)
    for name in PHYSICAL_ORDER:
        if name in components:
            out = DEGRADATIONS[name].fn(out, rng=rng, **{**DEGRADATIONS[name].params, **params.get(name, {})})
    return out


# --------------------------------------------------------------------------- registry

@dataclass(frozen=True)
class Degradation:
    """A named degradation: ``fn(image, rng=..., **params)`` and what it models."""

    name: str
    fn: Callable
    params: dict = field(default_factory=dict)
    description: str = ""
    grayscale_only: bool = False


def _registry() -> dict[str, Degradation]:
    entries = [
        Degradation("noise", gaussian_noise, {"sigma": 25.0}, "Gaussian noise, sigma 25/255"),
        Degradation("gaussian_blur", gaussian_blur, {"sigma": 2.0}, "Gaussian blur, sigma 2 px"),
        Degradation("motion_blur", motion_blur, {"length": 15, "angle": 30.0}, "motion blur, 15 px at 30 deg"),
        Degradation("haze", haze, {"beta": 1.2, "airlight": 0.9}, "haze, beta 1.2, airlight 0.9"),
        Degradation("rain", rain, {"density": 0.006, "length": 17, "angle": 10.0, "brightness": 0.7},
                    "rain streaks"),
        Degradation("low_light", low_light, {"exposure": 0.3, "gamma": 1.8, "photons": 400.0, "read_noise": 2.0},
                    "low light, exposure 0.3, gamma 1.8"),
        Degradation("snow", snow, {"density": 0.004, "veil": 0.15}, "snow flakes + veil"),
        Degradation("jpeg", jpeg, {"quality": 10}, "JPEG, quality 10"),
    ]
    for folder, parts in CDD11_TYPES.items():
        if len(parts) > 1:
            label = "+".join({"low_light": "L", "haze": "H", "rain": "R", "snow": "S"}[p] for p in parts)
            entries.append(Degradation(folder, partial(composite, components=parts), {}, f"CDD11 {label}"))
    entries += [
        Degradation("mri", mri_undersample, {"factor": 4}, "MRI, central 6.25 % of k-space", grayscale_only=True),
        Degradation("ct", low_dose_ct, {"photons": 1e4, "attenuation": 3.0, "n_angles": 180},
                    "low-dose CT, 1e4 photons", grayscale_only=True),
        Degradation("pet", low_count_pet, {"counts": 50.0, "resolution": 1.0}, "low-count PET, 50 counts",
                    grayscale_only=True),
    ]
    return {entry.name: entry for entry in entries}


DEGRADATIONS: dict[str, Degradation] = _registry()
"""Every degradation by name with its default parameters (CDD11 composites under their folder names)."""


def degrade(image, name: str, rng: RngLike = 0, **params) -> np.ndarray:
    """Apply the degradation ``name`` from ``DEGRADATIONS``; ``params`` override its defaults."""
    if name not in DEGRADATIONS:
        raise KeyError(f"unknown degradation {name!r}; choose from {sorted(DEGRADATIONS)}")
    entry = DEGRADATIONS[name]
    return entry.fn(image, rng=rng, **{**entry.params, **params})


def degradation_gallery(image, names=None, rng: RngLike = 0, ncols: int = 4, size: float = 3.0):
    """A matplotlib Figure: the clean image, then each degradation with its PSNR to the clean one.

    Grayscale-only degradations (MRI, CT) are shown on the image's luminance.
    """
    import matplotlib.pyplot as plt
    from skimage.metrics import peak_signal_noise_ratio

    image = as_image(image)
    names = list(DEGRADATIONS) if names is None else list(names)
    nrows = -(-(len(names) + 1) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows * image.shape[0] / image.shape[1]),
                             squeeze=False)
    panels = [("clean", image, None)]
    for name in names:
        clean = luminance(image) if DEGRADATIONS[name].grayscale_only else image
        out = degrade(clean, name, rng=rng)
        psnr = peak_signal_noise_ratio(clean, out, data_range=1.0)
        panels.append((f"{name}: {DEGRADATIONS[name].description}", out, psnr))
    for ax in axes.flat:
        ax.axis("off")
    for ax, (title, img, psnr) in zip(axes.flat, panels):
        ax.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=1)
        ax.set_title(title if psnr is None else f"{title}\n{psnr:.1f} dB", fontsize=8)
    fig.tight_layout()
    return fig

"""Medical degradations of the AMIR benchmark (App. A.1): MRI under-sampling, low-dose CT, low-count PET.

* ``mri_undersample``  keep the central 1/4 x 1/4 of k-space (6.25 %, AMIR's MRI task)
* ``low_dose_ct``      Poisson photon noise on the sinogram, filtered back-projection (AMIR's CT task)
* ``low_count_pet``    Poisson counting noise of a short / low-dose PET acquisition (AMIR's PET task)

Images are float32 (H, W) in [0, 1]; ``rng`` is a Generator or an int seed.
"""

from __future__ import annotations

import numpy as np
from skimage.filters import gaussian
from skimage.transform import iradon, radon

from .imageops import RngLike, as_image, as_rng, finish

def kspace_centre_mask(shape: tuple[int, int], factor: int = 4) -> np.ndarray:
    """Boolean (H, W) mask of the central ``round(H/factor) x round(W/factor)`` block of k-space.

    Coordinates are those of ``np.fft.fftshift(np.fft.fft2(image))`` (zero frequency at
    (H//2, W//2)). With ``factor=4`` the block holds 1/16 = 6.25 % of the samples, exactly
    when H and W are multiples of 4: Appendix A.1's "4x k-space downsampling (retaining
    6.25 % of central data)", i.e. 4x fewer frequencies along each axis.
    """
    h, w = shape
    kh, kw = max(1, round(h / factor)), max(1, round(w / factor))
    mask = np.zeros((h, w), bool)
    top, left = h // 2 - kh // 2, w // 2 - kw // 2
    mask[top:top + kh, left:left + kw] = True
    return mask


def mri_undersample(image, factor: int = 4, rng: RngLike = 0) -> np.ndarray:
    """Low-resolution MRI: keep the centre of k-space, zero-fill the rest, magnitude image.

    ``y = |IFFT(M * FFT(x))|`` with M = :func:`kspace_centre_mask`: what a scanner gives when
    it acquires only the low spatial frequencies (``factor`` x fewer per axis). The
    result keeps the image size; edges ring (Gibbs) and fine detail is lost.
    ``rng`` is accepted for a uniform interface; the operation is deterministic.
    """
    image = as_image(image, grayscale_only=True)
    kspace = np.fft.fftshift(np.fft.fft2(image))
    kspace[~kspace_centre_mask(image.shape, factor)] = 0
    return finish(np.abs(np.fft.ifft2(np.fft.ifftshift(kspace))))


CT_REFERENCE_WIDTH = 256
"""Pixels across which a uniform object of value 1 has line integral ``attenuation`` (fixes the pixel size)."""


def low_dose_ct(image, photons: float | None = 1e4, attenuation: float = 3.0, n_angles: int = 180,
                rng: RngLike = 0) -> np.ndarray:
    """Low-dose CT: Poisson photon noise on the sinogram, then filtered back-projection.

    The image is read as an attenuation map with a fixed pixel size: a ray crossing
    ``CT_REFERENCE_WIDTH`` = 256 pixels of value 1 has line integral ``attenuation``
    (3 -> 5 % of the photons pass). Detector counts are ``Poisson(photons * exp(-p))``; the
    noisy sinogram ``-log(counts / photons)`` is reconstructed with scikit-image's
    ``iradon`` (ramp filter). Because the pixel size is fixed, a small patch and a full
    image get the same noise level per pixel for the same dose.

    Args:
        photons: incident photons per detector bin and angle (dose); lower = noisier.
            ``None`` gives the noiseless reconstruction (the "normal-dose" reference,
            which differs from the image by the reconstruction's own small errors).
        attenuation: line integral across 256 pixels of value 1 (how dense the object is).
        n_angles: projection angles over 180 degrees. The slowest degradation here: about
            50 ms for 64 x 64 and 3 s for 512 x 512 on one CPU core.

    Non-square images are zero-padded to a square, reconstructed, and cropped back.
    """
    image = as_image(image, grayscale_only=True)
    h, w = image.shape
    side = max(h, w)
    square = np.zeros((side, side), np.float64)
    square[(side - h) // 2:(side - h) // 2 + h, (side - w) // 2:(side - w) // 2 + w] = image
    theta = np.linspace(0.0, 180.0, n_angles, endpoint=False)
    per_pixel = attenuation / CT_REFERENCE_WIDTH
    sinogram = radon(square, theta=theta, circle=False) * per_pixel
    if photons is not None:
        counts = np.maximum(as_rng(rng).poisson(photons * np.exp(-sinogram)), 1)
        sinogram = -np.log(counts / photons)
    recon = iradon(sinogram / per_pixel, theta=theta, filter_name="ramp", circle=False, output_size=side)
    return finish(recon[(side - h) // 2:(side - h) // 2 + h, (side - w) // 2:(side - w) // 2 + w])


def low_count_pet(image, counts: float = 50.0, resolution: float = 1.0, rng: RngLike = 0) -> np.ndarray:
    """Low-count PET: ``y = Poisson(counts * (g * x)) / counts``, g a Gaussian of ``resolution`` pixels.

    PET images count radioactive decays; a lower dose or a shorter scan records fewer of
    them, and the relative noise of a count N is 1/sqrt(N).

    Args:
        counts: expected decays recorded in a pixel of intensity 1 (the dose); lower = noisier.
        resolution: sigma (pixels) of the scanner's blur, applied before counting.
    """
    image = as_image(image, grayscale_only=True)
    blurred = gaussian(image, sigma=resolution, mode="reflect") if resolution > 0 else image
    return finish(as_rng(rng).poisson(counts * np.clip(blurred, 0, 1)) / counts)

"""Restore image files of any size: reading, tiled restoration, writing.

What :func:`read_image` accepts, and what happens to it:

============================ ==================================================================
input                        handling
============================ ==================================================================
8-bit RGB / grayscale        restored; grayscale through an RGB model is copied to 3 channels and
                             the result averaged back to one channel
RGBA, LA, palette with alpha the colour channels are restored, the alpha channel is kept unchanged
16-bit PNG (gray or colour)  read and written at 16 bits (colour 16-bit PNG through ``pypng``:
                             Pillow would silently drop it to 8 bits)
8/16-bit TIFF                via ``tifffile``
CMYK, YCbCr, 1-bit           converted to RGB / grayscale first
EXIF orientation (JPEG)      applied, so the output is upright
32-bit int / float images    accepted when the values fit 16 bits / [0, 1], else rejected
anything else, corrupt files :class:`ImageReadError` naming the file and the reason
============================ ==================================================================

Outputs are PNG files: 8-bit, or 16-bit when the input had 16 bits, alpha preserved.
Large images are restored in overlapping tiles (``exda_lite.training.tiling``) so memory stays
bounded by the tile size.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from .. import files
from .tiling import tiled_forward

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm", ".pgm")


class ImageReadError(ValueError):
    """A file that cannot be restored: unreadable, corrupt, or an unsupported kind of image."""


@dataclass
class LoadedImage:
    """An image as float32 pixels (H, W, C) in [0, 1], C = 1 or 3, plus what is needed to write it back."""

    pixels: np.ndarray
    alpha: np.ndarray | None  # (H, W) in [0, 1], or None
    bit_depth: int  # 8 or 16
    path: Path
    note: str = ""  # how the file was interpreted (shown to the user)


def png_header(path: Path) -> tuple[int, int] | None:
    """(bit depth, colour type) of a PNG file, or None if it is not a PNG."""
    with open(path, "rb") as f:
        head = f.read(29)
    if len(head) < 29 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return head[24], head[25]


def read_png16(path: Path) -> tuple[np.ndarray, int]:
    """A 16-bit PNG through pypng: (uint16 array (H, W, planes), planes)."""
    try:
        import png
    except ImportError as error:  # pragma: no cover - pypng is a dependency
        raise ImageReadError(f"{path}: 16-bit colour PNG needs the 'pypng' package (pip install pypng); "
                             "Pillow would silently reduce it to 8 bits") from error
    try:
        width, height, rows, info = png.Reader(filename=str(path)).asDirect()
        array = np.vstack([np.asarray(row, dtype=np.uint16) for row in rows])
    except Exception as error:  # noqa: BLE001 - pypng raises several error types for broken files
        raise ImageReadError(f"{path}: corrupt or truncated PNG ({error})") from error
    planes = info["planes"]
    return array.reshape(height, width, planes), planes


def split_alpha(array: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(H, W, C) with C in 1..4 -> colour (H, W, 1 or 3) and alpha (H, W) or None."""
    if array.ndim == 2:
        return array[:, :, None], None
    channels = array.shape[-1]
    if channels in (2, 4):
        return array[..., :channels - 1], array[..., channels - 1]
    if channels in (1, 3):
        return array, None
    raise ImageReadError(f"unsupported number of channels: {channels}")


def to_unit(array: np.ndarray, path: Path) -> tuple[np.ndarray, int]:
    """Integer/float pixels -> float32 in [0, 1] and the bit depth to write back (8 or 16)."""
    if array.dtype == np.uint8 or array.dtype == bool:
        return array.astype(np.float32) / (1 if array.dtype == bool else 255), 8
    if array.dtype == np.uint16:
        return array.astype(np.float32) / 65535, 16
    if np.issubdtype(array.dtype, np.integer):
        if array.min() >= 0 and array.max() <= 65535:
            return array.astype(np.float32) / 65535, 16
        raise ImageReadError(f"{path}: {array.dtype} pixels outside 0..65535 (min {array.min()}, max {array.max()}); "
                             "convert the image to 8 or 16 bits first")
    if np.issubdtype(array.dtype, np.floating):
        if np.isfinite(array).all() and array.min() >= 0 and array.max() <= 1:
            return array.astype(np.float32), 16
        raise ImageReadError(f"{path}: floating-point pixels outside [0, 1] (or NaN); "
                             "rescale to [0, 1] or convert to 8/16-bit integers first")
    raise ImageReadError(f"{path}: unsupported pixel type {array.dtype}")


def read_image(path) -> LoadedImage:
    """Read an image file for restoration (see the module docstring for what is accepted)."""
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"{path}: no such file")
    note = ""
    if path.suffix.lower() in (".tif", ".tiff"):
        import tifffile

        try:
            array = tifffile.imread(str(path))
        except Exception as error:  # noqa: BLE001
            raise ImageReadError(f"{path}: corrupt or unsupported TIFF ({error})") from error
        if array.ndim == 3 and array.shape[0] in (3, 4) and array.shape[-1] not in (1, 2, 3, 4):
            array = np.moveaxis(array, 0, -1)  # planar (C, H, W) TIFF
        if array.ndim not in (2, 3):
            raise ImageReadError(f"{path}: a TIFF of shape {array.shape}; expected one (H, W[, C]) image")
    else:
        header = png_header(path)
        if header is not None and header[0] == 16 and header[1] in (2, 4, 6):  # 16-bit RGB / gray+alpha / RGBA
            array, _ = read_png16(path)
            note = "16-bit PNG"
        else:
            try:
                image = Image.open(path)
                image.load()
            except UnidentifiedImageError as error:
                raise ImageReadError(f"{path}: not an image file Pillow can read ({error})") from error
            except (OSError, SyntaxError, ValueError) as error:
                raise ImageReadError(f"{path}: corrupt or truncated image ({error})") from error
            if getattr(image, "n_frames", 1) > 1:
                note = f"first of {image.n_frames} frames"
            image = ImageOps.exif_transpose(image)
            mode = image.mode
            if mode == "1":
                image = image.convert("L")
            elif mode in ("P", "PA"):
                image = image.convert("RGBA" if "transparency" in image.info or mode == "PA" else "RGB")
            elif mode in ("CMYK", "YCbCr", "LAB", "HSV"):
                image = image.convert("RGB")
                note = f"converted from {mode}"
            elif mode not in ("L", "LA", "RGB", "RGBA", "I", "I;16", "I;16B", "I;16L", "F"):
                raise ImageReadError(f"{path}: unsupported image mode {mode!r}")
            array = np.asarray(image)
            if image.mode.startswith("I;16"):
                array = array.astype(np.uint16)
    colour, alpha = split_alpha(np.asarray(array))
    pixels, depth = to_unit(colour, path)
    if alpha is not None:
        alpha, _ = to_unit(alpha, path)
        alpha = alpha.astype(np.float32)
    return LoadedImage(np.ascontiguousarray(pixels, dtype=np.float32), alpha, depth, path, note)


def write_png(path, pixels: np.ndarray, alpha: np.ndarray | None = None, bit_depth: int = 8) -> Path:
    """Write float pixels (H, W, 1|3) in [0, 1] (+ alpha) as an 8- or 16-bit PNG."""
    array = pixels if pixels.ndim == 3 else pixels[:, :, None]
    if alpha is not None:
        array = np.concatenate([array, alpha[:, :, None]], axis=-1)
    scale, dtype = (255, np.uint8) if bit_depth == 8 else (65535, np.uint16)
    array = np.round(np.clip(array, 0, 1) * scale).astype(dtype)
    planes = array.shape[-1]
    if bit_depth == 8 or planes == 1:
        image = Image.fromarray(array[..., 0] if planes == 1 else array)
        return files.atomic_write(path, lambda f: image.save(f, format="PNG"))
    import png

    height, width = array.shape[:2]
    writer = png.Writer(width, height, greyscale=planes in (1, 2), alpha=planes in (2, 4), bitdepth=16)
    return files.atomic_write(path, lambda f: writer.write(f, array.reshape(height, width * planes)))


def restore_pixels(model: torch.nn.Module, pixels: np.ndarray, tile: int | None = 256, overlap: int = 32,
                   precision: str = "fp32") -> tuple[np.ndarray, str]:
    """Restore float pixels (H, W, C); adapts gray/RGB to the model's channels. Returns (pixels, note)."""
    wanted = model.config.in_channels if hasattr(model, "config") else 3
    note = ""
    if pixels.shape[-1] == 1 and wanted == 3:
        pixels, back = np.repeat(pixels, 3, axis=-1), "gray"
        note = "grayscale input restored by the RGB model and averaged back to one channel"
    elif pixels.shape[-1] == 3 and wanted == 1:
        pixels, back = pixels.mean(axis=-1, keepdims=True), "none"
        note = "colour input converted to grayscale for this 1-channel (medical) model"
    else:
        back = "none"
    device = next(model.parameters()).device
    x = torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1)))[None]  # (1, C, H, W) on the CPU
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    with torch.autocast(device.type, dtype=dtype) if dtype is not None else nullcontext():
        y = tiled_forward(model, x, tile=tile, overlap=overlap)
    out = y[0].float().clamp(0, 1).numpy().transpose(1, 2, 0)
    if back == "gray":
        out = out.mean(axis=-1, keepdims=True)
    return out, note


def collect_inputs(inputs) -> list[Path]:
    """Files given directly, plus the image files (by suffix) directly inside given folders, sorted."""
    files = []
    for item in map(Path, inputs):
        if item.is_dir():
            files += sorted(p for p in item.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        elif item.exists():
            files.append(item)
        else:
            raise FileNotFoundError(f"{item}: no such file or folder")
    return files


def output_path_for(source: Path, output: Path | None, single: bool) -> Path:
    """Where the restored ``source`` goes: ``output`` itself for one file given as *.png, else a PNG in a folder."""
    if output is not None and single and output.suffix.lower() == ".png":
        return output
    folder = output if output is not None else source.parent / "restored"
    return folder / f"{source.stem}.png"


def restore_files(model: torch.nn.Module, inputs, output=None, tile: int | None = 256, overlap: int = 32,
                  precision: str = "fp32", log=print, measure=None) -> list[dict]:
    """Restore every input image; a file that fails is reported and skipped. Returns one dict per file.

    ``measure(image, restored_pixels) -> dict`` (e.g. ``scoring.ReferenceScorer``): its metrics join the
    file's report and its log line.
    """
    files = collect_inputs(inputs)
    if not files:
        raise FileNotFoundError(f"no image files ({', '.join(IMAGE_SUFFIXES)}) in {list(map(str, inputs))}")
    output = Path(output) if output is not None else None
    report = []
    for source in files:
        destination = output_path_for(source, output, single=len(files) == 1)
        if destination.resolve() == source.resolve():
            report.append({"input": str(source), "error": "the output would overwrite the input"})
            log(f"✗ {source}: the output would overwrite the input; choose another --output")
            continue
        try:
            image = read_image(source)
        except ImageReadError as error:
            report.append({"input": str(source), "error": str(error)})
            log(f"✗ {error}")
            continue
        restored, note = restore_pixels(model, image.pixels, tile=tile, overlap=overlap, precision=precision)
        write_png(destination, restored, image.alpha, image.bit_depth)
        notes = "; ".join(n for n in (image.note, note, "alpha kept" if image.alpha is not None else "") if n)
        height, width = image.pixels.shape[:2]
        scores = measure(image, restored) if measure is not None else {}
        report.append({"input": str(source), "output": str(destination), "size": [height, width],
                       "bit_depth": image.bit_depth, "note": notes, **scores})
        log(f"✓ {source} ({width}x{height}, {image.bit_depth}-bit) -> {destination}" + (f"  [{notes}]" if notes else "")
            + (f"  PSNR {scores['psnr']:.2f} dB, SSIM {scores['ssim']:.4f} (input {scores['psnr_input']:.2f} dB, "
               f"{scores['ssim_input']:.4f})" if "psnr" in scores else ""))
    return report


__all__ = ["IMAGE_SUFFIXES", "ImageReadError", "LoadedImage", "read_image", "write_png", "restore_pixels",
           "restore_files"]

"""``exda-lite restore --reference``: PSNR/SSIM of each restored image against its clean reference.

The numbers are those of ``exda-lite eval`` (``metrics.evaluate_pair`` on the restored float image,
before it is rounded into the PNG): the same protocol flags (``--protocol rgb|y|paper`` with ``--setting``,
``--border``), centre crop to a multiple of 16, PSNR with data range 1, scikit-image SSIM. References are
matched by file stem (``photo.jpg`` <-> ``reference/photo.png``), or given as one file for one input; every
input is matched before anything is restored, so a missing or mis-sized reference stops the run in one line.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from ..data.settings import DEMO
from .metrics import SSIM_WINDOW, evaluate_pair
from .restore import IMAGE_SUFFIXES, ImageReadError, read_image

METRIC_COLUMNS = ("image", "reference", "psnr", "ssim", "psnr_input", "ssim_input")


def match_references(files: list[Path], reference) -> dict[Path, Path]:
    """``{input: reference file}`` for every input; ``FileNotFoundError`` (one line) if one has none."""
    reference = Path(reference)
    if reference.is_file():
        if len(files) != 1:
            raise ValueError(f"--reference {reference} is one file, but {len(files)} inputs were given; "
                             "give a folder of references named like the inputs")
        return {files[0]: reference}
    if not reference.is_dir():
        raise FileNotFoundError(f"--reference {reference}: no such file or folder")
    by_stem = {p.stem: p for p in sorted(reference.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES}
    missing = [f for f in files if f.stem not in by_stem]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise FileNotFoundError(f"--reference: {missing[0]} has no reference named {missing[0].stem}.* in "
                                f"{reference}{more}; nothing was restored")
    matched = {f: by_stem[f.stem] for f in files}
    check_sizes(matched)
    return matched


def check_sizes(matched: dict[Path, Path]) -> None:
    """A one-line error for the first input whose reference has another size (read from the headers)."""
    from ..data.pairs import image_size

    for source, reference in matched.items():
        (size_in, _), (size_ref, _) = image_size(source), image_size(reference)
        if size_in and size_ref and size_in != size_ref:
            raise ValueError(f"--reference: {reference} is {size_ref[0]}x{size_ref[1]}, but {source} is "
                             f"{size_in[0]}x{size_in[1]}; nothing was restored")


def as_scored(pixels: np.ndarray) -> np.ndarray:
    """(H, W, 1) -> (H, W) so a gray image is scored as one channel (also under ``y_channel``)."""
    return pixels[..., 0] if pixels.ndim == 3 and pixels.shape[-1] == 1 else pixels


class ReferenceScorer:
    """Called by ``restore_files`` with each (input image, restored pixels): the metrics of both.

    Args:
        references: ``{input file: reference file}`` (``match_references``).
        y_channel, border, ssim: the protocol (``evaluate.protocol_of`` gives a setting's).
    """

    def __init__(self, references: dict[Path, Path], y_channel: bool = False, border: int = 0,
                 ssim: str = "uniform"):
        self.references = {Path(k).resolve(): Path(v) for k, v in references.items()}
        self.y_channel, self.border, self.ssim = y_channel, border, ssim
        self.rows: list[dict] = []

    def reference_pixels(self, image) -> tuple[Path, np.ndarray]:
        path = self.references[Path(image.path).resolve()]
        pixels = read_image(path).pixels
        if pixels.shape[:2] != image.pixels.shape[:2]:
            raise ImageReadError(f"{path}: reference is {pixels.shape[1]}x{pixels.shape[0]}, but "
                                 f"{image.path.name} is {image.pixels.shape[1]}x{image.pixels.shape[0]}")
        if pixels.shape[-1] != image.pixels.shape[-1]:  # gray vs colour: compare in the input's channels
            pixels = pixels.mean(axis=-1, keepdims=True) if pixels.shape[-1] == 3 else np.repeat(pixels, 3, -1)
        return path, pixels

    def __call__(self, image, restored: np.ndarray) -> dict:
        path, clean = self.reference_pixels(image)
        protocol = {"y_channel": self.y_channel, "border": self.border, "ssim": self.ssim}
        ours = evaluate_pair(as_scored(restored), as_scored(clean), **protocol)
        before = evaluate_pair(as_scored(image.pixels), as_scored(clean), **protocol)
        row = {"image": str(image.path), "reference": str(path), "psnr": ours["psnr"], "ssim": ours["ssim"],
               "psnr_input": before["psnr"], "ssim_input": before["ssim"]}
        self.rows.append(row)
        return row

    def mean(self) -> dict:
        """Mean of every metric over the scored images."""
        return {k: float(np.mean([r[k] for r in self.rows])) for k in METRIC_COLUMNS[2:]} if self.rows else {}

    def write_csv(self, path) -> Path:
        """One row per image, then a ``mean`` row (written atomically, ``exda_lite.files``)."""
        from .. import files

        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=METRIC_COLUMNS)
        writer.writeheader()
        writer.writerows(self.rows)
        writer.writerow({"image": "mean", "reference": "", **self.mean()})
        return files.write_text(path, text.getvalue())


def scorer_for(files: list[Path], reference, protocol: str = "rgb", setting: str = "", border=None):
    """A :class:`ReferenceScorer` with the protocol of ``--protocol``/``--setting``/``--border``."""
    from .evaluate import PROTOCOLS, protocol_of

    if protocol == "paper" and setting not in PROTOCOLS:
        raise ValueError(f"--protocol paper needs --setting (one of {', '.join(sorted(PROTOCOLS))})")
    y_channel, default_border = protocol_of(setting or DEMO.name, protocol)
    ssim = SSIM_WINDOW.get(setting, "uniform") if protocol == "paper" else "uniform"
    return ReferenceScorer(match_references(files, reference), y_channel,
                           default_border if border is None else int(border), ssim)

"""The benchmark file names that public lists fix (facts, read from ``data_scripts/lists/``).

Only names live here, never upstream code. Where no list is public, the scripts check counts
only (see data_scripts/README.md, "Where each name and count comes from").

* OTS (dehaze training, 3deg/5deg): PromptIR's ``hazy_outside.txt``, 72,135 hazy images of
  2,061 clear ones, stored compactly in ``lists/ots_promptir.txt``.
* BSD400 + WED (denoise training): PromptIR's ``denoise.txt``: WED ``00001.bmp`` .. ``04744.bmp``
  plus the 400 BSD names in ``lists/bsd400_promptir.txt``.
* Rain100L training: PromptIR's ``rainTrain.txt``: ``rainy/rain-1.png`` .. ``rain-200.png``; the
  clean partner of ``rain-N.png`` is ``gt/norain-N.png``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

LISTS = Path(__file__).resolve().parent / "lists"
OTS_A = ("0.8", "0.85", "0.9", "0.95", "1")
OTS_B = ("0.04", "0.06", "0.08", "0.1", "0.12", "0.16", "0.2")
WED_COUNT, RAIN100L_TRAIN = 4744, 200


def read_list(name: str) -> list[str]:
    """Lines of ``lists/<name>``, without comments and blank lines."""
    path = LISTS / name
    if not path.is_file():
        raise FileNotFoundError(f"name list {path} is missing; it ships with exda-lite's data_scripts/lists/")
    return [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]


@lru_cache(maxsize=None)
def ots_ids() -> tuple[tuple[str, str], ...]:
    """(part, clear image id) of every OTS clear image PromptIR uses: 2,061."""
    return tuple(tuple(line.split()) for line in read_list("ots_promptir.txt"))


@lru_cache(maxsize=None)
def ots_hazy() -> frozenset:
    """``partK/ID_A_B.jpg`` below ``Train/Dehaze/synthetic``: 72,135."""
    return frozenset(f"{part}/{i}_{a}_{b}.jpg" for part, i in ots_ids() for a in OTS_A for b in OTS_B)


@lru_cache(maxsize=None)
def ots_clear() -> frozenset:
    """``ID.jpg`` below ``Train/Dehaze/original``: 2,061."""
    return frozenset(f"{i}.jpg" for _, i in ots_ids())


@lru_cache(maxsize=None)
def bsd400() -> frozenset:
    return frozenset(read_list("bsd400_promptir.txt"))


@lru_cache(maxsize=None)
def wed() -> frozenset:
    return frozenset(f"{i:05d}.bmp" for i in range(1, WED_COUNT + 1))


def denoise_train() -> frozenset:
    """BSD400 + WED: 5,144 file names, flat in ``Train/Denoise``."""
    return bsd400() | wed()


def rain100l_rainy() -> frozenset:
    return frozenset(f"rain-{i}.png" for i in range(1, RAIN100L_TRAIN + 1))


def rain100l_gt() -> frozenset:
    return frozenset(f"norain-{i}.png" for i in range(1, RAIN100L_TRAIN + 1))

"""Your own data: ``degraded/`` + ``clean/`` folder pairs, one pair per task, matched by file stem.

A task is written ``NAME=DEGRADED_DIR:CLEAN_DIR`` (optionally ``:REPEAT``, how many times its list is
repeated per training epoch, like PromptIR's task balance), e.g. on the command line::

    exda-lite train --setting pairs --pairs noise=data/noisy:data/clean rain=data/rainy:data/clean:4

or as a small JSON (or YAML, if PyYAML is installed) spec file, ``--pairs spec.json``; relative folders
are read from the spec file's folder, and an optional ``"test"`` entry holds separate test pairs (what
``exda-lite eval`` scores; without one it scores the training pairs given)::

    {"train": {"noise": {"degraded": "noisy", "clean": "clean", "repeat": 1},
               "rain": {"degraded": "rainy", "clean": "clean", "repeat": 4}},
     "test": {"noise": {"degraded": "test/noisy", "clean": "test/clean"}}}

Files pair by stem (``0001.png`` <-> ``0001.jpg``), in the folder itself and its subfolders (the stem
includes the subfolder). Every pair of every task is checked before anything runs: a file without its
partner, two files with one stem, a pair of different sizes or an unreadable file raise ``DataLayoutError``
in one line naming the file (and how many other problems there are), so no run starts on half a dataset.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from .datasets import PairedImageDataset, Sample
from .layout import IMAGE_EXTENSIONS, DataLayoutError


@dataclass(frozen=True)
class PairTask:
    """One task of your own data: its name, the two folders, and its repetition per training epoch."""

    name: str
    degraded: Path
    clean: Path
    repeat: int = 1


def parse_task(text: str, base: Path | None = None) -> PairTask:
    """``NAME=DEGRADED_DIR:CLEAN_DIR[:REPEAT]`` -> :class:`PairTask` (relative folders from ``base``)."""
    name, eq, rest = str(text).partition("=")
    parts = rest.split(":")
    if not eq or not name or len(parts) not in (2, 3) or not all(parts[:2]):
        raise ValueError(f"pairs: {text!r} is not NAME=DEGRADED_DIR:CLEAN_DIR[:REPEAT] "
                         "(e.g. noise=data/noisy:data/clean or noise=data/noisy:data/clean:3)")
    repeat = parts[2] if len(parts) == 3 else "1"
    return make_task(name, parts[0], parts[1], repeat, base)


def make_task(name: str, degraded, clean, repeat=1, base: Path | None = None) -> PairTask:
    if not str(repeat).isdigit() or int(repeat) < 1:
        raise ValueError(f"pairs: task {name!r}: repeat must be a positive integer, got {repeat!r}")
    base = Path(base) if base is not None else Path()
    return PairTask(str(name), base / Path(degraded).expanduser(), base / Path(clean).expanduser(), int(repeat))


def read_spec(path: Path) -> dict:
    """A JSON (or YAML) spec file as a dict with ``train`` (and maybe ``test``) entries."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"pairs: spec file {path} does not exist")
    text = path.read_text()
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            spec = yaml.safe_load(text)
        else:
            spec = json.loads(text)
    except ImportError:
        raise ImportError(f"pairs: {path} is YAML: pip install pyyaml (or write the spec as JSON)") from None
    except Exception as error:  # noqa: BLE001 - json and yaml raise their own errors
        raise ValueError(f"pairs: cannot read spec file {path}: {str(error).splitlines()[0]}") from None
    if not isinstance(spec, dict) or not isinstance(spec.get("train", spec.get("tasks")), dict):
        raise ValueError(  # noqa: TRY004 - a malformed file, reported like the other spec errors
            f'pairs: spec file {path} needs a "train" object: {{"train": {{"noise": {{"degraded": '
                         '"DIR", "clean": "DIR", "repeat": 1}}}}, "test": {{...}} (optional)}}')
    return spec


def spec_tasks(entries: dict, base: Path, where: str) -> list[PairTask]:
    tasks = []
    for name, entry in entries.items():
        if not isinstance(entry, dict) or not {"degraded", "clean"} <= set(entry):
            raise ValueError(f'pairs: {where}: task {name!r} needs "degraded" and "clean" folders')
        tasks.append(make_task(name, entry["degraded"], entry["clean"], entry.get("repeat", 1), base))
    return tasks


def parse_pairs(items, split: str = "train") -> list[PairTask]:
    """The tasks of ``--pairs`` items (``NAME=DEG:CLEAN[:REPEAT]`` each, or one spec file).

    ``split="test"``: a spec file's ``"test"`` entry if it has one, else its training tasks.
    """
    items = [items] if isinstance(items, (str, Path)) else list(items or ())
    if not items:
        raise ValueError("pairs: no tasks given; use --pairs NAME=DEGRADED_DIR:CLEAN_DIR ... or --pairs spec.json")
    if len(items) == 1 and "=" not in str(items[0]) and (
            Path(items[0]).suffix.lower() in (".json", ".yaml", ".yml") or Path(items[0]).is_file()):
        path = Path(items[0])
        spec = read_spec(path)
        entries = spec.get("test") if split == "test" and isinstance(spec.get("test"), dict) else \
            spec.get("train", spec.get("tasks"))
        tasks = spec_tasks(entries, path.parent, str(path))
    else:
        tasks = [parse_task(item) for item in items]
    names = [t.name for t in tasks]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates or not tasks:
        raise ValueError(f"pairs: task names must be unique and at least one given, got {names}")
    return tasks


def images_by_stem(folder: Path) -> tuple[dict[str, Path], list[str]]:
    """``{stem relative to folder: file}`` of the images under ``folder``, and the problems (duplicate stems)."""
    found: dict[str, Path] = {}
    problems = []
    for top, _, names in os.walk(folder):
        for name in sorted(names):
            if os.path.splitext(name)[1].lower() not in IMAGE_EXTENSIONS:
                continue
            path = Path(top) / name
            stem = path.relative_to(folder).with_suffix("").as_posix()
            if stem in found:
                problems.append(f"{path}: two files with the stem {stem!r} (the other is {found[stem].name})")
            found.setdefault(stem, path)
    return dict(sorted(found.items())), problems


def image_size(path: Path) -> tuple[tuple[int, int] | None, str | None]:
    """((width, height), None) of a readable image file, else (None, the reason)."""
    try:
        with Image.open(path) as image:
            size = image.size
            image.verify()  # checks the file's structure without decoding all of it
        return size, None
    except Exception as error:  # noqa: BLE001 - Pillow raises many kinds of errors for broken files
        return None, f"{path}: unreadable image ({str(error).splitlines()[0][:80] or type(error).__name__})"


def task_problems(task: PairTask) -> tuple[list[tuple[Path, Path]], list[str]]:
    """The matched ``(degraded, clean)`` files of ``task`` and every problem found, one line each."""
    for folder, what in ((task.degraded, "degraded"), (task.clean, "clean")):
        if not folder.is_dir():
            return [], [f"task {task.name!r}: the {what} folder {folder} does not exist"]
    degraded, problems = images_by_stem(task.degraded)
    clean, more = images_by_stem(task.clean)
    problems += more
    if not degraded or not clean:
        empty = task.degraded if not degraded else task.clean
        return [], problems + [f"task {task.name!r}: no images ({', '.join(IMAGE_EXTENSIONS)}) in {empty}"]
    problems += [f"{path}: no clean partner with the stem {stem!r} in {task.clean}"
                 for stem, path in degraded.items() if stem not in clean]
    problems += [f"{path}: no degraded partner with the stem {stem!r} in {task.degraded}"
                 for stem, path in clean.items() if stem not in degraded]
    pairs = []
    for stem in (s for s in degraded if s in clean):
        (size_d, bad_d), (size_c, bad_c) = image_size(degraded[stem]), image_size(clean[stem])
        problems += [bad for bad in (bad_d, bad_c) if bad]
        if size_d and size_c and size_d != size_c:
            problems.append(f"{degraded[stem]}: {size_d[0]}x{size_d[1]} pixels, but its clean partner "
                            f"{clean[stem].name} is {size_c[0]}x{size_c[1]}")
        pairs.append((degraded[stem], clean[stem]))
    return pairs, problems


def check_pairs(tasks: list[PairTask]) -> dict[str, list[tuple[Path, Path]]]:
    """Every task's matched pairs, after checking all of them; ``DataLayoutError`` (one line) on any problem."""
    matched, problems = {}, []
    for task in tasks:
        pairs, found = task_problems(task)
        matched[task.name] = pairs
        problems += found
    if problems:
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        raise DataLayoutError(f"pairs: {problems[0]}{more}; nothing was run: fix the folders and try again")
    return matched


def pair_samples(tasks: list[PairTask], repeat: bool = True) -> list[Sample]:
    """The checked pairs of every task as ``Sample``s, each task's list repeated ``task.repeat`` times."""
    matched = check_pairs(tasks)
    samples = []
    for task in tasks:
        base = [Sample(d, c, task.name) for d, c in matched[task.name]]
        samples += base * (task.repeat if repeat else 1)
    return samples


class FolderPairs(PairedImageDataset):
    """Your own folder pairs as ``(degraded, clean, label)``; ``label`` is the task's index.

    Args:
        pairs: ``--pairs`` items (``NAME=DEG:CLEAN[:REPEAT]``) or a spec file, or a list of :class:`PairTask`.
        split: "train" (random ``patch_size`` crops + flips, tasks repeated) or "test" (full images,
            centre-cropped to a multiple of 16, each pair once; a spec file's ``"test"`` entry if any).
        patch_size, seed, channels: see :class:`PairedImageDataset`.
    """

    def __init__(self, pairs, split: str = "train", patch_size: int = 128, seed: int = 0, channels: int = 3):
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        given = [pairs] if isinstance(pairs, (str, Path)) else list(pairs or ())
        tasks = given if given and isinstance(given[0], PairTask) else parse_pairs(given, split)
        train = split == "train"
        super().__init__(pair_samples(tasks, repeat=train), [t.name for t in tasks],
                         patch_size=patch_size if train else None, seed=seed, channels=channels)
        self.pair_tasks = tasks


def write_demo_pairs(root, degradations=("noise", "rain"), size: int = 128) -> Path:
    """Folder pairs to try the ``pairs`` setting offline: ``root/{train,test}/{clean,<degradation>}/<photo>.png``.

    The demo photos (10 train, 3 test; ``demo_data``), centre-cropped to ``size``, degraded by
    ``degradations`` with a fixed seed per photo. Returns ``root``.
    """
    import numpy as np

    from .degradations import degrade
    from .demo_data import TEST_PHOTOS, TRAIN_PHOTOS, demo_photo

    root = Path(root)
    for split, photos in (("train", TRAIN_PHOTOS), ("test", TEST_PHOTOS)):
        for k, name in enumerate(photos):
            photo = demo_photo(name)
            top, left = (photo.shape[0] - size) // 2, (photo.shape[1] - size) // 2
            clean = photo[max(top, 0):max(top, 0) + size, max(left, 0):max(left, 0) + size]
            images = {"clean": clean} | {d: degrade(clean, d, rng=k) for d in degradations}
            for folder, pixels in images.items():
                path = root / split / folder / f"{name}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(np.round(np.clip(pixels, 0, 1) * 255).astype(np.uint8)).save(path)
    return root

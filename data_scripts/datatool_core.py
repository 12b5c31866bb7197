"""The data scripts' tables (Place, Source, Expect, Setting), errors, hashing, the manifest and atomic writes.

Part of the engine of ``datatool.py`` (which re-exports every name); standard library only."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path



IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".npy")
MIRROR_ENV = "EXDA_DATA_MIRROR"
DATA_ENV = "EXDA_DATA"
CHUNK = 1 << 20
GiB = 1 << 30


# --------------------------------------------------------------------------- tables

@dataclass(frozen=True)
class Place:
    """Move the staged files whose relative path matches ``pattern`` (re.search, case-insensitive)
    into ``dest`` under the root. A named group ``keep`` keeps that part of the path below ``dest``;
    otherwise files are put flat into ``dest``.

    ``allow``: when given, only files whose path below ``dest`` (the ``keep`` part, else the file
    name) is in this set are moved; the others matched but are not part of the benchmark (e.g. the
    OTS images outside PromptIR's list) and stay in ``staging/``, counted as "not in the list".
    """

    pattern: str
    dest: str
    allow: frozenset | None = None


@dataclass(frozen=True)
class Source:
    """One downloadable piece of a setting.

    Exactly one of ``gdrive_file``, ``gdrive_folder``, ``url`` or ``manual`` says where it comes
    from; ``filename`` is its name under ``downloads/`` (and on a mirror). ``optional`` sources
    are only fetched with ``--only NAME``.
    """

    name: str
    what: str
    filename: str
    places: tuple[Place, ...]
    gdrive_file: str | None = None
    gdrive_folder: str | None = None
    url: str | None = None
    manual: str | None = None
    size: str = "?"
    licence: str = ""
    optional: bool = False


@dataclass(frozen=True)
class Expect:
    """A folder of the final layout and how many images it must hold (None: not published, >= 1).

    ``names``: when a public list of the folder's files exists, their paths relative to ``folder``;
    ``verify`` then names every listed file that is missing.
    """

    split: str
    what: str
    folder: str
    count: int | None
    names: frozenset | None = None
    optional: bool = False  # an optional source's folder: absent is fine, present must be complete


@dataclass(frozen=True)
class Setting:
    name: str
    subdir: str
    description: str
    sources: tuple[Source, ...]
    expected: tuple[Expect, ...]
    extra_prepare: object = None  # optional callable(root) run at the end of prepare
    notes: tuple[str, ...] = field(default_factory=tuple)
    # (degraded folder, clean folder) pairs: verify names every file whose partner is missing
    pairs: tuple[tuple[str, str], ...] = ()
    # optional callable(root) -> (problems, warnings), lists of one-line texts; problems fail verify
    extra_verify: object = None


# --------------------------------------------------------------------------- errors

class DataToolError(RuntimeError):
    """A step failed; the message says what to do."""


class DownloadError(DataToolError):
    pass


class ChecksumError(DataToolError):
    pass


class UnsafeArchiveError(DataToolError):
    pass


# --------------------------------------------------------------------------- hashing and manifest

def human(size: float) -> str:
    """Bytes as text: 512 B, 1.5 KiB, 21.0 GiB."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"  # pragma: no cover


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def load_manifest(path: Path) -> dict:
    path = Path(path)
    if not path.exists():
        return {"files": {}}
    return json.loads(path.read_text())


def record(downloads: Path, file: Path, origin: str, expected: dict | None = None) -> dict:
    """Hash ``file`` (under ``downloads``), check it against ``expected`` (another machine's
    manifest entry), then add it to ``downloads/manifest.json``; returns its entry.

    A mismatch moves the file aside to ``<name>.corrupt`` and raises ``ChecksumError``;
    nothing is recorded for it.
    """
    entry = {"sha256": sha256_of(file), "size": file.stat().st_size, "origin": origin,
             "fetched": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    if expected and expected.get("sha256") and expected["sha256"] != entry["sha256"]:
        bad = file.with_name(file.name + ".corrupt")
        os.replace(file, bad)
        raise ChecksumError(f"{file.name}: sha256 {entry['sha256'][:16]}... differs from the manifest's "
                            f"{expected['sha256'][:16]}... ({entry['size']} bytes, expected {expected.get('size')}); "
                            f"moved aside to {bad.name}. Run the download again to fetch it afresh.")
    manifest_path = downloads / "manifest.json"
    manifest = load_manifest(manifest_path)
    manifest["files"][file.relative_to(downloads).as_posix()] = entry
    write_atomic(manifest_path, json.dumps(manifest, indent=2, sort_keys=True).encode())
    return entry


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` through a uniquely named temporary file beside ``path``, fsync, rename; on any error
    the temporary file is removed and ``path`` is untouched (exda_lite.files does the same; this file
    does not import exda_lite)."""
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below, kept by name for the rename
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False)
    try:
        with handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(handle.name, 0o644)
        os.replace(handle.name, path)
    except BaseException as err:
        Path(handle.name).unlink(missing_ok=True)
        if isinstance(err, OSError) and full_disk(err) and not err.filename:
            raise OSError(err.errno, err.strerror, str(path)) from err  # name the file in the one-line error
        raise


def full_disk(err: BaseException) -> OSError | None:
    """The "no space left on device" (or quota) OSError behind ``err``, or None."""
    while err is not None:
        if isinstance(err, OSError) and err.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            return err
        err = err.__cause__ or err.__context__
    return None


def selected(setting: Setting, only) -> list[Source]:
    if not only:
        return [s for s in setting.sources if not s.optional]
    names = {s.name: s for s in setting.sources}
    unknown = [n for n in only if n not in names]
    if unknown:
        raise DataToolError(f"unknown source(s) {unknown}; {setting.name} has {sorted(names)}")
    return [names[n] for n in only]

"""Shared engine of the data scripts: download, prepare (safe extraction + layout) and verify.

Each setting's script (``3deg.py``, ``5deg.py``, ``cdd11.py``, ``allweather.py``,
``weatherbench.py``, ``medical.py``) is a small table of ``Source``s (where each piece
comes from and how its files are placed) and ``Expect``s (the layout and its published
counts), handed to :func:`main`. Run ``python data_scripts/<setting>.py --help``.

Folders under ``--root`` (default ``$EXDA_DATA/<subdir>``, else ``~/.cache/exda-lite/<subdir>``,
the rule of ``exda_lite.course.notebook.default_data_dir``):

* ``downloads/``  what was fetched, plus ``manifest.json``: sha256, size and origin of every file
* ``staging/``    archives extracted, one folder per source (delete it after ``prepare``); images of
  sources placed as folders are hard-linked from ``downloads/`` into the layout instead
* ``verify-missing.txt``  written by ``verify``: every missing file it could name
* everything else: the layout the dataset classes in ``exda_lite.data.datasets`` read

Downloads: Google Drive through gdown, other hosts through urllib with HTTP Range resume
(rerun the same command after an interruption). ``--mirror URL`` (or ``$EXDA_DATA_MIRROR``)
fetches every source as ``URL/<filename>`` instead (a lab mirror, or the tests' local
server). ``--manifest FILE`` checks each fetched file against the sha256 recorded by
another machine. Sources with no automatic download print exact instructions.

Public name lists (``lists/``, via ``names.py``) restrict what ``prepare`` places (``Place.allow``) and let
``verify`` name missing files (``Expect.names``); ``Setting.pairs`` lets it name files whose partner is
missing. Extraction refuses, before writing anything: members with absolute paths or ``..`` that
would land outside the target, links pointing outside it, device files, and absurd sizes
(total, per member, compression ratio, free disk).

This file deliberately does not import torch or exda_lite: a download machine needs only
the standard library, tqdm and gdown.
"""

from __future__ import annotations

import argparse
import errno
import hashlib
import http.client
import json
import os
import re
import shutil
import stat
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
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


def verify_downloads(downloads: Path) -> list[tuple[str, str]]:
    """Re-hash every file in ``downloads/manifest.json``: [(file, "ok" | "MISSING" | "CHANGED")]."""
    rows = []
    for name, entry in sorted(load_manifest(downloads / "manifest.json")["files"].items()):
        path = downloads / name
        if not path.exists():
            rows.append((name, "MISSING"))
        else:
            rows.append((name, "ok" if sha256_of(path) == entry["sha256"] else "CHANGED"))
    return rows


# --------------------------------------------------------------------------- HTTP download with resume

def http_download(url: str, dest: Path, expected: dict | None = None, quiet: bool = False, timeout: float = 60) -> Path:
    """Fetch ``url`` to ``dest``, resuming a previous ``dest.part`` with an HTTP Range request.

    The file only gets its final name once complete (size as announced by the server, and
    sha256/size equal to ``expected`` when given). An interrupted transfer keeps the
    ``.part`` file and raises ``DownloadError``: run again to resume.
    """
    from tqdm.auto import tqdm

    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    offset = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": "exda-lite-data-scripts"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and offset:  # nothing left to send: the .part holds everything
            response = None
        else:
            raise DownloadError(f"{url}: HTTP {err.code} {err.reason}. Check the link (or --mirror) "
                                "and retry.") from err
    except (urllib.error.URLError, OSError) as err:
        raise DownloadError(f"{url}: cannot connect ({err}). Check the network and retry.") from err
    total = None
    if response is not None:
        with response:
            resumed = offset and response.status == 206
            length = response.headers.get("Content-Length")
            if not resumed:
                offset = 0  # the server ignored Range: start over
            total = offset + int(length) if length is not None else None
            with open(part, "ab" if resumed else "wb") as out, \
                    tqdm(total=total, initial=offset, unit="B", unit_scale=True, desc=dest.name, disable=quiet) as bar:
                try:
                    for block in iter(lambda: response.read(CHUNK), b""):
                        out.write(block)
                        bar.update(len(block))
                except (http.client.IncompleteRead, OSError) as err:
                    if full_disk(err):
                        have = part.stat().st_size
                        raise DownloadError(
                            f"no space left on device while writing {part} ({human(total - have) if total else 'the rest'}"
                            f" more needed); the {human(have)} downloaded so far are kept in it: free space and run "
                            "the same command again to resume") from err
                    raise DownloadError(f"{dest.name}: transfer interrupted after {part.stat().st_size} bytes "
                                        f"({err.__class__.__name__}); run the same command again to resume") from err
    size = part.stat().st_size
    if total is not None and size != total:
        raise DownloadError(f"{dest.name}: got {size} of {total} bytes; run the same command again to resume")
    if expected and expected.get("size") is not None and size != expected["size"]:
        if size < expected["size"]:
            raise DownloadError(f"{dest.name}: got {size} of {expected['size']} bytes (per the manifest); "
                                "run the same command again to resume")
        os.replace(part, dest.with_name(dest.name + ".corrupt"))
        raise ChecksumError(f"{dest.name}: {size} bytes, but the manifest says {expected['size']}; moved aside "
                            f"to {dest.name}.corrupt. Run the download again to fetch it afresh.")
    os.replace(part, dest)
    return dest


# --------------------------------------------------------------------------- Google Drive (gdown)

def gdown_module():
    try:
        import gdown
    except ImportError as err:
        raise DataToolError("Google Drive downloads need gdown: pip install gdown (it is in exda-lite's "
                            "dependencies)") from err
    return gdown


def drive_failure(source: Source, err: Exception) -> DownloadError:
    link = (f"https://drive.google.com/drive/folders/{source.gdrive_folder}" if source.gdrive_folder
            else f"https://drive.google.com/file/d/{source.gdrive_file}/view")
    return DownloadError(f"{source.name}: Google Drive refused the download ({err}). Drive often does this "
                         f"after too many downloads of a public file (quota) - retry later, or open {link} in a "
                         f"browser and save it as downloads/{source.filename} (a folder: into downloads/"
                         f"{source.name}/), then run prepare.")


# --------------------------------------------------------------------------- download step

def fetch(source: Source, downloads: Path, mirror: str | None, expected_manifest: dict, quiet: bool) -> list[str]:
    """Fetch one source into ``downloads``, check and record it; returns the manifest names written."""
    target = downloads / source.filename
    expected = expected_manifest.get(source.filename)
    if mirror or source.url:
        url = f"{mirror.rstrip('/')}/{source.filename}" if mirror else source.url
        if not target.exists():
            http_download(url, target, expected, quiet=quiet)
        record(downloads, target, url, expected)
        return [source.filename]
    gdown = gdown_module()
    if source.gdrive_file:
        if not target.exists():
            try:
                gdown.download(id=source.gdrive_file, output=str(target), quiet=quiet, resume=True)
            except Exception as err:  # gdown raises several types; all mean "Drive said no"
                raise drive_failure(source, err) from err
        record(downloads, target, f"gdrive:{source.gdrive_file}", expected)
        return [source.filename]
    folder = downloads / source.name
    try:
        gdown.download_folder(id=source.gdrive_folder, output=str(folder), quiet=quiet, resume=True)
    except Exception as err:
        raise drive_failure(source, err) from err
    names = []
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = file.relative_to(downloads).as_posix()
        record(downloads, file, f"gdrive-folder:{source.gdrive_folder}", expected_manifest.get(name))
        names.append(name)
    return names


def manual_instructions(source: Source, root: Path) -> str:
    return (f"[{source.name}] {source.what}: no automatic download.\n    {source.manual}\n"
            f"    Put the file(s) in {root / 'downloads' / source.name}/ (archives or folders), then run prepare.")


def do_download(setting: Setting, root: Path, only, mirror: str | None, manifest: Path | None, quiet: bool) -> int:
    downloads = root / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    expected = load_manifest(manifest)["files"] if manifest else {}
    failures, manual = [], []
    for source in selected(setting, only):
        if source.manual and not mirror:
            folder, single = downloads / source.name, downloads / source.filename
            placed = sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []
            placed += [single] if single.is_file() else []
            if placed:
                try:
                    for file in placed:
                        record(downloads, file, "manual", expected.get(file.relative_to(downloads).as_posix()))
                    print(f"[{source.name}] found {len(placed)} file(s) you placed; recorded their sha256")
                except DataToolError as err:
                    failures.append(f"[{source.name}] {err}")
            else:
                manual.append(manual_instructions(source, root))
            continue
        try:
            names = fetch(source, downloads, mirror, expected, quiet)
            print(f"[{source.name}] ok: {', '.join(names)}")
        except DataToolError as err:
            failures.append(f"[{source.name}] {err}")
    for text in manual:
        print("\nACTION NEEDED " + text)
    for text in failures:
        print("\nFAILED " + text, file=sys.stderr)
    print(f"\nmanifest: {downloads / 'manifest.json'} (copy it to another machine and pass --manifest to check "
          "its downloads)")
    return 1 if failures else 0


def selected(setting: Setting, only) -> list[Source]:
    if not only:
        return [s for s in setting.sources if not s.optional]
    names = {s.name: s for s in setting.sources}
    unknown = [n for n in only if n not in names]
    if unknown:
        raise DataToolError(f"unknown source(s) {unknown}; {setting.name} has {sorted(names)}")
    return [names[n] for n in only]


# --------------------------------------------------------------------------- safe extraction

def archive_kind(path: Path) -> str | None:
    if zipfile.is_zipfile(path):
        return "zip"
    if tarfile.is_tarfile(path):
        return "tar"
    return None


def inside(target: Path, relative: str) -> bool:
    """Would ``target / relative`` stay inside ``target`` (lexically, no symlinks followed)?"""
    if os.path.isabs(relative) or re.match(r"^[A-Za-z]:", relative) or "\\" in relative:
        return False
    joined = os.path.normpath(os.path.join(str(target), relative))
    return os.path.commonpath([joined, str(target)]) == str(target)


def archive_members(archive: Path, kind: str) -> list[dict]:
    """name, size, compressed size, type ("file", "dir", "symlink", "hardlink", "other") and link target."""
    members = []
    if kind == "zip":
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                mode = info.external_attr >> 16
                kind_of = "symlink" if stat.S_ISLNK(mode) else ("dir" if info.is_dir() else "file")
                members.append({"name": info.filename, "size": info.file_size, "packed": info.compress_size,
                                "type": kind_of, "link": None})
    else:
        with tarfile.open(archive) as tf:
            for info in tf.getmembers():
                kind_of = ("file" if info.isreg() else "dir" if info.isdir() else "symlink" if info.issym()
                           else "hardlink" if info.islnk() else "other")
                members.append({"name": info.name, "size": info.size, "packed": None, "type": kind_of,
                                "link": info.linkname or None})
    return members


def check_archive(archive: Path, target: Path, max_total_bytes: int, max_member_bytes: int, max_members: int,
                  max_ratio: float, ratio_floor_bytes: int = 100 << 20) -> tuple[str, int]:
    """Every reason to refuse ``archive``, checked before anything is written. Returns (kind, total bytes)."""
    kind = archive_kind(archive)
    if kind is None:
        raise UnsafeArchiveError(f"{archive.name} is neither a zip nor a tar archive (an HTML error page from the "
                                 "host? a truncated download?); delete it and download again")
    members = archive_members(archive, kind)
    problems = []
    if len(members) > max_members:
        problems.append(f"{len(members)} members (limit {max_members})")
    total = 0
    for m in members:
        name = m["name"]
        if not inside(target, name):
            problems.append(f"{name!r} would be written outside the target folder")
        if m["type"] == "other":
            problems.append(f"{name!r} is a device, fifo or other special file")
        if m["type"] == "symlink":
            if kind == "zip":
                problems.append(f"{name!r} is a symbolic link (not allowed in zip archives here)")
            elif not inside(target, os.path.join(os.path.dirname(name), m["link"])) or os.path.isabs(m["link"]):
                problems.append(f"{name!r} is a link to {m['link']!r}, outside the target folder")
        if m["type"] == "hardlink" and not inside(target, m["link"]):
            problems.append(f"{name!r} is a hard link to {m['link']!r}, outside the target folder")
        if m["size"] > max_member_bytes:
            problems.append(f"{name!r} unpacks to {human(m['size'])} (limit {human(max_member_bytes)})")
        if m["packed"] and m["size"] > ratio_floor_bytes and m["size"] / m["packed"] > max_ratio:
            problems.append(f"{name!r} expands {m['size'] / m['packed']:.0f}x (a zip bomb?)")
        total += m["size"]
    if total > max_total_bytes:
        problems.append(f"the archive unpacks to {human(total)} (limit {human(max_total_bytes)})")
    if total > ratio_floor_bytes and total > max_ratio * archive.stat().st_size:
        problems.append(f"the archive expands {total / archive.stat().st_size:.0f}x (a decompression bomb?)")
    if problems:
        shown = "\n  ".join(problems[:10]) + (f"\n  ... and {len(problems) - 10} more" if len(problems) > 10 else "")
        raise UnsafeArchiveError(f"refusing to extract {archive.name} into {target}; nothing was written:\n  {shown}\n"
                                 "Delete the archive; if it came from the official host, report it.")
    existing = target if target.exists() else next(p for p in target.parents if p.exists())
    free = shutil.disk_usage(existing).free
    if total > free:
        raise UnsafeArchiveError(f"{archive.name} unpacks to {human(total)} but {existing} has only "
                                 f"{human(free)} free; free some space or use another --root")
    return kind, total


def safe_extract(archive: Path, target: Path, max_total_bytes: int = 256 * GiB, max_member_bytes: int = 16 * GiB,
                 max_members: int = 2_000_000, max_ratio: float = 200.0, ratio_floor_bytes: int = 100 << 20) -> int:
    """Extract a zip/tar(.gz/.bz2/.xz) archive into ``target`` after :func:`check_archive` accepts it.

    Limits: ``max_total_bytes`` unpacked in all, ``max_member_bytes`` per member, ``max_members``
    entries, and an expansion ratio above ``max_ratio`` for members (zip) or archives bigger
    than ``ratio_floor_bytes`` (images hardly compress, so a 200x expansion is a bomb).
    Returns the number of bytes unpacked. Tar extraction also uses Python's ``"data"``
    extraction filter where available (Python >= 3.11.4 / 3.12), a second line of defence.
    """
    archive, target = Path(archive), Path(target).resolve()
    kind, total = check_archive(archive, target, max_total_bytes, max_member_bytes, max_members, max_ratio,
                                ratio_floor_bytes)
    target.mkdir(parents=True, exist_ok=True)
    if kind == "zip":
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(target)
    else:
        with tarfile.open(archive) as tf:
            if hasattr(tarfile, "data_filter"):
                tf.extractall(target, filter="data")
            else:  # pragma: no cover - old Pythons; check_archive already vetted every member
                tf.extractall(target)
    return total


# --------------------------------------------------------------------------- prepare step

def walk_files(folder: Path) -> list[str]:
    """Every file below ``folder`` as a sorted list of '/'-separated relative paths (os.walk: fast on 100,000s)."""
    out = []
    for top, _, files in os.walk(folder):
        rel = os.path.relpath(top, folder)
        prefix = "" if rel == "." else rel.replace(os.sep, "/") + "/"
        out += [prefix + name for name in files]
    return sorted(out)


def stage(source: Source, root: Path) -> list[tuple[Path, bool]] | None:
    """Extract a source's archives into ``staging/<name>/``; returns the trees to place files from.

    Each tree is ``(folder, move)``: ``staging/<name>/`` (extracted archives: files are moved out of
    it) and, when the source was placed as a folder, ``downloads/<name>/`` itself (its images are
    hard-linked into the layout, so downloads/ stays whole and no second copy is made). None when
    nothing was downloaded. Only non-image files are probed for being archives.
    """
    downloads, staging = root / "downloads", root / "staging" / source.name
    folder = downloads / source.name
    trees = [(folder, False)] if folder.is_dir() else []
    done = staging / ".extracted"
    if done.exists():
        return [(staging, True)] + trees
    inputs = [p for p in (downloads / source.filename, folder) if p.exists()]
    if not inputs:
        return None
    staging.mkdir(parents=True, exist_ok=True)
    for item in inputs:
        relatives = walk_files(item) if item.is_dir() else [item.name]
        for relative in relatives:
            ext = os.path.splitext(relative)[1].lower()
            if relative.endswith((".part", ".corrupt")) or ext in IMAGE_SUFFIXES or relative == "manifest.json":
                continue
            file = item / relative if item.is_dir() else item
            if archive_kind(file):
                print(f"  extracting {file.name} ...")
                safe_extract(file, staging / os.path.dirname(relative) / archive_stem(file.name))
    done.touch()
    return [(staging, True)] + trees


def link_or_copy(source, dest) -> None:
    """Hard-link ``source`` to ``dest`` (no extra disk, and fast for 100,000s of files); copy where links fail."""
    try:
        os.link(source, dest)
    except OSError:  # another file system, or too many links to one file
        shutil.copy2(source, dest)


def archive_stem(name: str) -> str:
    return re.sub(r"(\.tar)?\.(zip|tar|tgz|gz|bz2|xz)$", "", name, flags=re.IGNORECASE)


def place_files(source: Source, trees, root: Path) -> tuple[dict[str, int], list[str], list[str]]:
    """Put the images of ``trees`` (``[(folder, move)]``, see :func:`stage`) into the layout by ``source.places``:
    moved out of ``staging/``, hard-linked (else copied) from a downloaded folder.

    Returns (count per dest, unplaced paths, paths matched but left out because a rule's ``allow``
    list does not name them); paths are relative to their tree.
    """
    placed: dict[str, int] = {p.dest: 0 for p in source.places}
    unplaced, unlisted = [], []
    rules = [(re.compile(rule.pattern, flags=re.IGNORECASE), rule) for rule in source.places]
    made, root_s = set(), str(root)
    for rule in source.places:
        if not inside(root, rule.dest):
            raise UnsafeArchiveError(f"rule {rule.pattern!r} would place files outside {root}")
    for tree, move in trees:
        tree_s = str(tree)
        for relative in walk_files(tree):
            if os.path.splitext(relative)[1].lower() not in IMAGE_SUFFIXES:
                continue
            name = relative.rsplit("/", 1)[-1]
            for pattern, rule in rules:
                match = pattern.search(relative)
                if match:
                    keep = match.groupdict().get("keep")
                    if rule.allow is not None and (keep if keep else name) not in rule.allow:
                        unlisted.append(relative)
                        break
                    # keep is part of a path found inside the tree (never absolute, no '..' after safe
                    # extraction); checked all the same, cheaply
                    if keep and (keep.startswith("/") or ".." in keep.split("/")):
                        raise UnsafeArchiveError(f"{relative} would be placed outside {root}")
                    dest = os.path.join(root_s, rule.dest, keep if keep else name)
                    parent = os.path.dirname(dest)
                    if parent not in made:
                        os.makedirs(parent, exist_ok=True)
                        made.add(parent)
                    source_path = os.path.join(tree_s, relative)
                    if move:
                        if not os.path.exists(dest):
                            try:
                                os.rename(source_path, dest)
                            except OSError:  # another file system
                                shutil.move(source_path, dest)
                    else:
                        try:
                            os.link(source_path, dest)
                        except FileExistsError:
                            pass
                        except OSError:  # another file system, or too many links
                            if not os.path.exists(dest):
                                shutil.copy2(source_path, dest)
                    placed[rule.dest] += 1
                    break
            else:
                unplaced.append(relative)
    return placed, unplaced, unlisted


def do_prepare(setting: Setting, root: Path, only, keep_staging: bool) -> int:
    status = 0
    for source in selected(setting, only):
        try:
            trees = stage(source, root)
        except DataToolError as err:
            print(f"[{source.name}] FAILED: {err}", file=sys.stderr)
            status = 1
            continue
        if trees is None:
            print(f"[{source.name}] nothing in {root / 'downloads'} yet: run download first"
                  + (" (manual source: see its instructions)" if source.manual else ""))
            continue
        staging = trees[0][0]
        placed, unplaced, unlisted = place_files(source, trees, root)
        where = " or ".join(str(tree) for tree, _ in trees)
        for dest, count in placed.items():
            print(f"[{source.name}] {count:6d} files -> {dest}")
        if unlisted:
            print(f"[{source.name}] {len(unlisted)} images are not in the benchmark's public file list and stay "
                  f"in {where}, e.g. {unlisted[:3]}")
        if unplaced:
            print(f"[{source.name}] {len(unplaced)} images matched no rule and stay in {where}, e.g. "
                  f"{unplaced[:3]}")
        elif not keep_staging and not unlisted:
            shutil.rmtree(staging)
    if setting.extra_prepare is not None:
        setting.extra_prepare(root)
    print(f"\nnext: python data_scripts/{setting.name}.py verify --root {root}")
    return status


# --------------------------------------------------------------------------- verify step

_LISTED: dict = {}  # (root, folder) -> image_files(root, folder), filled only while verify runs


def image_files(root: Path, folder: str) -> list[str]:
    """Images under ``root/folder`` (recursively), as '/'-paths relative to ``root``; ``folder`` may contain
    glob wildcards."""
    if (root, folder) in _LISTED:
        return _LISTED[root, folder]
    dirs = [p for p in root.glob(folder) if p.is_dir()] if any(c in folder for c in "*?[") else [root / folder]
    out = []
    for d in dirs:
        if d.is_dir():
            prefix = d.relative_to(root).as_posix() + "/"
            out += [prefix + rel for rel in walk_files(d) if os.path.splitext(rel)[1].lower() in IMAGE_SUFFIXES]
    return out


def count_images(root: Path, folder: str) -> int:
    """Images under ``root/folder`` (recursively); ``folder`` may contain glob wildcards."""
    return len(image_files(root, folder))


_SUFFIX_WORDS = r"[_-](rain|rainy|clean|gt|input|target|lq|hq|low|high|blur|sharp)$"


def pair_keys(stem: str) -> list[str]:
    """Names a file's partner may have (the rule of exda_lite.data.layout.pairing_keys): the same stem,
    ``rain-N`` <-> ``norain-N``, ``X_rain`` <-> ``X_clean``, or the stem minus trailing ``_parts``."""
    keys = [stem, re.sub(r"^(no)?rain-", "", stem, flags=re.IGNORECASE),
            re.sub(_SUFFIX_WORDS, "", stem, flags=re.IGNORECASE)]
    parts = stem.split("_")
    return keys + ["_".join(parts[:n]) for n in range(len(parts) - 1, 0, -1)]


def stem_of(path: str) -> str:
    return os.path.splitext(path.rsplit("/", 1)[-1])[0]


def unpaired(root: Path, degraded: str, clean: str) -> tuple[list[str], list[str]]:
    """(degraded files with no clean partner, clean files no degraded file uses), as paths under ``root``."""
    degraded_files, clean_files = image_files(root, degraded), image_files(root, clean)
    by_key: dict[str, str] = {}
    for path in clean_files:
        for key in pair_keys(stem_of(path))[:3]:
            by_key.setdefault(key, path)
    used, orphans = set(), []
    for path in degraded_files:
        stem = stem_of(path)
        partner = by_key.get(stem) or next((by_key[k] for k in pair_keys(stem) if k in by_key), None)
        (used.add(partner) if partner else orphans.append(path))
    return sorted(orphans), sorted(set(clean_files) - used)


def missing_names(root: Path, setting: Setting) -> list[str]:
    """Problems that name files: listed files that are absent, files whose partner is absent.

    One line per folder, each naming its first files; every name goes to ``root/verify-missing.txt``.
    """
    lines, every = [], []
    for e in setting.expected:
        if e.names is None:
            continue
        cut = len(e.folder.rstrip("/")) + 1
        present = {p[cut:] for p in image_files(root, e.folder)}
        absent = sorted(e.names - present)
        if absent and present:  # an empty folder is already a MISSING row
            lines.append(f"{e.folder}: {len(absent)} listed file(s) missing: {shown(absent)}")
            every += [f"{e.folder}/{name}" for name in absent]
    for degraded, clean in setting.pairs:
        if not image_files(root, degraded) or not image_files(root, clean):
            continue  # a missing folder is already a MISSING row
        orphans, lonely = unpaired(root, degraded, clean)
        if orphans:
            lines.append(f"{degraded}: {len(orphans)} file(s) whose partner in {clean} is missing: {shown(orphans)}")
            every += [f"partner of {name}" for name in orphans]
        if lonely:
            lines.append(f"{clean}: {len(lonely)} file(s) whose partner in {degraded} is missing: {shown(lonely)}")
            every += [f"partner of {name}" for name in lonely]
    report = root / "verify-missing.txt"
    if every:
        report.write_text("\n".join(every) + "\n")
        lines.append(f"every missing file is listed in {report}")
    elif report.exists():
        report.unlink()
    return lines


def shown(names: list[str], limit: int = 20) -> str:
    return ", ".join(names[:limit]) + (f", ... and {len(names) - limit} more" if len(names) > limit else "")


def verify_rows(setting: Setting, root: Path) -> list[dict]:
    rows = []
    for e in setting.expected:
        found = count_images(root, e.folder)
        if found == 0 and e.optional:
            status = "absent (optional)"
        elif found == 0:
            status = "MISSING"
        elif e.count is None:
            status = "ok (count not published)"
        elif found < e.count:
            status = f"INCOMPLETE ({e.count - found} short)"
        elif found > e.count:
            status = f"ok (+{found - e.count} extra)"
        else:
            status = "ok"
        rows.append({"split": e.split, "what": e.what, "folder": e.folder,
                     "expected": "?" if e.count is None else str(e.count), "found": str(found), "status": status})
    return rows


def format_table(rows: list[dict], columns: tuple[str, ...]) -> str:
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) if rows else len(c) for c in columns}
    right = {"expected", "found"}

    def line(row: dict) -> str:
        return "  ".join(row[c].rjust(widths[c]) if c in right else row[c].ljust(widths[c]) for c in columns).rstrip()

    return "\n".join([line({c: c for c in columns}), line({c: "-" * widths[c] for c in columns})]
                     + [line(r) for r in rows])


def do_verify(setting: Setting, root: Path, check_downloads: bool) -> int:
    _LISTED.clear()
    for e in setting.expected:  # list each folder once for the counts, the name lists and the pairs
        _LISTED[root, e.folder] = image_files(root, e.folder)
    for folder in {f for pair in setting.pairs for f in pair} - {e.folder for e in setting.expected}:
        _LISTED[root, folder] = image_files(root, folder)
    try:
        return verify_report(setting, root, check_downloads)
    finally:
        _LISTED.clear()


def verify_report(setting: Setting, root: Path, check_downloads: bool) -> int:
    rows = verify_rows(setting, root)
    print(f"{setting.name}: {setting.description}\nroot: {root}\n")
    print(format_table(rows, ("split", "what", "folder", "expected", "found", "status")))
    bad = [r for r in rows if r["status"].startswith(("MISSING", "INCOMPLETE"))]
    named = missing_names(root, setting)
    problems, warnings = setting.extra_verify(root) if setting.extra_verify is not None else ([], [])
    for line in named + problems:
        print(f"MISSING {line}" if line in named else f"PROBLEM {line}")
    for line in warnings:
        print(f"WARNING {line}")
    status = 0
    if check_downloads:
        checks = verify_downloads(root / "downloads")
        print("\ndownloads vs manifest.json:")
        for name, state in checks or [("(no manifest)", "MISSING")]:
            print(f"  {state:8s} {name}")
        status = int(any(state != "ok" for _, state in checks) or not checks)
    if bad or named or problems:
        missing_all = len(bad) == len(rows) and all(r["found"] == "0" for r in rows)
        print(f"\n{len(bad)} of {len(rows)} folders missing or incomplete"
              + (f", {len(named)} file list(s) with missing files" if named else "")
              + (f", {len(problems)} other problem(s)" if problems else "")
              + (f" - nothing found under {root}" if missing_all else "") + ". Fix with:\n"
              f"  python data_scripts/{setting.name}.py download --root {root}\n"
              f"  python data_scripts/{setting.name}.py prepare --root {root}")
        return 1
    print("\nall folders complete" + (" (downloads checked)" if check_downloads and not status else ""))
    return status


# --------------------------------------------------------------------------- command line

def default_root(setting: Setting) -> Path:
    base = os.environ.get(DATA_ENV) or str(Path.home() / ".cache" / "exda-lite")
    return Path(base).expanduser() / setting.subdir


def parser_for(setting: Setting) -> argparse.ArgumentParser:
    sources = "\n".join(f"  {s.name:16s} {s.size:>10s}  {s.filename:20s} {s.what}"
                        + ("  (optional)" if s.optional else "") + ("  (manual)" if s.manual else "")
                        for s in setting.sources)
    parser = argparse.ArgumentParser(
        prog=f"python data_scripts/{setting.name}.py", formatter_class=argparse.RawDescriptionHelpFormatter,
        description=f"{setting.description}\n\nsources (name, size, file name under downloads/ and on a mirror):\n"
                    f"{sources}\n(Google Drive folders land in downloads/<name>/; manual sources go there too)",
        epilog="Usual order: download, prepare, verify. See data_scripts/README.md.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (("download", "fetch the sources into ROOT/downloads (resumable)"),
                       ("prepare", "extract safely and lay the files out as the dataset classes expect"),
                       ("verify", "print expected vs found counts; exit 1 when incomplete")):
        p = sub.add_parser(name, help=text, description=text)
        p.add_argument("--root", type=Path, default=default_root(setting),
                       help=f"data folder (default: {default_root(setting)})")
        if name in ("download", "prepare"):
            p.add_argument("--only", nargs="+", metavar="SOURCE", help="only these sources (also optional ones)")
        if name == "download":
            p.add_argument("--mirror", default=os.environ.get(MIRROR_ENV),
                           help=f"fetch every source as MIRROR/<filename> instead (default ${MIRROR_ENV})")
            p.add_argument("--manifest", type=Path, help="manifest.json from another machine: check sha256 against it")
            p.add_argument("--quiet", action="store_true", help="no progress bars")
        if name == "prepare":
            p.add_argument("--keep-staging", action="store_true", help="keep ROOT/staging after placing the files")
        if name == "verify":
            p.add_argument("--downloads", action="store_true", help="also re-hash ROOT/downloads against manifest.json")
    return parser


def load_setting(name: str) -> Setting:
    """The ``SETTING`` table of ``data_scripts/<name>.py`` (file names like 3deg.py are not importable)."""
    import importlib.util

    here = Path(__file__).resolve().parent
    if str(here) not in sys.path:  # the setting scripts do `from datatool import ...`
        sys.path.insert(0, str(here))
    path = here / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"data_scripts_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SETTING


def main(setting: Setting, argv=None) -> int:
    args = parser_for(setting).parse_args(argv)
    root = args.root.expanduser().resolve()
    try:
        if args.command == "download":
            return do_download(setting, root, args.only, args.mirror, args.manifest, args.quiet)
        if args.command == "prepare":
            return do_prepare(setting, root, args.only, args.keep_staging)
        return do_verify(setting, root, args.downloads)
    except DataToolError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        if not full_disk(err):
            raise
        print(f"error: no space left on device while writing {err.filename or 'under ' + str(root)}; files already "
              "complete are kept (downloads resume from their .part file): free space and run the same command "
              "again", file=sys.stderr)
        return 1

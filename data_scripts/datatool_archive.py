"""Safe extraction of the data scripts' archives: every member checked before anything is written.

Part of the engine of ``datatool.py`` (which re-exports every name); standard library only."""

from __future__ import annotations

import os
import re
import shutil
import stat
import tarfile
import zipfile
from pathlib import Path

from datatool_core import GiB, human, UnsafeArchiveError


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

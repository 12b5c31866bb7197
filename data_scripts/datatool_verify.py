"""The ``verify`` step of the data scripts: expected vs found counts, and the names of missing files.

Part of the engine of ``datatool.py`` (which re-exports every name); standard library only."""

from __future__ import annotations

import os
import re
from pathlib import Path

from datatool_archive import walk_files
from datatool_core import IMAGE_SUFFIXES, load_manifest, Setting, sha256_of


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

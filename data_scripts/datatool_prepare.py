"""The ``prepare`` step of the data scripts: stage the downloads, then place the files in the layout.

Part of the engine of ``datatool.py`` (which re-exports every name); standard library only."""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

from datatool_archive import archive_kind, inside, safe_extract, walk_files
from datatool_core import DataToolError, IMAGE_SUFFIXES, selected, Setting, Source, UnsafeArchiveError


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

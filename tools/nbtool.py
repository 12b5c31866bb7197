"""Notebook housekeeping for maintainers.

    python tools/nbtool.py strip notebooks/       remove outputs, execution counts, widget state
    python tools/nbtool.py check notebooks/       exit 1 if any notebook has outputs (CI runs this)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

VOLATILE_METADATA = ("widgets", "papermill", "execution")


def notebooks_in(paths: list[str]) -> list[Path]:
    found = []
    for p in map(Path, paths):
        found += sorted(p.rglob("*.ipynb")) if p.is_dir() else [p]
    return [p for p in found if ".ipynb_checkpoints" not in p.parts]


def dirty_cells(nb) -> list[int]:
    """Indices of code cells that carry outputs or an execution count."""
    return [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count"))]


def strip(nb) -> bool:
    """Remove outputs and run metadata in place; return True if anything changed."""
    changed = False
    for cell in nb.cells:
        if cell.cell_type == "code":
            changed |= bool(cell.outputs) or cell.execution_count is not None
            cell.outputs, cell.execution_count = [], None
        for key in VOLATILE_METADATA:
            changed |= cell.metadata.pop(key, None) is not None
    for key in VOLATILE_METADATA:
        changed |= nb.metadata.pop(key, None) is not None
    return changed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["strip", "check"])
    parser.add_argument("paths", nargs="+")
    args = parser.parse_args(argv)
    bad = 0
    for path in notebooks_in(args.paths):
        nb = nbformat.read(path, as_version=4)
        if args.command == "strip":
            if strip(nb):
                nbformat.write(nb, path)
                print(f"stripped {path}")
        elif dirty_cells(nb):
            print(f"{path}: code cells {dirty_cells(nb)} have outputs; run `make strip`", file=sys.stderr)
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

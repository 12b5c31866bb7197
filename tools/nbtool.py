"""Notebook housekeeping for maintainers.

    python tools/nbtool.py strip notebooks/       remove outputs, execution counts, widget state
    python tools/nbtool.py check notebooks/       exit 1 if any notebook has outputs (CI runs this)
    python tools/nbtool.py student notebooks/     write the student edition to student/ (--out DIR):
                                                  solutions removed, outputs stripped

A solution is the code between a line ``### BEGIN SOLUTION`` and a line ``### END SOLUTION``
(markers included). The student edition replaces it with ``raise NotImplementedError  # your code here``
at the marker's indentation; ``exda_lite.course.exercises.check`` then reports "not attempted yet".
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

VOLATILE_METADATA = ("widgets", "papermill", "execution")
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
PLACEHOLDER = "raise NotImplementedError  # your code here"


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


def remove_solutions(source: str, where: str = "cell") -> tuple[str, int]:
    """Replace every BEGIN/END SOLUTION region of ``source``; return (new source, regions removed)."""
    out, inside, removed = [], False, 0
    for number, line in enumerate(source.splitlines(), 1):
        marker = line.strip()
        if marker == BEGIN:
            if inside:
                raise ValueError(f"{where}, line {number}: nested {BEGIN}")
            inside, removed = True, removed + 1
            out.append(line[: len(line) - len(line.lstrip())] + PLACEHOLDER)
        elif marker == END:
            if not inside:
                raise ValueError(f"{where}, line {number}: {END} without {BEGIN}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{where}: {BEGIN} without {END}")
    return "\n".join(out), removed


def student_edition(nb) -> int:
    """Remove solutions and outputs from ``nb`` in place; return the number of solutions removed."""
    strip(nb)
    removed = 0
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            cell.source, n = remove_solutions(cell.source, where=f"cell {index}")
            removed += n
    return removed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["strip", "check", "student"])
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--out", default="student", help="student edition folder (default: student/)")
    args = parser.parse_args(argv)
    bad = 0
    for path in notebooks_in(args.paths):
        nb = nbformat.read(path, as_version=4)
        if args.command == "student":
            target = Path(args.out) / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                removed = student_edition(nb)
            except ValueError as error:
                print(f"{path}: {error}", file=sys.stderr)
                bad += 1
                continue
            nbformat.write(nb, target)
            print(f"{target}: {removed} solution(s) removed")
        elif args.command == "strip":
            if strip(nb):
                nbformat.write(nb, path)
                print(f"stripped {path}")
        elif dirty_cells(nb):
            print(f"{path}: code cells {dirty_cells(nb)} have outputs; run `make strip`", file=sys.stderr)
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

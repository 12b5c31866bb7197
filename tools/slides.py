"""Slides from the course notebooks: tag cells for reveal.js, then `jupyter nbconvert --to slides`.

    python tools/slides.py tag notebooks/                   write slideshow tags into the notebooks (idempotent;
                                                            tags set by hand are kept, --force overwrites them)
    python tools/slides.py build notebooks/ --out instructor/slides   tagged copies -> <name>.slides.html

Rules (``slide_type`` of each cell, unless the cell already has one):

* markdown starting with ``# `` or ``## ``   -> ``slide`` (a new slide per section)
* markdown starting with ``### ``            -> ``subslide``
* the parameters cell, the install cell      -> ``skip`` (nothing to show in class)
* everything else                            -> ``-`` (continues the current slide)

``build`` never touches the notebooks: it tags copies in a temporary folder and converts those, from the
executed notebooks when given (``make run`` writes outputs/executed/), so the slides show figures.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
import nbtool  # noqa: E402

SKIP_TAGS = {"parameters", "install"}
INSTALL_MARK = "# exda-lite install cell"


def slide_type(cell) -> str:
    tags = set(cell.metadata.get("tags", []))
    if cell.cell_type == "code" and (tags & SKIP_TAGS or cell.source.startswith(INSTALL_MARK)):
        return "skip"
    if cell.cell_type == "markdown":
        first = cell.source.lstrip().split("\n", 1)[0]
        if first.startswith(("# ", "## ")):
            return "slide"
        if first.startswith("### "):
            return "subslide"
    return "-"


def tag(nb, force: bool = False) -> int:
    """Set ``metadata.slideshow.slide_type`` on every cell; return how many cells changed."""
    changed = 0
    for cell in nb.cells:
        current = cell.metadata.get("slideshow", {}).get("slide_type")
        wanted = slide_type(cell)
        if (current is None or force) and current != wanted:
            cell.metadata["slideshow"] = {"slide_type": wanted}
            changed += 1
    return changed


def build(paths: list[str], out: Path, timeout: int = 300) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory() as tmp:
        for path in nbtool.notebooks_in(paths):
            nb = nbformat.read(path, as_version=4)
            tag(nb)
            copy = Path(tmp) / path.name
            nbformat.write(nb, copy)
            subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "slides", "--output-dir", str(out),
                            str(copy)], check=True, capture_output=True, timeout=timeout)
            written.append(out / f"{path.stem}.slides.html")
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["tag", "build"])
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--out", default="instructor/slides")
    parser.add_argument("--force", action="store_true", help="tag: overwrite slide types set by hand")
    args = parser.parse_args(argv)
    if args.command == "tag":
        for path in nbtool.notebooks_in(args.paths):
            nb = nbformat.read(path, as_version=4)
            if tag(nb, args.force):
                nbformat.write(nb, path)
                print(f"tagged {path}")
        return 0
    for slides in build(args.paths, Path(args.out)):
        print(slides)
    return 0


if __name__ == "__main__":
    sys.exit(main())

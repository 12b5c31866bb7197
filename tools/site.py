"""The course website: Sphinx + myst-nb (sphinx-book-theme) over the executed notebooks.

    python tools/site.py build --notebooks outputs/executed --out site/_build/html

Stages a Sphinx source folder in site/_build/src (nothing hand-rolled: the pages are rendered by myst-nb
from the notebooks as executed by ``make run``, or by ``make site-smoke`` in smoke mode, with their
figures and the static views of their widgets; nothing is executed here):

* ``index``            the README (the landing page)
* ``notebooks/NN_*``   the course in order (the table of contents follows the file names 00..09); each page
                       has the theme's Colab launch button and a download button for the .ipynb
* ``scoreboard``       reference/SCOREBOARD.md (or, when it has not been made yet, the command that makes it)

The repository URL comes from pyproject's ``[project.urls] Repository`` (as for the Colab badges).
A notebook missing from --notebooks is taken unexecuted from notebooks/ and named in the build output.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
import colab  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "site"

CONF = '''# written by tools/site.py
project = "exda-lite"
author = "exda-lite contributors"
extensions = ["myst_nb"]
html_theme = "sphinx_book_theme"
html_title = "exda-lite: ExDA, rebuilt as a course"
exclude_patterns = ["_build"]
html_context = {{"default_mode": "light"}}  # pydata theme: an empty stored mode logs a console error
nb_execution_mode = "off"  # the notebooks arrive executed (make run / make site-smoke)
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
suppress_warnings = ["myst.header", "myst.xref_missing", "misc.highlighting_failure", "toc.not_included"]
html_theme_options = {{
    "repository_url": "{url}",
    "repository_branch": "{branch}",
    "path_to_docs": "",
    "use_repository_button": True,
    "use_download_button": True,
    "launch_buttons": {{"colab_url": "https://colab.research.google.com"}},
    "show_toc_level": 2,
}}
'''

INDEX_TOC = '''

```{{toctree}}
:caption: The course
:maxdepth: 1

{entries}
```

```{{toctree}}
:caption: Evidence
:maxdepth: 1

scoreboard
```
'''


def course_notebooks() -> list[Path]:
    return sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def stage(executed: Path, src: Path, branch: str = "main") -> list[str]:
    """Write the Sphinx source folder; return the notes (unexecuted notebooks, missing scoreboard)."""
    if src.exists():
        shutil.rmtree(src)
    (src / "notebooks").mkdir(parents=True)
    notes = []
    (src / "conf.py").write_text(CONF.format(url=colab.repository_url(), branch=branch))
    readme = (ROOT / "README.md").read_text()
    entries = []
    for original in course_notebooks():
        source = executed / original.name
        if not source.exists():
            notes.append(f"{original.name}: not executed (taken from notebooks/)")
            source = original
        nb = nbformat.read(source, as_version=4)
        nb.metadata.pop("papermill", None)
        for cell in nb.cells:
            cell.metadata.pop("papermill", None)
        nbformat.write(nb, src / "notebooks" / original.name)
        entries.append(f"notebooks/{original.stem}")
    (src / "index.md").write_text(readme + INDEX_TOC.format(entries="\n".join(entries)))
    scoreboard = ROOT / "reference" / "SCOREBOARD.md"
    if scoreboard.exists():
        text = scoreboard.read_text()
        if not text.lstrip().startswith("# "):
            text = "# Scoreboard\n\n" + text
    else:
        notes.append("reference/SCOREBOARD.md missing: the page says how to make it")
        text = ("# Scoreboard\n\nEvery measured figure of the course beside the paper's claim. This build had no "
                "`reference/SCOREBOARD.md`; make it with `make scoreboard` "
                "(`python -m exda_lite.reference scoreboard`), then rebuild the site.\n")
    (src / "scoreboard.md").write_text(text)
    return notes


def build(executed: Path, out: Path, src: Path | None = None, branch: str = "main") -> list[str]:
    src = src or out.parent / "src"
    notes = stage(executed, src, branch)
    subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-q", "-j", "1", str(src), str(out)], check=True)
    return notes


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["build", "stage"])
    parser.add_argument("--notebooks", default=str(ROOT / "outputs" / "executed"))
    parser.add_argument("--out", default=str(SITE / "_build" / "html"))
    parser.add_argument("--branch", default="main")
    args = parser.parse_args(argv)
    out = Path(args.out)
    if args.command == "stage":
        notes = stage(Path(args.notebooks), out, args.branch)
    else:
        notes = build(Path(args.notebooks), out, branch=args.branch)
    for note in notes:
        print("note:", note)
    print(out / "index.html" if args.command == "build" else out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

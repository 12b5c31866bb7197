"""Open the course anywhere: Open-in-Colab badges and an install cell in every notebook.

    python tools/colab.py apply notebooks/        badge in the title cell + install cell first (idempotent)
    python tools/colab.py check notebooks/        exit 1 if a notebook lacks either, or has a stale URL
    python tools/colab.py url                     print the repository URL the tool uses

The repository address lives in one place, ``[project.urls] Repository`` of pyproject.toml. The badge opens
the **student edition** (``--badge-branch``, default ``student``: the branch that holds ``make student``'s
solution-free notebooks under ``notebooks/``), so a student on Colab never sees the solutions; the install cell
installs the package from ``--branch`` (default ``main``). Running ``apply`` again after the URL changed rewrites badges and
install cells in place: both carry a marker (``<!-- colab-badge -->``, ``# exda-lite install cell``).

The install cell installs exda-lite from the repository only when ``import exda_lite`` would fail
(Colab, a fresh Python); with exda-lite installed (``make setup``, ``pip install -e .``) it does nothing.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
import nbtool  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BADGE_MARK = "<!-- colab-badge -->"
INSTALL_MARK = "# exda-lite install cell"
INSTALL_TAG = "install"
STUDENT_BRANCH = "student"  # the badge's branch: make student's notebooks, published as notebooks/ there


def repository_url(pyproject: Path = ROOT / "pyproject.toml") -> str:
    urls = tomllib.loads(pyproject.read_text())["project"]["urls"]
    return urls["Repository"].rstrip("/").removesuffix(".git")


def github_path(url: str) -> str:
    match = re.match(r"https://github\.com/([^/]+/[^/]+)$", url)
    if not match:
        raise ValueError(f"Colab opens notebooks from GitHub; {url!r} is not https://github.com/OWNER/REPO")
    return match[1]


def colab_url(url: str, notebook: str, branch: str = STUDENT_BRANCH) -> str:
    return f"https://colab.research.google.com/github/{github_path(url)}/blob/{branch}/notebooks/{notebook}"


def badge(url: str, notebook: str, branch: str = STUDENT_BRANCH) -> str:
    # the marker goes *after* the link: a line that starts with "<!--" is an HTML block in CommonMark
    # (JupyterLab, MyST), and the link on it would be shown as raw text
    return (f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
            f"({colab_url(url, notebook, branch)}) {BADGE_MARK}")


def install_source(url: str, branch: str = "main") -> str:
    return f'''{INSTALL_MARK}: on Colab or a fresh Python, install exda-lite from its repository (about a minute);
# where exda-lite is installed already (make setup, pip install -e .) this does nothing.
import importlib.util
import subprocess
import sys

if importlib.util.find_spec("exda_lite") is None:
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", "exda-lite @ git+{url}@{branch}"])
    importlib.invalidate_caches()'''


def set_badge(cell, line: str) -> bool:
    """Put ``line`` right under the title heading of a markdown cell (or replace the old badge)."""
    lines = cell.source.splitlines()
    old = [i for i, text in enumerate(lines) if BADGE_MARK in text]
    if old:
        if lines[old[0]] == line:
            return False
        lines[old[0]] = line
    else:
        title = next((i for i, text in enumerate(lines) if text.startswith("# ")), -1)
        lines[title + 1:title + 1] = ["", line]
    cell.source = "\n".join(lines)
    return True


def apply(nb, name: str, url: str, branch: str = "main", badge_branch: str = STUDENT_BRANCH) -> bool:
    """Badge in the first markdown cell, install cell before the first code cell; True if changed."""
    changed = set_badge(next(c for c in nb.cells if c.cell_type == "markdown"), badge(url, name, badge_branch))
    source = install_source(url, branch)
    existing = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith(INSTALL_MARK)]
    if existing:
        if existing[0].source != source:
            existing[0].source, changed = source, True
    else:
        first_code = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
        cell = nbformat.v4.new_code_cell(source, metadata={"tags": [INSTALL_TAG]})
        if nb.nbformat_minor < 5:
            cell.pop("id", None)
        nb.cells.insert(first_code, cell)
        changed = True
    return changed


def problems(nb, name: str, url: str, branch: str = "main", badge_branch: str = STUDENT_BRANCH) -> list[str]:
    found = []
    first_md = next((c for c in nb.cells if c.cell_type == "markdown"), None)
    if first_md is None or badge(url, name, badge_branch) not in first_md.source:
        found.append("no (current) Open-in-Colab badge in the title cell")
    first_code = next((c for c in nb.cells if c.cell_type == "code"), None)
    if first_code is None or first_code.source != install_source(url, branch):
        found.append("the first code cell is not the (current) install cell")
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["apply", "check", "url"])
    parser.add_argument("paths", nargs="*")
    parser.add_argument("--branch", default="main", help="the branch the install cell installs exda-lite from")
    parser.add_argument("--badge-branch", default=STUDENT_BRANCH,
                        help="the branch the Colab badge opens (the solution-free student edition)")
    parser.add_argument("--url", default=None, help="override pyproject's [project.urls] Repository")
    args = parser.parse_args(argv)
    url = args.url or repository_url()
    if args.command == "url":
        print(url)
        return 0
    bad = 0
    for path in nbtool.notebooks_in(args.paths):
        nb = nbformat.read(path, as_version=4)
        if args.command == "apply":
            if apply(nb, path.name, url, args.branch, args.badge_branch):
                nbformat.write(nb, path)
                print(f"updated {path}")
        else:
            for problem in problems(nb, path.name, url, args.branch, args.badge_branch):
                print(f"{path}: {problem}; run `python tools/colab.py apply {path.parent}`", file=sys.stderr)
                bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

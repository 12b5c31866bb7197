"""tools/colab.py: Open-in-Colab badge + install cell, written from pyproject's repository URL."""

import importlib.util
import shutil
import subprocess
import tomllib
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("colab", ROOT / "tools" / "colab.py")
colab = importlib.util.module_from_spec(spec)
spec.loader.exec_module(colab)


@pytest.fixture()
def copies(tmp_path):
    for nb in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        shutil.copy(nb, tmp_path / nb.name)
    return tmp_path


def test_url_comes_from_pyproject():
    urls = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]
    assert colab.repository_url() == urls["Repository"].rstrip("/")
    assert colab.github_path(colab.repository_url()).count("/") == 1


def test_apply_writes_badge_and_install_cell_once_and_check_passes(copies):
    assert colab.main(["apply", str(copies)]) == 0
    url = colab.repository_url()
    for path in sorted(copies.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        title = nb.cells[0].source
        assert title.startswith("# ") and colab.colab_url(url, path.name) in title, path.name
        first_code = next(c for c in nb.cells if c.cell_type == "code")
        assert first_code.source.startswith(colab.INSTALL_MARK) and f"git+{url}@main" in first_code.source
        assert sum(c.source.startswith(colab.INSTALL_MARK) for c in nb.cells) == 1
        assert any("parameters" in c.metadata.get("tags", []) for c in nb.cells)  # papermill's cell is still there
        nbformat.validate(nb)
    before = {p.name: p.read_text() for p in copies.glob("*.ipynb")}
    assert colab.main(["apply", str(copies)]) == 0  # idempotent
    assert before == {p.name: p.read_text() for p in copies.glob("*.ipynb")}
    assert colab.main(["check", str(copies)]) == 0


def test_check_fails_without_badge_or_with_a_stale_url_and_a_new_url_rewrites_in_place(copies):
    bare = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 99 · title"), nbformat.v4.new_code_cell("x = 1")])
    nbformat.write(bare, copies / "99_bare.ipynb")
    assert colab.main(["check", str(copies / "99_bare.ipynb")]) == 1
    assert colab.main(["apply", str(copies)]) == 0
    assert colab.main(["check", str(copies / "99_bare.ipynb")]) == 0
    new = "https://github.com/someone/elsewhere"
    assert colab.main(["check", str(copies), "--url", new]) == 1
    assert colab.main(["apply", str(copies), "--url", new]) == 0
    text = (copies / "01_mdta_from_scratch.ipynb").read_text()
    assert "someone/elsewhere" in text and colab.github_path(colab.repository_url()) not in text
    assert colab.main(["check", str(copies), "--url", new]) == 0


def test_install_cell_does_nothing_when_exda_lite_is_installed(monkeypatch):
    calls = []
    monkeypatch.setattr(subprocess, "check_call", lambda *a, **k: calls.append(a))
    exec(colab.install_source(colab.repository_url()), {})
    assert calls == []


def test_install_cell_installs_when_exda_lite_is_missing(monkeypatch):
    calls = []
    monkeypatch.setattr(subprocess, "check_call", lambda *a, **k: calls.append(a[0]))
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    exec(colab.install_source("https://github.com/o/r"), {})
    assert calls and calls[0][-1] == "exda-lite @ git+https://github.com/o/r@main"


def test_badge_line_renders_as_markdown():
    """A line that starts with '<!--' is an HTML block in CommonMark: the link on it would show as raw text."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("colab_tool", Path(__file__).resolve().parents[1] / "tools" / "colab.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    line = tool.badge("https://github.com/exda-lite/exda-lite", "00_start_here.ipynb")
    assert line.startswith("[![Open In Colab]") and tool.BADGE_MARK in line

"""The instructor kit: present, complete (an answer for every open question), not in the student edition,
and its slides build with `jupyter nbconvert --to slides` from tagged copies."""

import importlib.util
import json
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
INSTRUCTOR = ROOT / "instructor"


def load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def open_questions():
    """{notebook number: [question numbers]} from each notebook's '## Exercises' section."""
    found = {}
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            source = "".join(cell["source"])
            if cell["cell_type"] == "markdown" and "## Exercises" in source:
                section = source[source.index("## Exercises"):]
                found[path.name[:2]] = [int(n) for n in re.findall(r"(?m)^(\d+)\. ", section)]
    return found


def test_kit_files_exist():
    for name in ("README.md", "answers.md", "misconceptions.md"):
        assert (INSTRUCTOR / name).stat().st_size > 1000, name


def test_every_open_question_has_an_answer():
    answers = (INSTRUCTOR / "answers.md").read_text()
    sections = dict(re.findall(r"(?ms)^## (\d\d) ·[^\n]*\n(.*?)(?=^## |\Z)", answers))
    questions = open_questions()
    assert len(questions) == 10
    for notebook, numbers in questions.items():
        assert notebook in sections, notebook
        answered = [int(n) for n in re.findall(r"(?m)^(\d+)\. ", sections[notebook])]
        assert answered == numbers, (notebook, numbers, answered)


def test_lesson_plan_lists_every_notebook_and_misconceptions_cover_the_three_topics():
    plan = (INSTRUCTOR / "README.md").read_text()
    for path in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"):
        assert f"| {path.name[:2]} " in plan, path.name
    text = (INSTRUCTOR / "misconceptions.md").read_text()
    assert "Rows vs columns" in text and "Pre vs post" in text and "t-SNE" in text
    assert "also" in text.lower() and "nonlinear" in text  # post-aggregation is nonlinear too


def test_student_edition_leaves_the_instructor_kit_out(tmp_path):
    nbtool = load("nbtool")
    assert nbtool.main(["student", str(ROOT / "notebooks"), "--out", str(tmp_path)]) == 0
    written = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    assert written and all(re.fullmatch(r"\d\d_\w+\.ipynb", name) for name in written)
    assert "instructor" not in (ROOT / "Makefile").read_text().split("student:")[1].split("\n\n")[0]


def test_slide_tags_follow_the_headings_and_keep_hand_tags():
    slides = load("slides")
    nb = nbformat.read(ROOT / "notebooks" / "06_assembling_exda.ipynb", as_version=4)
    nb.cells[1].metadata["slideshow"] = {"slide_type": "fragment"}  # set by hand
    assert slides.tag(nb) > 0
    types = [c.metadata["slideshow"]["slide_type"] for c in nb.cells]
    assert types[0] == "slide" and types[1] == "fragment"
    assert all(c.metadata["slideshow"]["slide_type"] == "skip" for c in nb.cells
               if "parameters" in c.metadata.get("tags", []))
    assert slides.tag(nb) == 0  # idempotent


def test_slides_build_to_reveal_html(tmp_path):
    pytest.importorskip("nbconvert")
    slides = load("slides")
    [html] = slides.build([str(ROOT / "notebooks" / "06_assembling_exda.ipynb")], tmp_path)
    text = html.read_text()
    assert "reveal" in text.lower() and text.count("<section") >= 5

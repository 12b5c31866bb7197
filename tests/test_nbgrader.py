"""nbgrader: the course turns into an nbgrader source folder; generate_assignment and autograde work on it.

tools/nbgrader_course.py writes solution cells with nbgrader metadata and locked, graded test cells that
call ``check(..., strict=True)`` plus hidden tests. The end-to-end test releases notebook 01, fills a
submission with one right (split_heads) and one wrong answer (channel_attention) and autogrades it in
smoke mode (EXDA_SMOKE=1, about 30 s).
"""

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from exda_lite.course.exercises import EXERCISES

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("nbgrader_course", ROOT / "tools" / "nbgrader_course.py")
nbgrader_course = importlib.util.module_from_spec(spec)
spec.loader.exec_module(nbgrader_course)
NOTEBOOK = "01_mdta_from_scratch.ipynb"


def test_source_folder_has_every_exercise_as_solution_plus_locked_graded_test(tmp_path):
    written = nbgrader_course.write_source([str(ROOT / "notebooks")], tmp_path)
    assert {name for names in written.values() for name in names} == set(EXERCISES)
    for notebook in written:
        nb = nbformat.read(tmp_path / "source" / "exda" / notebook, as_version=4)
        for index, cell in enumerate(nb.cells):
            info = cell.metadata.get("nbgrader", {})
            if nbgrader_course.nbtool.BEGIN in cell.source:
                assert info.get("solution") and not info.get("grade"), (notebook, index)
                assert "check(" not in cell.source
            if info.get("grade"):
                assert info["locked"] and info["points"] >= 1
                assert "strict=True" in cell.source and "### BEGIN HIDDEN TESTS" in cell.source
                assert nb.cells[index - 1].metadata["nbgrader"]["solution"]
    assert (tmp_path / "nbgrader_config.py").exists()


def nbgrader(*args, cwd):
    env = {**os.environ, "EXDA_SMOKE": "1", "OMP_NUM_THREADS": "1",
           "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=cwd, env=env, capture_output=True,
                            text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def test_generate_assignment_then_autograde_one_right_one_wrong(tmp_path):
    pytest.importorskip("nbgrader")
    course = tmp_path / "course"
    nbgrader_course.write_source([str(ROOT / "notebooks" / NOTEBOOK)], course)
    nbgrader("generate_assignment", "exda", "--force", cwd=course)
    release = course / "release" / "exda" / NOTEBOOK
    text = release.read_text()
    assert "### BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text and "seeds=(11" not in text
    assert text.count(nbgrader_course.nbtool.PLACEHOLDER) == 3  # split_heads, channel_attention, per_image_conv

    submission = course / "submitted" / "alice" / "exda"
    submission.mkdir(parents=True)
    assert nbgrader_course.main(["submission", str(release), str(submission / NOTEBOOK), "--source",
                                 str(course / "source" / "exda" / NOTEBOOK), "--right", "split_heads",
                                 "--wrong", "channel_attention"]) == 0
    nbgrader("autograde", "exda", "--create", "--force", cwd=course)

    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        grades = {g.name: (g.score, g.max_score) for g in gb.find_submission_notebook(
            NOTEBOOK.removesuffix(".ipynb"), "exda", "alice").grades}
    assert grades == {"split_heads-test": (1.0, 1.0), "channel_attention-test": (0.0, 2.0),
                      "per_image_conv-test": (0.0, 1.0)}  # not attempted
    graded = nbformat.read(course / "autograded" / "alice" / "exda" / NOTEBOOK, as_version=4)
    hidden = [c for c in graded.cells if "BEGIN HIDDEN TESTS" in c.source]
    assert len(hidden) == 3  # autograde put the hidden tests back
    shutil.rmtree(course / "autograded")

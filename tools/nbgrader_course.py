"""Write an nbgrader course folder from the course notebooks.

    python tools/nbgrader_course.py source notebooks/ --course grading/     write grading/source/<assignment>/
    python tools/nbgrader_course.py submission grading/release/exda/01_mdta_from_scratch.ipynb OUT.ipynb \\
        --right split_heads --wrong channel_attention          a fixture submission (tests, demos)

``source`` turns every exercise cell (a ``def my_...`` with ``### BEGIN SOLUTION`` / ``### END SOLUTION``
followed by ``check("name", my_...)``) into

1. a **solution cell** (nbgrader metadata ``solution: true``, grade_id ``<name>-solution``): the function;
2. a **locked, graded test cell** (``grade: true``, ``points`` from ``POINTS``, grade_id ``<name>-test``):
   the check in strict mode, ``check(..., strict=True)``, which raises ``AssertionError`` on a wrong
   answer, plus **hidden tests** (``### BEGIN HIDDEN TESTS``) with the extra seeds ``HIDDEN_SEEDS``;
3. a plain cell with whatever followed the check in the original cell.

A ``ok = check(...)`` keeps its variable: the test cell sets ``ok = False`` first, so later cells still run
when the answer is wrong. Every other cell is copied unchanged; outputs are stripped. The folder gets an
``nbgrader_config.py`` (course id ``exda``, the student edition's stub ``raise NotImplementedError``).
Then, in the course folder::

    nbgrader generate_assignment <assignment> --force     # release/<assignment>/: solutions and hidden tests removed
    nbgrader autograde <assignment> --create --force      # grades submitted/<student>/<assignment>/
    EXDA_SMOKE=1 for a short grading run (the notebooks' smoke mode, as in CI)
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
import nbtool  # noqa: E402

ASSIGNMENT = "exda"
COURSE_ID = "exda"
HIDDEN_SEEDS = (11, 12, 13)
DEFAULT_POINTS = 1
POINTS = {  # the longer exercises are worth more
    "channel_attention": 2, "gst_compact": 2, "sensor_pipeline": 2, "band_energy": 2, "welch_t": 2,
    "cosine_schedule": 2, "nonlinear_value": 2,
}
CHECK = re.compile(r"^(?:(?P<var>\w+)\s*=\s*)?check\(\s*\"(?P<name>\w+)\"\s*,\s*(?P<fn>\w+)\s*\)\s*$")
CONFIG = f'''# nbgrader configuration written by tools/nbgrader_course.py
c = get_config()  # noqa: F821
c.CourseDirectory.course_id = "{COURSE_ID}"
c.CourseDirectory.root = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
c.ClearSolutions.code_stub = {{"python": "{nbtool.PLACEHOLDER}"}}
c.ExecutePreprocessor.timeout = 1800  # seconds per cell; EXDA_SMOKE=1 keeps the grading run short
c.Exchange.root = c.CourseDirectory.root + "/exchange"
'''


def meta(grade_id: str, *, solution: bool, grade: bool, locked: bool, points: int | None = None) -> dict:
    data = {"grade_id": grade_id, "solution": solution, "grade": grade, "locked": locked, "schema_version": 3}
    if points is not None:
        data["points"] = points
    return {"nbgrader": data}


def split_exercise(source: str):
    """(solution, check match, rest) of an exercise cell, or None if the cell is not one."""
    if nbtool.BEGIN not in source:
        return None
    lines = source.splitlines()
    for index, line in enumerate(lines):
        match = CHECK.match(line)
        if match:
            solution = "\n".join(lines[:index]).rstrip()
            rest = "\n".join(lines[index + 1:]).strip("\n")
            if nbtool.END not in solution:
                return None
            return solution, match, rest
    raise ValueError("an exercise cell (### BEGIN SOLUTION) without a `check(\"name\", fn)` line:\n" + source[:300])


def test_source(match) -> str:
    name, fn, var = match["name"], match["fn"], match["var"]
    call = f'check("{name}", {fn}, strict=True)'
    hidden = f'_ = check("{name}", {fn}, seeds={HIDDEN_SEEDS}, verbose=False, strict=True)'
    lines = ["from exda_lite.course.exercises import check", ""]
    lines += [f"{var} = False  # stays False if the check below fails", f"{var} = {call}"] if var else [f"_ = {call}"]
    lines += ["### BEGIN HIDDEN TESTS", hidden, "### END HIDDEN TESTS"]
    return "\n".join(lines)


def source_notebook(nb) -> list[str]:
    """Rewrite ``nb`` in place into an nbgrader source notebook; return the exercise names."""
    nbtool.strip(nb)
    cells, names = [], []
    for index, cell in enumerate(nb.cells):
        parts = split_exercise(cell.source) if cell.cell_type == "code" else None
        if parts is None:
            if nbtool.BEGIN in cell.source:
                raise ValueError(f"cell {index}: solution markers outside an exercise cell")
            cells.append(cell)
            continue
        solution, match, rest = parts
        name = match["name"]
        names.append(name)
        cell.source = solution
        cell.metadata.update(meta(f"{name}-solution", solution=True, grade=False, locked=False))
        cells.append(cell)
        cells.append(nbformat.v4.new_code_cell(test_source(match), metadata=meta(
            f"{name}-test", solution=False, grade=True, locked=True, points=POINTS.get(name, DEFAULT_POINTS))))
        if rest:
            cells.append(nbformat.v4.new_code_cell(rest))
    nb.cells = cells
    return names


def write_source(paths: list[str], course: Path, assignment: str = ASSIGNMENT) -> dict[str, list[str]]:
    target = course / "source" / assignment
    target.mkdir(parents=True, exist_ok=True)
    (course / "nbgrader_config.py").write_text(CONFIG)
    written = {}
    for path in nbtool.notebooks_in(paths):
        nb = nbformat.read(path, as_version=4)
        names = source_notebook(nb)
        nbformat.write(nb, target / path.name)
        written[path.name] = names
    return written


def fill_submission(release: Path, out: Path, solutions: dict[str, str], right=(), wrong=()) -> None:
    """A submission from a released notebook: exercises in ``right`` get ``solutions[name]``, those in
    ``wrong`` a function that returns its first argument (wrong for every exercise), the others stay stubs."""
    nb = nbformat.read(release, as_version=4)
    for cell in nb.cells:
        info = cell.metadata.get("nbgrader", {})
        name = info.get("grade_id", "").removesuffix("-solution")
        if not info.get("solution") or cell.cell_type != "code":
            continue
        if name in right:
            cell.source = solutions[name]
        elif name in wrong:
            first = re.search(r"def \w+\(\s*(\w+)", cell.source)[1]
            cell.source = cell.source.replace(nbtool.PLACEHOLDER, f"return {first}  # wrong on purpose")
    nbformat.write(nb, out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    src = sub.add_parser("source", help="write COURSE/source/ASSIGNMENT/ from notebooks")
    src.add_argument("paths", nargs="+")
    src.add_argument("--course", default="grading")
    src.add_argument("--assignment", default=ASSIGNMENT)
    fix = sub.add_parser("submission", help="fill a released notebook with right/wrong answers")
    fix.add_argument("release")
    fix.add_argument("out")
    fix.add_argument("--source", required=True, help="the source notebook (its solutions are the right answers)")
    fix.add_argument("--right", nargs="*", default=[])
    fix.add_argument("--wrong", nargs="*", default=[])
    args = parser.parse_args(argv)
    if args.command == "source":
        for notebook, names in write_source(args.paths, Path(args.course), args.assignment).items():
            print(f"{notebook}: {len(names)} graded exercise(s) {', '.join(names)}")
        return 0
    source = nbformat.read(args.source, as_version=4)
    solutions = {c.metadata["nbgrader"]["grade_id"].removesuffix("-solution"): c.source for c in source.cells
                 if c.metadata.get("nbgrader", {}).get("solution")}
    fill_submission(Path(args.release), Path(args.out), solutions, args.right, args.wrong)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Auto-checked exercises: instant, specific feedback on the student's own code.

``check(name, student_function)`` runs the student's function and the reference on a few
random inputs. When they disagree it also runs a list of *known mistakes* (wrong axis,
missing residual, ...) and, if one of them reproduces the student's output, says which
mistake it is. It prints one friendly verdict and returns True/False; it never raises, so
a notebook with unsolved exercises still runs to the end (the student edition relies on it).

    from exda_lite.course.exercises import check
    check("span_residual", my_span_residual)

Most exercises compare return values: ``fn(*make_inputs(seed))``. An exercise about a
*procedure* (a training step, say) sets ``runner``: the checker then compares
``runner(fn, *make_inputs(seed))``, the outcome of running the student's function inside a
harness (e.g. 20 training steps), and the reference and the known mistakes are step
functions like the student's. ``seeds`` overrides the default test cases (a slow harness
needs fewer).

Three refinements for teaching and grading:

* **strict mode** -- ``check(..., strict=True)`` (or ``EXDA_CHECK_STRICT=1``) raises ``AssertionError``
  with the verdict instead of returning False; nbgrader's test cells use it (tools/nbgrader_course.py).
* **no library shortcuts** -- a function that is, or calls, the reference implementation or the
  exda_lite function the reference relies on (``channel_attention``, ``span_residual``, ...) fails:
  the exercise is to write it, not to import it.
* **tiered hints** -- the first failures of an exercise say *what* is wrong (the known mistake, the
  shape, where the values differ); the fix (the exercise's hint, the second half of a mistake's
  description) is printed only after ``HINT_AFTER`` failed checks of the same exercise.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import os
import re
import sys
import traceback
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch


@dataclass
class Exercise:
    """A reference implementation, an input generator and the known mistakes."""

    title: str
    reference: Callable
    make_inputs: Callable[[int], tuple]  # seed -> positional arguments
    mistakes: list[tuple[str, Callable]] = field(default_factory=list)
    hint: str = ""
    library_answers: tuple[Callable, ...] = ()  # exda_lite functions that solve it (besides what the reference calls)
    runner: Callable | None = None  # runner(fn, *args) -> the outcome compared; None: fn(*args)
    seeds: tuple[int, ...] | None = None  # the test cases when check() is not given any

    def outcome(self, fn: Callable, args: tuple):
        """What is compared for ``fn`` (the student's, the reference or a mistake) on ``args``."""
        return fn(*args) if self.runner is None else self.runner(fn, *args)


def as_tensor(value) -> torch.Tensor:
    return value.detach().double() if isinstance(value, torch.Tensor) else torch.as_tensor(np.asarray(value)).double()


def same(a, b, tol: float = 1e-4) -> bool:
    a, b = as_tensor(a), as_tensor(b)
    return a.shape == b.shape and torch.allclose(a, b, rtol=tol, atol=tol)


HINT_AFTER = 3  # failed checks of one exercise before the fix is shown
LIBRARY_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # .../exda_lite
EXERCISES_DIR = os.path.dirname(os.path.abspath(__file__))
# exda_lite functions that solve an exercise although its reference does not call them
# (tests/test_exercises.py tries every exda_lite name the notebooks import against every exercise)
LIBRARY_ANSWERS: dict[str, tuple[str, ...]] = {
    "split_heads": ("exda_lite.nn.attention:split_heads",),
    "pad_to_multiple": ("exda_lite.nn.model:pad_to_multiple",),
    "span_residual": ("exda_lite.course.span:span_residual",),
    "superposition": ("exda_lite.course.span:superposition_residual",),
}
_failures: dict[str, int] = {}
_answer_codes: dict[str, frozenset] = {}


def _resolve(target: str):
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


def reset_attempts(name: str | None = None) -> None:
    """Forget the failed attempts (of one exercise, or all): hints start again from the first tier."""
    if name is None:
        _failures.clear()
    else:
        _failures.pop(name, None)


def split_description(text: str) -> tuple[str, str]:
    """A mistake's description as (what is wrong, how to fix it): split at its first ': ' or '; '."""
    match = re.search(r"[:;] ", text)
    if not match:
        return text, ""
    return text[: match.start()].rstrip(" ,") + ".", text[match.end():]


def _calls(fn: Callable, args: tuple) -> set:
    """Code objects of the Python functions that ``fn(*args)`` calls (any depth)."""
    seen: set = set()

    def profiler(frame, event, arg):
        if event == "call":
            seen.add(frame.f_code)

    previous = sys.getprofile()
    sys.setprofile(profiler)
    try:
        fn(*args)
    finally:
        sys.setprofile(previous)
    return seen


def _library(code) -> bool:
    """A function (not a module or class body) of the exda_lite package outside the exercise catalogue."""
    if not code.co_flags & inspect.CO_NEWLOCALS or code.co_name == "<module>":
        return False
    path = os.path.abspath(code.co_filename)
    return path.startswith(LIBRARY_ROOT + os.sep) and not path.startswith(EXERCISES_DIR + os.sep)


def answer_codes(name: str, exercise: Exercise) -> frozenset:
    """The code objects a submission may not call: the reference, what it calls in exda_lite, the extras."""
    if name not in _answer_codes:
        codes = {getattr(exercise.reference, "__code__", None)}
        codes |= {c for c in _calls(exercise.reference, exercise.make_inputs(0)) if _library(c)}
        for fn in (*exercise.library_answers, *map(_resolve, LIBRARY_ANSWERS.get(name, ()))):
            codes.add(getattr(getattr(fn, "__func__", fn), "__code__", None))
        codes.discard(None)
        _answer_codes[name] = frozenset(codes)
    return _answer_codes[name]


def library_shortcut(name: str, exercise: Exercise, student: Callable, args: tuple) -> str | None:
    """The name of the reference/library function ``student`` uses to solve the exercise, else None."""
    if exercise.runner is not None:  # a procedure: the harness itself calls the library on purpose
        same_code = getattr(student, "__code__", None) is getattr(exercise.reference, "__code__", False)
        return getattr(student, "__qualname__", repr(student)) if same_code else None
    forbidden = answer_codes(name, exercise)
    if getattr(student, "__code__", None) in forbidden:
        return getattr(student, "__qualname__", repr(student))
    try:
        called = _calls(student, args)
    except Exception:  # noqa: BLE001 - the normal run reports the student's error
        return None
    used = [c for c in called if c in forbidden]
    return f"{used[0].co_name} ({os.path.relpath(used[0].co_filename, os.path.dirname(LIBRARY_ROOT))})" if used else None


def diagnose(exercise: Exercise, args: tuple, got, attempt: int = HINT_AFTER) -> str:
    """Why ``got`` is wrong. Before ``attempt`` reaches ``HINT_AFTER`` only what is wrong, then also the fix."""
    expected = exercise.outcome(exercise.reference, args)
    full = attempt >= HINT_AFTER
    for description, mistake in exercise.mistakes:
        try:
            if same(got, exercise.outcome(mistake, args)):
                what, fix = split_description(description)
                return description if full or not fix else f"{what} (details after {HINT_AFTER} tries)"
        except Exception:  # noqa: BLE001 - a mistake model that does not apply is simply skipped
            continue
    got_t, expected_t = as_tensor(got), as_tensor(expected)
    if got_t.shape != expected_t.shape:
        return (f"wrong shape: your function returned {tuple(got_t.shape)}, "
                f"expected {tuple(expected_t.shape)}.")
    diff = (got_t - expected_t).abs()
    err = diff.max().item()
    text = f"the values differ from the reference (largest difference {err:.3g})."
    if attempt >= 2 and diff.numel() > 1:
        where = tuple(int(i) for i in torch.nonzero(diff == diff.max())[0])
        text += (f" First at index {where}: yours {got_t[where].item():.6g}, expected {expected_t[where].item():.6g}; "
                 f"{int((diff > 1e-4).sum())} of {diff.numel()} entries differ.")
    if full and exercise.hint:
        text += f" Hint: {exercise.hint}"
    elif exercise.hint:
        text += f" (A hint appears after {HINT_AFTER} tries.)"
    return text


@contextlib.contextmanager
def one_thread():
    """Run with one torch thread: the exercises' tensors are tiny, and on a busy machine two threads
    fighting for cores made a check 50x slower (5 s instead of 0.1 s)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def check(name: str, student: Callable, seeds=None, verbose: bool = True, strict: bool | None = None) -> bool:
    """Check ``student`` against exercise ``name``; print a verdict; return True if correct.

    ``strict`` (default: the environment variable ``EXDA_CHECK_STRICT=1``) raises ``AssertionError``
    with the verdict instead of returning False: for graded test cells. ``seeds``: the test cases
    (default: the exercise's own, else 0, 1, 2).
    """
    with one_thread():
        return run_check(name, student, seeds, verbose, strict)


CATALOGUE: dict[str, "Exercise"] = {}
"""Every exercise by name, filled by the package (``exda_lite.course.exercises``) when it builds ``EXERCISES``:
the catalogue imports this module, so this module does not import the catalogue."""


def run_check(name: str, student: Callable, seeds, verbose: bool, strict: bool | None) -> bool:
    if strict is None:
        strict = os.environ.get("EXDA_CHECK_STRICT", "") not in ("", "0")
    exercise = CATALOGUE[name]
    seeds = seeds if seeds is not None else exercise.seeds or (0, 1, 2)
    say = print if verbose else (lambda *a, **k: None)

    def fail(message: str, count: bool = True) -> bool:
        if count:
            _failures[name] = _failures.get(name, 0) + 1
        say(message)
        if strict:
            raise AssertionError(message)
        return False

    attempt = _failures.get(name, 0) + 1
    for seed in seeds:
        args = exercise.make_inputs(seed)
        try:
            got = exercise.outcome(student, args)
        except NotImplementedError:
            return fail(f"⏳ {exercise.title}: not attempted yet — replace `raise NotImplementedError` with your code.",
                        count=False)
        except Exception as error:  # noqa: BLE001 - report the student's error, do not crash the notebook
            frame = traceback.extract_tb(error.__traceback__)[-1]
            return fail(f"❌ {exercise.title}: your function raised {type(error).__name__}: {error} "
                        f"(line {frame.lineno}: `{frame.line}`).")
        if got is None:
            return fail(f"❌ {exercise.title}: your function returned None — did you forget `return`?")
        if not same(got, exercise.outcome(exercise.reference, args)):
            return fail(f"❌ {exercise.title}: {diagnose(exercise, args, got, attempt)}")
    shortcut = library_shortcut(name, exercise, student, exercise.make_inputs(seeds[0]))
    if shortcut:
        return fail(f"❌ {exercise.title}: your function uses the library's own solution, {shortcut}. "
                    "The exercise is to write it yourself (the library version is there to compare with).")
    _failures.pop(name, None)
    say(f"✅ {exercise.title}: correct on {len(seeds)} random test case{'s' * (len(seeds) != 1)}.")
    return True

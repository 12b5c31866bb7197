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
"""

from __future__ import annotations

import contextlib
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


def diagnose(exercise: Exercise, args: tuple, got) -> str:
    expected = exercise.outcome(exercise.reference, args)
    for description, mistake in exercise.mistakes:
        try:
            if same(got, exercise.outcome(mistake, args)):
                return description
        except Exception:  # noqa: BLE001 - a mistake model that does not apply is simply skipped
            continue
    if as_tensor(got).shape != as_tensor(expected).shape:
        return (f"wrong shape: your function returned {tuple(as_tensor(got).shape)}, "
                f"expected {tuple(as_tensor(expected).shape)}.")
    err = (as_tensor(got) - as_tensor(expected)).abs().max().item()
    return f"the values differ from the reference (largest difference {err:.3g}). {exercise.hint}"


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


def check(name: str, student: Callable, seeds=None, verbose: bool = True) -> bool:
    """Check ``student`` against exercise ``name``; print a verdict; return True if correct."""
    with one_thread():
        return run_check(name, student, seeds, verbose)


def run_check(name: str, student: Callable, seeds, verbose: bool) -> bool:
    from . import EXERCISES  # the catalogue imports this module

    exercise = EXERCISES[name]
    seeds = seeds if seeds is not None else exercise.seeds or (0, 1, 2)
    say = print if verbose else (lambda *a, **k: None)
    for seed in seeds:
        args = exercise.make_inputs(seed)
        try:
            got = exercise.outcome(student, args)
        except NotImplementedError:
            say(f"⏳ {exercise.title}: not attempted yet — replace `raise NotImplementedError` with your code.")
            return False
        except Exception as error:  # noqa: BLE001 - report the student's error, do not crash the notebook
            frame = traceback.extract_tb(error.__traceback__)[-1]
            say(f"❌ {exercise.title}: your function raised {type(error).__name__}: {error} "
                f"(line {frame.lineno}: `{frame.line}`).")
            return False
        if got is None:
            say(f"❌ {exercise.title}: your function returned None — did you forget `return`?")
            return False
        if not same(got, exercise.outcome(exercise.reference, args)):
            say(f"❌ {exercise.title}: {diagnose(exercise, args, got)}")
            return False
    say(f"✅ {exercise.title}: correct on {len(seeds)} random test case{'s' * (len(seeds) != 1)}.")
    return True



"""Graceful preemption: SIGTERM or SIGINT ends a long run at a step boundary, with its state saved.

Schedulers stop jobs with SIGTERM and kill them after a grace period (SLURM: ``--signal=TERM@120``;
Kubernetes: ``terminationGracePeriodSeconds``); Ctrl-C and a notebook's "interrupt kernel" send
SIGINT. Inside :func:`stop_on_signals` the first such signal only sets a flag: the loop finishes
its current optimizer step, saves its state exactly as a mid-epoch checkpoint does, and raises
:class:`Preempted` (a ``KeyboardInterrupt``, so a notebook shows an interrupt and no ``except
Exception`` swallows it). The command-line entry points turn it into one line and the exit code
:data:`EXIT_PREEMPTED`. A second signal acts at once, as it would without us (Ctrl-C twice ends the
run without saving), except the same signal repeated within :data:`REPEAT_WINDOW` seconds: torchrun's
agent forwards the SIGTERM (or the Ctrl-C) that its workers have already received, and schedulers may
signal every process of a job. The previous signal handlers are restored when the block ends.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time

import torch
import torch.distributed as dist

EXIT_PREEMPTED = 75  # os.EX_TEMPFAIL: stopped cleanly with the state saved; run the same command to continue
REPEAT_WINDOW = 1.0  # seconds in which the same signal again counts as the same request
SIGNALS = ("SIGTERM", "SIGINT")

_active: list[StopRequest] = []  # the stop_on_signals blocks now open, innermost last


class Preempted(KeyboardInterrupt):
    """A run stopped by a signal after saving its state; ``str()`` is the one line to print."""

    def __init__(self, step: int | None, signal_name: str, saved=None, resume: str = "resume with --resume auto"):
        self.step, self.signal_name, self.saved = step, signal_name, saved
        if step is None:  # between two pieces of work: nothing was in progress
            super().__init__(f"stopped by {signal_name}; everything finished so far is saved; {resume}")
        else:
            super().__init__(f"stopped at step {step} by {signal_name}; state saved to {saved}; {resume}")

    def __str__(self) -> str:
        return self.args[0]


class StopRequest:
    """The flag a signal handler sets; ``signal_name`` is None until a stop is asked for."""

    def __init__(self):
        self.signal_name: str | None = None
        self.time = 0.0
        self.previous_handlers: dict[int, object] = {}  # what install() replaced (kept for a second signal)
        self.previous: dict[int, object] = {}  # what restore() still has to put back

    def __bool__(self) -> bool:
        return self.signal_name is not None

    def handle(self, signum: int, frame) -> None:
        name = signal.Signals(signum).name
        if self.signal_name is None:
            self.signal_name, self.time = name, time.monotonic()
            return
        if name == self.signal_name and time.monotonic() - self.time < REPEAT_WINDOW:
            return  # the same stop, delivered twice (the terminal or scheduler, then torchrun's agent)
        self.restore()  # a second signal: do what would have happened without us, now
        previous = self.previous_handlers.get(signum, signal.SIG_DFL)
        if callable(previous):
            previous(signum, frame)  # Python's SIGINT handler raises KeyboardInterrupt
        elif previous != signal.SIG_IGN:
            os.kill(os.getpid(), signum)  # the default action: the process ends by this signal

    def install(self) -> None:
        for name in SIGNALS:
            number = getattr(signal, name, None)
            if number is None or signal.getsignal(number) in (signal.SIG_IGN, None):
                continue  # ignored (e.g. SIGINT of a background job) or set outside Python: leave it alone
            self.previous_handlers[number] = signal.signal(number, self.handle)
        self.previous = dict(self.previous_handlers)

    def restore(self) -> None:
        for number, handler in self.previous.items():
            signal.signal(number, handler)
        self.previous = {}


@contextlib.contextmanager
def stop_on_signals(resume: str | None = None):
    """Within the block, SIGTERM/SIGINT set a :class:`StopRequest` instead of ending the process.

    The code inside checks the request at safe points, saves, and raises :class:`Preempted`. If the
    block ends normally with a stop still pending (it came after the last safe point), its work is done
    and saved: with ``resume`` (what to do next) it raises ``Preempted`` then, so that a caller with more
    work to do stops; without, the stop is moot and dropped. Outside the main thread (where Python cannot
    install handlers) the request simply never fires.
    """
    request = StopRequest()
    main = threading.current_thread() is threading.main_thread()
    if main:
        request.install()
    _active.append(request)
    pending = None
    try:
        yield request
        pending = request.signal_name  # the block finished its work while a stop was pending
    finally:
        _active.remove(request)
        if main:
            request.restore()
    if pending and resume is not None:
        raise Preempted(None, pending, resume=resume)


def stop_requested() -> str | None:
    """The name of the signal that asked the innermost open :func:`stop_on_signals` block to stop, or None."""
    return next((r.signal_name for r in reversed(_active) if r), None)


def agreed_stop(request: StopRequest | None, world_size: int = 1, device=None) -> str | None:
    """Whether to stop after this step, the same answer on every rank.

    One process: the flag itself. Under torchrun, one all-reduce (max) of the flag per step, so that
    every rank stops after the same step even when the signal reached them at different moments.
    Returns the signal's name ("SIGTERM" where another rank got it), or None to go on.
    """
    if world_size <= 1:
        return request.signal_name if request else None
    flag = torch.tensor([1.0 if request else 0.0], device=device)
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    if flag.item() == 0:
        return None
    return request.signal_name if request else "SIGTERM"

"""Where a result came from and whether it settled: the commit, the environment, the convergence rule.

Every record the reference writes (a run, a summary, the demo weights' manifest) uses these, so the
rule "the held-out metric moved by less than a tolerance over the last 20 % of steps" is written once.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from ..utils import environment  # noqa: F401 - the one environment report, stored with every summary


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10,
                              cwd=Path(__file__).resolve().parent).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def last_fifth_change(history: list[dict], key: str, relative: bool = False) -> float:
    """How much ``history[...][key]`` moved over the last 20 % of steps (relative to the end value if asked).

    The value compared with the end is the last one at or before 80 % of the last step (the first one
    if none is).
    """
    last_step = history[-1]["step"]
    earlier = [h for h in history if h["step"] <= 0.8 * last_step]
    before = earlier[-1][key] if earlier else history[0][key]
    end = history[-1][key]
    return abs(end - before) / abs(end) if relative else abs(end - before)

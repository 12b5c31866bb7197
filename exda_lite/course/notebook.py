"""What every notebook shares: smoke mode, parameter checks, result files, environment.

Conventions (see README, "Notebook harness"):

* Each notebook has one cell tagged ``parameters`` holding UPPERCASE names with the
  CPU teaching defaults. papermill overrides them with ``-p NAME VALUE``.
* ``EXDA_SMOKE=1`` in the environment shrinks the defaults further (used by nbval in CI,
  which cannot pass parameters).
* The cell after the parameters calls :func:`check_parameters`: papermill only *warns*
  about unknown parameters, we stop with a message listing the valid ones.
* Experiment notebooks end with :func:`write_results`, writing
  ``OUT_DIR/<notebook stem>.json``.
"""

from __future__ import annotations

import ast

import json
import os
import platform
from pathlib import Path

import torch

from .. import files
from ..data.paths import DATA_ENV, default_data_dir  # noqa: F401 - re-exported for the notebooks

SMOKE_ENV = "EXDA_SMOKE"


def smoke_mode() -> bool:
    """True when ``EXDA_SMOKE`` is set to 1/true/yes (CI's tiny run of every notebook)."""
    return os.environ.get(SMOKE_ENV, "").strip().lower() in ("1", "true", "yes")


# What papermill can inject; modules, functions and classes with upper-case names (``F``) are not parameters.
PARAMETER_TYPES = (int, float, str, bool, list, dict, tuple, type(None))


class ParameterError(ValueError):
    """A notebook parameter is unknown or has an invalid value."""


def check_parameters(namespace: dict, spec: dict) -> dict:
    """Validate a notebook's parameters; return them as a dict.

    Args:
        namespace: the notebook's ``globals()``.
        spec: ``{NAME: rule}`` where rule is a type (``int``, ``float``, ``str``, ``bool``),
            a tuple of allowed values, or a callable returning True for valid values.

    Raises:
        ParameterError: an UPPERCASE name holding a plain value (number, string, bool, list,
            dict, None) that is not in ``spec`` is defined (a misspelt papermill ``-p``), or a
            value breaks its rule. The message lists the valid parameters.

    A list or dict given as text (``papermill -p SIDES "[256, 512]"``) is parsed, unless the rule accepts
    the text itself, and written back into ``namespace``.
    """
    valid = ", ".join(f"{name} ({describe_rule(rule)})" for name, rule in spec.items())
    unknown = sorted(name for name, value in namespace.items()
                     if name.isupper() and not name.startswith("_") and name not in spec
                     and isinstance(value, PARAMETER_TYPES))
    if unknown:
        raise ParameterError(f"unknown notebook parameter(s) {unknown}. Valid parameters: {valid}")
    values = {}
    for name, rule in spec.items():
        if name not in namespace:
            raise ParameterError(f"parameter {name} is missing from the parameters cell")
        value = namespace[name]
        if (isinstance(value, str) and value.lstrip().startswith(("[", "{"))
                and not rule_accepts(rule, value)):  # papermill -p NAME "[256, 512]" passes text
            value = namespace[name] = parse_literal(value)
        if not rule_accepts(rule, value):
            raise ParameterError(f"invalid value {name}={value!r}: expected {describe_rule(rule)}. "
                                 f"Valid parameters: {valid}")
        values[name] = value
    return values


def parse_literal(text: str):
    """``"[256, 512]"`` -> ``[256, 512]`` (a Python/JSON literal); text that is not one is returned unchanged."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def device_name(value) -> bool:
    """'auto', 'cpu', 'mps', 'cuda' or 'cuda:N'"""
    if not isinstance(value, str):
        return False
    kind, _, index = value.partition(":")
    return value == "auto" or (kind in ("cpu", "cuda", "mps") and (index == "" or index.isdigit()))


def positive_int(value) -> bool:
    """an int >= 1"""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def non_negative_int(value) -> bool:
    """an int >= 0"""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def at_least_two(value) -> bool:
    """an int >= 2 (a standard deviation needs two seeds)"""
    return positive_int(value) and value >= 2


def positive_number(value) -> bool:
    """a number > 0"""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def non_negative_number(value) -> bool:
    """a number >= 0"""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0


def image_sides(value) -> bool:
    """a non-empty list of ints >= 8"""
    return isinstance(value, list) and bool(value) and all(positive_int(s) and s >= 8 for s in value)


def model_names(value) -> bool:
    """a non-empty list of model names (restormer, exda_b, exda_s, exda_t, exda_nano)"""
    from ..nn.configs import CONFIGS

    return isinstance(value, list) and bool(value) and all(isinstance(v, str) for v in value) and set(value) <= set(CONFIGS)


def resume_value(value) -> bool:
    """'' (fresh run), 'auto', or the path of an existing last.pt"""
    return isinstance(value, str) and (value in ("", "auto") or Path(value).is_file())


def machine_load() -> str:
    """The 1-minute load average against the core count: how busy this machine was while we measured."""
    if not hasattr(os, "getloadavg"):
        return "load average not available on this system"
    return f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"


def rule_accepts(rule, value) -> bool:
    if isinstance(rule, tuple):
        return value in rule
    if rule is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(rule, type):
        return isinstance(value, rule) and (rule is bool or not isinstance(value, bool))
    return bool(rule(value))


def describe_rule(rule) -> str:
    if isinstance(rule, tuple):
        return "one of " + ", ".join(repr(v) for v in rule)
    if isinstance(rule, type):
        return rule.__name__
    return getattr(rule, "__doc__", None) or getattr(rule, "__name__", "valid value")


def write_results(out_dir, stem: str, results: dict) -> Path:
    """Write ``results`` to ``out_dir/<stem>.json`` atomically (temp file + rename)."""
    path = Path(out_dir) / f"{stem}.json"
    return files.write_text(path, json.dumps(results, indent=2, sort_keys=True, default=float))


def environment_report() -> dict:
    """Versions, device and threads: what a student checks before starting."""
    from ..utils import environment, pick_device

    base = environment(str(pick_device()))
    report = {
        "python": base["python"],
        "platform": platform.platform(),
        "torch": base["torch"],
        "device": base["device"],
        "cuda_available": torch.cuda.is_available(),
        "torch_threads": base["threads"],
        "cpu_count": base["cpu_count"],
        "smoke_mode": smoke_mode(),
        "data_dir": str(default_data_dir()),
    }
    if torch.cuda.is_available():
        report["gpu"] = torch.cuda.get_device_name(0)
    for name in ("torchvision", "numpy", "skimage", "sklearn", "matplotlib", "seaborn",
                 "ipywidgets", "papermill", "nbval"):
        try:
            report[name] = __import__(name).__version__
        except Exception:  # noqa: BLE001 - a missing optional package is reported, not fatal
            report[name] = "not installed"
    return report

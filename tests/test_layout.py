"""The folder tree is the architecture: these rules keep it that way.

* ``exda_lite.nn`` (the paper's network) imports nothing else from exda_lite;
* ``exda_lite.data`` imports nothing from ``training`` or ``course``;
* ``exda_lite.training`` does not import ``course``;
* nothing in exda_lite imports ``data_scripts``.

Imports are read from the source with ``ast`` (also those inside functions), so a lazy import
cannot slip through. Each rule is also shown to fail on a module that breaks it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "exda_lite"

FORBIDDEN = {
    "exda_lite.nn": ("exda_lite",),  # anything of ours outside nn
    "exda_lite.data": ("exda_lite.training", "exda_lite.course"),
    "exda_lite.training": ("exda_lite.course",),
}
EVERYWHERE = ("data_scripts",)
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(source: str, module: str, is_package: bool) -> set[str]:
    """Absolute names of every module imported in ``source`` (relative imports resolved)."""
    package = module if is_package else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            found.add(prefix)
            found.update(f"{prefix}.{alias.name}" for alias in node.names)  # `from . import x` imports module x
    return found


def violations(source: str, module: str, is_package: bool = False) -> list[str]:
    """The import rules ``module`` breaks, one line each."""
    problems = []
    imports = imported_modules(source, module, is_package)
    for scope, banned in FORBIDDEN.items():
        if module != scope and not module.startswith(scope + "."):
            continue
        for name in sorted(imports):
            inside = name == scope or name.startswith(scope + ".")
            if not inside and any(name == b or name.startswith(b + ".") for b in banned):
                problems.append(f"{module} imports {name} (rule: {scope} must not import {', '.join(banned)})")
    for name in sorted(imports):
        if any(name == b or name.startswith(b + ".") for b in EVERYWHERE):
            problems.append(f"{module} imports {name} (rule: exda_lite never imports data_scripts)")
    return problems


def modules():
    return sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", modules(), ids=lambda p: module_name(p))
def test_import_rules(path):
    assert violations(path.read_text(), module_name(path), path.name == "__init__.py") == []


@pytest.mark.parametrize("module, source", [
    ("exda_lite.nn.attention", "from ..utils import seed_everything\n"),
    ("exda_lite.nn.model", "def f():\n    from exda_lite.training import losses\n"),
    ("exda_lite.data.datasets", "from ..training.metrics import centre_crop\n"),
    ("exda_lite.data.digits", "from ..course.notebook import default_data_dir\n"),
    ("exda_lite.training.loop", "from ..course import exercises\n"),
    ("exda_lite.training", "from ..course.notebook import write_results\n"),
    ("exda_lite.course.toy", "import data_scripts.datatool\n"),
])
def test_each_rule_can_fail(module, source):
    assert violations(source, module, is_package=module == "exda_lite.training")


def test_allowed_imports_pass():
    assert violations("from .gst import GlobalSpatialTokens\nimport torch\n", "exda_lite.nn.attention") == []
    assert violations("from ..data.augment import centre_crop\n", "exda_lite.training.metrics") == []
    assert violations("from ..training.checkpoints import save_weights\n", "exda_lite.course.caching") == []


def test_modules_and_functions_stay_readable():
    """No module over ~400 lines, no function over ~60 (the layout issue's reading-size rule)."""
    long = []
    for path in modules():
        source = path.read_text()
        if len(source.splitlines()) > MAX_MODULE_LINES:
            long.append(f"{module_name(path)}: {len(source.splitlines())} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long.append(f"{module_name(path)}.{node.name}: {length} lines")
    assert long == []

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


# ---- one source of truth (issue 19) ---------------------------------------------------------------

ROOT = PACKAGE.parent
SETTING_NAME_HOMES = {"exda_lite/data/settings.py", "exda_lite/cli.py"}  # the registry and the command line
PER_DATASET_SCRIPTS = {"3deg.py", "5deg.py", "allweather.py", "cdd11.py", "medical.py", "weatherbench.py"}
NOT_A_SETTING = {("exda_lite/training/config.py", "pairs")}  # RESUME_MUST_MATCH names the TrainConfig field `pairs`


def source_files():
    """Every module of exda_lite/, tools/ and data_scripts/, as paths relative to the repository."""
    return sorted(p.relative_to(ROOT).as_posix() for folder in ("exda_lite", "tools", "data_scripts")
                  for p in (ROOT / folder).rglob("*.py"))


def literals_in(source: str, wanted) -> set:
    return {node.value for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Constant) and isinstance(node.value, (str, float)) and node.value in wanted}


def setting_literal_modules() -> dict[str, set]:
    from exda_lite.data.settings import SETTINGS

    found = {}
    for path in source_files():
        if path.startswith("data_scripts/") and Path(path).name in PER_DATASET_SCRIPTS:
            continue
        names = {n for n in literals_in((ROOT / path).read_text(), set(SETTINGS)) if (path, n) not in NOT_A_SETTING}
        if names:
            found[path] = names
    return found


def test_setting_names_are_written_in_the_registry_and_the_cli_only():
    found = setting_literal_modules()
    assert set(found) <= SETTING_NAME_HOMES, {p: sorted(n) for p, n in found.items() if p not in SETTING_NAME_HOMES}
    assert len(found) <= 2


def test_the_paper_table_numbers_are_in_one_module():
    numbers = {32.96, 30.83, 29.97, 33.92, 29.68, 34.30}  # the Average PSNR of Tables 1-6
    found = [path for path in source_files() if literals_in((ROOT / path).read_text(), numbers)]
    assert found == ["exda_lite/paper.py"]


def test_the_registry_agrees_with_the_paper_tables_and_the_benchmarks():
    from exda_lite.data.settings import PAPER_SETTINGS
    from exda_lite.paper import TABLES
    from exda_lite.training.evaluate import setting_benchmarks

    for setting in PAPER_SETTINGS:
        assert [c for c in TABLES[setting.paper_table] if c != "Average"] == list(setting.columns)
        assert [b.column for b in setting_benchmarks(setting.name)] == list(setting.columns)


def test_one_module_calls_os_replace():
    callers = []
    for path in modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "replace"
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "os"):
                callers.append(module_name(path))
                break
    assert len(callers) <= 1, callers


def import_edges(source: str, module: str, is_package: bool, known: set[str]) -> set[str]:
    """The modules of ``known`` that ``module`` imports, lazy imports included, ``if TYPE_CHECKING:`` excluded.

    ``from pkg import name`` is an edge to ``pkg.name`` when that is a module, else to ``pkg``.
    """
    package = module if is_package else module.rpartition(".")[0]
    tree = ast.parse(source)
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(n) for child in node.body for n in ast.walk(child))

    def resolve(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    edges = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            edges.update(resolve(alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            for alias in node.names:
                full = f"{prefix}.{alias.name}"
                edges.add(full if full in known else resolve(prefix))
    return {e for e in edges if e and e != module}


def import_graph() -> dict[str, set[str]]:
    known = {module_name(p) for p in modules()}
    return {module_name(p): import_edges(p.read_text(), module_name(p), p.name == "__init__.py", known)
            for p in modules()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_circles():
    assert cycles(import_graph()) == []


def test_a_lazy_import_circle_is_found_and_type_checking_is_not():
    known = {"exda_lite.a", "exda_lite.b"}
    lazy = {"exda_lite.a": import_edges("from . import b\n", "exda_lite.a", False, known),
            "exda_lite.b": import_edges("def f():\n    from .a import thing\n", "exda_lite.b", False, known)}
    assert cycles(lazy) == [["exda_lite.a", "exda_lite.b"]]
    typed = {"exda_lite.a": lazy["exda_lite.a"],
             "exda_lite.b": import_edges("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import T\n",
                                         "exda_lite.b", False, known)}
    assert cycles(typed) == []


def test_the_small_networks_live_in_nn_tiny():
    source = (PACKAGE / "course" / "explore.py").read_text() + (PACKAGE / "course" / "toy.py").read_text()
    defined = {n.name for n in ast.walk(ast.parse(source)) if isinstance(n, ast.ClassDef)}
    assert not defined & {"TinyRestorer", "ToyAttentionNet"}


def test_tools_and_data_scripts_modules_stay_readable():
    """The module size rule holds in tools/ and data_scripts/ too (datatool.py is split by step)."""
    long = [f"{path}: {n} lines" for path in source_files() if not path.startswith("exda_lite/")
            for n in [len((ROOT / path).read_text().splitlines())] if n > MAX_MODULE_LINES]
    assert long == []


def test_the_primitives_defaults_are_written_once():
    """GST / value-path constructor defaults name ``options.TokenOptions`` / ``ValueOptions`` instead of repeating
    a literal (issue 19), and equal them."""
    import inspect

    from exda_lite.nn.attention import ExDAAttention
    from exda_lite.nn.gst import GlobalSpatialTokens
    from exda_lite.nn.nonlinear_value import NonlinearValue
    from exda_lite.nn.options import TokenOptions, ValueOptions

    cases = {GlobalSpatialTokens: {"tokens": TokenOptions, "stride": TokenOptions},
             NonlinearValue: {n: ValueOptions for n in ("form", "act", "learnable", "groups")},
             ExDAAttention: {"token_to_channel": TokenOptions, "alpha_init": TokenOptions, "eq3": TokenOptions,
                             "token_value_scale": TokenOptions, "value_position": ValueOptions}}
    for cls, params in cases.items():
        tree = ast.parse(inspect.getsource(cls.__init__).strip())
        args = tree.body[0].args
        defaults = dict(zip([a.arg for a in args.args][-len(args.defaults):], args.defaults))
        for name, options in params.items():
            written = ast.unparse(defaults[name])
            assert written.startswith(options.__name__ + "."), f"{cls.__name__}({name}={written}): a literal"
            field = "position" if name == "value_position" else name
            assert inspect.signature(cls).parameters[name].default == getattr(options, field)

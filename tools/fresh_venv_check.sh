#!/usr/bin/env bash
# The "open it anywhere" check: a fresh venv, `pip install .` WITHOUT constraints.txt, then notebook 00.
#   bash tools/fresh_venv_check.sh [VENV_DIR]     (default: a temporary folder, removed at the end)
# Notebook 00 runs with nbclient + ipykernel, installed after the package (a kernel, as Colab has one).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="${1:-$(mktemp -d)/venv}"
REUSE="${REUSE:-0}"  # REUSE=1: keep an existing VENV (skips the install, for re-running the notebook)
PYTHON="${PYTHON:-python3}"
WORK="$(mktemp -d)"
if [ "$REUSE" != 1 ] || [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
  start=$(date +%s)
  (cd "$WORK" && "$VENV/bin/python" -m pip install -q "$ROOT")
  echo "pip install . : $(( $(date +%s) - start )) s"
fi
(cd "$WORK" && env -u PYTHONPATH "$VENV/bin/python" - <<'PY'
import importlib.util
missing = [m for m in ("jupyterlab", "papermill", "nbval") if importlib.util.find_spec(m)]
assert not missing, f"the core pulled {missing}"
import torch, exda_lite
print("torch", torch.__version__, "| exda_lite from", exda_lite.__file__)
assert "site-packages" in exda_lite.__file__
PY
)
start=$(date +%s)
"$VENV/bin/python" -m pip install -q nbclient ipykernel
echo "pip install nbclient ipykernel : $(( $(date +%s) - start )) s"
cp "$ROOT/notebooks/00_start_here.ipynb" "$WORK/"
start=$(date +%s)
(cd "$WORK" && EXDA_SMOKE=1 env -u PYTHONPATH "$VENV/bin/python" - <<'PY'
import nbformat
from nbclient import NotebookClient
nb = nbformat.read("00_start_here.ipynb", as_version=4)
NotebookClient(nb, timeout=600, kernel_name="python3").execute()
errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
assert not errors, errors
import exda_lite, torch
print("exda_lite from", exda_lite.__file__, "| torch", torch.__version__)
print("notebook 00 ran:", sum(c.cell_type == "code" for c in nb.cells), "code cells, no errors")
PY
)
echo "notebook 00 : $(( $(date +%s) - start )) s"

# exda-lite: everything a student, researcher or instructor runs goes through here.
#   make lab    set up .venv (first time only) and open JupyterLab on notebooks/
#   make run    execute the notebook sequence headless with papermill (outputs/)
#   make test   unit tests + every notebook in smoke mode under nbval (what CI runs)
#   make student  the student edition in student/: solutions removed, outputs stripped
#   make gpu-check  exda_t, bf16, batch 32, 128^2, 50 steps: img/s, peak memory, loss (GPU_CHECK_ARGS=--dry: CPU)
PYTHON      ?= python3
VENV        ?= .venv
CONSTRAINTS ?= constraints.txt
LAB_ARGS    ?=
ROOT_FLAG   := $(if $(filter 0,$(shell id -u 2>/dev/null)),--allow-root)  # containers often run as root
PY          := $(VENV)/bin/python
STAMP       := $(VENV)/.installed-stamp
NOTEBOOKS   := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
OUT         ?= $(CURDIR)/outputs

.PHONY: setup lab run test strip student clean-venv gpu-check

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "exda-lite needs Python >= 3.10, found " + sys.version.split()[0]'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(if $(CONSTRAINTS),-c $(CONSTRAINTS)) -e ".[test]"
	touch $(STAMP)

lab: $(STAMP)
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $(ROOT_FLAG) $(LAB_ARGS)

run: $(STAMP)
	mkdir -p $(OUT)/executed
	set -e; for nb in $(NOTEBOOKS); do \
	  echo "== $$nb"; \
	  $(VENV)/bin/papermill --cwd notebooks $$nb $(OUT)/executed/$$(basename $$nb) -p OUT_DIR $(OUT); \
	done

test: $(STAMP)
	$(PY) tools/nbtool.py check notebooks
	EXDA_SMOKE=1 $(PY) -m pytest --nbval-lax --nbval-current-env tests notebooks

strip: $(STAMP)
	$(PY) tools/nbtool.py strip notebooks

student: $(STAMP)
	$(PY) tools/nbtool.py student notebooks --out student

GPU_CHECK_ARGS ?=
gpu-check: $(STAMP)
	$(PY) benchmarks/gpu_check.py $(GPU_CHECK_ARGS)

clean-venv:
	rm -rf $(VENV)

# exda-lite: everything a student, researcher or instructor runs goes through here.
#   make lab    set up .venv (first time only) and open JupyterLab on notebooks/
#   make run    execute the notebook sequence headless with papermill (outputs/)
#   make test   unit tests + every notebook in smoke mode under nbval (what CI runs)
#   make test-fast  the unit tests without those marked slow (no notebooks)
#   make student  the student edition in student/: solutions removed, outputs stripped
#   make student-branch  commit it as branch `student` (notebooks/ = the student edition, no instructor/):
#                 the branch the Colab badges open; push it with `git push -f origin student`
#   make reference  every current reference experiment, each with its own protocol seeds, into reference/
#                 (about 14 h of wall time on 2 cores; resumable; REFERENCE_ARGS="fig5_pool --seeds 0 1" for a part)
#   make scoreboard every measured figure beside the paper's claim (reference/SCOREBOARD.md)
#   make grading  an nbgrader course in grading/ (solution + locked graded test cells, hidden tests)
#   make slides   reveal.js slides of every notebook in instructor/slides/ (tagged copies, nbconvert)
#   make site     the course website in site/_build/html (Sphinx + myst-nb, from outputs/executed/)
#   make colab    Open-in-Colab badge + install cell in every notebook (URL: pyproject [project.urls])
#   make bench    every speed figure of README *Speed* in one run: inference eager/compiled vs plain NCHW,
#                 exda_nano/exda_t training steps, each reference experiment's steps/s (BENCH_ARGS=--no-compile)
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
REFERENCE_ARGS ?=
REFERENCE_JOBS ?= 2
# one thread per process, one process per core: each takes the next run no other process holds
SCOREBOARD_OUT ?=

EXTRAS      ?= test
SITE_NOTEBOOKS ?= $(OUT)/executed
GRADING     ?= grading
BENCH_ARGS  ?=

.PHONY: setup lab run test test-fast bench strip student student-branch clean-venv reference scoreboard grading slides site site-smoke colab colab-check gpu-check

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "exda-lite needs Python >= 3.10, found " + sys.version.split()[0]'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(if $(CONSTRAINTS),-c $(CONSTRAINTS)) -e ".[$(EXTRAS)]"
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
	$(PY) tools/colab.py check notebooks
	EXDA_SMOKE=1 $(PY) -m pytest --nbval-lax --nbval-current-env tests notebooks

test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow" tests

strip: $(STAMP)
	$(PY) tools/nbtool.py strip notebooks

student: $(STAMP)
	$(PY) tools/nbtool.py student notebooks --out student

student-branch: student
	set -e; tmp=$$(mktemp -d); git worktree add -q --detach $$tmp HEAD; \
	cp student/*.ipynb $$tmp/notebooks/; git -C $$tmp rm -rq instructor; \
	git -C $$tmp add notebooks; git -C $$tmp commit -qm "student edition of $$(git rev-parse --short HEAD)"; \
	git branch -f student $$(git -C $$tmp rev-parse HEAD); git worktree remove --force $$tmp; \
	echo "branch student = the student edition of $$(git rev-parse --short HEAD)"

reference: $(STAMP)
	@pids=""; for i in $$(seq $(REFERENCE_JOBS)); do \
	  $(PY) -m exda_lite.reference run --threads 1 $(if $(filter 1,$(REFERENCE_JOBS)),,--no-progress) $(REFERENCE_ARGS) & \
	  pids="$$pids $$!"; done; status=0; for p in $$pids; do wait $$p || status=$$?; done; exit $$status

scoreboard: $(STAMP)
	$(PY) -m exda_lite.reference scoreboard $(if $(SCOREBOARD_OUT),--out-dir $(SCOREBOARD_OUT))

GPU_CHECK_ARGS ?=
bench: $(STAMP)
	$(PY) benchmarks/speed.py --threads 2 --rounds 7 --reference $(BENCH_ARGS)

gpu-check: $(STAMP)
	$(PY) benchmarks/gpu_check.py $(GPU_CHECK_ARGS)

clean-venv:
	rm -rf $(VENV)

grading: $(STAMP)
	$(PY) tools/nbgrader_course.py source notebooks --course $(GRADING)
	@echo "next: cd $(GRADING) && nbgrader generate_assignment exda --force"

slides: $(STAMP)
	$(PY) tools/slides.py build $(if $(wildcard $(OUT)/executed/*.ipynb),$(OUT)/executed,notebooks) --out instructor/slides

site: $(STAMP)
	$(PY) tools/site.py build --notebooks $(SITE_NOTEBOOKS) --out site/_build/html

# CI: the notebooks executed in smoke mode (two at a time), then the same build
site-smoke: $(STAMP)
	mkdir -p $(OUT)/smoke/executed
	printf '%s\n' $(NOTEBOOKS) | EXDA_SMOKE=1 OMP_NUM_THREADS=1 xargs -P 2 -I{} sh -c \
	  '$(VENV)/bin/papermill --no-progress-bar --log-level WARNING --cwd notebooks {} $(OUT)/smoke/executed/$$(basename {}) -p OUT_DIR $(OUT)/smoke'
	$(PY) tools/site.py build --notebooks $(OUT)/smoke/executed --out site/_build/html

colab: $(STAMP)
	$(PY) tools/colab.py apply notebooks

colab-check: $(STAMP)
	$(PY) tools/colab.py check notebooks

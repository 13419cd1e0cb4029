# orch: two commands do everything on a fresh Debian machine (as root):
#   make demo   installs what is needed, trains two tiny runs with the real darknet, evaluates
#               every checkpoint and writes a report (demo/reports/index.html)
#   make test   installs test needs, starts a single-node Slurm, runs the whole test suite
PYTHON ?= python3
VENV ?= .venv
ORCH = $(VENV)/bin/orch
DEMO_DIR ?= demo

.PHONY: install debian venv demo lint test test-fast bench clean

install: debian venv

debian:
	scripts/install-debian.sh

venv: $(VENV)/.installed

# setup.py and scan.c too: an editable install compiles the log scanner once, not on import
$(VENV)/.installed: pyproject.toml setup.py orchestrator/logs/scan.c
	$(PYTHON) -m venv $(VENV) || { echo "orch: '$(PYTHON) -m venv' failed: apt-get install python3-venv" >&2; exit 1; }
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $@

demo: install
	$(ORCH) demo --force $(DEMO_DIR)

# ruff (lint + format) and mypy: part of every test run, so CI fails on them
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: install lint
	scripts/dev-slurm.sh start
	$(VENV)/bin/python -m pytest -q

test-fast: venv
	$(VENV)/bin/python -m pytest -q -m "not slow and not slurm"

bench: venv
	$(VENV)/bin/pip install --quiet -e '.[bench]'
	$(VENV)/bin/python benchmarks/bench_metrics.py
	$(VENV)/bin/python benchmarks/bench_logs.py
	$(VENV)/bin/python benchmarks/bench_eval_pass.py
	$(VENV)/bin/python benchmarks/bench_report.py

clean:
	rm -rf $(VENV) build *.egg-info $(DEMO_DIR)

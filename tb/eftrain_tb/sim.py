"""Build and run one cocotb test module under Verilator (the regression convention).

One build directory per (top, parameter set), one test directory per pytest test, so
results never overwrite each other and ``pytest -n`` is safe (a lock file serialises
two builds of one directory). ``WAVES=1`` rebuilds with tracing (FST when the set-up
found the headers, VCD otherwise) into its own directory and prints where the dump is.

``XSEED=<n>`` (a positive integer) flushes out state that is used before it is set:
the model is built with ``--x-assign unique --x-initial unique`` into its own directory
(``-xunique``) and run with ``+verilator+rand+reset+2 +verilator+seed+<n>``, so every
variable without a reset starts, and every X assignment reads, random bits drawn from
seed n (Verilator is two-state: this is how an uninitialised flop shows). Unset: the
fast model, where such state reads 0.

A test may append lines to the file ``TEST_SUMMARY`` names (its counts); they are
printed after the run and :func:`summary_lines` returns them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from cocotb_tools.check_results import get_results
from cocotb_tools.runner import get_runner

from eftrain.rtl_sources import build_lock
from eftrain_tb.rtl import BUILD, REPO, filelist

TB = REPO / "tb"

# Optimised model; assertions on (the RTL's SVA run in every simulation).
BUILD_ARGS = ["--assert", "-O3", "--x-assign", "fast", "--x-initial", "fast", "-Wno-fatal"]
SUMMARY_FILE = "summary.txt"


def x_seed() -> int | None:
    """The XSEED knob: None when unset, else the seed (ValueError unless a positive
    integer: Verilator takes seed 0 as "from the clock", which would not reproduce)."""
    value = os.environ.get("XSEED", "")
    if value == "":
        return None
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"XSEED must be a positive integer, got {value!r}")
    return int(value)


def summary_lines(test_dir: Path) -> list[str]:
    """The lines the test appended to TEST_SUMMARY in ``test_dir``'s last run."""
    path = test_dir / SUMMARY_FILE
    return path.read_text().splitlines() if path.exists() else []


def trace_format() -> str:
    """'fst' or 'vcd', as recorded by scripts/setup_env.py."""
    marker = Path(sys.prefix) / "eftrain-trace-format"
    return marker.read_text().strip() if marker.exists() else "vcd"


def param_tag(parameters: dict[str, object]) -> str:
    return "_".join(f"{k}{v}" for k, v in sorted(parameters.items())) or "default"


def run(
    *,
    top: str,
    test_module: str,
    module_dir: Path,
    test_name: str,
    seed: int,
    rtl_tops: list[str],
    extra_sources: list[Path] = (),
    parameters: dict[str, object] | None = None,
    extra_env: dict[str, str] | None = None,
    testcase: str | None = None,
    extra_build_args: list[str] = (),
    defines: list[str] = (),
) -> Path:
    """Build ``top`` from the file lists of ``rtl_tops`` plus ``extra_sources``, run the
    cocotb module ``test_module`` (found in ``module_dir``), and return the test
    directory. A failing cocotb test raises, failing the calling pytest test.
    ``defines``: Verilog macros to define (e.g. EFTRAIN_FAST_FP32); each build of a top
    has its own directory per set of defines."""
    parameters = dict(parameters or {})
    waves = os.environ.get("WAVES", "0") not in ("", "0")
    xseed = x_seed()
    sources: list[Path] = []
    for rtl_top in rtl_tops:
        sources += [p for p in filelist(rtl_top) if p not in sources]
    sources += list(extra_sources)

    suffix = ("".join(f"-{d.lower()}" for d in sorted(defines)) + ("-xunique" if xseed is not None else "")
              + ("-waves" if waves else ""))
    build_dir = BUILD / "sim" / top / (param_tag(parameters) + suffix)
    test_dir = build_dir / test_name
    test_dir.mkdir(parents=True, exist_ok=True)
    build_args = list(BUILD_ARGS) + list(extra_build_args) + [f"+define+{d}" for d in sorted(defines)]
    plusargs: list[str] = []
    if xseed is not None:
        # X assignments and initial values random, drawn at run time from the seed.
        for i, arg in enumerate(build_args):
            if arg in ("--x-assign", "--x-initial"):
                build_args[i + 1] = "unique"
        plusargs = ["+verilator+rand+reset+2", f"+verilator+seed+{xseed}"]
        print(f"XSEED={xseed}: --x-assign unique --x-initial unique, {' '.join(plusargs)}")
    if waves:
        build_args += ["--trace-structs"] + (["--trace-fst"] if trace_format() == "fst" else [])

    runner = get_runner("verilator")
    with build_lock(build_dir):
        runner.build(
            sources=sources,
            hdl_toplevel=top,
            parameters=parameters,
            build_args=build_args,
            build_dir=build_dir,
            waves=waves,
            timescale=("1ns", "1ps"),
            log_file=build_dir / "build.log",
        )
    pythonpath = os.pathsep.join([str(module_dir), str(TB), os.environ.get("PYTHONPATH", "")])
    summary = test_dir / SUMMARY_FILE
    summary.unlink(missing_ok=True)
    env = {"PYTHONPATH": pythonpath, "TEST_SUMMARY": str(summary), **(extra_env or {})}
    results_xml = test_dir / "results.xml"
    results_xml.unlink(missing_ok=True)
    try:
        runner.test(
            test_module=test_module,
            hdl_toplevel=top,
            build_dir=build_dir,
            test_dir=test_dir,
            seed=seed,
            extra_env=env,
            waves=waves,
            results_xml=str(results_xml),
            testcase=testcase,
            plusargs=plusargs,
        )
    finally:
        if waves:
            dump = test_dir / f"dump.{trace_format()}"
            print(f"\nwaves: {dump}")
    # Under pytest a failing cocotb test already raised; elsewhere (benchmarks) check here.
    if not results_xml.exists():
        raise RuntimeError(f"{test_module}: the simulation wrote no results ({results_xml})")
    n_tests, n_failed = get_results(results_xml)
    if n_tests == 0 or n_failed:
        raise RuntimeError(f"{test_module}: {n_failed} of {n_tests} cocotb tests failed (log above)")
    for line in summary_lines(test_dir):
        print(line)
    return test_dir

"""Build and run one cocotb test module under Verilator (the regression convention).

One build directory per (top, parameter set), one test directory per pytest test, so
results never overwrite each other and ``pytest -n`` is safe. ``WAVES=1`` rebuilds with
tracing (FST when the set-up found the headers, VCD otherwise) into its own directory
and prints where the dump is.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from cocotb_tools.check_results import get_results
from cocotb_tools.runner import get_runner

from eftrain_tb.rtl import BUILD, REPO, filelist

TB = REPO / "tb"

# Optimised model; assertions on (the RTL's SVA run in every simulation).
BUILD_ARGS = ["--assert", "-O3", "--x-assign", "fast", "--x-initial", "fast", "-Wno-fatal"]


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
) -> Path:
    """Build ``top`` from the file lists of ``rtl_tops`` plus ``extra_sources``, run the
    cocotb module ``test_module`` (found in ``module_dir``), and return the test
    directory. A failing cocotb test raises, failing the calling pytest test."""
    parameters = dict(parameters or {})
    waves = os.environ.get("WAVES", "0") not in ("", "0")
    sources: list[Path] = []
    for rtl_top in rtl_tops:
        sources += [p for p in filelist(rtl_top) if p not in sources]
    sources += list(extra_sources)

    build_dir = BUILD / "sim" / top / (param_tag(parameters) + ("-waves" if waves else ""))
    test_dir = build_dir / test_name
    test_dir.mkdir(parents=True, exist_ok=True)
    build_args = list(BUILD_ARGS)
    if waves:
        build_args += ["--trace-structs"] + (["--trace-fst"] if trace_format() == "fst" else [])

    runner = get_runner("verilator")
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
    env = {"PYTHONPATH": pythonpath, **(extra_env or {})}
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
    return test_dir

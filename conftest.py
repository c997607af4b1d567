"""Regression conventions shared by every test (pysrc/tests and tb/).

* ``seed`` fixture (and ``rng``, a numpy generator derived from it per test): ``SEED=<n>`` reproduces a run; without it a fixed default is used so
  the gate is deterministic, and ``SEED=random`` draws a fresh one. Every test prints
  its seed, records it in the JUnit XML, and a failing test prints the command that
  reproduces it: the same seed and the same stimulus knobs (:data:`STIMULUS_KNOBS`);
  for a test that ran a simulation, also the ``make waves`` command that reruns it with a
  dump and a GTKWave view, and that command narrowed to the cocotb tests that failed
  (``COCOTB_TEST_FILTER``, which cocotb reads from the environment).
* A test's ``record_property("summary", line)`` lines (the counts of the robustness
  tests) are printed at the end of the run.
"""

from __future__ import annotations

import glob
import os
import random
import shlex
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

import numpy as np

import pytest

DEFAULT_SEED = 1


def _session_seed() -> int:
    value = os.environ.get("SEED", "")
    if value == "":
        return DEFAULT_SEED
    if value == "random":
        return random.SystemRandom().randrange(1, 2**31)
    try:
        return int(value)
    except ValueError:
        raise pytest.UsageError(f"SEED must be an integer or 'random', got {value!r}") from None


SEED = _session_seed()


@pytest.fixture
def seed(request, record_property) -> int:
    print(f"seed: {SEED}")
    record_property("seed", SEED)
    request.node.user_properties.append(("eftrain_seed", SEED))
    return SEED


@pytest.fixture
def rng(seed: int, request) -> np.random.Generator:
    """A numpy generator per test, from the session seed and the test's name (so adding a
    test does not change the stimulus of the others)."""
    return np.random.default_rng([seed, zlib.crc32(request.node.name.encode())])


#: Environment knobs that change what a test runs (its stimulus or its selection): a
#: reproduction command repeats the ones that are set.
STIMULUS_KNOBS = ("FP32_RANDOM", "ENGINE_LAYERS", "TOP_LAYERS", "TOP_TESTS", "TOP_RANDOM_STOPS",
                  "TIMING_STRESS", "XSEED", "FUZZ", "FAULTS", "FUZZ_NONFINITE_LR", "FUZZ_TESTS",
                  "COCOTB_TEST_FILTER")

SIM_BUILD = Path(__file__).resolve().parent / "build" / "sim"


def _simulation_results(item, since: float) -> Path | None:
    """The cocotb results file the test wrote in this run (eftrain_tb.sim puts it in
    build/sim/<top>/<parameters>/<test name>/), or None if it ran no simulation."""
    pattern = str(SIM_BUILD / "*" / "*" / glob.escape(item.name) / "results.xml")
    fresh = [Path(p) for p in glob.glob(pattern) if os.path.getmtime(p) >= since]
    return max(fresh, key=os.path.getmtime) if fresh else None


def _failed_cocotb_tests(results: Path) -> list[tuple[str, str]]:
    """(module, test) of every failing test case of a cocotb JUnit results file."""
    try:
        root = ET.parse(results).getroot()
    except (ET.ParseError, OSError):
        return []
    return [(case.get("classname", ""), case.get("name", "")) for case in root.iter("testcase")
            if case.find("failure") is not None or case.find("error") is not None]


def reproduce_commands(item, since: float) -> str:
    """The commands that rerun a failed test: same seed, same knobs; with waves when it
    simulated, and narrowed to its failing cocotb tests when they are known."""
    env = [f"SEED={SEED}"] + [f"{k}={shlex.quote(os.environ[k])}" for k in STIMULUS_KNOBS if k in os.environ]
    test = f"TEST={shlex.quote(item.nodeid)}"
    lines = [f"rerun:      {' '.join(env)} make test {test}"]
    results = _simulation_results(item, since)
    if results is not None:
        lines.append(f"with waves: {' '.join(env)} make waves {test}")
        failed = _failed_cocotb_tests(results)
        if failed:
            module = failed[0][0]
            names = "|".join(sorted({name for _mod, name in failed}))
            only = shlex.quote(f"{module}\\.({names})$")
            waves_env = [e for e in env if not e.startswith("COCOTB_TEST_FILTER=")]
            lines.append(f"only the failing cocotb test(s), with waves: {' '.join(waves_env)} "
                         f"COCOTB_TEST_FILTER={only} make waves {test}")
        lines.append("(make waves prints the dump and the `gtkwave dump.fst dump.gtkw` command; "
                     "see docs/debugging.md)")
    return "\n".join(lines)


def pytest_terminal_summary(terminalreporter):
    """The ``record_property("summary", line)`` lines of the tests that passed (the
    robustness tests' counts; xdist carries user properties over to the controller)."""
    lines = [f"{report.nodeid}: {value}" for report in terminalreporter.stats.get("passed", [])
             if report.when == "call" for name, value in report.user_properties if name == "summary"]
    if lines:
        terminalreporter.section("summaries")
        for line in lines:
            terminalreporter.write_line(line)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed and report.when == "call" and "seed" in item.fixturenames:
        report.sections.append(("reproduce", reproduce_commands(item, call.start)))
    return report

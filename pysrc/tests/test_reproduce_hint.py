"""The reproduction commands a failing test prints (conftest.reproduce_commands): the same
seed and stimulus knobs; `make waves` only for a test that simulated in this run; and a
waves command narrowed to the cocotb tests its results file lists as failed."""

from __future__ import annotations

import os
import shlex
from types import SimpleNamespace

import conftest

RESULTS = """<?xml version='1.0' encoding='utf-8'?>
<testsuites name="cocotb tests"><testsuite name="eftrain_top_tests">
<testcase classname="eftrain_top_tests" name="top_layers"><failure message="bits differ" /></testcase>
<testcase classname="eftrain_top_tests" name="top_chain" />
<testcase classname="eftrain_top_tests" name="top_csrs"><error message="timeout" /></testcase>
</testsuite></testsuites>
"""


def test_reproduce_commands(tmp_path, monkeypatch):
    monkeypatch.setattr(conftest, "SIM_BUILD", tmp_path)
    for knob in conftest.STIMULUS_KNOBS:
        monkeypatch.delenv(knob, raising=False)
    monkeypatch.setenv("TOP_LAYERS", "3")
    item = SimpleNamespace(name="test_eftrain_top[4x4]",
                           nodeid="tb/eftrain_top/test_eftrain_top.py::test_eftrain_top[4x4]")
    seed, test = f"SEED={conftest.SEED} TOP_LAYERS=3", f"TEST={shlex.quote(item.nodeid)}"

    # No simulation in this run: no waves command.
    assert conftest.reproduce_commands(item, since=0).splitlines() == [f"rerun:      {seed} make test {test}"]

    results = tmp_path / "eftrain_top" / "TN4" / item.name / "results.xml"
    results.parent.mkdir(parents=True)
    results.write_text(RESULTS)
    lines = conftest.reproduce_commands(item, since=0).splitlines()
    assert lines[0] == f"rerun:      {seed} make test {test}"
    assert lines[1] == f"with waves: {seed} make waves {test}"
    assert lines[2] == (f"only the failing cocotb test(s), with waves: {seed} "
                        f"COCOTB_TEST_FILTER='eftrain_top_tests\\.(top_csrs|top_layers)$' make waves {test}")

    # A results file older than the test is from an earlier run: ignored.
    os.utime(results, (1000, 1000))
    assert len(conftest.reproduce_commands(item, since=2000).splitlines()) == 1

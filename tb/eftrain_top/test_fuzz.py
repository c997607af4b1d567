"""pytest wrapper: builds eftrain_top per RTL configuration (the build of
test_eftrain_top.py, shared) and runs the robustness tests of fuzz_tests.py.

Env: FUZZ (fuzzed doorbells, default 1000 per configuration), FAULTS (injected AXI
faults, default 24 per configuration), FUZZ_NONFINITE_LR (fuzz_tests.py), TIMING_STRESS
(top_tb), XSEED (eftrain_tb.sim), FUZZ_TESTS (comma-separated cocotb test names to run
only those), SEED (conftest.py). Each cocotb test's one-line summary (counts,
error-code histogram, coverage) goes to the JUnit XML and is printed at the end of the
pytest run (conftest.py).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from eftrain_tb import sim

HERE = Path(__file__).resolve().parent

# (TN, IB_DEPTH, OB_DEPTH, WB_DEPTH): the configurations of test_eftrain_top.py.
CONFIGS = {"4x4": (4, 512, 512, 256), "8x8": (8, 1024, 1024, 512)}


@pytest.mark.parametrize("config", list(CONFIGS))
def test_fuzz(config, request, seed, record_property):
    tn, ib_depth, ob_depth, wb_depth = CONFIGS[config]
    test_dir = sim.run(
        top="eftrain_top",
        test_module="fuzz_tests",
        module_dir=HERE,
        test_name=request.node.name,
        seed=seed,
        rtl_tops=["eftrain_top"],
        parameters={"TM": tn, "TN": tn, "IB_DEPTH": ib_depth, "OB_DEPTH": ob_depth, "WB_DEPTH": wb_depth},
        extra_env={"TOP_TN": str(tn), "TOP_IB_DEPTH": str(ib_depth), "TOP_OB_DEPTH": str(ob_depth),
                   "TOP_WB_DEPTH": str(wb_depth), "FUZZ": os.environ.get("FUZZ", "1000"),
                   "FAULTS": os.environ.get("FAULTS", "24"),
                   "TIMING_STRESS": os.environ.get("TIMING_STRESS", "")},
        testcase=os.environ.get("FUZZ_TESTS") or None,
    )
    for line in sim.summary_lines(test_dir):
        record_property("summary", line)

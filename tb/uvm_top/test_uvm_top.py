"""pytest wrapper: builds eftrain_top (TN = 4, IB/OB 512 pixels, WB 256 entries) and
runs each pyuvm test of uvm_top_tests.py in its own simulation.

Env: UVM_ITEMS, UVM_NEW_OPS, UVM_STRESS (see uvm_top_tests.py and sequences.py), SEED
(conftest.py).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from eftrain_tb import sim

HERE = Path(__file__).resolve().parent
# top_tb.py (DRAM map, pause generators, constants) for the simulation: cocotb's runner
# hands this process's sys.path to the simulator as its PYTHONPATH.
TOP_TB = str(HERE.parent / "eftrain_top")
if TOP_TB not in sys.path:
    sys.path.append(TOP_TB)

TN, IB_DEPTH, OB_DEPTH, WB_DEPTH = 4, 512, 512, 256
KNOBS = ("UVM_ITEMS", "UVM_NEW_OPS", "UVM_STRESS")


@pytest.mark.parametrize("uvm_test", ["RandomLayersTest", "TrainingStepTest", "ErrorInjectionTest"])
def test_uvm_top(uvm_test, request, seed):
    sim.run(
        top="eftrain_top",
        test_module="uvm_top_tests",
        module_dir=HERE,
        test_name=request.node.name,
        seed=seed,
        rtl_tops=["eftrain_top"],
        parameters={"TM": TN, "TN": TN, "IB_DEPTH": IB_DEPTH, "OB_DEPTH": OB_DEPTH, "WB_DEPTH": WB_DEPTH},
        extra_env={"TOP_TN": str(TN), "TOP_IB_DEPTH": str(IB_DEPTH),
                   "TOP_OB_DEPTH": str(OB_DEPTH), "TOP_WB_DEPTH": str(WB_DEPTH),
                   **{k: os.environ[k] for k in KNOBS if k in os.environ}},
        testcase=uvm_test,
    )

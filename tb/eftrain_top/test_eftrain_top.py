"""pytest wrapper: builds eftrain_top per RTL configuration and runs eftrain_top_tests.py.

Env: TOP_LAYERS (random layers of top_layers, default 12), TIMING_STRESS (1: random AXI
pauses on every chain, 0: none, unset: every other chain), TOP_TESTS (comma-separated
cocotb test names to run only those), TOP_RANDOM_STOPS (random ABORT / SOFT_RESET times
of top_abort_and_soft_reset, default 8), SEED (conftest.py).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from eftrain_tb import sim

HERE = Path(__file__).resolve().parent

# (TN, IB_DEPTH, OB_DEPTH, WB_DEPTH)
CONFIGS = {"4x4": (4, 512, 512, 256), "8x8": (8, 1024, 1024, 512)}


@pytest.mark.parametrize("config", list(CONFIGS))
def test_eftrain_top(config, request, seed, record_property):
    tn, ib_depth, ob_depth, wb_depth = CONFIGS[config]
    test_dir = sim.run(
        top="eftrain_top",
        test_module="eftrain_top_tests",
        module_dir=HERE,
        test_name=request.node.name,
        seed=seed,
        rtl_tops=["eftrain_top"],
        parameters={"TM": tn, "TN": tn, "IB_DEPTH": ib_depth, "OB_DEPTH": ob_depth, "WB_DEPTH": wb_depth},
        extra_env={"TOP_TN": str(tn), "TOP_IB_DEPTH": str(ib_depth), "TOP_OB_DEPTH": str(ob_depth),
                   "TOP_WB_DEPTH": str(wb_depth), "TOP_LAYERS": os.environ.get("TOP_LAYERS", "12"),
                   "TIMING_STRESS": os.environ.get("TIMING_STRESS", "")},
        testcase=os.environ.get("TOP_TESTS") or None,
    )
    # The counts of top_abort_and_soft_reset, printed in pytest's "summaries" section.
    for line in sim.summary_lines(test_dir):
        record_property("summary", line)

"""pytest wrapper: builds conv_engine per RTL configuration and runs conv_engine_tests.py.

Configurations: 4x4 and 8x8 for function (random layers, utilisation), 16x16 smoke.
TM must equal TN: a non-square build is checked to stop at elaboration.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from eftrain_tb import sim
from eftrain_tb.rtl import REPO, filelist

HERE = Path(__file__).resolve().parent

# (TN, IB_DEPTH, OB_DEPTH, WB_DEPTH, random layers, random multi-layer streams);
# ENGINE_LAYERS and ENGINE_STREAMS override the counts.
CONFIGS = {
    "4x4": (4, 512, 512, 256, 160, 12),
    "8x8": (8, 512, 512, 256, 150, 8),
    "16x16": (16, 512, 512, 256, 3, 0),
}


@pytest.mark.parametrize("config", list(CONFIGS))
def test_conv_engine(config, request, seed):
    tn, ib_depth, ob_depth, wb_depth, layers, streams = CONFIGS[config]
    layers = int(os.environ.get("ENGINE_LAYERS", layers))
    streams = int(os.environ.get("ENGINE_STREAMS", streams))
    sim.run(
        top="conv_engine",
        test_module="conv_engine_tests",
        module_dir=HERE,
        test_name=request.node.name,
        seed=seed,
        rtl_tops=["conv_engine"],
        parameters={"TM": tn, "TN": tn, "IB_DEPTH": ib_depth, "OB_DEPTH": ob_depth, "WB_DEPTH": wb_depth},
        extra_env={"ENGINE_TN": str(tn), "ENGINE_IB_DEPTH": str(ib_depth), "ENGINE_OB_DEPTH": str(ob_depth),
                   "ENGINE_WB_DEPTH": str(wb_depth), "ENGINE_LAYERS": str(layers), "ENGINE_STREAMS": str(streams)},
        testcase=None if tn < 16 else "engine_random_layers",
    )


def test_non_square_array_stops_at_elaboration():
    """TM != TN is refused with a message, not built."""
    result = subprocess.run(
        ["verilator", "--lint-only", *map(str, filelist("conv_engine")), "--top-module", "conv_engine",
         "-GTM=4", "-GTN=8"],
        cwd=REPO, capture_output=True, text=True)
    assert result.returncode != 0
    assert "TM (4) must equal TN (8)" in result.stdout + result.stderr

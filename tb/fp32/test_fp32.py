"""pytest wrapper: builds fp32_stream_tb (both fp32 units) and runs fp32_tests.py, once
with the units' RTL datapath and once with their simulation-only double-arithmetic model
(EFTRAIN_FAST_FP32, rtl/fp32_fast_pkg.sv, which make bench uses): the same vectors, the
same bit-exact checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from eftrain_tb import sim

HERE = Path(__file__).resolve().parent


@pytest.mark.parametrize("datapath", ["rtl", "fast"])
def test_fp32_units(datapath, request, seed):
    sim.run(
        top="fp32_stream_tb",
        test_module="fp32_tests",
        module_dir=HERE,
        test_name=request.node.name,
        seed=seed,
        rtl_tops=["fp32_mul", "fp32_add"],
        extra_sources=[HERE / "fp32_stream_tb.sv"],
        defines=["EFTRAIN_FAST_FP32"] if datapath == "fast" else [],
    )

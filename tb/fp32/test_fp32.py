"""pytest wrapper: builds fp32_stream_tb (both fp32 units) and runs fp32_tests.py."""

from __future__ import annotations

from pathlib import Path

from eftrain_tb import sim

HERE = Path(__file__).resolve().parent


def test_fp32_units(request, seed):
    sim.run(
        top="fp32_stream_tb",
        test_module="fp32_tests",
        module_dir=HERE,
        test_name=request.node.name,
        seed=seed,
        rtl_tops=["fp32_mul", "fp32_add"],
        extra_sources=[HERE / "fp32_stream_tb.sv"],
    )

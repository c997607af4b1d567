"""pytest wrapper: builds axi_dma_wr alone and runs axi_dma_wr_tests.py."""

from __future__ import annotations

from pathlib import Path

from eftrain_tb import sim

HERE = Path(__file__).resolve().parent


def test_axi_dma_wr(request, seed):
    sim.run(top="axi_dma_wr", test_module="axi_dma_wr_tests", module_dir=HERE, test_name=request.node.name,
            seed=seed, rtl_tops=["axi_dma_wr"])

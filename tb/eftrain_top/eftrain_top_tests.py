"""cocotb tests of the whole core, eftrain_top, from DRAM to DRAM (run by test_eftrain_top.py)."""

from __future__ import annotations

import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge, with_timeout
from cocotbext.axi import AxiBus, AxiLiteBus, AxiLiteMaster, AxiRam

from eftrain import HwConfig, fp32, layout, oracle
from eftrain import descriptor as dsc

DRAM_BYTES = 1 << 22


def hw_config() -> HwConfig:
    tn = int(os.environ["TOP_TN"])
    return HwConfig(tm=tn, tn=tn, ib_depth=int(os.environ["TOP_IB_DEPTH"]),
                    ob_depth=int(os.environ["TOP_OB_DEPTH"]), wb_depth=int(os.environ["TOP_WB_DEPTH"]))


class TB:
    """The core with an AxiRam as its DRAM and an AxiLiteMaster on its registers."""

    def __init__(self, dut):
        self.dut = dut
        self.cfg = hw_config()
        cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
        self.ram = AxiRam(AxiBus.from_prefix(dut, "m_axi"), dut.clk, dut.rst_n,
                          reset_active_level=False, size=DRAM_BYTES)
        self.axil = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil"), dut.clk, dut.rst_n,
                                  reset_active_level=False)

    async def reset(self):
        self.dut.rst_n.value = 0
        for _ in range(5):
            await RisingEdge(self.dut.clk)
        self.dut.rst_n.value = 1
        for _ in range(5):
            await RisingEdge(self.dut.clk)

    async def run_chain(self, chain_addr: int, timeout_us: float = 20_000) -> dsc.Status:
        await self.axil.write_dword(dsc.CSR_CHAIN_LO, chain_addr & 0xFFFFFFFF)
        await self.axil.write_dword(dsc.CSR_CHAIN_HI, chain_addr >> 32)
        await self.axil.write_dword(dsc.CSR_CTRL, (1 << dsc.CTRL_START) | (1 << dsc.CTRL_IRQ_ENABLE))
        await with_timeout(RisingEdge(self.dut.irq), timeout_us, "us")
        status = dsc.decode_status(await self.axil.read_dword(dsc.CSR_STATUS))
        await self.axil.write_dword(dsc.CSR_IRQ, 1 << dsc.IRQ_PENDING)
        return status


@cocotb.test()
async def top_conv_fp_smoke(dut):
    """One FP layer from DRAM to DRAM, bit-exact."""
    tb = TB(dut)
    await tb.reset()
    cfg = tb.cfg
    rng = np.random.default_rng(cocotb.RANDOM_SEED)
    b, n, m, h, w, k, s, p = 2, cfg.tn + 1, cfg.tn + 2, 7, 6, 3, 1, 1
    x = rng.standard_normal((b, n, h, w)).astype(np.float32)
    wt = rng.standard_normal((m, n, k, k)).astype(np.float32)
    want = oracle.conv_fp(x, wt, s, p, cfg)
    x_addr, w_addr, y_addr, d_addr = 0x1000, 0x40000, 0x80000, 0x100
    tb.ram.write(x_addr, layout.act_to_dram(x, cfg.tn).tobytes())
    tb.ram.write(w_addr, layout.weights_to_dram(wt, cfg.tn).tobytes())
    rows = dsc.largest_tile_rows(dsc.Opcode.CONV_FP, k, s, p, n, m, h, w, cfg)
    d = dsc.Descriptor(opcode=dsc.Opcode.CONV_FP, k=k, stride=s, pad=p, batch=b, tile_rows=max(1, rows // 2),
                       n=n, m=m, h=h, w=w, in_addr=x_addr, wgt_addr=w_addr, out_addr=y_addr)
    tb.ram.write(d_addr, d.pack())
    status = await tb.run_chain(d_addr)
    assert status.done and not status.error, status
    nbytes = layout.act_bytes(want.shape, cfg.tn)
    got = layout.act_from_dram(np.frombuffer(tb.ram.read(y_addr, nbytes), np.float32), want.shape, cfg.tn)
    bad = int((fp32.bits(got) != fp32.bits(want)).sum())
    assert bad == 0, f"{bad} of {want.size} words differ"

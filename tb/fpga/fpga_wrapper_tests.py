"""cocotb test of the Vivado top, fpga/eftrain_top_wrapper.v (run by test_fpga_wrapper.py):
the flat Verilog-2001 ports reach the core with the names Vivado infers (s_axi_*,
m_axi_*, aclk, aresetn, irq), and its parameters reach the core.

One test, driven as software on the Cortex-A53 drives the board: cocotbext-axi's
AxiLiteMaster on s_axi and AxiRam on m_axi; the constant registers equal
eftrain.descriptor.ro_values of the wrapper's parameters (TM = TN included); the registers
repeat every 256 bytes of the 4 KB window; a convolution layer written in the DRAM layout
of eftrain.layout, one descriptor, the doorbell, the interrupt; y bit-exact against the
oracle's exact mode; IRQ cleared by writing 1.
"""

from __future__ import annotations

import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge, with_timeout
from cocotbext.axi import AxiBus, AxiLiteBus, AxiLiteMaster, AxiRam

from eftrain import layout, oracle
from eftrain import descriptor as dsc
from eftrain.config import HwConfig
from eftrain.descriptor import Descriptor, Opcode

RAM_BYTES = 1 << 20
AXI_DATA_WIDTH = 128


def hw_config() -> HwConfig:
    """The wrapper's parameters, from test_fpga_wrapper.py."""
    tn = int(os.environ["WRAPPER_TN"])
    return HwConfig(tm=tn, tn=tn, kmax=int(os.environ["WRAPPER_KMAX"]),
                    ib_depth=int(os.environ["WRAPPER_IB_DEPTH"]), ob_depth=int(os.environ["WRAPPER_OB_DEPTH"]),
                    wb_depth=int(os.environ["WRAPPER_WB_DEPTH"]))


@cocotb.test()
async def wrapper_conv_layer(dut):
    cfg = hw_config()
    rng = np.random.default_rng(cocotb.RANDOM_SEED)
    cocotb.start_soon(Clock(dut.aclk, 10, unit="ns").start())
    csr = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axi"), dut.aclk, dut.aresetn, reset_active_level=False)
    ram = AxiRam(AxiBus.from_prefix(dut, "m_axi"), dut.aclk, dut.aresetn, reset_active_level=False,
                 size=RAM_BYTES)
    dut.aresetn.value = 0
    await ClockCycles(dut.aclk, 10)
    dut.aresetn.value = 1
    await ClockCycles(dut.aclk, 5)

    async def rd(offset: int) -> int:
        return int.from_bytes(await csr.read(offset, 4), "little")

    async def wr(offset: int, value: int) -> None:
        await csr.write(offset, value.to_bytes(4, "little"))

    # Parameters: the wrapper's TN, KMAX, depths and AXI widths as the core reports them.
    addr_width = int(os.environ["WRAPPER_AXI_ADDR_WIDTH"])
    assert len(dut.m_axi_awid) == int(os.environ["WRAPPER_AXI_ID_WIDTH"])
    assert len(dut.m_axi_araddr) == addr_width
    expected = dsc.ro_values(cfg, AXI_DATA_WIDTH, addr_width)
    for name, value in expected.items():
        got = await rd(dsc.csr(name).offset)
        assert got == value, f"CSR {name}: {got:#010x}, expected {value:#010x} for {cfg}"
    # The 12-bit s_axi address: the 256-byte map repeats across the 4 KB window.
    for alias in (0x100, 0xF00):
        assert await rd(alias + dsc.CSR_ID) == dsc.ID_VALUE, f"ID not at alias {alias:#x}"

    # One CONV_FP layer, DRAM to DRAM.
    batch, n, m, h, w, k, stride, pad = 1, cfg.tn + 1, cfg.tn + 2, 6, 5, 3, 1, 1
    x = rng.standard_normal((batch, n, h, w)).astype(np.float32)
    wt = rng.standard_normal((m, n, k, k)).astype(np.float32)
    y_expected = oracle.conv_fp(x, wt, stride, pad, cfg)
    x_addr, w_addr, y_addr, desc_addr = 0x1000, 0x4000, 0x8000, 0x40
    ram.write(x_addr, layout.act_to_dram(x, cfg.tn).tobytes())
    ram.write(w_addr, layout.weights_to_dram(wt, cfg.tn).tobytes())
    y_bytes = layout.act_bytes(y_expected.shape, cfg.tn)
    ram.write(y_addr, bytes([0xA5]) * (y_bytes + 64))          # guard bytes past y
    tile_rows = dsc.largest_tile_rows(Opcode.CONV_FP, k, stride, pad, n, m, h, w, cfg)
    desc = Descriptor(opcode=Opcode.CONV_FP, k=k, stride=stride, pad=pad, batch=batch, tile_rows=tile_rows,
                      n=n, m=m, h=h, w=w, in_addr=x_addr, wgt_addr=w_addr, out_addr=y_addr)
    assert dsc.validate(desc, cfg, addr_width) == dsc.ErrorCode.NONE
    ram.write(desc_addr, desc.pack())

    await wr(dsc.CSR_CHAIN_LO, desc_addr)
    await wr(dsc.CSR_CHAIN_HI, 0)
    await wr(dsc.CSR_CTRL, (1 << dsc.CTRL_START) | (1 << dsc.CTRL_IRQ_ENABLE))
    await with_timeout(RisingEdge(dut.irq), 2, "ms")
    status = dsc.decode_status(await rd(dsc.CSR_STATUS))
    assert status.done and not status.error, f"STATUS {status}"
    assert await rd(dsc.CSR_DESC_DONE) == 1

    # Compared as DRAM images, so a difference reads as an address (docs/debugging.md).
    got = np.frombuffer(ram.read(y_addr, y_bytes), "<u4")
    want = layout.act_to_dram(y_expected, cfg.tn).view("<u4")
    bad = np.flatnonzero(got != want)
    if bad.size:
        i = int(bad[0])
        b, cg, row, col, lane = np.unravel_index(i, (batch, -(-m // cfg.tn), *y_expected.shape[2:], cfg.tn))
        raise AssertionError(
            f"{bad.size} of {want.size} words of y differ from the oracle; first at word {i}, "
            f"addr {y_addr + 4 * i:#x} (y[{b}, {cg * cfg.tn + lane}, {row}, {col}]): "
            f"RTL {got[i]:08x}, oracle {want[i]:08x}")
    assert ram.read(y_addr + y_bytes, 64) == bytes([0xA5]) * 64, "the core wrote past y"

    await wr(dsc.CSR_IRQ, 1 << dsc.IRQ_PENDING)
    await ClockCycles(dut.aclk, 2)
    assert dut.irq.value == 0, "irq still high after IRQ.PENDING was cleared"
    dut._log.info("wrapper: RO registers, aliases, a %dx%d conv layer bit-exact, irq cleared", n, m)

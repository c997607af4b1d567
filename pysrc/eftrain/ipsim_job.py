"""The cocotb side of `eftrain.ipsim`: loads a job (memory image, chain address, regions
to read back), runs it on eftrain_top with an AxiRam as DRAM, and writes the result.
Not imported by user code; cocotb loads it inside the simulator process."""

from __future__ import annotations

import logging
import os
import pickle
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge, with_timeout
from cocotbext.axi import AxiBus, AxiLiteBus, AxiLiteMaster, AxiRam

from eftrain import descriptor as dsc


async def _counters(axil) -> dict[str, int]:
    values = {}
    for name, _ in dsc.COUNTERS:
        lo, hi = dsc.counter_offsets(name)
        values[name.lower()] = await axil.read_dword(lo) | (await axil.read_dword(hi)) << 32
    return values


@cocotb.test()
async def run_job(dut):
    job = pickle.loads(Path(os.environ["EFTRAIN_IPSIM_JOB"]).read_bytes())
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    ram = AxiRam(AxiBus.from_prefix(dut, "m_axi"), dut.clk, dut.rst_n, reset_active_level=False,
                 size=job["dram_bytes"])
    axil = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil"), dut.clk, dut.rst_n, reset_active_level=False)
    for bus in ("m_axi", "s_axil"):  # a log line per burst would dominate the run time
        logging.getLogger(f"cocotb.{dut._name}.{bus}").setLevel(logging.WARNING)
    dut.rst_n.value = 0
    await ClockCycles(dut.clk, 5)
    dut.rst_n.value = 1
    await ClockCycles(dut.clk, 5)
    for addr, data in job["memory"].items():
        ram.write(addr, data)
    before = await _counters(axil)
    chain = job["chain_addr"]
    await axil.write_dword(dsc.CSR_CHAIN_LO, chain & 0xFFFFFFFF)
    await axil.write_dword(dsc.CSR_CHAIN_HI, chain >> 32)
    await axil.write_dword(dsc.CSR_CTRL, (1 << dsc.CTRL_START) | (1 << dsc.CTRL_IRQ_ENABLE))
    await with_timeout(RisingEdge(dut.irq), job["timeout_cycles"] * 10, "ns")
    after = await _counters(axil)
    result = {
        "status": await axil.read_dword(dsc.CSR_STATUS),
        "desc_done": await axil.read_dword(dsc.CSR_DESC_DONE),
        "counters": {name: after[name] - before[name] for name in after},
        "regions": {addr: bytes(ram.read(addr, nbytes)) for addr, nbytes in job["read_back"]},
    }
    await axil.write_dword(dsc.CSR_IRQ, 1 << dsc.IRQ_PENDING)
    Path(os.environ["EFTRAIN_IPSIM_RESULT"]).write_bytes(pickle.dumps(result))

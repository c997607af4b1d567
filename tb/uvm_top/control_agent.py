"""The AXI-Lite control agent: a driver that performs register accesses and interrupt
waits with cocotbext-axi's AxiLiteMaster, and a monitor that reports every access seen
on the s_axil ports and every rising edge of irq.

ConfigDB: "DUT" (the eftrain_top handle), "SEED" (pause-generator seeds).
"""

from __future__ import annotations

import logging

import cocotb
from cocotb.simtime import get_sim_time
from cocotb.triggers import RisingEdge, SimTimeoutError, with_timeout
from cocotbext.axi import AxiLiteBus, AxiLiteMaster
from pyuvm import ConfigDB, uvm_agent, uvm_analysis_port, uvm_driver, uvm_monitor, uvm_sequencer

from edge_sampler import until_a_valid_rises
from items import CsrAccess, CsrItem, CsrWriteResponse, IrqEdge
from top_tb import CLK_NS, Stress


def now_cycles() -> float:
    return get_sim_time("ns") / CLK_NS


class CsrDriver(uvm_driver):
    """Runs CsrItems on an AxiLiteMaster (the software side of the core)."""

    def build_phase(self):
        self.dut = ConfigDB().get(self, "", "DUT")
        self.axil = AxiLiteMaster(AxiLiteBus.from_prefix(self.dut, "s_axil"), self.dut.clk, self.dut.rst_n,
                                  reset_active_level=False)
        logging.getLogger(f"cocotb.{self.dut._name}.s_axil").setLevel(logging.WARNING)

    async def run_phase(self):
        while True:
            item = await self.seq_item_port.get_next_item()
            if item.kind == "write":
                resp = await self.axil.write(item.offset, item.data.to_bytes(4, "little"))
                item.resp = int(resp.resp)
            elif item.kind == "read":
                resp = await self.axil.read(item.offset, 4)
                item.data, item.resp = int.from_bytes(resp.data, "little"), int(resp.resp)
            else:
                await self._wait_irq(item)
            self.seq_item_port.item_done()

    async def _wait_irq(self, item: CsrItem) -> None:
        """Level-sensitive, as an interrupt handler: returns at once if irq is high."""
        if self.dut.irq.value:
            return
        try:
            await with_timeout(RisingEdge(self.dut.irq), item.cycles * CLK_NS, "ns")
        except SimTimeoutError:
            item.timed_out = True


class ControlMonitor(uvm_monitor):
    """Publishes on ``ap``: a CsrAccess for a write as soon as its AW and W are both
    accepted (the core acts on it then, possibly long before the master accepts B) and a
    CsrWriteResponse at its B; a CsrAccess for a read at its R; an IrqEdge at every
    rising edge of irq."""

    def build_phase(self):
        self.ap = uvm_analysis_port("ap", self)
        self.dut = ConfigDB().get(self, "", "DUT")

    async def run_phase(self):
        cocotb.start_soon(self._irq())
        d = self.dut
        aw, w, reads = [], [], []
        writes_waiting_b = []
        valids = [d.s_axil_awvalid, d.s_axil_wvalid, d.s_axil_bvalid, d.s_axil_arvalid, d.s_axil_rvalid]
        edge = RisingEdge(d.clk)
        while True:
            await edge
            if not any(v.value for v in valids):
                await until_a_valid_rises(valids)
                continue
            if d.s_axil_awvalid.value and d.s_axil_awready.value:
                aw.append(int(d.s_axil_awaddr.value))
            if d.s_axil_wvalid.value and d.s_axil_wready.value:
                w.append((int(d.s_axil_wdata.value), int(d.s_axil_wstrb.value)))
            while aw and w:
                addr, (data, strb) = aw.pop(0), w.pop(0)
                writes_waiting_b.append(addr)
                self.ap.write(CsrAccess("write", addr, data, strb, None, now_cycles()))
            if d.s_axil_bvalid.value and d.s_axil_bready.value:
                if not writes_waiting_b:
                    raise AssertionError("AXI-Lite B response with no write outstanding")
                self.ap.write(CsrWriteResponse(writes_waiting_b.pop(0), int(d.s_axil_bresp.value), now_cycles()))
            if d.s_axil_arvalid.value and d.s_axil_arready.value:
                reads.append(int(d.s_axil_araddr.value))
            if d.s_axil_rvalid.value and d.s_axil_rready.value:
                if not reads:
                    raise AssertionError("AXI-Lite R beat with no read outstanding")
                self.ap.write(CsrAccess("read", reads.pop(0), int(d.s_axil_rdata.value), 0xF,
                                        int(d.s_axil_rresp.value), now_cycles()))

    async def _irq(self):
        while True:
            await RisingEdge(self.dut.irq)
            self.ap.write(IrqEdge(now_cycles()))


class ControlAgent(uvm_agent):
    """Sequencer, driver and monitor of the s_axil port. ``stress`` pauses the
    AxiLiteMaster's channels at random (top_tb.Stress)."""

    def build_phase(self):
        self.sequencer = uvm_sequencer("sequencer", self)
        self.driver = CsrDriver("driver", self)
        self.monitor = ControlMonitor("monitor", self)

    def connect_phase(self):
        self.driver.seq_item_port.connect(self.sequencer.seq_item_export)
        axil = self.driver.axil
        seed = ConfigDB().get(self, "", "SEED")
        self.stress = Stress([axil.write_if.aw_channel, axil.write_if.w_channel, axil.write_if.b_channel,
                              axil.read_if.ar_channel, axil.read_if.r_channel], seed ^ 0xC7A1)

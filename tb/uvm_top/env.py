"""The top-level environment: control agent (s_axil), memory agent (m_axi, the DRAM),
scoreboard and coverage, wired monitor -> scoreboard -> coverage.

ConfigDB (set by the test): "DUT", "HW_CONFIG", "SEED", "RNG", "COVERAGE_GOALS".
"""

from __future__ import annotations

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge, Timer
from pyuvm import ConfigDB, uvm_env

from control_agent import ControlAgent
from coverage import Coverage
from memory_agent import MemoryAgent
from scoreboard import Scoreboard
from top_tb import CLK_NS


class TopEnv(uvm_env):
    def build_phase(self):
        self.dut = ConfigDB().get(self, "", "DUT")
        self.cfg = ConfigDB().get(self, "", "HW_CONFIG")
        self.rng = ConfigDB().get(self, "", "RNG")
        cocotb.start_soon(Clock(self.dut.clk, CLK_NS, unit="ns").start())
        self.control = ControlAgent("control", self)
        self.memory = MemoryAgent("memory", self)
        self.scoreboard = Scoreboard("scoreboard", self)
        self.coverage = Coverage("coverage", self)

    def connect_phase(self):
        self.control.monitor.ap.connect(self.scoreboard.csr_export)
        self.memory.monitor.ap.connect(self.scoreboard.axi_export)
        self.scoreboard.checked_ap.connect(self.coverage.analysis_export)
        self.scoreboard.mem = self.memory.mem

    async def reset(self) -> None:
        # A 1-0 pulse between two clock edges first (the core never samples it): the
        # cocotbext-axi models follow rst_n's edges only, and with XSEED the core drives
        # random AXI valids until its reset reaches its flops (as top_tb.TB.reset).
        self.dut.rst_n.value = 0
        await RisingEdge(self.dut.clk)
        for level in (1, 0):
            await Timer(1, "ns")
            self.dut.rst_n.value = level
        await ClockCycles(self.dut.clk, 5)
        self.dut.rst_n.value = 1
        await ClockCycles(self.dut.clk, 5)

    def set_stress(self, on: bool) -> None:
        """Random pauses on every AXI and AXI-Lite channel the environment drives."""
        for stress in (self.memory.stress, self.control.stress):
            stress.on() if on else stress.off()

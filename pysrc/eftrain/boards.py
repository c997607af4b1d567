"""The boards the core targets: device resources and the memory path the core sees.

The device figures are the AMD/Xilinx product tables for each part (DS891, Zynq
UltraScale+ MPSoC overview). The memory figures describe the path from the core's AXI
master to the PS DDR4: one HP port (128 bits, clocked up to 333 MHz by the PS-PL
interface), then the PS DDR controller (64-bit DDR4, the board preset's data rate).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Board:
    """One evaluation board.

    name: the name ``eftrain plan --board`` takes.
    part: the FPGA part of the Vivado project (fpga/<name>/).
    dsp, bram36, uram, lut, ff: the device's resources (DSP48E2 slices, 36 Kb block RAMs,
        288 Kb UltraRAMs, CLB LUTs, CLB flip-flops).
    ddr_gbs: peak bandwidth of the PS DDR4 (64-bit bus x data rate), GB/s.
    hp_port_bits, hp_port_mhz: width and highest clock of one PS-PL HP port; the core's
        AXI master reaches DRAM through one of them.
    hp_efficiency: the fraction of an HP port's peak that long bursts sustain (command
        overheads and DDR refresh); an assumption, stated so that it can be revised.
    """

    name: str
    part: str
    dsp: int
    bram36: int
    uram: int
    lut: int
    ff: int
    ddr_gbs: float
    hp_port_bits: int = 128
    hp_port_mhz: float = 333.0
    hp_efficiency: float = 0.8

    @property
    def hp_port_gbs(self) -> float:
        """Peak bandwidth of one HP port, GB/s (one direction: AXI reads and writes have
        their own channels)."""
        return self.hp_port_bits / 8 * self.hp_port_mhz * 1e6 / 1e9

    def axi_bits_for(self, clock_mhz: float) -> int:
        """The narrowest AXI data width (a power of two, bits) that carries an HP port's
        peak at a core clock of ``clock_mhz``: a wider master only adds LUTs, because
        the SmartConnect in front of the port cannot pass more."""
        bits = 32
        while bits * clock_mhz < self.hp_port_bits * self.hp_port_mhz:
            bits *= 2
        return bits

    def dram_bytes_per_cycle(self, clock_mhz: float) -> float:
        """Sustained bytes per core clock cycle, each direction, through one HP port."""
        gbs = min(self.hp_port_gbs, self.ddr_gbs) * self.hp_efficiency
        return gbs * 1e9 / (clock_mhz * 1e6)


ZCU102 = Board(name="zcu102", part="xczu9eg-ffvb1156-2-e", dsp=2520, bram36=912, uram=0,
               lut=274_080, ff=548_160, ddr_gbs=64 / 8 * 2.133)
ZCU104 = Board(name="zcu104", part="xczu7ev-ffvc1156-2-e", dsp=1728, bram36=312, uram=96,
               lut=230_400, ff=460_800, ddr_gbs=64 / 8 * 2.4)

BOARDS: dict[str, Board] = {b.name: b for b in (ZCU102, ZCU104)}


def board(name: str) -> Board:
    """The board called ``name`` (case-insensitive); ValueError naming the known ones."""
    try:
        return BOARDS[name.lower()]
    except KeyError:
        raise ValueError(f"unknown board {name!r}; known: {', '.join(sorted(BOARDS))}") from None

"""cocotb drivers for the conv engine's ports: commands, the load port, the store port
and the per-command statistics. Used by tb/conv_engine (and by later top-level tests
that look inside the engine)."""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import cocotb
from cocotb.triggers import ReadOnly, RisingEdge, gather, with_timeout

from eftrain.engine import EngineCmd


def pack_words(words: np.ndarray) -> int:
    """A beat of fp32 words (element 0 in the least significant bits) as one integer."""
    return int.from_bytes(np.ascontiguousarray(words, dtype=np.float32).tobytes(), "little")


def unpack_words(value: int, n: int) -> np.ndarray:
    return np.frombuffer(value.to_bytes(4 * n, "little"), dtype=np.uint32).copy()


@dataclass
class CommandStat:
    start_cycle: int
    end_cycle: int
    mac_cycles: int

    @property
    def cycles(self) -> int:
        return self.end_cycle - self.start_cycle + 1


class EngineDriver:
    """Drives one engine instance: ``await run(commands, loads, n_store_beats)``.

    ``stall_probability`` pauses the load source and the store sink at random (seeded
    from ``rng``) to shake out handshake bugs; 0 runs both ports at full rate.
    """

    def __init__(self, dut, tn: int, rng: random.Random, stall_probability: float = 0.0):
        self.dut = dut
        self.tn = tn
        self.rng = rng
        self.stall_probability = stall_probability
        self.stats: list[CommandStat] = []

    def _stall(self) -> bool:
        return self.stall_probability > 0 and self.rng.random() < self.stall_probability

    async def _send_commands(self, commands: list[EngineCmd]) -> None:
        dut = self.dut
        for cmd in commands:
            dut.cmd_i.value = cmd.pack()
            dut.cmd_valid_i.value = 1
            while True:
                await RisingEdge(dut.clk_i)
                if dut.cmd_ready_o.value == 1:
                    break
        dut.cmd_valid_i.value = 0

    async def _send_loads(self, loads: list[np.ndarray]) -> None:
        dut = self.dut
        for beats in loads:
            for beat in beats:
                while self._stall():
                    dut.ld_valid_i.value = 0
                    await RisingEdge(dut.clk_i)
                dut.ld_data_i.value = pack_words(beat)
                dut.ld_valid_i.value = 1
                while True:
                    await RisingEdge(dut.clk_i)
                    if dut.ld_ready_o.value == 1:
                        break
        dut.ld_valid_i.value = 0

    async def _receive(self, n_beats: int, out: list[np.ndarray]) -> None:
        dut = self.dut
        while len(out) < n_beats:
            dut.st_ready_i.value = 0 if self._stall() else 1
            await RisingEdge(dut.clk_i)
            if dut.st_valid_o.value == 1 and dut.st_ready_i.value == 1:
                out.append(unpack_words(int(dut.st_data_o.value), self.tn))
        dut.st_ready_i.value = 0

    async def _watch_stats(self) -> None:
        dut = self.dut
        while True:
            await RisingEdge(dut.stat_valid_o)
            await ReadOnly()
            self.stats.append(CommandStat(int(dut.stat_start_cycle_o.value),
                                          int(dut.stat_end_cycle_o.value),
                                          int(dut.stat_mac_cycles_o.value)))

    async def reset(self) -> None:
        dut = self.dut
        dut.rst_ni.value = 0
        dut.cmd_valid_i.value = 0
        dut.ld_valid_i.value = 0
        dut.st_ready_i.value = 0
        for _ in range(4):
            await RisingEdge(dut.clk_i)
        dut.rst_ni.value = 1
        await RisingEdge(dut.clk_i)
        cocotb.start_soon(self._watch_stats())

    async def run(self, commands: list[EngineCmd], loads: list[np.ndarray], n_store_beats: int,
                  timeout_cycles: int) -> list[np.ndarray]:
        """Run one command list to completion; return the store beats (uint32 words)."""
        self.stats = []
        beats: list[np.ndarray] = []
        await with_timeout(gather(self._send_commands(commands), self._send_loads(loads),
                                  self._receive(n_store_beats, beats)),
                           timeout_cycles * 10, "ns")
        while self.dut.idle_o.value != 1:
            await RisingEdge(self.dut.clk_i)
        return beats

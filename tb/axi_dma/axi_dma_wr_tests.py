"""cocotb tests of the AXI4 write DMA alone (run by test_axi_dma.py): requests of any byte
length from beat-aligned addresses, including partial last beats (write strobes), bursts
across 4 KB boundaries, pauses on all three AXI write channels, and drop mode."""

from __future__ import annotations

import itertools
import logging

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge
from cocotbext.axi import AxiRamWrite, AxiWriteBus

BEAT = 16
MEM = 1 << 16


async def drive_requests(dut, requests):
    for addr, nbytes, drop in requests:
        dut.req_addr_i.value = addr
        dut.req_bytes_i.value = nbytes
        dut.drop_i.value = int(drop)
        dut.req_valid_i.value = 1
        while True:
            await RisingEdge(dut.clk_i)
            if dut.req_ready_o.value == 1:
                break
        dut.req_valid_i.value = 0
        dut.drop_i.value = 0


async def drive_data(dut, beats, rng):
    for beat in beats:
        while rng.random() < 0.2:
            dut.data_valid_i.value = 0
            await RisingEdge(dut.clk_i)
        dut.data_i.value = int.from_bytes(beat, "little")
        dut.data_valid_i.value = 1
        while True:
            await RisingEdge(dut.clk_i)
            if dut.data_ready_o.value == 1:
                break
    dut.data_valid_i.value = 0


@cocotb.test()
async def dma_wr_partial_beats_and_bursts(dut):
    rng = np.random.default_rng(cocotb.RANDOM_SEED)
    cocotb.start_soon(Clock(dut.clk_i, 10, unit="ns").start())
    ram = AxiRamWrite(AxiWriteBus.from_prefix(dut, "m_axi"), dut.clk_i, dut.rst_ni,
                      reset_active_level=False, size=MEM)
    logging.getLogger(f"cocotb.{dut._name}.m_axi").setLevel(logging.WARNING)
    for channel in (ram.aw_channel, ram.w_channel, ram.b_channel):
        pattern = [int(v) for v in rng.integers(0, 2, 23)]
        channel.set_pause_generator(itertools.cycle(pattern))
    for name in ("req_valid_i", "data_valid_i", "drop_i", "clear_i"):
        getattr(dut, name).value = 0
    dut.rst_ni.value = 0
    await ClockCycles(dut.clk_i, 4)
    dut.rst_ni.value = 1
    await ClockCycles(dut.clk_i, 2)

    initial = rng.integers(0, 256, MEM, dtype=np.uint8).tobytes()
    ram.write(0, initial)
    expected = bytearray(initial)
    requests, beats = [], []
    cursor = 0
    for index in range(40):
        nbytes = int(rng.integers(1, 5000))
        addr = cursor + BEAT * int(rng.integers(0, 64))
        if addr + nbytes + BEAT > MEM:
            break
        drop = index % 9 == 4
        data = rng.integers(0, 256, -(-nbytes // BEAT) * BEAT, dtype=np.uint8).tobytes()
        beats += [data[i:i + BEAT] for i in range(0, len(data), BEAT)]
        requests.append((addr, nbytes, drop))
        if not drop:
            expected[addr:addr + nbytes] = data[:nbytes]
        cursor = -(-(addr + nbytes) // BEAT) * BEAT
    partial = sum(1 for _, n, d in requests if n % BEAT and not d)
    crossing = sum(1 for a, n, d in requests if a // 4096 != (a + n - 1) // 4096 and not d)
    await cocotb.triggers.gather(drive_requests(dut, requests), drive_data(dut, beats, rng))
    for _ in range(20000):
        await RisingEdge(dut.clk_i)
        if dut.idle_o.value == 1:
            break
    assert dut.idle_o.value == 1, "the write DMA did not finish"
    assert dut.error_o.value == 0
    got = ram.read(0, MEM)
    bad = [i for i in range(MEM) if got[i] != expected[i]]
    assert not bad, f"{len(bad)} bytes differ, first at {bad[0]:#x}: {got[bad[0]]:#x} != {expected[bad[0]]:#x}"
    dut._log.info("%d requests (%d with a partial last beat, %d across 4 KB, %d dropped), %d beats: "
                  "every byte as expected", len(requests), partial, crossing,
                  sum(1 for *_, d in requests if d), len(beats))
    assert partial > 0 and crossing > 0

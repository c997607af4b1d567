"""cocotb benchmark of the core (run by ``make bench``, tb/bench/run_bench.py).

The top is tb/bench/bench_top.sv: ``eftrain_top`` with the DRAM model
(tb/bench/axi_dram_model.sv, latency and bandwidth set on its ports) on its AXI master,
so that no Python runs while a layer runs. Control goes through the real AXI4-Lite port
(cocotbext-axi's AxiLiteMaster); tensors are put into and read out of the model's memory
through VPI before and after each run.

The jobs come from the JSON file ``BENCH_JOBS`` names: the hardware configuration, the
DRAM model's settings and a list of layers, each with the phases to run and their
``tile_rows``. For every layer and phase: one descriptor, the doorbell, the interrupt;
the result is compared with the oracle's exact mode bit for bit, and the counters read
across the run are written to ``BENCH_RESULTS`` (JSON), layer by layer, so a long run
shows progress and a cut-off run keeps what it measured.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge, with_timeout
from cocotbext.axi import AxiLiteBus, AxiLiteMaster

from eftrain import HwConfig, fp32, layout, oracle
from eftrain import descriptor as dsc

PHASE_OPCODE = {"FP": dsc.Opcode.CONV_FP, "BP": dsc.Opcode.CONV_BP, "WU": dsc.Opcode.CONV_WU}


class DramImage:
    """The DRAM model's memory, word by word through VPI (AXI_DATA_WIDTH-bit words)."""

    def __init__(self, dut, beat_bytes: int):
        self.mem = dut.u_dram.mem
        self.beat_bytes = beat_bytes

    def write(self, addr: int, data: bytes) -> None:
        assert addr % self.beat_bytes == 0
        data = bytes(data) + bytes(-len(data) % self.beat_bytes)
        first = addr // self.beat_bytes
        for i in range(len(data) // self.beat_bytes):
            chunk = data[i * self.beat_bytes:(i + 1) * self.beat_bytes]
            self.mem[first + i].value = int.from_bytes(chunk, "little")

    def read(self, addr: int, nbytes: int) -> bytes:
        assert addr % self.beat_bytes == 0
        first = addr // self.beat_bytes
        words = -(-nbytes // self.beat_bytes)
        out = b"".join(int(self.mem[first + i].value).to_bytes(self.beat_bytes, "little")
                       for i in range(words))
        return out[:nbytes]


async def read_counters(axil) -> dict[str, int]:
    values = {}
    for name, _ in dsc.COUNTERS:
        lo, hi = dsc.counter_offsets(name)
        values[name.lower()] = await axil.read_dword(lo) | (await axil.read_dword(hi)) << 32
    return values


def _align(n: int) -> int:
    return -(-n // 4096) * 4096


async def run_phase(dut, axil, dram: DramImage, cfg: HwConfig, layer: dict, phase: str,
                    tensors: dict[str, np.ndarray]) -> dict:
    """One descriptor of ``layer`` in ``phase``; the counters across it."""
    g, k, stride, pad = cfg.tn, layer["k"], layer["stride"], layer["pad"]
    x, w, dy = tensors["x"], tensors["w"], tensors["dy"]
    # One map per run: x, w, dy, out, then the descriptor (4 KB aligned).
    addr = {"desc": 0x1000}
    cursor = 0x2000
    for name, nbytes in (("x", layout.act_bytes(x.shape, g)), ("w", layout.weights_bytes(w.shape, g)),
                         ("dy", layout.act_bytes(dy.shape, g)),
                         ("out", max(layout.act_bytes(x.shape, g), layout.weights_bytes(w.shape, g)))):
        addr[name] = cursor
        cursor += _align(nbytes)
    if phase == "FP":
        want = oracle.conv_fp(x, w, stride, pad, cfg)
        inputs = dict(in_addr=addr["x"], wgt_addr=addr["w"])
        dram.write(addr["x"], layout.act_to_dram(x, g).tobytes())
        dram.write(addr["w"], layout.weights_to_dram(w, g).tobytes())
    elif phase == "BP":
        want = oracle.conv_bp(dy, w, x.shape[2:], stride, pad, cfg)
        inputs = dict(in_addr=addr["dy"], wgt_addr=addr["w"])
        dram.write(addr["dy"], layout.act_to_dram(dy, g).tobytes())
        dram.write(addr["w"], layout.weights_to_dram(w, g).tobytes())
    else:
        want = oracle.conv_wu(x, dy, k, stride, pad, cfg)
        inputs = dict(in_addr=addr["x"], aux_addr=addr["dy"])
        dram.write(addr["x"], layout.act_to_dram(x, g).tobytes())
        dram.write(addr["dy"], layout.act_to_dram(dy, g).tobytes())
    batch, n, h, wd = x.shape
    desc = dsc.Descriptor(opcode=PHASE_OPCODE[phase], k=k, stride=stride, pad=pad, batch=batch,
                          tile_rows=layer["tile_rows"][phase], n=n, m=w.shape[0], h=h, w=wd,
                          out_addr=addr["out"], **inputs)
    problem = dsc.validate(desc, cfg)
    assert problem == dsc.ErrorCode.NONE, f"{layer['name']} {phase}: invalid descriptor ({problem.name})"
    dram.write(addr["desc"], desc.pack())

    before = await read_counters(axil)
    start = time.monotonic()
    await axil.write_dword(dsc.CSR_CHAIN_LO, addr["desc"])
    await axil.write_dword(dsc.CSR_CHAIN_HI, 0)
    await axil.write_dword(dsc.CSR_CTRL, (1 << dsc.CTRL_START) | (1 << dsc.CTRL_IRQ_ENABLE))
    await with_timeout(RisingEdge(dut.irq), 60 * 60, "sec")
    seconds = time.monotonic() - start
    after = await read_counters(axil)
    status = dsc.decode_status(await axil.read_dword(dsc.CSR_STATUS))
    await axil.write_dword(dsc.CSR_IRQ, 1 << dsc.IRQ_PENDING)
    assert status.done and not status.error, f"{layer['name']} {phase}: {status}"

    if phase == "WU":
        got = layout.weights_from_dram(dram.read(addr["out"], layout.weights_bytes(want.shape, g)), want.shape, g)
    else:
        got = layout.act_from_dram(dram.read(addr["out"], layout.act_bytes(want.shape, g)), want.shape, g)
    assert np.array_equal(fp32.bits(got), fp32.bits(want)), \
        f"{layer['name']} {phase}: result differs from the oracle's exact mode"
    delta = {key: after[key] - before[key] for key in after}
    delta["wall_seconds"] = seconds
    return delta


@cocotb.test()
async def bench_layers(dut):
    jobs = json.loads(Path(os.environ["BENCH_JOBS"]).read_text())
    out_path = os.environ["BENCH_RESULTS"]
    c = jobs["config"]
    cfg = HwConfig(tm=c["tn"], tn=c["tn"], kmax=c["kmax"], ib_depth=c["ib_depth"],
                   ob_depth=c["ob_depth"], wb_depth=c["wb_depth"])
    dram = DramImage(dut, c["axi_data_width"] // 8)
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start(start_high=False))
    axil = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil"), dut.clk, dut.rst_n, reset_active_level=False)
    logging.getLogger(f"cocotb.{dut._name}.s_axil").setLevel(logging.WARNING)
    dut.dram_latency.value = jobs["dram"]["latency"]
    dut.dram_bytes_per_cycle.value = round(jobs["dram"]["bytes_per_cycle"] * 256)
    dut.rst_n.value = 0
    for _ in range(5):
        await RisingEdge(dut.clk)
    dut.rst_n.value = 1
    for _ in range(5):
        await RisingEdge(dut.clk)

    rng = np.random.default_rng(cocotb.RANDOM_SEED)
    results = []
    for index, layer in enumerate(jobs["layers"]):
        k, stride, pad = layer["k"], layer["stride"], layer["pad"]
        b, n, m, h, w = layer["batch"], layer["n"], layer["m"], layer["h"], layer["w"]
        ho, wo = dsc.out_hw(h, w, k, stride, pad)
        tensors = {"x": rng.standard_normal((b, n, h, w)).astype(np.float32),
                   "w": rng.standard_normal((m, n, k, k)).astype(np.float32),
                   "dy": rng.standard_normal((b, m, ho, wo)).astype(np.float32)}
        for phase in layer["phases"]:
            figures = await run_phase(dut, axil, dram, cfg, layer, phase, tensors)
            results.append({"layer": layer["name"], "phase": phase, **figures})
            dut._log.info("[%d/%d] %s %s: %d cycles, MAC utilisation %.1f%%, %.0f cycles/s (bit-exact)",
                          index + 1, len(jobs["layers"]), layer["name"], phase, figures["busy"],
                          100 * figures["mac"] / figures["busy"], figures["busy"] / figures["wall_seconds"])
            with open(out_path, "w") as f:
                json.dump(results, f, indent=1)

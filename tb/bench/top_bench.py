"""cocotb benchmark of eftrain_top (run by tb/bench/run_bench.py, not by the regression).

Runs conv layers FP, BP and WU from DRAM to DRAM with cocotbext-axi's AxiRam as the DRAM
at its defaults (no added latency, no pauses: one beat per cycle on every channel), checks
each result bit for bit, and writes the measured figures to ``bench_top.json`` in the
simulation directory: cycles per phase (the CYCLES counter across the doorbell), MAC
utilisation (MAC counter / cycles), AXI beats, bursts and the average burst length.
"""

from __future__ import annotations

import json
import logging
import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge, with_timeout
from cocotbext.axi import AxiBus, AxiLiteBus, AxiLiteMaster, AxiRam

from eftrain import HwConfig, fp32, layout, oracle
from eftrain import descriptor as dsc


def counters_of(values: dict[str, int]) -> dict[str, int]:
    return {name.lower(): values[name] for name, _ in dsc.COUNTERS}


async def read_counters(axil) -> dict[str, int]:
    values = {}
    for name, _ in dsc.COUNTERS:
        lo, hi = dsc.counter_offsets(name)
        values[name] = await axil.read_dword(lo) | (await axil.read_dword(hi)) << 32
    return counters_of(values)


@cocotb.test()
async def bench_layers(dut):
    tn = int(os.environ["BENCH_TN"])
    cfg = HwConfig(tm=tn, tn=tn, ib_depth=int(os.environ["BENCH_IB_DEPTH"]),
                   ob_depth=int(os.environ["BENCH_OB_DEPTH"]), wb_depth=int(os.environ["BENCH_WB_DEPTH"]))
    batch, n, m, size, k, pad = (int(v) for v in os.environ["BENCH_LAYER"].split(","))
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    ram = AxiRam(AxiBus.from_prefix(dut, "m_axi"), dut.clk, dut.rst_n, reset_active_level=False, size=1 << 24)
    axil = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil"), dut.clk, dut.rst_n, reset_active_level=False)
    for bus in ("m_axi", "s_axil"):  # a log line per burst would dominate the run time
        logging.getLogger(f"cocotb.{dut._name}.{bus}").setLevel(logging.WARNING)
    dut.rst_n.value = 0
    for _ in range(5):
        await RisingEdge(dut.clk)
    dut.rst_n.value = 1
    for _ in range(5):
        await RisingEdge(dut.clk)

    rng = np.random.default_rng(cocotb.RANDOM_SEED)
    x = rng.standard_normal((batch, n, size, size)).astype(np.float32)
    w = rng.standard_normal((m, n, k, k)).astype(np.float32)
    ho = size + 2 * pad - k + 1
    dy = rng.standard_normal((batch, m, ho, ho)).astype(np.float32)
    addr = {"x": 0x10000, "w": 0x400000, "dy": 0x500000, "out": 0x900000, "desc": 0x1000}
    ram.write(addr["x"], layout.act_to_dram(x, tn).tobytes())
    ram.write(addr["w"], layout.weights_to_dram(w, tn).tobytes())
    ram.write(addr["dy"], layout.act_to_dram(dy, tn).tobytes())

    results = {"config": {"tm": tn, "tn": tn, "ib_depth": cfg.ib_depth, "ob_depth": cfg.ob_depth,
                          "wb_depth": cfg.wb_depth, "axi_data_width": 128},
               "layer": {"batch": batch, "n": n, "m": m, "size": size, "k": k, "pad": pad, "stride": 1},
               "dram": "cocotbext-axi AxiRam, defaults: no added latency, no pauses", "phases": {}}
    phases = [
        ("FP", dsc.Opcode.CONV_FP, dict(in_addr=addr["x"], wgt_addr=addr["w"]), oracle.conv_fp(x, w, 1, pad, cfg)),
        ("BP", dsc.Opcode.CONV_BP, dict(in_addr=addr["dy"], wgt_addr=addr["w"]),
         oracle.conv_bp(dy, w, (size, size), 1, pad, cfg)),
        ("WU", dsc.Opcode.CONV_WU, dict(in_addr=addr["x"], aux_addr=addr["dy"]), oracle.conv_wu(x, dy, k, 1, pad, cfg)),
    ]
    for name, opcode, addrs, want in phases:
        rows = dsc.largest_tile_rows(opcode, k, 1, pad, n, m, size, size, cfg)
        desc = dsc.Descriptor(opcode=opcode, k=k, stride=1, pad=pad, batch=batch, tile_rows=rows, n=n, m=m,
                              h=size, w=size, out_addr=addr["out"], **addrs)
        ram.write(addr["desc"], desc.pack())
        before = await read_counters(axil)
        await axil.write_dword(dsc.CSR_CHAIN_LO, addr["desc"])
        await axil.write_dword(dsc.CSR_CHAIN_HI, 0)
        await axil.write_dword(dsc.CSR_CTRL, (1 << dsc.CTRL_START) | (1 << dsc.CTRL_IRQ_ENABLE))
        await with_timeout(RisingEdge(dut.irq), 1, "sec")
        after = await read_counters(axil)
        status = dsc.decode_status(await axil.read_dword(dsc.CSR_STATUS))
        await axil.write_dword(dsc.CSR_IRQ, 1 << dsc.IRQ_PENDING)
        assert status.done and not status.error, f"{name}: {status}"
        if name == "WU":
            got = layout.weights_from_dram(ram.read(addr["out"], layout.weights_bytes(want.shape, tn)), want.shape, tn)
        else:
            got = layout.act_from_dram(ram.read(addr["out"], layout.act_bytes(want.shape, tn)), want.shape, tn)
        assert np.array_equal(fp32.bits(got), fp32.bits(want)), f"{name}: result differs from the oracle"
        delta = {key: after[key] - before[key] for key in after}
        busy = delta["busy"]
        figures = {
            "tile_rows": rows,
            "busy_cycles": busy,
            "mac_cycles": delta["mac"],
            "mac_utilisation": delta["mac"] / busy,
            "stall_load": delta["stall_load"], "stall_store": delta["stall_store"],
            "stall_hazard": delta["stall_hazard"],
            "axi_read_beats": delta["axi_rd_beats"], "axi_read_bursts": delta["axi_rd_bursts"],
            "axi_write_beats": delta["axi_wr_beats"], "axi_write_bursts": delta["axi_wr_bursts"],
            "avg_read_burst_beats": delta["axi_rd_beats"] / delta["axi_rd_bursts"],
            "avg_write_burst_beats": delta["axi_wr_beats"] / delta["axi_wr_bursts"],
            "avg_burst_beats": (delta["axi_rd_beats"] + delta["axi_wr_beats"])
                               / (delta["axi_rd_bursts"] + delta["axi_wr_bursts"]),
        }
        results["phases"][name] = figures
        dut._log.info("%s: %d busy cycles, MAC utilisation %.1f%%, average burst %.1f beats (bit-exact)",
                      name, busy, 100 * figures["mac_utilisation"], figures["avg_burst_beats"])
    with open("bench_top.json", "w") as f:
        json.dump(results, f, indent=2)

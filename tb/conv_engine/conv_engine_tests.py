"""cocotb tests of the conv engine (run by test_conv_engine.py).

Whole layers run tile by tile through the engine's real ports: `eftrain.schedule` turns
a layer into engine commands and load beats, the drivers push them, and every stored
word is compared bit for bit with `eftrain.oracle`'s exact mode. Each layer reports the
array's cycles per tile and its MAC utilisation (MAC cycles / cycles of the tile's
compute phase, from the engine's per-command statistics).
"""

from __future__ import annotations

import dataclasses
import os
import random
from dataclasses import dataclass

import cocotb
import numpy as np
from cocotb.clock import Clock

from eftrain import HwConfig, fp32, oracle
from eftrain.engine import Mode, Op
from eftrain.schedule import Schedule, schedule_conv, schedule_fc
from eftrain_tb.engine_driver import CommandStat, EngineDriver


def hw_config(dut) -> HwConfig:
    """The HwConfig of the DUT, from its parameters (set by the pytest wrapper)."""
    env = os.environ
    return HwConfig(tm=int(env["ENGINE_TN"]), tn=int(env["ENGINE_TN"]),
                    ib_depth=int(env["ENGINE_IB_DEPTH"]), ob_depth=int(env["ENGINE_OB_DEPTH"]),
                    wb_depth=int(env["ENGINE_WB_DEPTH"]))


@dataclass
class Layer:
    """One layer phase: what to run and the oracle's exact answer."""

    name: str
    schedule: Schedule
    expected: np.ndarray
    passes_per_tile: int


def make_layer(rng: np.random.Generator, cfg: HwConfig, phase: str, *, k: int, stride: int, pad: int,
               batch: int, n: int, m: int, hw: tuple[int, int], tile_rows: int | None) -> Layer:
    """Random data for one layer phase; phase is FP, BP, WU or FC-FP, FC-BP, FC-WU."""
    tn = cfg.tn
    if phase.startswith("FC"):
        x = rng.standard_normal((batch, n)).astype(np.float32)
        w = rng.standard_normal((m, n)).astype(np.float32)
        dy = rng.standard_normal((batch, m)).astype(np.float32)
        mode = Mode[phase[3:]]
        if mode == Mode.FP:
            sched, want = schedule_fc(mode, cfg=cfg, x=x, w=w), oracle.fc_fp(x, w, cfg=cfg)
        elif mode == Mode.BP:
            sched, want = schedule_fc(mode, cfg=cfg, dy=dy, w=w), oracle.fc_bp(dy, w, cfg=cfg)
        else:
            sched, want = schedule_fc(mode, cfg=cfg, x=x, dy=dy, group_wu=True), oracle.fc_wu(x, dy, cfg=cfg)
        return Layer(f"{phase} B={batch} N={n} M={m}", sched, want, passes_per_tile(sched, n, m))
    h, w_ = hw
    x = rng.standard_normal((batch, n, h, w_)).astype(np.float32)
    w = rng.standard_normal((m, n, k, k)).astype(np.float32)
    ho, wo = (h + 2 * pad - k) // stride + 1, (w_ + 2 * pad - k) // stride + 1
    dy = rng.standard_normal((batch, m, ho, wo)).astype(np.float32)
    mode = Mode[phase]
    common = dict(cfg=cfg, stride=stride, pad=pad, tile_rows=tile_rows)
    if mode == Mode.FP:
        sched, want = schedule_conv(mode, x=x, w=w, **common), oracle.conv_fp(x, w, stride, pad, cfg)
    elif mode == Mode.BP:
        sched = schedule_conv(mode, dy=dy, w=w, in_hw=(h, w_), **common)
        want = oracle.conv_bp(dy, w, (h, w_), stride, pad, cfg)
    else:
        # The engine's dW blocks: channel tiles interleaved in one COMPUTE.
        sched = schedule_conv(mode, x=x, dy=dy, k=k, group_wu=True, **common)
        want = oracle.conv_wu(x, dy, k, stride, pad, cfg)
    name = (f"{phase} K={k} s={stride} pad={pad} B={batch} N={n} M={m} HxW={h}x{w_} "
            f"tile_rows={sched.tile_rows}")
    return Layer(name, sched, want, passes_per_tile(sched, n, m))


def passes_per_tile(sched: Schedule, n: int, m: int) -> int:
    """COMPUTEs per output tile: one per channel tile of the reduced dimension, or (WU)
    one per group of channel tiles a COMPUTE interleaves as dW blocks."""
    inner = -(-(m if sched.phase == Mode.BP else n) // sched.cfg.tn)
    group = max(c.blocks for c in sched.commands if c.op == Op.COMPUTE)
    return -(-inner // group)


def random_layer(rng: np.random.Generator, cfg: HwConfig) -> Layer:
    """A layer with ragged channels and image sizes, any kernel, stride and padding."""
    tn = cfg.tn
    phase = str(rng.choice(["FP", "BP", "WU", "FP", "BP", "WU", "FC-FP", "FC-BP", "FC-WU"]))
    k = int(rng.choice([1, 2, 3, 5]))
    stride = int(rng.integers(1, 3))
    pad = int(rng.integers(0, k))
    h = int(rng.integers(max(1, k - 2 * pad), 11))
    w = int(rng.integers(max(1, k - 2 * pad), 11))
    n = int(rng.integers(1, 2 * tn + 3))
    m = int(rng.integers(1, 2 * tn + 3))
    batch = int(rng.integers(1, 5))
    ho = (h + 2 * pad - k) // stride + 1
    tile_rows = None if rng.random() < 0.4 else int(rng.integers(1, max(2, ho) + 1))
    if phase == "BP" and stride == 2 and tile_rows is not None:
        tile_rows = max(2, tile_rows + tile_rows % 2)
    return make_layer(rng, cfg, phase, k=k, stride=stride, pad=pad, batch=batch, n=n, m=m,
                      hw=(h, w), tile_rows=tile_rows)


def tile_utilisation(stats: list[CommandStat], passes_per_tile: int) -> list[tuple[int, float]]:
    """(cycles, MAC utilisation) of each tile's compute phase: from its first pass's first
    cycle to its last pass's last cycle."""
    tiles = []
    for start in range(0, len(stats), passes_per_tile):
        group = stats[start:start + passes_per_tile]
        cycles = group[-1].end_cycle - group[0].start_cycle + 1
        tiles.append((cycles, sum(s.mac_cycles for s in group) / cycles))
    return tiles


def check(layer: Layer, got: np.ndarray) -> None:
    """Every word of ``got`` equals the oracle's, bit for bit."""
    want_bits, got_bits = fp32.bits(layer.expected), fp32.bits(got)
    bad = np.argwhere(want_bits != got_bits)
    if len(bad):
        first = tuple(int(i) for i in bad[0])
        raise AssertionError(
            f"{layer.name}: {len(bad)} of {want_bits.size} words differ from the oracle; first at "
            f"{first}: RTL {got_bits[first]:08x}, oracle {want_bits[first]:08x}")


async def run_stream(driver: EngineDriver, layers: list[Layer]) -> None:
    """Run the layers as ONE command stream (no wait between them) and check each."""
    commands = [c for layer in layers for c in layer.schedule.commands]
    loads = [a for layer in layers for a in layer.schedule.loads]
    n_store = sum(layer.schedule.n_store_beats for layer in layers)
    budget = 50 * (sum(len(a) for a in loads) + n_store) + 4 * sum(
        c.count + c.out_rows * c.out_w * c.k * c.k for c in commands) + 10_000
    beats = np.array(await driver.run(commands, loads, n_store, budget), dtype=np.uint32)
    beats = beats.reshape(-1, driver.tn)
    start = 0
    for layer in layers:
        n = layer.schedule.n_store_beats
        check(layer, layer.schedule.assemble(beats[start:start + n]))
        start += n


async def run_layer(driver: EngineDriver, layer: Layer) -> list[tuple[int, float]]:
    """Run one layer on the engine, check every word, return the per-tile figures."""
    await run_stream(driver, [layer])
    return tile_utilisation(driver.stats, layer.passes_per_tile)


async def start(dut, stall_probability: float = 0.0) -> tuple[EngineDriver, HwConfig, np.random.Generator]:
    cfg = hw_config(dut)
    cocotb.start_soon(Clock(dut.clk_i, 10, unit="ns").start())
    driver = EngineDriver(dut, cfg.tn, random.Random(cocotb.RANDOM_SEED), stall_probability)
    await driver.reset()
    return driver, cfg, np.random.default_rng(cocotb.RANDOM_SEED)


@cocotb.test()
async def engine_random_layers(dut):
    """Random layers of every phase, bit-exact against the oracle, with random stalls on
    the load and store ports in half of them."""
    n_layers = int(os.environ["ENGINE_LAYERS"])
    driver, cfg, rng = await start(dut)
    for index in range(n_layers):
        layer = random_layer(rng, cfg)
        driver.stall_probability = 0.3 if index % 2 else 0.0
        tiles = await run_layer(driver, layer)
        cycles = [c for c, _ in tiles]
        macs = sum(c * u for c, u in tiles)
        dut._log.info("layer %3d ok: %-62s %3d tiles of %d..%d cycles, MAC utilisation %5.1f%%%s",
                      index, layer.name, len(tiles), min(cycles), max(cycles), 100 * macs / sum(cycles),
                      " (port stalls)" if driver.stall_probability else "")
    dut._log.info("%d random layers bit-exact (TN=%d)", n_layers, cfg.tn)


@cocotb.test()
async def engine_back_to_back(dut):
    """Random layers of mixed phases streamed as one program: FP, BP and WU tiles of
    different layers meet in the units (half reuse across layers, mode switches, LOAD_OUT
    right after a dot-mode tile, weight reloads behind running computes)."""
    driver, cfg, rng = await start(dut, stall_probability=0.2)
    streams = int(os.environ["ENGINE_STREAMS"])
    for index in range(streams):
        layers = [random_layer(rng, cfg) for _ in range(int(rng.integers(2, 6)))]
        await run_stream(driver, layers)
        dut._log.info("stream %2d ok: %s", index, " | ".join(layer.name.split(" tile_rows")[0] for layer in layers))


@cocotb.test()
async def engine_same_half_reuse(dut):
    """A program that uses IB half 0 for every pass: each COMPUTE must wait for the
    LOAD_IN after the previous one, never start on the half being released."""
    driver, cfg, rng = await start(dut)
    tn = cfg.tn
    layer = make_layer(rng, cfg, "FP", k=3, stride=1, pad=1, batch=2, n=2 * tn + 1, m=tn,
                       hw=(6, 6), tile_rows=3)
    layer.schedule.commands = [
        dataclasses.replace(c, half=0) if c.op == Op.LOAD_IN
        else dataclasses.replace(c, ib_half=0) if c.op == Op.COMPUTE else c
        for c in layer.schedule.commands]
    await run_stream(driver, [layer])


@cocotb.test()
async def engine_utilisation(dut):
    """3x3 layers with 8-row tiles keep the array busy: every tile's compute phase is at
    least 95 % MAC cycles in FP, BP and WU; so does a 1x1 WU whose COMPUTEs interleave 9
    dW blocks (its default tiles). Other 1x1 and FC tiles are reported."""
    driver, cfg, rng = await start(dut)
    tn = cfg.tn
    # phase, k, pad, map size (0: FC), N, tile rows (None: the schedule's default)
    cases = [("FP", 3, 1, 16, 2 * tn, 8), ("BP", 3, 1, 16, 2 * tn, 8), ("WU", 3, 1, 16, 2 * tn, 8),
             ("FP", 1, 0, 16, 2 * tn, 8), ("BP", 1, 0, 16, 2 * tn, 8), ("WU", 1, 0, 16, 9 * tn, None),
             ("FC-FP", 1, 0, 0, 2 * tn, None), ("FC-BP", 1, 0, 0, 2 * tn, None),
             ("FC-WU", 1, 0, 0, 9 * tn, None)]
    failures = []
    for phase, k, pad, size, n, tile_rows in cases:
        layer = make_layer(rng, cfg, phase, k=k, stride=1, pad=pad, batch=2, n=n, m=2 * tn,
                           hw=(size, size), tile_rows=tile_rows)
        tiles = await run_layer(driver, layer)
        worst = min(u for _, u in tiles)
        dut._log.info("%-56s tiles %2d, cycles per tile %s, MAC utilisation per tile min %5.1f%% mean %5.1f%%",
                      layer.name, len(tiles), sorted({c for c, _ in tiles}), 100 * worst,
                      100 * sum(u for _, u in tiles) / len(tiles))
        if (k == 3 or phase == "WU") and worst < 0.95:
            failures.append(f"{layer.name}: a tile at {100 * worst:.1f}% < 95%")
    assert not failures, "; ".join(failures)

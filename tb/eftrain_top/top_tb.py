"""Test bench of eftrain_top (used by eftrain_top_tests.py).

* :class:`TB`: the core with an AxiRam as its DRAM (a plain bytearray, so the whole memory
  can be snapshot and compared), an AxiLiteMaster on its registers, an AXI monitor, an
  irq edge counter, error injection on the DRAM model and the TIMING_STRESS behaviour.
* :class:`DramMap`: allocates tensors and descriptors at 64-byte-aligned addresses with
  at least GUARD random bytes between any two regions (the whole DRAM starts random).
* :class:`Layer` / :func:`make_layer` / :func:`random_layer`: one conv layer with random
  data and the oracle's exact answer as its DRAM image.
* :class:`Chain`: descriptors placed in DRAM and linked by ``next``.

TIMING_STRESS: ``set_pause_generator`` on all five AXI channels of the DRAM model (AW, W,
B, AR, R) and on the five channels of the AXI-Lite master: random runs of paused (1..12)
and running (1..16) cycles, each channel pausing in 30, 50 or 70 % of its runs, from
generators seeded from cocotb.RANDOM_SEED. Env TIMING_STRESS=1 forces it on for every
chain, TIMING_STRESS=0 off; by default, in every block of four consecutive
chains two run stressed, in a seeded random order (half of the chains of every test).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import random
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.simtime import get_sim_time
from cocotb.triggers import Event, RisingEdge, SimTimeoutError, Timer, with_timeout
from cocotbext.axi import AxiBus, AxiLiteBus, AxiLiteMaster, AxiRam
from cocotbext.axi.constants import AxiResp

from eftrain import HwConfig, layout, oracle
from eftrain import descriptor as dsc
from eftrain.descriptor import Descriptor, ErrorCode, Opcode

DRAM_BYTES = 1 << 22          # the AxiRam: 4 MB; any access at or above it answers SLVERR
GUARD = 256                   # random bytes at least around every region
ALIGN = 64
BEAT_BYTES = 16               # AXI_DATA_WIDTH 128
ADDR_WIDTH = 40
CLK_NS = 10
PAGE = 4096
# What can still be in flight when the controller stops (rtl/conv_engine.sv QUEUE_DEPTH,
# the MAX_OUTSTANDING of both DMAs in rtl/eftrain_top.sv): TB.stop_bound derives from them.
ENGINE_QUEUE_DEPTH = 4
DMA_MAX_OUTSTANDING = 4
MAX_BURST_BEATS = 256


def hw_config() -> HwConfig:
    tn = int(os.environ["TOP_TN"])
    return HwConfig(tm=tn, tn=tn, ib_depth=int(os.environ["TOP_IB_DEPTH"]),
                    ob_depth=int(os.environ["TOP_OB_DEPTH"]), wb_depth=int(os.environ["TOP_WB_DEPTH"]))


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def now_cycles() -> float:
    return get_sim_time("ns") / CLK_NS


# --------------------------------------------------------------------------------------
# DRAM map
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Region:
    name: str
    addr: int
    nbytes: int

    @property
    def end(self) -> int:
        return self.addr + self.nbytes

    def __contains__(self, addr: int) -> bool:
        return self.addr <= addr < self.end


class DramMap:
    """Bump allocator over the DRAM: every region 64-byte aligned (or at a chosen offset
    in a 4 KB page) with at least GUARD bytes of the random background before and after."""

    def __init__(self, mem: bytearray, rng: np.random.Generator, base: int = 0x1000):
        self.mem, self.rng, self.base = mem, rng, base
        self.reset()

    def reset(self) -> None:
        """Forget every region and make the whole DRAM random again."""
        self.mem[:] = self.rng.integers(0, 256, len(self.mem), dtype=np.uint8).tobytes()
        self.next = self.base
        self.regions: list[Region] = []

    def alloc(self, name: str, nbytes: int, align: int = ALIGN, offset: int = 0) -> int:
        """A region of ``nbytes`` at an address ``= offset (mod align)``."""
        assert offset % ALIGN == 0 and align % ALIGN == 0
        addr = self.next + GUARD
        addr += (offset - addr) % align
        if addr + nbytes + GUARD > len(self.mem):
            raise MemoryError(f"DramMap: no room for {name} ({nbytes} bytes)")
        self.next = addr + nbytes
        self.regions.append(Region(name, addr, nbytes))
        return addr

    def room(self) -> int:
        return len(self.mem) - self.next - GUARD

    def write(self, addr: int, data: bytes) -> None:
        self.mem[addr:addr + len(data)] = data

    def describe(self, addr: int) -> str:
        for r in self.regions:
            if addr in r:
                return f"{r.name}+{addr - r.addr:#x}"
        return "guard/free space"


# --------------------------------------------------------------------------------------
# Layers
# --------------------------------------------------------------------------------------


@dataclass
class Layer:
    """One conv layer: its descriptor (addresses filled by :meth:`TB.place`), input images
    and the expected DRAM image of its output."""

    op: Opcode
    k: int
    stride: int
    pad: int
    batch: int
    n: int
    m: int
    h: int
    w: int
    tile_rows: int
    tensors: dict[str, np.ndarray]         # x / w / dy (float32, logical shapes)
    expected: np.ndarray                   # the output, logical shape
    desc: Descriptor | None = None
    out_region: Region | None = None
    label: str = ""
    flags: int = 0                         # eftrain.descriptor.Flag bits
    lr: float = 0.0                        # SGD's learning rate (an fp32 value)
    inplace: bool = False                  # SGD: out_addr = wgt_addr

    @property
    def is_pool(self) -> bool:
        return self.op in (Opcode.POOL_FP, Opcode.POOL_BP)

    @property
    def out_hw(self) -> tuple[int, int]:
        return dsc.out_hw(self.h, self.w, self.k, self.stride, self.pad)

    @property
    def out_is_weights(self) -> bool:
        return self.op == Opcode.CONV_WU

    def out_image(self, g: int) -> np.ndarray:
        """The expected output's DRAM image as uint32 words."""
        img = layout.weights_to_dram(self.expected, g) if self.out_is_weights else layout.act_to_dram(self.expected, g)
        return img.view(np.uint32)

    def real_mask(self, g: int) -> np.ndarray:
        """True for the words of the output image that hold real (not padded) channels."""
        ones = np.ones(self.expected.shape, np.float32)
        img = layout.weights_to_dram(ones, g) if self.out_is_weights else layout.act_to_dram(ones, g)
        return img != 0

    @property
    def name(self) -> str:
        flags = "".join(f"+{f.name}" for f in dsc.Flag if self.flags >> f & 1)
        if self.is_pool:
            return f"{self.op.name}{flags} B={self.batch} C={self.n} HxW={self.h}x{self.w}{self.label}"
        return (f"{self.op.name[5:]}{flags} K={self.k} s={self.stride} pad={self.pad} B={self.batch} "
                f"N={self.n} M={self.m} HxW={self.h}x{self.w} tile_rows={self.tile_rows}{self.label}")

    def macs(self, cfg: HwConfig) -> int:
        """MAC issue cycles of the layer: every (output pixel, kernel position) of every
        block pass, except the stride-2 BP positions of the wrong parity (never issued)."""
        if self.is_pool:
            return 0
        blocks = ceil_div(self.m, cfg.tn) * ceil_div(self.n, cfg.tn)
        ho, wo = self.out_hw
        if self.op != Opcode.CONV_BP:
            return blocks * self.batch * ho * wo * self.k * self.k

        def taps(size: int) -> int:
            return sum(sum(1 for i in range(self.k) if (y + self.pad - i) % self.stride == 0)
                       for y in range(size))
        return blocks * self.batch * taps(self.h) * taps(self.w)

    def compute_pass_cycles(self) -> int:
        """Issue cycles of one COMPUTE pass of the largest tile."""
        ho, wo = self.out_hw
        rows, cols = (self.h, self.w) if self.op == Opcode.CONV_BP else (ho, wo)
        return min(self.tile_rows, rows) * cols * self.k * self.k


def fitting_tile_rows(cfg: HwConfig, op, k, s, pad, n, m, h, w) -> list[int]:
    if op in (Opcode.POOL_FP, Opcode.POOL_BP):
        return [1] if dsc.tile_fits(op, k, s, pad, n, m, h, w, 1, cfg) else []
    out_h = h if op == Opcode.CONV_BP else dsc.out_hw(h, w, k, s, pad)[0]
    return [r for r in range(1, out_h + 1) if dsc.tile_fits(op, k, s, pad, n, m, h, w, r, cfg)]


def activation(rng: np.random.Generator, *shape) -> np.ndarray:
    """Values like a stored activation: half the time ReLU outputs of few levels (many
    +0s and ties, the cases max-pool and the ReLU mask must get right), else normal."""
    if rng.random() < 0.5:
        v = rng.integers(-3, 4, shape).astype(np.float32) * np.float32(0.5)
        v[rng.random(shape) < 0.1] = np.float32(-0.0)
        return oracle.relu_fp(v) if rng.random() < 0.5 else v
    return rng.standard_normal(shape).astype(np.float32)


def make_layer(rng: np.random.Generator, cfg: HwConfig, op: Opcode, *, k: int = 2, stride: int = 2, pad: int = 0,
               batch: int, n: int, m: int | None = None, h: int, w: int, tile_rows: int | None = None,
               x: np.ndarray | None = None, flags: int = 0, lr: float | None = None,
               inplace: bool = False) -> Layer:
    """Random data (or the given x) and the oracle's exact output. tile_rows None: a
    random one among those that fit. Pools: k, stride, pad are 2, 2, 0 and m = n."""
    op = Opcode(op)
    m = n if m is None else m
    if op in (Opcode.POOL_FP, Opcode.POOL_BP):
        x = activation(rng, batch, n, h, w) if x is None else x
        y, idx = oracle.maxpool_fp(x)
        if op == Opcode.POOL_FP:
            tensors, want = {"x": x}, y
        else:
            dy = rng.standard_normal(y.shape).astype(np.float32)
            want = oracle.maxpool_bp(dy, idx, (h, w))
            if flags >> dsc.Flag.RELU_MASK & 1:
                want = oracle.relu_bp(want, x)
            tensors = {"x": x, "dy": dy}
        return Layer(op, 2, 2, 0, batch, n, n, h, w, 1, tensors, np.asarray(want, np.float32), flags=flags)
    if tile_rows is None:
        fits = fitting_tile_rows(cfg, op, k, stride, pad, n, m, h, w)
        assert fits, f"no tile fits {op.name} k={k} s={stride} n={n} m={m} {h}x{w}"
        tile_rows = int(rng.choice(fits))
    ho, wo = dsc.out_hw(h, w, k, stride, pad)

    def rand(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    has = lambda flag: bool(flags >> flag & 1)  # noqa: E731
    if op == Opcode.CONV_FP:
        x = rand(batch, n, h, w) if x is None else x
        wt = rand(m, n, k, k)
        tensors, want = {"x": x, "w": wt}, oracle.conv_fp(x, wt, stride, pad, cfg)
        if has(dsc.Flag.RELU):
            want = oracle.relu_fp(want)
    elif op == Opcode.CONV_BP:
        dy, wt = rand(batch, m, ho, wo), rand(m, n, k, k)
        tensors, want = {"dy": dy, "w": wt}, oracle.conv_bp(dy, wt, (h, w), stride, pad, cfg)
        if has(dsc.Flag.RELU_MASK):
            tensors["a"] = activation(rng, batch, n, h, w)
            want = oracle.relu_bp(want, tensors["a"])
    else:
        x = rand(batch, n, h, w) if x is None else x
        dy = rand(batch, m, ho, wo)
        tensors, want = {"x": x, "dy": dy}, oracle.conv_wu(x, dy, k, stride, pad, cfg)
        if has(dsc.Flag.SGD):
            lr = float(np.float32(rng.uniform(0.001, 0.5))) if lr is None else lr
            tensors["w"] = rand(m, n, k, k)
            want = oracle.sgd(tensors["w"], want, lr, cfg)
    return Layer(op, k, stride, pad, batch, n, m, h, w, tile_rows, tensors, np.asarray(want, np.float32),
                 flags=flags, lr=lr or 0.0, inplace=inplace)


def random_layer(rng: np.random.Generator, cfg: HwConfig, op: Opcode | None = None, *, k: int | None = None,
                 stride: int | None = None, max_c: float = 2.5, max_hw: int = 10, max_batch: int = 3,
                 flags: int | None = None) -> Layer:
    """Ragged channels and image sizes, any kernel, stride and padding (unless given), a
    random tile among those that fit. ``op`` None: any opcode (pools included); ``flags``
    None: each flag the opcode takes, at random."""
    tn = cfg.tn
    kk, ss = k, stride
    while True:
        o = Opcode(int(rng.choice([op_.value for op_ in Opcode]))) if op is None else Opcode(op)
        f = flags if flags is not None else sum(1 << fl for fl in dsc.Flag
                                                if o in fl.opcodes and rng.random() < 0.5)
        b = int(rng.integers(1, max_batch + 1))
        if o in (Opcode.POOL_FP, Opcode.POOL_BP):
            h, w = (int(v) for v in rng.integers(2, max(max_hw, 2) + 1, 2))
            n = int(rng.integers(1, int(max_c * tn) + 1))
            return make_layer(rng, cfg, o, batch=b, n=n, h=h, w=w, flags=f)
        k = int(rng.choice([1, 2, 3, 5])) if kk is None else kk
        s = int(rng.integers(1, 3)) if ss is None else ss
        pad = int(rng.integers(0, k))
        lo = max(1, k - 2 * pad)
        if lo > max_hw:
            continue
        lo_h, lo_w = (lo, lo) if rng.random() < 0.3 else (max(lo, max_hw // 2), max(lo, max_hw // 2))
        h = int(rng.integers(lo_h, max_hw + 1))
        w = int(rng.integers(lo_w, max_hw + 1))
        n = int(rng.integers(1, int(max_c * tn) + 1))
        m = int(rng.integers(1, int(max_c * tn) + 1))
        if fitting_tile_rows(cfg, o, k, s, pad, n, m, h, w):
            return make_layer(rng, cfg, o, k=k, stride=s, pad=pad, batch=b, n=n, m=m, h=h, w=w, flags=f)


# --------------------------------------------------------------------------------------
# Chains
# --------------------------------------------------------------------------------------


@dataclass
class Chain:
    """Descriptors in DRAM linked by next. ``layers[i]`` is None for a descriptor that is
    not a runnable layer (a bad one)."""

    layers: list[Layer | None]
    descs: list[Descriptor]
    addrs: list[int]

    @property
    def head(self) -> int:
        return self.addrs[0]

    def __len__(self) -> int:
        return len(self.descs)


@dataclass
class ChainResult:
    status: dsc.Status
    desc_done: int
    irq_edges: int
    cycles: float          # doorbell write issued .. irq
    t_start: float         # sim time (cycles) the doorbell write was issued
    t_irq: float


# --------------------------------------------------------------------------------------
# Monitors and stress
# --------------------------------------------------------------------------------------


class AxiMonitor:
    """Handshakes on the DRAM port (sampled at each rising edge, like cocotbext-axi):
    AR / AW bursts (address, beats) in order, R / W beats, and the beats of each burst
    counted up to its last beat. Checks every burst on the fly: INCR, full-width beats,
    at most 256 beats, no 4 KB crossing, LAST on the right beat."""

    def __init__(self, dut):
        self.dut = dut
        self.errors: list[str] = []
        self.clear()
        cocotb.start_soon(self._run())

    def clear(self) -> None:
        self.ar: list[tuple[int, int]] = []
        self.aw: list[tuple[int, int]] = []
        self.r_beats = 0
        self.w_beats = 0
        self.r_bursts_done: list[int] = []   # beats of each R burst, at RLAST
        self.w_bursts_done: list[int] = []

    def _check_burst(self, kind: str, addr: int, beats: int, size: int, burst: int) -> None:
        if size != 4 or burst != 1 or addr % BEAT_BYTES or beats > 256 or \
                addr // PAGE != (addr + beats * BEAT_BYTES - 1) // PAGE:
            self.errors.append(f"bad {kind} burst addr={addr:#x} beats={beats} size={size} burst={burst}")

    async def _run(self) -> None:
        d = self.dut
        arv, arr, ara, arl, ars, arb = (d.m_axi_arvalid, d.m_axi_arready, d.m_axi_araddr, d.m_axi_arlen,
                                        d.m_axi_arsize, d.m_axi_arburst)
        awv, awr, awa, awl, aws, awb = (d.m_axi_awvalid, d.m_axi_awready, d.m_axi_awaddr, d.m_axi_awlen,
                                        d.m_axi_awsize, d.m_axi_awburst)
        rv, rr, rl = d.m_axi_rvalid, d.m_axi_rready, d.m_axi_rlast
        wv, wr, wl = d.m_axi_wvalid, d.m_axi_wready, d.m_axi_wlast
        edge = RisingEdge(d.clk)
        r_cnt = w_cnt = 0
        while True:
            await edge
            if arv.value and arr.value:
                a, n = int(ara.value), int(arl.value) + 1
                self._check_burst("AR", a, n, int(ars.value), int(arb.value))
                self.ar.append((a, n))
            if awv.value and awr.value:
                a, n = int(awa.value), int(awl.value) + 1
                self._check_burst("AW", a, n, int(aws.value), int(awb.value))
                self.aw.append((a, n))
            if rv.value and rr.value:
                self.r_beats += 1
                r_cnt += 1
                if rl.value:
                    self.r_bursts_done.append(r_cnt)
                    r_cnt = 0
            if wv.value and wr.value:
                self.w_beats += 1
                w_cnt += 1
                if wl.value:
                    self.w_bursts_done.append(w_cnt)
                    w_cnt = 0

    def check(self) -> None:
        """Every burst legal, and every finished burst had as many beats as it asked for."""
        assert not self.errors, self.errors[:5]
        for kind, bursts, done in (("R", self.ar, self.r_bursts_done), ("W", self.aw, self.w_bursts_done)):
            asked = [n for _, n in bursts[:len(done)]]
            assert asked == done, f"{kind} beats per burst {done[:20]} != asked {asked[:20]}"


class Stress:
    """Random pauses on a set of cocotbext-axi channels (see the module docstring)."""

    def __init__(self, channels: Sequence, seed: int):
        self.channels, self.seed = list(channels), seed
        self.active = False
        self.count = 0

    def on(self) -> None:
        if self.active:
            return
        self.count += 1
        self.active = True
        for i, ch in enumerate(self.channels):
            ch.set_pause_generator(self._pauses(random.Random(f"{self.seed}-{self.count}-{i}")))

    def off(self) -> None:
        if not self.active:
            return
        self.active = False
        for ch in self.channels:
            ch.clear_pause_generator()
            ch.pause = False

    @staticmethod
    def _pauses(rnd: random.Random):
        """Runs of paused (1..12) and running (1..16) cycles; a channel pauses in 30, 50
        or 70 % of its runs."""
        busy = rnd.choice([0.3, 0.5, 0.7])
        while True:
            paused = rnd.random() < busy
            for _ in range(rnd.randint(1, 12 if paused else 16)):
                yield paused


# --------------------------------------------------------------------------------------
# The test bench
# --------------------------------------------------------------------------------------


class TB:
    """eftrain_top with an AxiRam as its DRAM and an AxiLiteMaster on its registers."""

    def __init__(self, dut, test_name: str):
        self.dut = dut
        self.cfg = hw_config()
        self.seed = int(cocotb.RANDOM_SEED)
        salt = zlib.crc32(test_name.encode())
        self.rng = np.random.default_rng([self.seed, salt])
        self.log = dut._log
        for name in ("m_axi", "s_axil"):
            logging.getLogger(f"cocotb.{dut._name}.{name}").setLevel(logging.WARNING)
        # Reset held from the first clock edge: with XSEED the port starts at random bits.
        dut.rst_n.value = 0
        cocotb.start_soon(Clock(dut.clk, CLK_NS, unit="ns").start())
        self.mem = bytearray(DRAM_BYTES)
        self.ram = AxiRam(AxiBus.from_prefix(dut, "m_axi"), dut.clk, dut.rst_n,
                          reset_active_level=False, mem=self.mem)
        self.axil = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil"), dut.clk, dut.rst_n,
                                  reset_active_level=False)
        self.dmap = DramMap(self.mem, self.rng)
        self.mon = AxiMonitor(dut)
        self._install_error_injection()
        rd, wr = self.ram.read_if, self.ram.write_if
        lite_r, lite_w = self.axil.read_if, self.axil.write_if
        self.stress = Stress([wr.aw_channel, wr.w_channel, wr.b_channel, rd.ar_channel, rd.r_channel,
                                       lite_w.aw_channel, lite_w.w_channel, lite_w.b_channel,
                                       lite_r.ar_channel, lite_r.r_channel], self.seed ^ salt)
        self.stress_mode = os.environ.get("TIMING_STRESS", "")
        self.n_chains = 0
        self.stress_plan: list[bool] = []
        self.stress_rng = random.Random(self.seed ^ salt ^ 0x5EED)
        self.irq_edges = 0
        self.irq_event = Event()
        self.t_irq = 0.0
        cocotb.start_soon(self._irq_monitor())
        self.t_reset = 0.0

    # ---- DRAM error injection ----------------------------------------------------------
    def _install_error_injection(self) -> None:
        """Reads and writes at or above DRAM_BYTES, or inside one of ``err_windows``
        ((lo, hi, kind) with kind "read" or "write"), or whose beat ordinal is in
        ``err_beats[kind]`` (see :meth:`arm_beat_faults`), answer SLVERR (DECERR when
        ``decerr`` is set) and do not touch memory. ``err_events`` records (cycle, kind,
        address) of each."""
        self.err_windows: list[tuple[int, int, str]] = []
        self.decerr = False
        self.err_events: list[tuple[float, str, int]] = []
        self.err_beats: dict[str, set[int]] = {"read": set(), "write": set()}
        self.beats_served = {"read": 0, "write": 0}
        rd, wr = self.ram.read_if, self.ram.write_if
        mem = self.mem

        def bad(kind, addr, length):
            ordinal = self.beats_served[kind]
            self.beats_served[kind] += 1
            if addr + length > DRAM_BYTES or ordinal in self.err_beats[kind]:
                return True
            return any(k == kind and addr < hi and addr + length > lo for lo, hi, k in self.err_windows)

        async def _read(address, length):
            if bad("read", address, length):
                self.err_events.append((now_cycles(), "read", address))
                raise OSError("injected read error")
            return mem[address:address + length]

        async def _write(address, data):
            if bad("write", address, len(data)):
                self.err_events.append((now_cycles(), "write", address))
                raise OSError("injected write error")
            mem[address:address + len(data)] = data

        rd._read = _read
        wr._write = _write
        r_send, b_send = rd.r_channel.send, wr.b_channel.send

        async def r_send_(obj):
            if self.decerr and obj.rresp == AxiResp.SLVERR:
                obj.rresp = AxiResp.DECERR
            await r_send(obj)

        async def b_send_(obj):
            if self.decerr and obj.bresp == AxiResp.SLVERR:
                obj.bresp = AxiResp.DECERR
            await b_send(obj)

        rd.r_channel.send = r_send_
        wr.b_channel.send = b_send_
        logging.getLogger(f"cocotb.{self.dut._name}.m_axi").setLevel(logging.ERROR)

    def arm_beat_faults(self, read: Sequence[int] = (), write: Sequence[int] = ()) -> None:
        """From now on, the read beats and write beats of these ordinals (0 = the next
        beat the DRAM model serves of that kind, descriptor fetches included) answer an
        error. The model serves one call per beat: the core writes whole beats, every
        strobe set."""
        self.beats_served = {"read": 0, "write": 0}
        self.err_beats = {"read": set(read), "write": set(write)}
        self.err_events = []

    # ---- reset, registers --------------------------------------------------------------
    async def reset(self) -> None:
        """rst_n low for 5 cycles. A 1-0 pulse between two clock edges first, which the
        core never samples: cocotbext-axi models follow rst_n's edges only, and with
        XSEED the core drives random AXI valids until its reset reaches its flops, so
        the models must see the reset asserted."""
        self.dut.rst_n.value = 0
        await RisingEdge(self.dut.clk)
        for level in (1, 0):
            await Timer(1, "ns")
            self.dut.rst_n.value = level
        for _ in range(5):
            await RisingEdge(self.dut.clk)
        self.dut.rst_n.value = 1
        self.t_reset = now_cycles()
        for _ in range(5):
            await RisingEdge(self.dut.clk)
        self.mon.clear()

    async def _irq_monitor(self) -> None:
        while True:
            await RisingEdge(self.dut.irq)
            self.irq_edges += 1
            self.t_irq = now_cycles()
            self.irq_event.set()

    async def rd(self, offset: int) -> int:
        return await self.axil.read_dword(offset)

    async def wr(self, offset: int, value: int) -> None:
        await self.axil.write_dword(offset, value)

    async def status(self) -> dsc.Status:
        return dsc.decode_status(await self.rd(dsc.CSR_STATUS))

    async def counter(self, name) -> int:
        lo, hi = dsc.counter_offsets(name)
        low = await self.rd(lo)
        return low | (await self.rd(hi)) << 32

    async def counters(self) -> dict[str, int]:
        return {name: await self.counter(name) for name, _ in dsc.COUNTERS}

    # ---- stress ----------------------------------------------------------------------
    def pick_stress(self, stress: bool | None = None) -> bool:
        """Stress setting of the next chain: forced by env, else given, else two of every four chains."""
        if self.stress_mode in ("0", "1"):
            on = self.stress_mode == "1"
        elif stress is not None:
            on = stress
        else:
            if not self.stress_plan:
                # every block of 4 chains: 2 stressed, in a seeded random order
                self.stress_plan = [True, True, False, False]
                self.stress_rng.shuffle(self.stress_plan)
            on = self.stress_plan.pop()
        self.n_chains += 1
        if on:
            self.stress.on()
        else:
            self.stress.off()
        return on

    # ---- placing layers and chains ---------------------------------------------------------
    def place(self, layer: Layer, in_addr: int | None = None, out_offset: int | None = None,
              in_offset: int | None = None) -> Layer:
        """Allocate and write the layer's inputs and allocate its output; fills layer.desc
        (next = 0). ``in_addr``: the input (x, or dy for BP) is already at that address
        (the output of an earlier layer of the chain)."""
        g, dm = self.cfg.tn, self.dmap
        ho, wo = layer.out_hw
        x_shape, y_shape = (layer.batch, layer.n, layer.h, layer.w), (layer.batch, layer.m, ho, wo)

        def put(name, img, offset=None):
            data = img.tobytes()
            addr = dm.alloc(name, len(data), PAGE if offset is not None else ALIGN, offset or 0)
            dm.write(addr, data)
            return addr

        t = layer.tensors
        act = lambda name: put(name, layout.act_to_dram(t[name], g))  # noqa: E731
        a_w = a_aux = 0
        a_out = None
        if layer.op == Opcode.CONV_FP:
            a_in = in_addr if in_addr is not None else put("x", layout.act_to_dram(t["x"], g), in_offset)
            a_w = put("w", layout.weights_to_dram(t["w"], g))
            out_bytes = layout.act_bytes(y_shape, g)
        elif layer.op == Opcode.CONV_BP:
            a_in = in_addr if in_addr is not None else put("dy", layout.act_to_dram(t["dy"], g), in_offset)
            a_w = put("w", layout.weights_to_dram(t["w"], g))
            a_aux = act("a") if "a" in t else 0
            out_bytes = layout.act_bytes(x_shape, g)
        elif layer.op == Opcode.CONV_WU:
            a_in = in_addr if in_addr is not None else put("x", layout.act_to_dram(t["x"], g), in_offset)
            a_aux = act("dy")
            out_bytes = layout.weights_bytes((layer.m, layer.n, layer.k, layer.k), g)
            if "w" in t:
                a_w = put("w", layout.weights_to_dram(t["w"], g))
                a_out = a_w if layer.inplace else None
        elif layer.op == Opcode.POOL_FP:
            a_in = in_addr if in_addr is not None else put("x", layout.act_to_dram(t["x"], g), in_offset)
            out_bytes = layout.act_bytes(y_shape, g)
        else:
            a_in = in_addr if in_addr is not None else put("dy", layout.act_to_dram(t["dy"], g), in_offset)
            a_aux = act("x")
            out_bytes = layout.act_bytes(x_shape, g)
        out_name = {Opcode.CONV_FP: "y", Opcode.CONV_BP: "dx", Opcode.CONV_WU: "dw", Opcode.POOL_FP: "y",
                    Opcode.POOL_BP: "dx"}[layer.op]
        if a_out is None:
            a_out = dm.alloc(out_name, out_bytes, PAGE if out_offset is not None else ALIGN, out_offset or 0)
        layer.out_region = Region(out_name, a_out, out_bytes)
        layer.desc = Descriptor(opcode=layer.op, k=layer.k, stride=layer.stride, pad=layer.pad, batch=layer.batch,
                                tile_rows=layer.tile_rows, n=layer.n, m=layer.m, h=layer.h, w=layer.w,
                                flags=layer.flags, lr=layer.lr, in_addr=a_in, wgt_addr=a_w, out_addr=a_out,
                                aux_addr=a_aux)
        assert dsc.validate(layer.desc, self.cfg, ADDR_WIDTH) == ErrorCode.NONE, layer.desc
        return layer

    def chain(self, items: Sequence[Layer | Descriptor], desc_offsets: Sequence[int | None] | None = None) -> Chain:
        """Place the descriptors of ``items`` (placed layers, or raw descriptors) in DRAM,
        linked in order. A raw descriptor's own ``next`` is kept when it is the last one
        and nonzero (a bad next); otherwise next links the chain."""
        layers = [it if isinstance(it, Layer) else None for it in items]
        descs = [it.desc if isinstance(it, Layer) else it for it in items]
        addrs = [self.dmap.alloc(f"desc{i}", dsc.DESC_BYTES) for i in range(len(descs))]
        linked = []
        for i, d in enumerate(descs):
            nxt = addrs[i + 1] if i + 1 < len(descs) else (d.next if not isinstance(items[i], Layer) else 0)
            linked.append(dataclasses.replace(d, next=nxt))
        for a, d in zip(addrs, linked):
            self.dmap.write(a, d.pack())
        return Chain(layers, linked, addrs)

    def budget_cycles(self, chain: Chain, upto: int | None = None) -> int:
        """A generous cycle budget for the chain (transfers and MAC issues)."""
        total = 2000
        for lay in chain.layers[:upto]:
            if lay is None:
                continue
            ts = layout.transfers(lay.desc, self.cfg, ADDR_WIDTH)
            total += 6 * sum(t.nbytes for t in ts) // BEAT_BYTES + 3 * lay.macs(self.cfg) + 60 * len(ts)
        return total * (4 if self.stress.active else 1)

    def stop_bound(self, layer: Layer | None, stressed: bool) -> int:
        """Cycles a stop inside ``layer`` (None: inside a descriptor fetch) may take, from
        its cause (the faulty response, the CTRL write) to its end (irq, or idle after a
        soft reset). The controller never stops half way through an emission, then drains
        in drop mode what is already queued (docs/architecture.md, "Errors and stops"):

        * the emission it is in, and per engine unit ENGINE_QUEUE_DEPTH queued commands
          and the one running, and in the dispatcher one at its input and one in its
          decode register: ENGINE_QUEUE_DEPTH + 4 commands, each at most the layer's
          largest compute pass or largest transfer (dropped transfers stream one beat
          per cycle);
        * per DMA the request being cut into bursts (one transfer) and
          DMA_MAX_OUTSTANDING bursts of up to MAX_BURST_BEATS beats on the bus, at most
          the layer's beats in that direction;
        * POOL_BP: a plane's row reads are all issued before a stop (its x and dy rows);
        * 200 cycles for the rest (descriptor fetch, pipelines, datapath reset, irq).

        TIMING_STRESS pauses each AXI channel in up to 70 % of its runs: x4."""
        pass_cycles, xfer, plane = 0, dsc.DESC_BYTES // BEAT_BYTES, 0
        total = {"read": xfer, "write": 0}
        if layer is not None:
            ts = layout.transfers(layer.desc, self.cfg, ADDR_WIDTH)
            xfer = max(t.nbytes for t in ts) // BEAT_BYTES
            for t in ts:
                total[t.kind] += t.nbytes // BEAT_BYTES
            pass_cycles = 0 if layer.is_pool else layer.compute_pass_cycles()
            if layer.op == Opcode.POOL_BP:
                ho, wo = layer.out_hw
                plane = (2 * ho * layer.w + ho * wo) * self.cfg.tn * 4 // BEAT_BYTES
        on_bus = sum(min(xfer + DMA_MAX_OUTSTANDING * MAX_BURST_BEATS, beats) for beats in total.values())
        cycles = (ENGINE_QUEUE_DEPTH + 4) * (pass_cycles + xfer) + on_bus + plane + 200
        return cycles * (4 if stressed else 1)

    # ---- running ---------------------------------------------------------------------------
    async def doorbell(self, chain_addr: int, irq_enable: bool = True) -> float:
        """Write CHAIN and CTRL.START; returns the cycle the START write was issued
        (``self.t_doorbell_done``: the cycle it completed)."""
        await self.wr(dsc.CSR_CHAIN_LO, chain_addr & 0xFFFFFFFF)
        await self.wr(dsc.CSR_CHAIN_HI, chain_addr >> 32)
        self.irq_event.clear()
        t = now_cycles()
        await self.wr(dsc.CSR_CTRL, (1 << dsc.CTRL_START) | (int(irq_enable) << dsc.CTRL_IRQ_ENABLE))
        self.t_doorbell_done = now_cycles()
        return t

    async def wait_irq(self, budget_cycles: int, what: str = "chain") -> None:
        try:
            await with_timeout(self.irq_event.wait(), budget_cycles * CLK_NS, "ns")
        except SimTimeoutError:
            st = await self.status()
            raise AssertionError(f"{what}: no irq within {budget_cycles} cycles; STATUS {st}, "
                                 f"DESC_DONE {await self.rd(dsc.CSR_DESC_DONE)}") from None

    async def run_chain(self, chain_addr: int, budget_cycles: int, irq_enable: bool = True) -> ChainResult:
        """Ring the doorbell, wait for irq, read STATUS and DESC_DONE, clear IRQ."""
        edges0 = self.irq_edges
        t0 = await self.doorbell(chain_addr, irq_enable)
        await self.wait_irq(budget_cycles)
        t_irq = self.t_irq
        st = await self.status()
        done = await self.rd(dsc.CSR_DESC_DONE)
        assert await self.rd(dsc.CSR_IRQ) == 1 << dsc.IRQ_PENDING
        await self.wr(dsc.CSR_IRQ, 1 << dsc.IRQ_PENDING)
        assert int(self.dut.irq.value) == 0, "irq still high after the IRQ W1C"
        return ChainResult(st, done, self.irq_edges - edges0, t_irq - t0, t0, t_irq)

    # ---- checking ------------------------------------------------------------------------
    def snapshot(self) -> np.ndarray:
        return np.frombuffer(bytes(self.mem), np.uint8)

    def check_output(self, layer: Layer) -> None:
        g = self.cfg.tn
        r = layer.out_region
        got = np.frombuffer(self.mem, np.uint8)[r.addr:r.end].copy().view(np.uint32)
        want = layer.out_image(g)
        real = layer.real_mask(g)
        bad = np.flatnonzero(got != want)
        if len(bad):
            i = int(bad[0])
            n_real = int(real[bad].sum())
            raise AssertionError(
                f"{layer.name}: {len(bad)} of {want.size} output words differ ({n_real} real, "
                f"{len(bad) - n_real} padded channels); first at word {i} ({'real' if real[i] else 'pad'}) "
                f"addr {r.addr + 4 * i:#x}: RTL {got[i]:08x}, oracle {want[i]:08x}")

    def check_untouched(self, before: np.ndarray, allowed: Sequence[Region], what: str = "") -> None:
        """No byte changed outside the ``allowed`` regions."""
        after = np.frombuffer(self.mem, np.uint8)
        changed = np.flatnonzero(before != after)
        if not len(changed):
            return
        ok = np.zeros(len(changed), bool)
        for r in allowed:
            ok |= (changed >= r.addr) & (changed < r.end)
        stray = changed[~ok]
        if len(stray):
            a = int(stray[0])
            raise AssertionError(f"{what}: {len(stray)} DRAM bytes changed outside the outputs; first at "
                                 f"{a:#x} ({self.dmap.describe(a)}), last at {int(stray[-1]):#x} "
                                 f"({self.dmap.describe(int(stray[-1]))})")

    async def run_checked(self, chain: Chain, *, expect: ErrorCode = ErrorCode.NONE, index: int | None = None,
                          stress: bool | None = None, what: str = "chain",
                          allowed_extra: Sequence[Region] = ()) -> ChainResult:
        """Run a chain and check it: STATUS (done, or error ``expect`` at ``index``),
        DESC_DONE, one irq, the outputs of the completed descriptors bit-exact, and no
        other DRAM byte changed."""
        on = self.pick_stress(stress)
        n_ok = len(chain) if expect == ErrorCode.NONE else index
        before = self.snapshot()
        m0 = (len(self.mon.ar), self.mon.r_beats, len(self.mon.aw), self.mon.w_beats)
        res = await self.run_chain(chain.head, self.budget_cycles(chain))
        self.stress.off()
        st = res.status
        if expect == ErrorCode.NONE:
            assert st.done and not st.error and not st.busy and st.code == 0, f"{what}: STATUS {st}"
        else:
            assert st.error and not st.done and not st.busy and st.code == expect and st.index == index, \
                f"{what}: STATUS {st}, expected {expect.name} at index {index}"
        assert res.desc_done == n_ok, f"{what}: DESC_DONE {res.desc_done}, expected {n_ok}"
        assert res.irq_edges == 1, f"{what}: {res.irq_edges} irq edges"
        for lay in chain.layers[:n_ok]:
            self.check_output(lay)
        self.check_untouched(before, [lay.out_region for lay in chain.layers[:n_ok]] + list(allowed_extra), what)
        self.mon.check()
        m1 = (len(self.mon.ar), self.mon.r_beats, len(self.mon.aw), self.mon.w_beats)
        ar, rb, aw, wb = (b - a for a, b in zip(m0, m1))
        self.log.info("%s: %s in %d cycles, AXI read %d bursts %d beats, write %d bursts %d beats%s", what,
                      "done" if expect == ErrorCode.NONE else f"{ErrorCode(st.code).name} at {st.index}",
                      res.cycles, ar, rb, aw, wb, " (timing stress)" if on else "")
        return res

    def summary(self, line: str) -> None:
        """Log ``line`` and append it to the file TEST_SUMMARY names (eftrain_tb.sim sets
        it; the pytest wrappers print it): one line of counts per test."""
        self.log.info("%s", line)
        path = os.environ.get("TEST_SUMMARY")
        if path:
            with open(path, "a") as f:
                f.write(line + "\n")

    def ensure_room(self, nbytes: int = 1 << 20) -> None:
        if self.dmap.room() < nbytes:
            self.dmap.reset()

    async def good_chain(self, what: str = "recovery") -> ChainResult:
        """A small good chain (FP then WU) run and checked: the core is healthy."""
        self.ensure_room()
        cfg = self.cfg
        a = self.place(make_layer(self.rng, cfg, Opcode.CONV_FP, k=3, stride=1, pad=1, batch=1, n=cfg.tn + 1,
                                  m=cfg.tn - 1, h=5, w=4))
        b = self.place(random_layer(self.rng, cfg, max_c=1.5, max_hw=6, max_batch=2))
        return await self.run_checked(self.chain([a, b]), what=f"{what}: good chain")


async def start(dut, name: str) -> TB:
    """The test bench of cocotb test ``name``, out of reset, its settings logged."""
    tb = TB(dut, name)
    await tb.reset()
    tb.log.info("seed %d, TN=%d, IB/OB/WB depth %d/%d/%d, TIMING_STRESS=%r", tb.seed, tb.cfg.tn,
                tb.cfg.ib_depth, tb.cfg.ob_depth, tb.cfg.wb_depth, tb.stress_mode or "half of the chains")
    return tb

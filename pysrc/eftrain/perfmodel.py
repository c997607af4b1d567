"""Performance model of the core: predicted cycles of one descriptor, from doorbell to
interrupt, for a hardware configuration and a DRAM of given latency and bandwidth.

The model replays the layer loop of the hardware (the program order of
:func:`eftrain.layout.transfers`, the commands of :mod:`eftrain.schedule`) at command
granularity, with the resources that limit it:

* the read channel: one transfer after another, ``bytes / read rate`` cycles each, where
  the rate is the smaller of one AXI beat per cycle and the DRAM's bandwidth; the
  addresses run ahead (the DMA keeps bursts in flight), so the latency shows only when
  the channel was idle or its destination was not ready;
* the write channel likewise; a descriptor ends when its last write is answered;
* the compute unit: one COMPUTE after another, ``out_rows * out_w * k * k`` issue cycles
  (one kernel position of one output pixel per cycle on the TM x TN array; longer when a
  sweep is too short for the accumulate pipeline, see docs/architecture.md) plus a pipeline
  drain between commands;
* the buffers: IB and OB halves alternate (a load waits for the half it fills to be
  released, a tile's first pass for its OB half to be stored); WB holds one block row of
  weights, so FP/BP weight loads wait for every COMPUTE of the previous block, and a WU
  block's accumulation waits for the previous block's STORE_W.

The constants below come from the RTL's pipeline and were checked against ``make bench``
(cycle-accurate RTL with the DRAM model of tb/bench), which prints the model's error for
every layer and phase: within 2.2 % on the 33 convolution runs of the VGG-16 set. Pool
descriptors are modelled as streams at the channel rate, not yet benchmarked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from eftrain.config import HwConfig
from eftrain.descriptor import Descriptor, Opcode, out_hw

# Overheads (cycles); checked with `make bench` at TM = TN = 16 (see README, "Performance").
FETCH_CYCLES = 12        # descriptor fetch and checks, after the DRAM latency
COMPUTE_GAP = 2          # between two COMPUTE commands of the array
PIPELINE_CYCLES = 20     # issue to the last write-back of a COMPUTE (drain before a store)
HAZARD_DISTANCE = 5      # an accumulate word may be issued again 5 cycles later at the earliest
TRANSFER_GAP = 2         # between two DMA transfers on one channel
STORE_START = 4          # from the tile's last write-back to its first store beat


@dataclass(frozen=True)
class Dram:
    """The memory the core's AXI master sees: ``latency`` cycles from an address to its
    first data beat (or from a write burst's last beat to its response), and
    ``bytes_per_cycle`` sustained in each direction."""

    latency: int = 30
    bytes_per_cycle: float = 42.6

    def __post_init__(self) -> None:
        if not isinstance(self.latency, int) or self.latency < 0:
            raise ValueError(f"Dram.latency must be a non-negative int, got {self.latency!r}")
        if not self.bytes_per_cycle > 0:
            raise ValueError(f"Dram.bytes_per_cycle must be positive, got {self.bytes_per_cycle!r}")


@dataclass
class Prediction:
    """Predicted figures of one descriptor."""

    cycles: int
    mac_cycles: int          # cycles the array would need at full use: MACs / (TM * TN)
    read_bytes: int
    write_bytes: int
    compute_cycles: int      # issue cycles of every COMPUTE (with hazard holds)
    memory_cycles: int       # cycles to move every byte the tiling moves, at the DRAM's rate
    tensor_cycles: int       # cycles to move each tensor exactly once, at the DRAM's rate

    @property
    def mac_utilisation(self) -> float:
        return self.mac_cycles / self.cycles if self.cycles else 0.0

    @property
    def roofline_cycles(self) -> int:
        """The larger of the cycles at full MAC use and the cycles to move each tensor
        exactly once at the DRAM's bandwidth."""
        return max(self.mac_cycles, self.tensor_cycles)


class _Channel:
    """One DMA direction: transfers in program order."""

    def __init__(self, rate: float, latency: int):
        self.rate = rate
        self.latency = latency
        self.busy_until = 0.0
        self.bytes = 0

    def transfer(self, ready: float, nbytes: int) -> tuple[float, float]:
        """A transfer whose destination (or source) is ready at ``ready``: (first beat,
        last beat) times."""
        if ready > self.busy_until:
            start = ready + self.latency   # the channel waited: the latency shows
        else:
            start = self.busy_until + TRANSFER_GAP
        end = start + nbytes / self.rate
        self.busy_until = end
        self.bytes += nbytes
        return start, end


def _issue_cycles(pixels: int, kk: int, wu: bool) -> int:
    """Issue cycles of one COMPUTE over ``pixels`` output pixels and ``kk`` kernel
    positions. Dot mode sweeps the pixels once per kernel position; a sweep shorter than
    the accumulate distance is held. WU visits the kernel positions of one pixel in a row;
    fewer positions than the distance are held likewise."""
    if wu:
        return pixels * max(kk, HAZARD_DISTANCE) if pixels > 1 else kk
    return kk * max(pixels, HAZARD_DISTANCE) if kk > 1 else pixels


def predict(desc: Descriptor, cfg: HwConfig, dram: Dram, axi_data_bytes: int) -> Prediction:
    """Predicted cycles of one convolution or pool descriptor (validated by the caller)."""
    from eftrain.engine import Mode
    from eftrain.schedule import _Geometry

    g = cfg.tn
    word = 4
    rate = min(float(axi_data_bytes), dram.bytes_per_cycle)
    rd = _Channel(rate, dram.latency)
    wr = _Channel(rate, dram.latency)
    op = Opcode(desc.opcode)
    k, s, pad = desc.k, desc.stride, desc.pad
    ho, wo = out_hw(desc.h, desc.w, k, s, pad) if op not in (Opcode.POOL_FP, Opcode.POOL_BP) \
        else (desc.h // 2, desc.w // 2)
    nt_count, mt_count = math.ceil(desc.n / g), math.ceil(desc.m / g)
    kk = k * k
    t0 = float(dram.latency + FETCH_CYCLES)

    if op in (Opcode.POOL_FP, Opcode.POOL_BP):
        # The pool unit streams at the channel rate; reads and writes overlap.
        group = g * word
        if op == Opcode.POOL_FP:
            rbytes = desc.batch * nt_count * 2 * ho * desc.w * group
            wbytes = desc.batch * nt_count * ho * wo * group
        else:
            rbytes = desc.batch * nt_count * (2 * ho * desc.w + ho * wo) * group
            wbytes = desc.batch * nt_count * desc.h * desc.w * group
        _, r_end = rd.transfer(t0, rbytes)
        _, w_end = wr.transfer(t0 + dram.latency, wbytes)
        cycles = round(max(r_end, w_end) + dram.latency)
        memory = math.ceil(max(rbytes, wbytes) / rate)   # the channels run side by side
        return Prediction(cycles=cycles, mac_cycles=0, read_bytes=rbytes, write_bytes=wbytes,
                          compute_cycles=0, memory_cycles=memory, tensor_cycles=memory)

    mode = {Opcode.CONV_FP: Mode.FP, Opcode.CONV_BP: Mode.BP, Opcode.CONV_WU: Mode.WU}[op]
    if mode == Mode.BP:
        geo = _Geometry(mode, k, s, pad, (ho, wo), (desc.h, desc.w))
        out_h, out_w, in_w = desc.h, desc.w, wo
        outer, inner = nt_count, mt_count
    else:
        geo = _Geometry(mode, k, s, pad, (desc.h, desc.w), (ho, wo))
        out_h, out_w, in_w = ho, wo, desc.w
        outer, inner = mt_count, nt_count
    tiles = geo.tiles(min(desc.tile_rows, out_h))
    pixel_bytes = g * word
    block_bytes = kk * g * g * word

    ib_free = [t0, t0]        # when each IB half may be refilled
    ob_free = [t0, t0]        # when each OB half may take a new tile
    ib_half = ob_half = 1
    compute_end = t0
    last_write = t0
    compute_total = 0
    wb_free = t0              # WU: when WB may be written by the next block's first pass

    def compute(ready: float, pixels: int) -> float:
        nonlocal compute_end, compute_total
        cycles = _issue_cycles(pixels, kk, mode == Mode.WU)
        compute_total += cycles
        start = max(ready, compute_end + COMPUTE_GAP)
        compute_end = start + cycles
        return compute_end

    for _ in range(outer):
        if mode != Mode.WU:
            # The weight blocks of this row wait for every COMPUTE of the previous one.
            w_end = t0
            for _ in range(inner):
                _, w_end = rd.transfer(compute_end + PIPELINE_CYCLES if compute_total else t0,
                                       block_bytes)
        first_pass = True
        for _b in range(desc.batch):
            for r0, r1 in tiles:
                pixels = (r1 - r0) * out_w
                ob_half ^= 1
                tile_ready = ob_free[ob_half]
                if mode == Mode.WU:
                    _, dy_end = rd.transfer(tile_ready, pixels * pixel_bytes)
                    tile_ready = dy_end
                lo, hi = geo.ib_rows(r0, r1)
                done = tile_ready
                for _ in range(inner):
                    ib_half ^= 1
                    _, in_end = rd.transfer(ib_free[ib_half], (hi - lo) * in_w * pixel_bytes)
                    ready = max(in_end, tile_ready)
                    if mode != Mode.WU:
                        ready = max(ready, w_end)
                    elif first_pass:
                        ready = max(ready, wb_free)
                    done = compute(ready, pixels)
                    ib_free[ib_half] = done
                first_pass = False
                if mode != Mode.WU:
                    _, st_end = wr.transfer(done + PIPELINE_CYCLES + STORE_START, pixels * pixel_bytes)
                    ob_free[ob_half] = st_end
                    last_write = st_end
                else:
                    ob_free[ob_half] = done
        if mode == Mode.WU:
            for _ in range(inner):
                _, st_end = wr.transfer(compute_end + PIPELINE_CYCLES + STORE_START, block_bytes)
                last_write = st_end
            wb_free = last_write

    cycles = round(max(last_write, compute_end) + dram.latency)
    macs = desc.batch * desc.m * desc.n * kk * ho * wo
    mac_cycles = math.ceil(macs / (cfg.tm * cfg.tn))
    x_bytes = desc.batch * nt_count * desc.h * desc.w * pixel_bytes
    y_bytes = desc.batch * mt_count * ho * wo * pixel_bytes
    w_bytes = mt_count * nt_count * block_bytes
    once = {Mode.FP: x_bytes + w_bytes + y_bytes, Mode.BP: y_bytes + w_bytes + x_bytes,
            Mode.WU: x_bytes + y_bytes + w_bytes}[mode]
    read_once = once - (w_bytes if mode == Mode.WU else (y_bytes if mode == Mode.FP else x_bytes))
    write_once = once - read_once
    tensor_cycles = math.ceil(max(read_once, write_once) / rate)
    memory = math.ceil(max(rd.bytes, wr.bytes) / rate)
    return Prediction(cycles=cycles, mac_cycles=mac_cycles, read_bytes=rd.bytes, write_bytes=wr.bytes,
                      compute_cycles=compute_total, memory_cycles=memory, tensor_cycles=tensor_cycles)

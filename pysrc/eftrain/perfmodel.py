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
  released, a tile's first pass for its OB half to be stored); a weight load or dW
  store waits for every COMPUTE on its WB region (a half when WB is double buffered,
  else all of WB), and a COMPUTE for the loads (FP/BP) or stores (WU) of its region,
  in the program order of :func:`eftrain.schedule.conv_program`.

The constants below come from the RTL's pipeline and were checked against ``make bench``
(cycle-accurate RTL with the DRAM model of tb/bench), which prints the model's error for
every layer and phase: within 2.9 % on the 33 convolution runs of the VGG-16 set. Pool
descriptors are modelled as streams at the channel rate, not yet benchmarked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from eftrain.config import HwConfig
from eftrain.descriptor import Descriptor, Opcode, out_hw
from eftrain.rtl_sources import package_constants
from eftrain.schedule import HAZARD_DISTANCE, _Geometry, conv_program, wb_double_buffered

# Overheads (cycles); checked with `make bench` at TM = TN = 16 (see README, "Performance").
FETCH_CYCLES = 14        # descriptor fetch and checks (over three cycles), after the DRAM latency
COMPUTE_GAP = 2          # between two COMPUTE commands of the array
WRITE_BACK_CYCLES = 3    # beyond the array's latency: the OB read before, the write after
# The fp32 latencies, from the one definition (rtl/eftrain_pkg.sv).
_FP32 = package_constants()
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


def pipeline_cycles(tn: int) -> int:
    """Issue to the last write-back of a COMPUTE (the drain before a weight move or a
    store): one multiply, the log2(tn) levels of the adder tree and the accumulate
    (log2(tn) + 1 adders: tn.bit_length() for a power of two)."""
    return _FP32["FP32_MUL_LATENCY"] + tn.bit_length() * _FP32["FP32_ADD_LATENCY"] + WRITE_BACK_CYCLES


def _issue_cycles(pixels: int, kk: int, wu: bool, blocks: int = 1) -> int:
    """Issue cycles of one COMPUTE over ``pixels`` output pixels and ``kk`` kernel
    positions (of ``blocks`` dW blocks in WU). Dot mode sweeps the pixels once per kernel
    position; a sweep shorter than the accumulate distance is held. WU visits the
    ``blocks * kk`` words of one pixel in a row; fewer than the distance are held
    likewise."""
    if wu:
        words = blocks * kk
        return pixels * max(words, HAZARD_DISTANCE) if pixels > 1 else words
    return kk * max(pixels, HAZARD_DISTANCE) if kk > 1 else pixels


def predict(desc: Descriptor, cfg: HwConfig, dram: Dram, axi_data_bytes: int) -> Prediction:
    """Predicted cycles of one convolution or pool descriptor (validated by the caller)."""
    from eftrain.engine import Mode, Op

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
    # Per WB region (the two halves when double buffered, else one): when the last
    # COMPUTE on it ends, when its weight loads (FP/BP) or dW stores (WU) end.
    wb_half = cfg.wb_depth // 2
    double = wb_double_buffered(inner, kk, cfg.wb_depth)
    region_compute = [None, None]
    region_moved = [t0, t0]
    lo = hi = pixels = 0
    tile_ready = done = in_end = t0

    def region(entry: int) -> int:
        return int(double and entry >= wb_half)

    def compute(ready: float, pixels: int, blocks: int) -> float:
        nonlocal compute_end, compute_total
        cycles = _issue_cycles(pixels, kk, mode == Mode.WU, blocks)
        compute_total += cycles
        start = max(ready, compute_end + COMPUTE_GAP)
        compute_end = start + cycles
        return compute_end

    # rtl/layer_ctrl.sv does not group WU's channel tiles yet: one block per COMPUTE.
    for st in conv_program(mode, outer, inner, desc.batch, tiles, kk, cfg.wb_depth):
        if st.op in (Op.LOAD_W, Op.STORE_W):
            # A weight block waits for every COMPUTE on its region (the dispatcher's rule).
            h = region(st.wb)
            used = region_compute[h]
            if st.op == Op.LOAD_W:
                _, end = rd.transfer(t0 if used is None else used + pipeline_cycles(g), block_bytes)
            else:
                _, end = wr.transfer(used + pipeline_cycles(g) + STORE_START, block_bytes)
                last_write = max(last_write, end)
            region_moved[h] = max(region_moved[h], end)
        elif st.op == Op.LOAD_OUT:
            pixels = (st.r1 - st.r0) * out_w
            ob_half ^= 1
            tile_ready = ob_free[ob_half]
            if mode == Mode.WU:
                _, tile_ready = rd.transfer(tile_ready, pixels * pixel_bytes)
            lo, hi = geo.ib_rows(st.r0, st.r1)
            done = tile_ready
        elif st.op == Op.LOAD_IN:
            # One read per channel tile; the first waits for the IB half.
            ib_half ^= 1
            in_end = ib_free[ib_half]
            for _ in range(st.blocks):
                _, in_end = rd.transfer(in_end, (hi - lo) * in_w * pixel_bytes)
        elif st.op == Op.COMPUTE:
            h = region(st.wb)
            # FP/BP read the region's weights; WU's first pass overwrites the dW words the
            # region's previous stores read (later passes follow it in the compute order).
            done = compute(max(in_end, tile_ready, region_moved[h]), pixels, st.blocks)
            region_compute[h] = done
            ib_free[ib_half] = done
            if mode == Mode.WU:
                ob_free[ob_half] = done
        else:  # STORE_OUT
            _, st_end = wr.transfer(done + pipeline_cycles(g) + STORE_START, pixels * pixel_bytes)
            ob_free[ob_half] = st_end
            last_write = max(last_write, st_end)

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

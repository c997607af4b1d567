"""One layer as a conv-engine program: the loop orders of docs/architecture.md.

:func:`schedule_conv` and :func:`schedule_fc` turn one layer phase (FP, BP or WU) into
a :class:`Schedule`: the engine commands (:mod:`eftrain.engine`), the beats of every
LOAD_* command (DRAM layouts: activations ``[B][C/TN][H][W][TN]``, weights
``[M/TN][N/TN][K][K][TM][TN]``, channels zero-padded with +0.0 to a multiple of TN),
and :meth:`Schedule.assemble`, which builds the layer's result from the beats of the
STORE_* commands with the shapes of :mod:`eftrain.oracle`.

Loop orders (``mt``: output-channel tile of the layer, ``nt``: input-channel tile, KK =
K*K WB entries per TM x TN block; IB halves alternate per LOAD_IN, OB halves per output
tile (dy tile in WU)). The one definition is :func:`conv_program`, which
:func:`eftrain.layout.transfers`, :mod:`eftrain.perfmodel` and the layer controller
(rtl/layer_ctrl.sv) follow:

* FP: for mt: the weight blocks (mt, nt) of every nt are resident in WB while the whole
  batch streams through (weight reuse); for b, for row tile of y: for nt: LOAD_IN (x
  rows of the tile with the halo, clipped to the image, channel tile nt), COMPUTE FP
  (acc_init on the first nt, ob_done on the last, ib_release); then STORE_OUT of the
  tile.
* BP: for nt (the layer's input-channel tile = the dx lanes): blocks (mt, nt) of every
  mt resident, the same bytes FP loads (their LOAD_W has mode BP: the engine writes
  them transposed into WB); for b, for row tile of dx (even-aligned for stride 2): for
  mt: LOAD_IN (the dy rows the tile reads, channel tile mt), COMPUTE BP; then STORE_OUT.
* WU: for mt: for b, for row tile of dy: LOAD_OUT (the dy tile, channel tile mt); for
  each group of G consecutive nt (G = 1, or :func:`wu_blocks` with ``group_wu``, which
  the layer controller does not use yet): one LOAD_IN of the x rows the tile
  reads in each of the group's channel tiles, one after another, and one COMPUTE WU
  into the group's blocks (``blocks`` = G; acc_init only on the first command of each
  block), ob_done on the last group; after the batch, STORE_W of every block (mt, nt).
  A kernel of K*K positions accumulates each dW word once per pixel, every K*K issues;
  the G blocks make that G*K*K, so 1x1 and 2x2 kernels keep the accumulate pipeline
  full (HAZARD_DISTANCE) without changing the order of any word's sums. FP and BP use
  groups of one.

WB double buffering (:func:`wb_double_buffered`): when one outer tile's blocks fit in
half of WB, outer tiles alternate between the halves (block i of outer tile o at entry
``(o % 2) * (wb_depth // 2) + i*KK``), and the weight traffic of a neighbouring outer
tile hides behind this one's COMPUTEs, spread evenly over them: with P = batch x row
tiles (an outer tile has P x groups COMPUTEs), FP/BP load block s of the next outer
tile right after COMPUTE number s*P of this one, WU stores the blocks of group s of the
previous one after its COMPUTE number s*P (the last outer tile's blocks after its
batch). Otherwise WB holds one outer tile at entry ``i*KK``: FP/BP load the next outer tile's blocks
after this one's batch, WU stores its blocks after its batch.

A FC layer is a 1x1 convolution with the batch folded onto the pixels: one image of
height 1 and width B (docs/numerics.md, section 5).

Tile rows default to the largest count whose tiles all fit the buffers
(``cfg.ib_depth``/``cfg.ob_depth`` pixels per half); WB must hold every block the loop
keeps resident. A layer that cannot be scheduled raises ValueError naming the field.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NoReturn

import numpy as np

from eftrain import fp32
from eftrain.config import HwConfig
from eftrain.engine import FIELDS, EngineCmd, Mode, Op
from eftrain.rtl_sources import package_constants

__all__ = ["HAZARD_DISTANCE", "Schedule", "Step", "conv_program", "schedule_conv", "schedule_fc",
           "simulate", "wb_double_buffered", "wu_blocks"]

# An accumulate reads its word FP32_ADD_LATENCY + 1 cycles before it writes it back, so
# the same word may be issued again FP32_ADD_LATENCY + 2 cycles later at the earliest
# (rtl/engine_compute.sv holds an issue until then).
HAZARD_DISTANCE = package_constants()["FP32_ADD_LATENCY"] + 2
# The largest `blocks` of a COMPUTE (its command field).
_MAX_BLOCKS = (1 << FIELDS["blocks"]) - 1


@dataclass(frozen=True)
class _OutTile:
    """STORE_OUT placement: rows r0..r1-1, channel tile ct of image b."""

    b: int
    ct: int
    r0: int
    r1: int


@dataclass(frozen=True)
class _WBlock:
    """STORE_W placement: dW block (mt, nt)."""

    mt: int
    nt: int


@dataclass
class Schedule:
    """One layer phase as an engine program.

    commands: the command list. loads: one float32 [count, TN] array per LOAD_* command,
    in command order. tile_rows: the row tile used (y rows for FP, dx rows for BP, dy
    rows for WU). :meth:`assemble` turns the store beats into the result.
    """

    phase: Mode
    cfg: HwConfig
    commands: list[EngineCmd]
    loads: list[np.ndarray]
    tile_rows: int
    result_shape: tuple[int, ...]
    _placements: list[_OutTile | _WBlock] = field(repr=False)
    _padded_shape: tuple[int, ...] = field(repr=False)
    _fc: bool = field(repr=False, default=False)

    @property
    def store_counts(self) -> list[int]:
        """Beats of every STORE_* command, in order."""
        return [c.count for c in self.commands if c.op in (Op.STORE_OUT, Op.STORE_W)]

    @property
    def n_store_beats(self) -> int:
        return sum(self.store_counts)

    @property
    def n_load_beats(self) -> int:
        return sum(len(a) for a in self.loads)

    def op_counts(self) -> dict[str, int]:
        """Number of commands of every op."""
        counts = {op.name: 0 for op in Op}
        for cmd in self.commands:
            counts[Op(cmd.op).name] += 1
        return counts

    def split_stores(self, beats: np.ndarray) -> list[np.ndarray]:
        """All store beats in order ([n_store_beats, TN]) as one array per STORE command."""
        beats = np.asarray(beats)
        tn = self.cfg.tn
        if beats.shape != (self.n_store_beats, tn):
            raise ValueError(
                f"Schedule.split_stores: beats of shape {beats.shape}, expected "
                f"({self.n_store_beats}, {tn})"
            )
        bounds = np.cumsum([0, *self.store_counts])
        return [beats[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]

    def assemble(self, stores: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
        """The layer's result from the store beats: one [count, TN] array (float32 words
        or uint32 bits) per STORE_* command in order, or all beats as one
        [n_store_beats, TN] array. FP: y [B,M,Ho,Wo]; BP: dx [B,N,H,W]; WU: dw [M,N,K,K]
        (FC: y [B,M], dx [B,N], dw [M,N]). float32."""
        if isinstance(stores, np.ndarray):
            stores = self.split_stores(stores)
        counts = self.store_counts
        if len(stores) != len(counts):
            raise ValueError(
                f"Schedule.assemble: {len(stores)} store arrays for {len(counts)} STORE commands"
            )
        tn = self.cfg.tn
        out = np.zeros(self._padded_shape, np.float32)
        for index, (place, beats, count) in enumerate(
            zip(self._placements, stores, counts, strict=True)
        ):
            beats = np.asarray(beats)
            if beats.shape != (count, tn):
                raise ValueError(
                    f"Schedule.assemble: store {index} has shape {beats.shape}, expected "
                    f"({count}, {tn})"
                )
            if beats.dtype == np.uint32:
                beats = fp32.from_bits(beats)
            elif beats.dtype != np.float32:
                raise ValueError(
                    f"Schedule.assemble: store {index} must be float32 or uint32, got {beats.dtype}"
                )
            if isinstance(place, _OutTile):
                rows = place.r1 - place.r0
                tile = beats.reshape(rows, -1, tn).transpose(2, 0, 1)
                out[place.b, place.ct * tn : (place.ct + 1) * tn, place.r0 : place.r1] = tile
            else:
                k = self._padded_shape[2]
                block = beats.reshape(k, k, tn, tn).transpose(2, 3, 0, 1)
                m0, n0 = place.mt * tn, place.nt * tn
                out[m0 : m0 + tn, n0 : n0 + tn] = block
        if self._fc:
            if self.phase == Mode.WU:
                n_out, n_in = self.result_shape
                return np.ascontiguousarray(out[:n_out, :n_in, 0, 0])
            return np.ascontiguousarray(out[0, : self.result_shape[1], 0, :].T)
        crop = tuple(slice(0, n) for n in self.result_shape)
        return np.ascontiguousarray(out[crop])


def simulate(schedule: Schedule) -> np.ndarray:
    """Run ``schedule`` on :class:`eftrain.engine_model.EngineModel` and assemble."""
    from eftrain.engine_model import EngineModel

    stores = EngineModel(schedule.cfg).run(schedule.commands, schedule.loads)
    return schedule.assemble(stores)


# --------------------------------------------------------------------------------------
# Validation.
# --------------------------------------------------------------------------------------


def _fail(where: str, message: str) -> NoReturn:
    raise ValueError(f"{where}: {message}")


def _int(where: str, name: str, value, low: int | None = None) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        _fail(where, f"{name} must be an int, got {value!r}")
    value = int(value)
    if low is not None and value < low:
        _fail(where, f"{name} must be >= {low}, got {value}")
    return value


def _array(where: str, name: str, value, ndim: int, layout: str) -> np.ndarray:
    if value is None:
        _fail(where, f"{name} is required")
    arr = np.asarray(value)
    if arr.dtype.kind not in "iuf":
        _fail(where, f"{name} must hold real numbers, got dtype {arr.dtype}")
    if arr.ndim != ndim or 0 in arr.shape:
        _fail(where, f"{name} must be a non-empty {ndim}-dim array {layout}, got shape {arr.shape}")
    with np.errstate(over="ignore"):
        return np.asarray(arr, dtype=np.float32)


def _mismatch(where: str, a_name: str, a_axis: int, a, b_name: str, b_axis: int, b, label: str):
    _fail(
        where,
        f"{a_name}.shape[{a_axis}] ({label}={a.shape[a_axis]}) does not match "
        f"{b_name}.shape[{b_axis}] ({label}={b.shape[b_axis]})",
    )


def _unused(where: str, phase: Mode, **given) -> None:
    for name, value in given.items():
        if value is not None:
            _fail(where, f"{name} is not an input of {phase.name}")


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _pad_channels(values: np.ndarray, axis: int, tn: int) -> np.ndarray:
    """+0.0 channels up to a multiple of TN (docs/numerics.md, section 2)."""
    extra = -values.shape[axis] % tn
    if extra == 0:
        return values
    widths = [(0, 0)] * values.ndim
    widths[axis] = (0, extra)
    return np.pad(values, widths)


# --------------------------------------------------------------------------------------
# Tiling.
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Geometry:
    """One phase's row tiling: output rows (of OB's image), the IB image and its rows."""

    phase: Mode
    k: int
    stride: int
    pad: int
    in_hw: tuple[int, int]  # the IB image (x for FP/WU, dy for BP)
    out_hw: tuple[int, int]  # the OB image (y for FP, dx for BP, dy for WU)

    def ib_rows(self, r0: int, r1: int) -> tuple[int, int]:
        """IB image rows [lo, hi) that output rows [r0, r1) read (inside the image)."""
        k, s, pad = self.k, self.stride, self.pad
        height = self.in_hw[0]
        if self.phase == Mode.BP:
            # dx row y reads dy row (y + pad - i) / s where that is an integer: the
            # multiples of s in the contiguous range of y + pad - i.
            lo = max(0, _ceil_div(r0 + pad - (k - 1), s))
            hi = min(height, (r1 - 1 + pad) // s + 1)
            if lo >= hi:
                # Every kernel position falls outside dy (rows of x that FP never read):
                # the tile multiplies only zeros, but COMPUTE still needs a full IB half.
                return height - 1, height
            return lo, hi
        return max(0, r0 * s - pad), min(height, (r1 - 1) * s - pad + k)

    def ib_pixels(self, rows: int) -> int:
        """FP, WU: IB pixels of one channel tile of a tile of ``rows`` rows, by the
        tile-fit rule (eftrain.descriptor.tile_misfit): at least what any real tile of
        that size needs."""
        rows = min(rows, self.out_hw[0])
        return min(self.in_hw[0], (rows - 1) * self.stride + self.k) * self.in_hw[1]

    def group(self, rows: int, inner_tiles: int, cfg: HwConfig) -> int:
        """Inner tiles per COMPUTE with tiles of ``rows`` rows: WU :func:`wu_blocks`, else 1."""
        if self.phase != Mode.WU:
            return 1
        return wu_blocks(self.k, inner_tiles, self.ib_pixels(rows), cfg.ib_depth)

    def tiles(self, rows: int) -> list[tuple[int, int]]:
        height = self.out_hw[0]
        return [(r0, min(height, r0 + rows)) for r0 in range(0, height, rows)]

    def misfit(self, rows: int, cfg: HwConfig) -> str | None:
        """Why a tile of ``rows`` rows does not fit, or None."""
        if self.phase == Mode.BP and self.stride == 2 and rows % 2 and rows < self.out_hw[0]:
            return f"{rows} is odd: stride-2 BP tiles must start on even rows"
        out_w, in_w = self.out_hw[1], self.in_hw[1]
        for r0, r1 in self.tiles(rows):
            if (r1 - r0) * out_w > cfg.ob_depth:
                return (
                    f"a tile of {r1 - r0} rows x {out_w} pixels overflows "
                    f"cfg.ob_depth ({cfg.ob_depth})"
                )
            lo, hi = self.ib_rows(r0, r1)
            if (hi - lo) * in_w > cfg.ib_depth:
                return (
                    f"the tile at row {r0} reads {hi - lo} rows x {in_w} pixels, overflowing "
                    f"cfg.ib_depth ({cfg.ib_depth})"
                )
        return None

    def choose_rows(self, where: str, tile_rows, cfg: HwConfig) -> int:
        height = self.out_hw[0]
        if tile_rows is not None:
            rows = _int(where, "tile_rows", tile_rows, 1)
            rows = min(rows, height)
            why = self.misfit(rows, cfg)
            if why is not None:
                _fail(where, f"tile_rows={tile_rows} does not fit: {why}")
            return rows
        for rows in range(height, 0, -1):
            if self.misfit(rows, cfg) is None:
                return rows
        smallest = 2 if (self.phase == Mode.BP and self.stride == 2 and height > 1) else 1
        _fail(
            where,
            f"in_w: rows too wide for the buffers, not even a {smallest}-row tile fits: "
            f"{self.misfit(smallest, cfg)} (IB image width {self.in_hw[1]}, "
            f"output width {self.out_hw[1]})",
        )


def _check_wb(where: str, blocks: int, k: int, cfg: HwConfig, what: str) -> None:
    entries = blocks * k * k
    if entries > cfg.wb_depth:
        _fail(
            where,
            f"wb_depth: {what} needs {blocks} blocks x {k}x{k} = {entries} WB entries, "
            f"cfg.wb_depth is {cfg.wb_depth}",
        )


def _act_beats(act: np.ndarray, b: int, ct: int, rows: tuple[int, int], tn: int) -> np.ndarray:
    """Pixels of rows [lo, hi) of channel tile ct of image b: [pixels, TN] float32."""
    lo, hi = rows
    tile = act[b, ct * tn : (ct + 1) * tn, lo:hi]  # [TN, rows, W]
    return np.ascontiguousarray(tile.transpose(1, 2, 0).reshape(-1, tn))


def _w_beats(wp: np.ndarray, mt: int, nt: int, tn: int) -> np.ndarray:
    """Block (mt, nt) in the DRAM weight layout [K][K][TM][TN]: [K*K*TM, TN] float32."""
    block = wp[mt * tn : (mt + 1) * tn, nt * tn : (nt + 1) * tn]  # [TM, TN, K, K]
    return np.ascontiguousarray(block.transpose(2, 3, 0, 1).reshape(-1, tn))


class _Builder:
    """Accumulates commands and loads; alternates the buffer halves."""

    def __init__(self, cfg: HwConfig):
        self.cfg = cfg
        self.commands: list[EngineCmd] = []
        self.loads: list[np.ndarray] = []
        self.placements: list[_OutTile | _WBlock] = []
        self._ib_half = 1
        self._ob_half = 1

    def next_ib(self) -> int:
        self._ib_half ^= 1
        return self._ib_half

    def next_ob(self) -> int:
        self._ob_half ^= 1
        return self._ob_half

    def load(self, op: Op, beats: np.ndarray, **fields) -> None:
        self.commands.append(EngineCmd(op=op, count=len(beats), **fields))
        self.loads.append(beats)

    def store(self, op: Op, count: int, place, **fields) -> None:
        self.commands.append(EngineCmd(op=op, count=count, **fields))
        self.placements.append(place)

    def compute(self, **fields) -> None:
        self.commands.append(EngineCmd(op=Op.COMPUTE, **fields))

    def finish(self, where: str, phase: Mode, rows: int, result_shape, padded_shape,
               fc: bool = False) -> Schedule:
        for cmd in self.commands:
            try:
                cmd.pack()
            except ValueError as err:
                _fail(where, f"the layer does not fit the command format: {err}")
        return Schedule(phase, self.cfg, self.commands, self.loads, rows,
                        tuple(result_shape), self.placements, tuple(padded_shape), fc)


# --------------------------------------------------------------------------------------
# The three phases.
# --------------------------------------------------------------------------------------


def wu_blocks(k: int, inner_tiles: int, ib_pixels: int, ib_depth: int) -> int:
    """dW blocks one WU COMPUTE interleaves (G): enough that a pixel's G*K*K words cover
    the accumulate distance (HAZARD_DISTANCE), no more channel tiles than the layer has,
    and as many as IB holds, ``ib_pixels`` being the IB pixels of one channel tile of the
    largest row tile (``min(H, (R-1)*s + K) * W``, the tile-fit rule's). FP and BP: 1.
    Only the engine-level programs use it yet (``group_wu``); rtl/layer_ctrl.sv runs one
    block per COMPUTE."""
    wanted = min(-(-HAZARD_DISTANCE // (k * k)), _MAX_BLOCKS)
    return max(1, min(wanted, inner_tiles, ib_depth // max(ib_pixels, 1)))


def wb_double_buffered(inner_tiles: int, kk: int, wb_depth: int) -> bool:
    """Whether one outer tile's ``inner_tiles`` blocks of ``kk`` entries fit in half of
    WB, so that outer tiles alternate between the halves (see the module docstring)."""
    return inner_tiles * kk <= wb_depth // 2


@dataclass(frozen=True)
class Step:
    """One command of a convolution's program (:func:`conv_program`).

    op: LOAD_W / STORE_W of block (``ot``, ``it``) at WB entry ``wb``; LOAD_OUT (WU's dy
        tile; for FP/BP the start of an output tile, which issues no command); LOAD_IN
        of inner tiles ``it`` .. ``it + blocks - 1`` (one transfer each) for the tile
        (``b``, ``r0``, ``r1``) of outer tile ``ot``; COMPUTE of them with ``wb`` its
        wb_base; STORE_OUT of the tile.
    """

    op: Op
    ot: int
    it: int = 0
    b: int = 0
    r0: int = 0
    r1: int = 0
    wb: int = 0
    blocks: int = 1


def conv_program(mode: Mode, outer_tiles: int, inner_tiles: int, batch: int,
                 tiles: Sequence[tuple[int, int]], kk: int, wb_depth: int, group: int = 1):
    """The program order of a convolution phase, as :class:`Step` s: the outer tiles
    (FP, WU: output-channel tiles; BP: input-channel tiles), the batch, the row
    ``tiles``, the inner tiles in groups of ``group`` (WU, :func:`wu_blocks`; else 1),
    and where the weight blocks move (module docstring)."""
    half = wb_depth // 2
    double = wb_double_buffered(inner_tiles, kk, wb_depth)
    if mode != Mode.WU and group != 1:
        raise ValueError(f"conv_program: {mode.name} runs groups of one inner tile, not {group}")
    groups = [(g0, min(group, inner_tiles - g0)) for g0 in range(0, inner_tiles, group)]

    def base(ot: int) -> int:
        return half * (ot % 2) if double else 0

    def blocks(op: Op, ot: int):
        for it in range(inner_tiles):
            yield Step(op, ot, it, wb=base(ot) + it * kk)

    if mode != Mode.WU:
        yield from blocks(Op.LOAD_W, 0)
    # The neighbour's blocks are spread evenly over this outer tile's COMPUTEs: a group's
    # after every `pace`-th (batch x row tiles; an outer tile has pace x groups).
    pace = batch * len(tiles)
    for ot in range(outer_tiles):
        c = 0
        for b in range(batch):
            for r0, r1 in tiles:
                yield Step(Op.LOAD_OUT, ot, 0, b, r0, r1)
                for g0, n in groups:
                    yield Step(Op.LOAD_IN, ot, g0, b, r0, r1, blocks=n)
                    yield Step(Op.COMPUTE, ot, g0, b, r0, r1, wb=base(ot) + g0 * kk, blocks=n)
                    if double and c % pace == 0:
                        s0, sn = groups[c // pace]
                        for s in range(s0, s0 + sn):
                            if mode != Mode.WU and ot + 1 < outer_tiles:
                                yield Step(Op.LOAD_W, ot + 1, s, wb=base(ot + 1) + s * kk)
                            elif mode == Mode.WU and ot > 0:
                                yield Step(Op.STORE_W, ot - 1, s, wb=base(ot - 1) + s * kk)
                    c += 1
                if mode != Mode.WU:
                    yield Step(Op.STORE_OUT, ot, 0, b, r0, r1)
        if mode != Mode.WU and not double and ot + 1 < outer_tiles:
            yield from blocks(Op.LOAD_W, ot + 1)
        if mode == Mode.WU and (not double or ot == outer_tiles - 1):
            yield from blocks(Op.STORE_W, ot)


def _schedule_program(mode: Mode, src, other, k, stride, pad, geo: _Geometry, rows: int,
                      outer_tiles: int, inner_tiles: int, cfg: HwConfig, group: int = 1) -> _Builder:
    """The commands and load beats of :func:`conv_program`. ``src`` is the image IB
    streams (FP, WU: x; BP: dy), ``other`` the padded weights (FP, BP) or dy (WU). FP
    walks output-channel tiles outside and input-channel tiles inside; BP the reverse
    (its lanes are the layer's input channels), loading the same weight blocks (mt, nt)
    that FP loads; WU walks like FP and accumulates dW blocks in WB."""
    tn, kk = cfg.tn, k * k
    (in_h, in_w), out_w = geo.in_hw, geo.out_hw[1]
    out = _Builder(cfg)
    oh = ih = 0
    for st in conv_program(mode, outer_tiles, inner_tiles, src.shape[0], geo.tiles(rows), kk, cfg.wb_depth,
                           group):
        if st.op == Op.LOAD_W:
            mt, nt = (st.ot, st.it) if mode == Mode.FP else (st.it, st.ot)
            # The same beats in FP and BP; BP's LOAD_W writes them transposed.
            out.load(Op.LOAD_W, _w_beats(other, mt, nt, tn), wb_addr=st.wb, mode=mode)
        elif st.op == Op.LOAD_OUT:
            oh = out.next_ob()
            if mode == Mode.WU:
                out.load(Op.LOAD_OUT, _act_beats(other, st.b, st.ot, (st.r0, st.r1), tn), half=oh)
            lo, hi = geo.ib_rows(st.r0, st.r1)
        elif st.op == Op.LOAD_IN:
            ih = out.next_ib()
            beats = [_act_beats(src, st.b, it, (lo, hi), tn) for it in range(st.it, st.it + st.blocks)]
            out.load(Op.LOAD_IN, np.concatenate(beats), half=ih)
        elif st.op == Op.COMPUTE:
            # acc_init: dot mode, the first pass of a tile; WU, the first pass over each
            # dW block (the batch's first tile).
            first = (st.b == 0 and st.r0 == 0) if mode == Mode.WU else st.it == 0
            out.compute(
                mode=mode, k=k, stride=stride, pad=pad, ib_half=ih, ob_half=oh,
                in_h=in_h, in_w=in_w, ib_row0=lo, ib_rows=hi - lo,
                out_row0=st.r0, out_rows=st.r1 - st.r0, out_w=out_w, wb_base=st.wb,
                acc_init=int(first), ob_done=int(st.it + st.blocks == inner_tiles), ib_release=1,
                blocks=st.blocks,
            )
        elif st.op == Op.STORE_OUT:
            out.store(Op.STORE_OUT, (st.r1 - st.r0) * out_w, _OutTile(st.b, st.ot, st.r0, st.r1), half=oh)
        else:
            out.store(Op.STORE_W, kk * cfg.tm, _WBlock(st.ot, st.it), wb_addr=st.wb)
    return out


def _schedule_fp(where, x, w, stride, pad, cfg, tile_rows):
    tn = cfg.tn
    batch, n_in, height, width = x.shape
    n_out, k = w.shape[0], w.shape[2]
    out_hw = ((height + 2 * pad - k) // stride + 1, (width + 2 * pad - k) // stride + 1)
    n_tiles, m_tiles = _ceil_div(n_in, tn), _ceil_div(n_out, tn)
    _check_wb(where, n_tiles, k, cfg, f"FP with N={n_in}")
    geo = _Geometry(Mode.FP, k, stride, pad, (height, width), out_hw)
    rows = geo.choose_rows(where, tile_rows, cfg)
    wp = _pad_channels(_pad_channels(w, 0, tn), 1, tn)
    out = _schedule_program(Mode.FP, _pad_channels(x, 1, tn), wp, k, stride, pad, geo, rows,
                            m_tiles, n_tiles, cfg)
    return out, rows, (batch, n_out, *out_hw), (batch, m_tiles * tn, *out_hw)


def _schedule_bp(where, dy, w, in_hw, stride, pad, cfg, tile_rows):
    tn = cfg.tn
    batch, n_out, out_h, out_w = dy.shape
    n_in, k = w.shape[1], w.shape[2]
    height, width = in_hw
    n_tiles, m_tiles = _ceil_div(n_in, tn), _ceil_div(n_out, tn)
    _check_wb(where, m_tiles, k, cfg, f"BP with M={n_out}")
    geo = _Geometry(Mode.BP, k, stride, pad, (out_h, out_w), (height, width))
    rows = geo.choose_rows(where, tile_rows, cfg)
    wp = _pad_channels(_pad_channels(w, 0, tn), 1, tn)
    out = _schedule_program(Mode.BP, _pad_channels(dy, 1, tn), wp, k, stride, pad, geo, rows,
                            n_tiles, m_tiles, cfg)
    return out, rows, (batch, n_in, height, width), (batch, n_tiles * tn, height, width)


def _schedule_wu(where, x, dy, k, stride, pad, cfg, tile_rows, group_wu):
    tn = cfg.tn
    _, n_in, height, width = x.shape
    n_out, out_h, out_w = dy.shape[1:]
    n_tiles, m_tiles = _ceil_div(n_in, tn), _ceil_div(n_out, tn)
    _check_wb(where, n_tiles, k, cfg, f"WU with N={n_in}")
    geo = _Geometry(Mode.WU, k, stride, pad, (height, width), (out_h, out_w))
    rows = geo.choose_rows(where, tile_rows, cfg)
    if group_wu and tile_rows is None:
        # The default: the largest tile that still lets a COMPUTE interleave as many
        # blocks as it can use (fewer rows only shorten the tiles; a full IB of one
        # channel tile would hold a 1x1 WU at one issue per HAZARD_DISTANCE cycles).
        while geo.group(rows, n_tiles, cfg) < geo.group(1, n_tiles, cfg) and rows > 1:
            rows -= 1
    group = geo.group(rows, n_tiles, cfg) if group_wu else 1
    out = _schedule_program(Mode.WU, _pad_channels(x, 1, tn), _pad_channels(dy, 1, tn), k, stride, pad, geo,
                            rows, m_tiles, n_tiles, cfg, group)
    return out, rows, (n_out, n_in, k, k), (m_tiles * tn, n_tiles * tn, k, k)


def _check_common(where: str, cfg, stride, pad, k: int) -> tuple[int, int]:
    if not isinstance(cfg, HwConfig):
        _fail(where, f"cfg must be an eftrain.HwConfig, got {type(cfg).__name__}")
    stride = _int(where, "stride", stride)
    if stride not in (1, 2):
        _fail(where, f"stride must be 1 or 2, got {stride}")
    if not 1 <= k <= cfg.kmax:
        _fail(where, f"k must be in 1..cfg.kmax ({cfg.kmax}), got {k}")
    pad = _int(where, "pad", pad)
    if not 0 <= pad <= k - 1:
        _fail(where, f"pad must be in 0..K-1 (K={k}), got {pad}")
    return stride, pad


def _out_hw(where: str, in_hw, k: int, stride: int, pad: int) -> tuple[int, int]:
    sizes = tuple((n + 2 * pad - k) // stride + 1 for n in in_hw)
    if min(sizes) < 1:
        _fail(where, f"in_hw {tuple(in_hw)}: the output would be empty (K={k}, pad={pad})")
    return sizes


def schedule_conv(
    phase: Mode,
    *,
    cfg: HwConfig,
    x=None,
    w=None,
    dy=None,
    k: int | None = None,
    in_hw: tuple[int, int] | None = None,
    stride: int = 1,
    pad: int = 0,
    tile_rows: int | None = None,
    group_wu: bool = False,
) -> Schedule:
    """One convolution phase as an engine program.

    FP: ``x [B,N,H,W]``, ``w [M,N,K,K]`` -> y [B,M,Ho,Wo]. BP: ``dy [B,M,Ho,Wo]``,
    ``w``, ``in_hw = (H, W)`` -> dx [B,N,H,W]. WU: ``x``, ``dy``, ``k`` -> dw [M,N,K,K]
    (the shapes and arguments of ``eftrain.oracle.conv_fp/conv_bp/conv_wu``).
    ``tile_rows``: output rows per tile (y for FP, dx for BP, dy for WU); default the
    largest that fits the buffers. ``group_wu``: WU COMPUTEs interleave channel tiles as
    dW blocks (:func:`wu_blocks`; the default tile is then the largest that allows the
    most blocks). Off by default: the layer controller does not group yet, and the
    default program is the one it runs (eftrain.layout.transfers).
    """
    where = "schedule_conv"
    try:
        phase = Mode(phase)
    except ValueError:
        _fail(where, f"phase must be a Mode (FP, BP, WU), got {phase!r}")
    if phase == Mode.FP:
        _unused(where, phase, dy=dy, k=k, in_hw=in_hw)
        x = _array(where, "x", x, 4, "[B,N,H,W]")
        w = _array(where, "w", w, 4, "[M,N,K,K]")
        if w.shape[2] != w.shape[3]:
            _fail(where, f"w must have a square kernel, got {w.shape[2:]}")
        if w.shape[1] != x.shape[1]:
            _mismatch(where, "w", 1, w, "x", 1, x, "N")
        stride, pad = _check_common(where, cfg, stride, pad, w.shape[2])
        _out_hw(where, x.shape[2:], w.shape[2], stride, pad)
        built = _schedule_fp(where, x, w, stride, pad, cfg, tile_rows)
    elif phase == Mode.BP:
        _unused(where, phase, x=x, k=k)
        dy = _array(where, "dy", dy, 4, "[B,M,Ho,Wo]")
        w = _array(where, "w", w, 4, "[M,N,K,K]")
        if w.shape[2] != w.shape[3]:
            _fail(where, f"w must have a square kernel, got {w.shape[2:]}")
        if w.shape[0] != dy.shape[1]:
            _mismatch(where, "w", 0, w, "dy", 1, dy, "M")
        if in_hw is None or len(in_hw) != 2:
            _fail(where, f"in_hw must be a pair (H, W), got {in_hw!r}")
        in_hw = tuple(_int(where, f"in_hw[{i}]", v, 1) for i, v in enumerate(in_hw))
        stride, pad = _check_common(where, cfg, stride, pad, w.shape[2])
        if _out_hw(where, in_hw, w.shape[2], stride, pad) != dy.shape[2:]:
            _fail(where, f"dy's pixel grid {dy.shape[2:]} is not the output of in_hw {in_hw}")
        built = _schedule_bp(where, dy, w, in_hw, stride, pad, cfg, tile_rows)
    else:
        _unused(where, phase, w=w, in_hw=in_hw)
        x = _array(where, "x", x, 4, "[B,N,H,W]")
        dy = _array(where, "dy", dy, 4, "[B,M,Ho,Wo]")
        if k is None:
            _fail(where, "k is required for WU")
        k = _int(where, "k", k, 1)
        if dy.shape[0] != x.shape[0]:
            _mismatch(where, "dy", 0, dy, "x", 0, x, "B")
        stride, pad = _check_common(where, cfg, stride, pad, k)
        if _out_hw(where, x.shape[2:], k, stride, pad) != dy.shape[2:]:
            _fail(where, f"dy's pixel grid {dy.shape[2:]} is not the output of x {x.shape[2:]}")
        built = _schedule_wu(where, x, dy, k, stride, pad, cfg, tile_rows, group_wu)
    builder, rows, result_shape, padded_shape = built
    return builder.finish(where, phase, rows, result_shape, padded_shape)


def schedule_fc(phase: Mode, *, cfg: HwConfig, x=None, w=None, dy=None, group_wu: bool = False) -> Schedule:
    """One fully connected phase as an engine program: a 1x1 convolution of one image of
    height 1 and width B (docs/numerics.md, section 5).

    FP: ``x [B,N]``, ``w [M,N]`` -> y [B,M]. BP: ``dy [B,M]``, ``w`` -> dx [B,N].
    WU: ``x``, ``dy`` -> dw [M,N] (the shapes of ``eftrain.oracle.fc_*``).
    ``group_wu``: as for :func:`schedule_conv`.
    """
    where = "schedule_fc"
    try:
        phase = Mode(phase)
    except ValueError:
        _fail(where, f"phase must be a Mode (FP, BP, WU), got {phase!r}")
    if not isinstance(cfg, HwConfig):
        _fail(where, f"cfg must be an eftrain.HwConfig, got {type(cfg).__name__}")

    def image(name, value, layout):
        arr = _array(where, name, value, 2, layout)
        return arr.T[None, :, None, :]  # [1, C, 1, B]

    if phase == Mode.FP:
        _unused(where, phase, dy=dy)
        xi = image("x", x, "[B,N]")
        w = _array(where, "w", w, 2, "[M,N]")
        if w.shape[1] != xi.shape[1]:
            _fail(where, f"w.shape[1] (N={w.shape[1]}) does not match x.shape[1] (N={xi.shape[1]})")
        built = _schedule_fp(where, xi, w[:, :, None, None], 1, 0, cfg, None)
        result = (xi.shape[3], w.shape[0])
    elif phase == Mode.BP:
        _unused(where, phase, x=x)
        dyi = image("dy", dy, "[B,M]")
        w = _array(where, "w", w, 2, "[M,N]")
        if w.shape[0] != dyi.shape[1]:
            _fail(where, f"w.shape[0] (M={w.shape[0]}) does not match dy.shape[1] "
                         f"(M={dyi.shape[1]})")
        built = _schedule_bp(where, dyi, w[:, :, None, None], (1, dyi.shape[3]), 1, 0, cfg, None)
        result = (dyi.shape[3], w.shape[1])
    else:
        _unused(where, phase, w=w)
        xi = image("x", x, "[B,N]")
        dyi = image("dy", dy, "[B,M]")
        if dyi.shape[3] != xi.shape[3]:
            _fail(where, f"dy.shape[0] (B={dyi.shape[3]}) does not match x.shape[0] "
                         f"(B={xi.shape[3]})")
        built = _schedule_wu(where, xi, dyi, 1, 1, 0, cfg, None, group_wu)
        result = (dyi.shape[1], xi.shape[1])
    builder, rows, _, padded_shape = built
    return builder.finish(where, phase, rows, result, padded_shape, fc=True)

"""Command-level model of the conv engine (docs/architecture.md).

:class:`EngineModel` holds the engine's buffers as numpy arrays and executes a command
list (:mod:`eftrain.engine`) with the beats of its LOAD_* commands, returning the beats
of its STORE_* commands, exactly as ``rtl/conv_engine.sv`` would send them:

* ``IB[2][ib_depth][TN]`` (input pixels), ``OB[2][ob_depth][TN]`` (output pixels, or dy
  in WU) and ``WB[wb_depth][TM][TN]`` (one kernel position of one TM x TN block per
  entry; a BP LOAD_W writes it transposed, so that dot mode reads ``WB[entry][m][n]`` in
  FP and BP alike), float32 words, plus one full flag per IB and OB half.
* COMPUTE performs, for every word, the additions of docs/numerics.md in the order of
  the buffer-side address generator (``rtl/engine_agu.sv``), with ``fp32.mul_native``
  and ``fp32.add_native``: dot mode (FP, BP) per kernel position in walk order,
  vectorised over the tile's pixels and lanes, through the pairwise tree; WU serially
  over the output pixels, vectorised over the TM x TN x K*K products of one pixel, one
  dW block after another (a WU command's blocks are independent words). Padding
  positions multiply +0.0.

The model executes commands one at a time in program order (the RTL's three units run
concurrently, but ping-pong flags and WB ordering make its results equal to program
order for every program that is valid in program order). It asserts (AssertionError)
on protocol violations, each of which would be a deadlock, a wrong result or an
overflow in the RTL:

* a LOAD into a half that is not free, a COMPUTE of an IB half that is not full, a
  STORE_OUT of an OB half that is not full, a dot-mode ``acc_init`` pass on an OB half
  that is not free or a dot-mode continuation pass on one that is not accumulating, a
  WU COMPUTE whose OB half (dy) is not full;
* overflowing a buffer depth (IB, OB, WB), reading IB or OB addresses that were not
  loaded, reading WB entries that were never written;
* reading an IB row outside ``ib_row0 .. ib_row0 + ib_rows - 1`` that is inside the
  image (rows outside the image are padding, +0);
* malformed commands (unknown op or mode, k outside 1..kmax, stride not 1 or 2,
  pad >= k, an odd ``out_row0`` for stride-2 BP, zero-beat loads and stores, a BP
  LOAD_W of a partial entry, an FP or BP COMPUTE of more than one block).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from eftrain import fp32
from eftrain.config import HwConfig
from eftrain.engine import EngineCmd, Mode, Op

__all__ = ["EngineModel", "tree"]

# Buffers start filled with this NaN so that a read of unwritten data cannot go unseen.
_GARBAGE = np.uint32(0x7FBADBAD)

# Products one vectorised WU multiply computes before the serial additions.
_WU_CHUNK_PRODUCTS = 1 << 18

_LOADS = (Op.LOAD_IN, Op.LOAD_OUT, Op.LOAD_W)
_STORES = (Op.STORE_OUT, Op.STORE_W)


def tree(values: np.ndarray) -> np.ndarray:
    """The balanced pairwise adder tree over the last axis (a power of two long):
    level 1 adds (v0+v1), (v2+v3), ...; each level adds adjacent pairs of the previous."""
    v = values
    while v.shape[-1] > 1:
        v = fp32.add_native(v[..., 0::2], v[..., 1::2])
    return v[..., 0]


class EngineModel:
    """The conv engine's buffers and commands; see the module docstring."""

    def __init__(self, cfg: HwConfig):
        if not isinstance(cfg, HwConfig):
            raise ValueError(f"EngineModel: cfg must be an HwConfig, got {type(cfg).__name__}")
        self.cfg = cfg
        tn, tm = cfg.tn, cfg.tm
        self.ib = np.full((2, cfg.ib_depth, tn), _GARBAGE, np.uint32).view(np.float32)
        self.ob = np.full((2, cfg.ob_depth, tm), _GARBAGE, np.uint32).view(np.float32)
        self.wb = np.full((cfg.wb_depth, tm, tn), _GARBAGE, np.uint32).view(np.float32)
        self.ib_full = [False, False]
        self.ib_count = [0, 0]  # pixels loaded into each IB half
        # OB half state: "free", "accum" (dot mode: owned by COMPUTE between its acc_init
        # pass and its ob_done pass) or "full" (dot result ready to store, or WU dy).
        self.ob_state = ["free", "free"]
        self.ob_count = [0, 0]  # pixels valid in each OB half
        self.wb_valid = np.zeros(cfg.wb_depth, bool)
        self.executed = 0

    # ---- program level -------------------------------------------------------------

    def run(
        self,
        commands: Sequence[EngineCmd],
        loads: Sequence[np.ndarray],
        expect_idle: bool = True,
    ) -> list[np.ndarray]:
        """Execute ``commands`` in order; ``loads`` holds one [count, TN] array (float32
        words, or uint32 bit patterns) per LOAD_* command, in order. Returns one float32
        [count, TN] array per STORE_* command, in order. With ``expect_idle`` every
        buffer half must be free again at the end (nothing loaded and left unused)."""
        n_loads = sum(1 for c in commands if c.op in _LOADS)
        assert len(loads) == n_loads, (
            f"{n_loads} LOAD commands but {len(loads)} load arrays"
        )
        stores = []
        feed = iter(loads)
        for cmd in commands:
            data = next(feed) if cmd.op in _LOADS else None
            out = self.execute(cmd, data)
            if out is not None:
                stores.append(out)
        if expect_idle:
            assert not any(self.ib_full), f"IB halves still full at the end: {self.ib_full}"
            assert self.ob_state == ["free", "free"], (
                f"OB halves not free at the end: {self.ob_state}"
            )
        return stores

    def execute(self, cmd: EngineCmd, data: np.ndarray | None = None) -> np.ndarray | None:
        """Execute one command; ``data`` are its beats if it is a LOAD. Returns the beats
        of a STORE (float32 [count, TN]), else None."""
        where = f"command {self.executed} {cmd}"
        self.executed += 1
        assert cmd.op in Op._value2member_map_, f"{where}: unknown op {cmd.op}"
        op = Op(cmd.op)
        if op in _LOADS:
            self._load(op, cmd, data, where)
            return None
        assert data is None, f"{where}: load data given to a {op.name}"
        if op == Op.COMPUTE:
            self._compute(cmd, where)
            return None
        return self._store(op, cmd, where)

    # ---- load and store units ------------------------------------------------------

    def _beats(self, data, count: int, where: str) -> np.ndarray:
        assert data is not None, f"{where}: no load data"
        arr = np.asarray(data)
        assert arr.shape == (count, self.cfg.tn), (
            f"{where}: load data of shape {arr.shape}, expected ({count}, {self.cfg.tn})"
        )
        if arr.dtype == np.uint32:
            return arr.view(np.float32)
        assert arr.dtype == np.float32, (
            f"{where}: load data must be float32 or uint32, got {arr.dtype}"
        )
        return arr

    def _wb_span(self, cmd: EngineCmd, where: str) -> tuple[int, int]:
        entries = -(-cmd.count // self.cfg.tm)
        assert cmd.wb_addr + entries <= self.cfg.wb_depth, (
            f"{where}: WB entries {cmd.wb_addr}..{cmd.wb_addr + entries - 1} overflow "
            f"wb_depth {self.cfg.wb_depth}"
        )
        return cmd.wb_addr, entries

    def _load(self, op: Op, cmd: EngineCmd, data, where: str) -> None:
        assert cmd.count > 0, f"{where}: a load of zero beats"
        beats = self._beats(data, cmd.count, where)
        half = cmd.half
        if op == Op.LOAD_IN:
            assert not self.ib_full[half], f"{where}: IB half {half} is not free"
            assert cmd.count <= self.cfg.ib_depth, (
                f"{where}: {cmd.count} pixels overflow ib_depth {self.cfg.ib_depth}"
            )
            self.ib[half, : cmd.count] = beats
            self.ib_full[half] = True
            self.ib_count[half] = cmd.count
        elif op == Op.LOAD_OUT:
            assert self.ob_state[half] == "free", (
                f"{where}: OB half {half} is not free ({self.ob_state[half]})"
            )
            assert cmd.count <= self.cfg.ob_depth, (
                f"{where}: {cmd.count} pixels overflow ob_depth {self.cfg.ob_depth}"
            )
            self.ob[half, : cmd.count] = beats
            self.ob_state[half] = "full"
            self.ob_count[half] = cmd.count
        else:  # LOAD_W
            first, entries = self._wb_span(cmd, where)
            tm = self.cfg.tm
            assert cmd.mode != Mode.BP or cmd.count % tm == 0, (
                f"{where}: a BP LOAD_W of {cmd.count} beats, not whole entries of {tm}"
            )
            for b0 in range(0, cmd.count, tm):
                rows = beats[b0 : b0 + tm]
                if cmd.mode == Mode.BP:  # transposed: word n of lane row m to row n, word m
                    self.wb[first + b0 // tm, :, : len(rows)] = rows.T
                else:
                    self.wb[first + b0 // tm, : len(rows)] = rows
            self.wb_valid[first : first + entries] = True

    def _store(self, op: Op, cmd: EngineCmd, where: str) -> np.ndarray:
        assert cmd.count > 0, f"{where}: a store of zero beats"
        half = cmd.half
        if op == Op.STORE_OUT:
            assert self.ob_state[half] == "full", (
                f"{where}: OB half {half} is not full ({self.ob_state[half]})"
            )
            assert cmd.count <= self.ob_count[half], (
                f"{where}: {cmd.count} pixels stored but OB half {half} holds "
                f"{self.ob_count[half]}"
            )
            out = self.ob[half, : cmd.count].copy()
            self.ob_state[half] = "free"
            return out
        first, entries = self._wb_span(cmd, where)
        assert self.wb_valid[first : first + entries].all(), (
            f"{where}: STORE_W of WB entries never written"
        )
        return self.wb[first : first + entries].reshape(-1, self.cfg.tn)[: cmd.count].copy()

    # ---- compute unit --------------------------------------------------------------

    def _check_compute(self, cmd: EngineCmd, where: str) -> Mode:
        assert cmd.mode in Mode._value2member_map_, f"{where}: unknown mode {cmd.mode}"
        mode = Mode(cmd.mode)
        assert 1 <= cmd.k <= self.cfg.kmax, f"{where}: k {cmd.k} not in 1..{self.cfg.kmax}"
        assert cmd.stride in (1, 2), f"{where}: stride {cmd.stride}"
        assert cmd.pad < cmd.k, f"{where}: pad {cmd.pad} >= k {cmd.k}"
        assert cmd.in_h >= 1 and cmd.in_w >= 1, f"{where}: empty input image"
        assert cmd.out_rows >= 1 and cmd.out_w >= 1, f"{where}: empty output tile"
        assert not (mode == Mode.BP and cmd.stride == 2 and cmd.out_row0 % 2), (
            f"{where}: stride-2 BP tile must start on an even row"
        )
        assert self.ib_full[cmd.ib_half], f"{where}: IB half {cmd.ib_half} is not full"
        assert cmd.out_rows * cmd.out_w <= self.cfg.ob_depth, (
            f"{where}: output tile of {cmd.out_rows * cmd.out_w} pixels overflows "
            f"ob_depth {self.cfg.ob_depth}"
        )
        assert mode == Mode.WU or cmd.blocks <= 1, f"{where}: {mode.name} with {cmd.blocks} blocks"
        entries = max(cmd.blocks, 1) * cmd.k * cmd.k
        assert cmd.wb_base + entries <= self.cfg.wb_depth, (
            f"{where}: WB entries {cmd.wb_base}..{cmd.wb_base + entries - 1} overflow "
            f"wb_depth {self.cfg.wb_depth}"
        )
        return mode

    def _gather_ib(
        self, cmd: EngineCmd, rows: np.ndarray, cols: np.ndarray, where: str, tile: int = 0
    ) -> np.ndarray:
        """IB operands [..., TN] of image pixels (rows, cols) of the ``tile``-th channel
        tile IB holds (WU blocks); +0.0 outside the image."""
        inside = (rows >= 0) & (rows < cmd.in_h) & (cols >= 0) & (cols < cmd.in_w)
        stored = (rows >= cmd.ib_row0) & (rows < cmd.ib_row0 + cmd.ib_rows)
        missing = inside & ~stored
        assert not missing.any(), (
            f"{where}: reads image row {int(rows[missing].flat[0])}, outside the IB rows "
            f"{cmd.ib_row0}..{cmd.ib_row0 + cmd.ib_rows - 1}"
        )
        addr = np.where(inside, (tile * cmd.ib_rows + rows - cmd.ib_row0) * cmd.in_w + cols, 0)
        limit = self.ib_count[cmd.ib_half]
        assert not (inside & (addr >= limit)).any(), (
            f"{where}: reads IB address {int(addr[inside].max())}, only {limit} pixels loaded"
        )
        values = self.ib[cmd.ib_half][addr]
        values[~inside] = 0.0  # padding: the multiplier sees +0.0
        return values

    def _compute(self, cmd: EngineCmd, where: str) -> None:
        mode = self._check_compute(cmd, where)
        if mode == Mode.WU:
            self._compute_wu(cmd, where)
        else:
            self._compute_dot(mode, cmd, where)
        if cmd.ib_release:
            self.ib_full[cmd.ib_half] = False

    def _dot_phases(self, mode: Mode, cmd: EngineCmd):
        """(pixel rows, pixel cols, kernel positions in walk order) per sweep."""
        k, s, pad = cmd.k, cmd.stride, cmd.pad
        rows = np.arange(cmd.out_row0, cmd.out_row0 + cmd.out_rows)
        cols = np.arange(cmd.out_w)
        if mode == Mode.FP:
            yield rows, cols, [(i, j) for i in range(k) for j in range(k)]
            return
        if s == 1:
            yield rows, cols, [(i, j) for i in range(k - 1, -1, -1) for j in range(k - 1, -1, -1)]
            return
        # Stride-2 BP: phase by phase (y % 2, x % 2); only positions of matching parity.
        for py in (0, 1):
            for px in (0, 1):
                prow, pcol = rows[rows % 2 == py], cols[cols % 2 == px]
                if prow.size == 0 or pcol.size == 0:
                    continue
                pi = [i for i in range(k - 1, -1, -1) if (py + pad - i) % 2 == 0]
                pj = [j for j in range(k - 1, -1, -1) if (px + pad - j) % 2 == 0]
                yield prow, pcol, [(i, j) for i in pi for j in pj]

    def _compute_dot(self, mode: Mode, cmd: EngineCmd, where: str) -> None:
        half = cmd.ob_half
        if cmd.acc_init:
            assert self.ob_state[half] == "free", (
                f"{where}: acc_init pass on OB half {half}, which is not free "
                f"({self.ob_state[half]})"
            )
            self.ob_state[half] = "accum"
        else:
            assert self.ob_state[half] == "accum", (
                f"{where}: continuation pass on OB half {half}, which is not accumulating "
                f"({self.ob_state[half]})"
            )
        k, s, pad = cmd.k, cmd.stride, cmd.pad
        ob = self.ob[half]
        for prow, pcol, positions in self._dot_phases(mode, cmd):
            y, x = (a.ravel() for a in np.meshgrid(prow, pcol, indexing="ij"))  # row-major
            oaddr = (y - cmd.out_row0) * cmd.out_w + x
            if not positions:
                # No kernel position reaches these pixels: the tree result is +0.
                acc = np.zeros((y.size, self.cfg.tm), np.float32) if cmd.acc_init else ob[oaddr]
                ob[oaddr] = fp32.add_native(acc, np.zeros_like(acc))
                continue
            for step, (i, j) in enumerate(positions):
                if mode == Mode.FP:
                    rows, cols = y * s + i - pad, x * s + j - pad
                else:  # BP: exact division, guaranteed by the phase
                    rows, cols = (y + pad - i) // s, (x + pad - j) // s
                a = self._gather_ib(cmd, rows, cols, where)  # [P, TN]
                entry = cmd.wb_base + i * k + j
                assert self.wb_valid[entry], f"{where}: reads WB entry {entry}, never written"
                weights = self.wb[entry]  # [out, red]: BP's block was loaded transposed
                terms = tree(fp32.mul_native(a[:, None, :], weights[None, :, :]))  # [P, TM]
                if step == 0 and cmd.acc_init:
                    acc = np.zeros_like(terms)
                else:
                    acc = ob[oaddr]
                ob[oaddr] = fp32.add_native(acc, terms)
        if cmd.ob_done:
            self.ob_state[half] = "full"
            self.ob_count[half] = cmd.out_rows * cmd.out_w

    def _compute_wu(self, cmd: EngineCmd, where: str) -> None:
        half = cmd.ob_half
        assert self.ob_state[half] == "full", (
            f"{where}: WU needs dy in OB half {half}, which is {self.ob_state[half]}"
        )
        pixels = cmd.out_rows * cmd.out_w
        assert pixels <= self.ob_count[half], (
            f"{where}: dy tile of {pixels} pixels, OB half {half} holds {self.ob_count[half]}"
        )
        # The blocks are independent words: each block's sums run in pixel order, whatever
        # the interleaving, so they are computed one block after another.
        for block in range(max(cmd.blocks, 1)):
            self._compute_wu_block(cmd, block, pixels, where)
        if cmd.ob_done:
            self.ob_state[half] = "free"

    def _compute_wu_block(self, cmd: EngineCmd, block: int, pixels: int, where: str) -> None:
        half = cmd.ob_half
        k, s, pad = cmd.k, cmd.stride, cmd.pad
        kk = k * k
        first = cmd.wb_base + block * kk
        entries = slice(first, first + kk)
        if not cmd.acc_init:
            assert self.wb_valid[entries].all(), f"{where}: accumulates into unwritten WB entries"
        # Pixel-major operands: dy[p, m] and x[p, e, n] for e = i*k + j.
        oy, ox = (a.ravel() for a in np.meshgrid(
            np.arange(cmd.out_row0, cmd.out_row0 + cmd.out_rows), np.arange(cmd.out_w),
            indexing="ij"))
        ki, kj = (a.ravel() for a in np.meshgrid(np.arange(k), np.arange(k), indexing="ij"))
        rows = oy[:, None] * s + ki[None, :] - pad
        cols = ox[:, None] * s + kj[None, :] - pad
        x = self._gather_ib(cmd, rows, cols, where, block)  # [P, KK, TN]
        dy = self.ob[half, :pixels]  # [P, TM]
        tm, tn = self.cfg.tm, self.cfg.tn
        acc = np.zeros((kk, tm, tn), np.float32) if cmd.acc_init else self.wb[entries].copy()
        chunk = max(1, _WU_CHUNK_PRODUCTS // (kk * tm * tn))
        for p0 in range(0, pixels, chunk):
            p1 = min(pixels, p0 + chunk)
            # products[p, e, m, n] = dy[p, m] * x[p, e, n]
            products = fp32.mul_native(dy[p0:p1, None, :, None], x[p0:p1, :, None, :])
            for product in products:  # the serial chain over the output pixels
                acc = fp32.add_native(acc, product)
        self.wb[entries] = acc
        self.wb_valid[entries] = True

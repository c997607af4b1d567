"""Resource model of ``eftrain_top``: LUTs, flip-flops, DSP48E2 slices and 36 Kb block
RAMs for a hardware configuration and AXI width, calibrated on the synthesis estimate
(:mod:`eftrain.synth`, Yosys ``synth_xilinx -family xcup``), and the largest array that
fits a board (:func:`largest_fit`, ``python -m eftrain.synth --fit``).

Structure: what scales with what, read from the RTL and checked on the per-instance
counts of the calibration runs (:func:`groups` sorts the instances):

* array (``pe_array``): TM x TN processing elements, each an fp32 multiplier (2 DSP48E2
  for the 24 x 24 significand product), an fp32 adder (2 DSP48E2: its alignment and
  normalisation shifts) and their pipeline registers; LUT and FF per element, plus a
  little per row of TN.
* engine (``conv_engine`` without the array: the load, compute and store units, the
  address generator, the command queues, the buffers' data paths): TN * 32-bit data
  paths, so linear in TN.
* AXI side (DMA, width converters, pool unit, store merge, the route FIFO): linear in the
  AXI lanes (AXI bits / 32); the store merge has an fp32 multiplier and adder per lane
  for the fused SGD step (4 DSP48E2 a lane).
* control (CSRs, the layer controller, the top's glue): constant. Its DSP48E2 are the
  layer controller's address and tile-size products (64 at 16 x 16).
* block RAM: counted from the RAMs' shapes, not fitted (:func:`ram_bram36`): IB and OB
  are 2 halves of TN * 32 bits x IB_DEPTH (OB_DEPTH), WB is TM RAMs of TN * 32 bits x
  WB_DEPTH, the pool unit has two line buffers of (AXI + AXI / 32) and 3 * AXI / 32 bits
  x 512 * R words (R = TN * 32 / AXI). The small FIFOs go to distributed RAM (LUTs).
* UltraRAM: with ``buffer_uram`` (the core's BUFFER_URAM parameter) IB and OB are
  URAM288s instead of block RAM, counted from their shapes too (:func:`ram_uram288`).

LUT here is every LUT site Yosys uses: LUT1..LUT6 plus the LUTs of distributed RAM and
shift registers (``SynthResult.lut_total``). Yosys does not pack two small LUTs into one
LUT6 site as Vivado does, so these LUT figures are on the high side of what Vivado reports.

Calibration: ``python -m eftrain.synth --calibrate`` synthesises ``eftrain_top`` at
TN = 2, 4, 8 and 16 (AXI TN * 32 bits up to the block designs' 256; IB/OB 512 and WB 256 deep, to keep
the block-RAM mapping quick: the logic depends on the depths only through address
widths) and writes each run's per-group counts to ``synth_calibration.json`` beside
this module, the one source of the figures. :func:`fit` turns them into coefficients
(least squares per group; the engine has a TN^2 part: its WB write multiplexers and the
staging of BP's transposed weight loads are as wide as the array). ``pysrc/tests/test_synth.py`` checks that the
model reproduces every calibration run.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from pathlib import Path

from eftrain.boards import Board
from eftrain.config import HwConfig
from eftrain.descriptor import POOL_MAX_WO   # the pool unit's line buffers hold the widest output row

#: Block RAM shapes of a RAMB18E2 (width incl. parity, depth). A RAMB36E2 is two of them
#: (twice the depth, or 512 x 72), so the fewest RAMB18 halves over these shapes is the
#: fewest block RAMs; that is what Yosys' memory_libmap picks (checked: 64x512 -> 1
#: RAMB36, 96x512 -> 3 RAMB18, 512x1024 -> 29 RAMB18, 512x2048 -> 57 RAMB18, 32x2048 ->
#: 2 RAMB36, 128x256 -> 2 RAMB36).
RAMB18_SHAPES = ((1, 16384), (2, 8192), (4, 4096), (9, 2048), (18, 1024), (36, 512))

#: The shape of a URAM288 (width, depth): one port pair, no other aspect ratio for a
#: simple dual-port RAM; deeper RAMs cascade (checked: Yosys maps 512 x 2048 to 8,
#: 72 x 2048 to 1).
URAM288_SHAPE = (72, 4096)

#: Instance-path fragments of the AXI-side blocks (everything that is as wide as the AXI bus).
AXI_SIDE = ("u_dma_rd", "u_dma_wr", "u_upsize", "u_downsize", "u_pool", "u_merge", "u_route")


#: The calibration runs (``python -m eftrain.synth --calibrate`` writes it).
CALIBRATION_FILE = Path(__file__).with_name("synth_calibration.json")

GROUPS = ("array", "engine", "axi", "control")


@dataclass(frozen=True)
class Coefficients:
    """One resource of the model: per processing element and per array row, the engine's
    TN^2, TN and fixed parts, per AXI lane and fixed on the AXI side, and control."""

    pe: float
    row: float
    engine_sq: float
    engine_per_tn: float
    engine_fixed: float
    lane: float
    axi_fixed: float
    control: float

    def total(self, tm: int, tn: int, lanes: float) -> float:
        return (self.pe * tm * tn + self.row * tm + self.engine_sq * tn * tn + self.engine_per_tn * tn
                + self.engine_fixed + self.lane * lanes + self.axi_fixed + self.control)


def calibration(path: Path = CALIBRATION_FILE) -> list[dict]:
    """The calibration runs: each with ``tn``, ``axi_bits``, ``groups`` (group -> [LUT,
    FF, DSP]) and ``total`` (``lut``, ``ff``, ``dsp``, ``bram36``)."""
    if not path.exists():
        raise FileNotFoundError(f"no resource-model calibration {path}: run `python -m eftrain.synth --calibrate`")
    return json.loads(path.read_text())["runs"]


@dataclass(frozen=True)
class Resources:
    """Predicted resources of one configuration."""

    lut: int
    ff: int
    dsp: int
    bram36: float
    uram: int = 0     # URAM288

    def use(self, board: Board) -> dict[str, float]:
        """Fraction of each of the board's resources (UltraRAM on a board without any:
        0, or infinity if some is needed)."""
        uram = self.uram / board.uram if board.uram else (math.inf if self.uram else 0.0)
        return {"lut": self.lut / board.lut, "ff": self.ff / board.ff, "dsp": self.dsp / board.dsp,
                "bram36": self.bram36 / board.bram36, "uram": uram}


def ram_bram36(width: int, depth: int) -> float:
    """RAMB36 equivalents (a RAMB18 counts half) of one ``width`` x ``depth`` simple
    dual-port RAM."""
    if width < 1 or depth < 1:
        raise ValueError(f"a RAM needs a positive width and depth, got {width} x {depth}")
    return min(math.ceil(width / w) * math.ceil(depth / d) for w, d in RAMB18_SHAPES) / 2


def ram_uram288(width: int, depth: int) -> int:
    """URAM288s of one ``width`` x ``depth`` simple dual-port RAM."""
    if width < 1 or depth < 1:
        raise ValueError(f"a RAM needs a positive width and depth, got {width} x {depth}")
    w, d = URAM288_SHAPE
    return math.ceil(width / w) * math.ceil(depth / d)


def bram36(tm: int, tn: int, ib_depth: int, ob_depth: int, wb_depth: int, axi_bits: int,
           buffer_uram: bool = False) -> float:
    """Block RAMs of the core: the engine's buffers (IB and OB only without
    ``buffer_uram``) and the pool unit's line buffers."""
    lanes = axi_bits // 32
    pool_depth = POOL_MAX_WO * math.ceil(tn * 32 / axi_bits)
    wb_half = wb_depth // 2   # WB is two RAMs per lane (conv_engine: one per half)
    io = 0.0 if buffer_uram else 2 * ram_bram36(tn * 32, ib_depth) + 2 * ram_bram36(tm * 32, ob_depth)
    return (io + tm * (ram_bram36(tn * 32, wb_half) + ram_bram36(tn * 32, wb_depth - wb_half))
            + ram_bram36(axi_bits + lanes, pool_depth) + ram_bram36(3 * lanes, pool_depth))


def uram288(tm: int, tn: int, ib_depth: int, ob_depth: int, buffer_uram: bool = False) -> int:
    """URAM288s of the core: IB and OB (2 halves each) with ``buffer_uram``, else none."""
    if not buffer_uram:
        return 0
    return 2 * ram_uram288(tn * 32, ib_depth) + 2 * ram_uram288(tm * 32, ob_depth)


def groups(modules: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """Cell counts of the four model groups (array, engine, axi, control) from a synthesis
    run's per-instance counts (``SynthResult.modules``)."""
    out: dict[str, dict[str, int]] = {g: {} for g in GROUPS}
    for path, cells in modules.items():
        parts = path.split(".")
        if "u_array" in parts:
            g = "array"
        elif "u_engine" in parts:
            g = "engine"
        elif any(p in parts for p in AXI_SIDE):
            g = "axi"
        else:
            g = "control"
        for cell, n in cells.items():
            out[g][cell] = out[g].get(cell, 0) + n
    return out


def fit(runs: list[dict] | None = None) -> dict[str, Coefficients]:
    """Least-squares coefficients of each resource ("lut", "ff", "dsp"), each group fitted
    on its own figures (TM = TN in every run)."""
    import numpy as np

    runs = calibration() if runs is None else runs

    def solve(group: str, column: int, features) -> list[float]:
        a = np.array([features(r["tn"], r["axi_bits"] // 32) for r in runs], dtype=float)
        b = np.array([r["groups"][group][column] for r in runs], dtype=float)
        return [float(v) for v in np.linalg.lstsq(a, b, rcond=None)[0]]

    out = {}
    for column, name in enumerate(("lut", "ff", "dsp")):
        pe, row = solve("array", column, lambda tn, lanes: [tn * tn, tn])
        sq, per_tn, fixed = solve("engine", column, lambda tn, lanes: [tn * tn, tn, 1])
        lane, axi_fixed = solve("axi", column, lambda tn, lanes: [lanes, 1])
        (control,) = solve("control", column, lambda tn, lanes: [1])
        out[name] = Coefficients(pe=pe, row=row, engine_sq=sq, engine_per_tn=per_tn, engine_fixed=fixed,
                                 lane=lane, axi_fixed=axi_fixed, control=control)
    return out


@functools.lru_cache(maxsize=1)
def coefficients() -> dict[str, Coefficients]:
    """:func:`fit` of the committed calibration."""
    return fit()


def default_axi_bits(tn: int) -> int:
    """The AXI width of the block designs' core for an array of ``tn``
    (:func:`eftrain.integration.axi_bits`)."""
    from eftrain import integration   # it imports this module
    return integration.axi_bits(tn)


def check_axi_bits(axi: int, tn: int, name: str = "AXI data width") -> None:
    """ValueError (naming the value ``name``) unless ``axi`` is an AXI data width
    eftrain_top accepts with this TN."""
    # AXI4 widths are powers of two from 32 to 1024 bits; the top moves whole pixels of
    # TN words as whole beats, so the beat must divide TN * 32.
    if axi < 32 or axi > 1024 or axi & (axi - 1):
        raise ValueError(f"{name} must be a power of two from 32 to 1024 bits, got {axi}")
    if axi > 32 * tn:
        raise ValueError(f"{name} ({axi}) must be at most TN * 32 ({32 * tn})")


def estimate(cfg: HwConfig, axi_bits: int | None = None, buffer_uram: bool = False) -> Resources:
    """Predicted resources of ``eftrain_top`` with ``cfg``, an ``axi_bits`` AXI port
    (default :func:`default_axi_bits`) and BUFFER_URAM = ``buffer_uram``. (The RAM style
    changes no logic: in a Yosys run the LUT, FF and DSP counts are the same either way.)"""
    axi = default_axi_bits(cfg.tn) if axi_bits is None else axi_bits
    check_axi_bits(axi, cfg.tn, "axi_bits")
    return _estimate(cfg.tm, cfg.tn, cfg.ib_depth, cfg.ob_depth, cfg.wb_depth, axi, buffer_uram)


def _estimate(tm: int, tn: int, ib: int, ob: int, wb: int, axi: int, buffer_uram: bool = False) -> Resources:
    # No RTL checks here: largest_fit also asks about arrays the RTL cannot build.
    lanes = axi / 32
    c = coefficients()
    return Resources(lut=round(c["lut"].total(tm, tn, lanes)), ff=round(c["ff"].total(tm, tn, lanes)),
                     dsp=round(c["dsp"].total(tm, tn, lanes)), bram36=bram36(tm, tn, ib, ob, wb, axi, buffer_uram),
                     uram=uram288(tm, tn, ib, ob, buffer_uram))


@dataclass(frozen=True)
class Fit:
    """Answer of :func:`largest_fit`."""

    config: HwConfig          # the largest power-of-two array that fits
    resources: Resources
    next_up: Resources        # what twice that TN would need (why it stops there)
    tn_any: int               # the largest TM = TN of any size that fits (beyond the current RTL)
    resources_any: Resources
    buffer_uram: bool = False  # IB and OB in UltraRAM (BUFFER_URAM)

    @property
    def tn(self) -> int:
        return self.config.tn


def largest_fit(board: Board, limit: float = 0.8, axi_bits: int | None = None, ib_depth: int | None = None,
                ob_depth: int | None = None, wb_depth: int | None = None, buffer_uram: bool = False) -> Fit:
    """The largest TM = TN whose predicted LUT and DSP use stay under ``limit`` of ``board``
    and whose block RAMs and UltraRAMs fit it, for the RTL (TN a power of two) and,
    labelled apart, for any TN (the model extended past what the RTL builds). The AXI
    width is ``axi_bits`` (default: the block designs' width, :func:`default_axi_bits`),
    or TN * 32 when narrower; depths default to :class:`HwConfig`'s; ``buffer_uram``: IB
    and OB in UltraRAM (ValueError on a board without any)."""
    if axi_bits is None:
        axi_bits = default_axi_bits(1024)   # the designs' width without an array's cap
    base = HwConfig()
    depths = (base.ib_depth if ib_depth is None else ib_depth, base.ob_depth if ob_depth is None else ob_depth,
              base.wb_depth if wb_depth is None else wb_depth)
    if not 0 < limit <= 1:
        raise ValueError(f"limit must be in (0, 1], got {limit}")
    if buffer_uram and not board.uram:
        raise ValueError(f"the {board.name} ({board.part}) has no UltraRAM for the buffers")

    def fits(tn: int) -> Resources | None:
        r = _estimate(tn, tn, *depths, min(axi_bits, 32 * tn), buffer_uram)
        use = r.use(board)
        return (r if use["lut"] < limit and use["dsp"] < limit and use["bram36"] <= 1.0 and use["uram"] <= 1.0
                else None)

    if fits(2) is None:
        raise ValueError(f"not even a 2 x 2 array fits {board.name} under {limit:.0%}")
    tn = 2
    while fits(2 * tn) is not None:
        tn *= 2
    any_tn = tn
    while fits(any_tn + 1) is not None:
        any_tn += 1
    cfg = HwConfig(tm=tn, tn=tn, ib_depth=depths[0], ob_depth=depths[1], wb_depth=depths[2])
    return Fit(config=cfg, resources=fits(tn),
               next_up=_estimate(2 * tn, 2 * tn, *depths, min(axi_bits, 64 * tn), buffer_uram),
               tn_any=any_tn, resources_any=fits(any_tn), buffer_uram=buffer_uram)

"""The conv engine's command format: the single definition (docs/architecture.md).

The engine (``rtl/conv_engine.sv``) executes a stream of fixed-format commands. This
module defines them once: the opcode and mode enums, the ordered field table, the
:class:`EngineCmd` dataclass with its integer encoding, and the SystemVerilog package
``engine_cmd_pkg`` (``rtl/engine_cmd_pkg.sv``) generated from the same table, so the
Python encoding and the RTL's ``engine_cmd_t`` cannot drift apart.

Encoding: the fields of :data:`FIELDS` are packed LSB first, in table order (``op`` is
bits 2:0, ``half`` bit 3, ...). The SV packed struct declares them in reverse order,
since a packed struct's first member is its MSB.

Command semantics (one beat = TN fp32 words on the load or store port):

* ``LOAD_IN``: ``count`` beats (pixels) into IB half ``half``, addresses 0 .. count-1.
* ``LOAD_OUT``: ``count`` beats (pixels) into OB half ``half`` (WU: the dy tile).
* ``LOAD_W``: ``count`` beats into WB from entry ``wb_addr``: beat b goes to entry
  ``wb_addr + b // TM``, lane row ``m = b % TM``. A WB entry is one kernel position of
  one TM x TN block; its beat m holds ``w[m][0 .. TN-1]``. ``mode`` is that of the
  COMPUTEs that read the block: with ``BP`` the entry is written transposed, word n of
  beat m to lane row n, word m (so lane row n holds ``w[0 .. TM-1][n]``, and BP reads it
  as FP reads its block); with any other mode as the beats come. The bytes in DRAM,
  and the beats, are the same for FP and BP. A BP LOAD_W moves whole entries (``count``
  a multiple of TM): the engine writes an entry at its last beat.
* ``STORE_OUT``: ``count`` pixels of OB half ``half`` from address 0; frees the half.
* ``STORE_W``: ``count`` beats from WB from entry ``wb_addr``, same beat order as LOAD_W
  (lane rows as held: never transposed).
* ``COMPUTE``: one pass of mode ``mode`` (FP, BP, WU) over a row tile:

  - ``k``, ``stride`` (1 or 2), ``pad``: the layer's kernel geometry.
  - ``ib_half``, ``ob_half``: the buffer halves used.
  - ``in_h``, ``in_w``: full dims of the image whose rows IB holds (x for FP and WU,
    dy for BP). ``ib_row0``: global row of IB's first stored row; ``ib_rows``: rows
    stored. IB pixel address = ``(row - ib_row0) * in_w + col``.
  - ``out_row0``, ``out_rows``: global first row and row count of the output tile (FP:
    y rows; BP: dx rows, even-aligned for stride 2; WU: dy rows, held in OB).
    ``out_w``: output width (FP: Wo; BP: W; WU: Wo). OB pixel address =
    ``(row - out_row0) * out_w + col``.
  - ``wb_base``: WB entry of kernel position (0, 0) of the TM x TN block used; the
    entry of position (i, j) is ``wb_base + i*k + j``.
  - ``acc_init``: dot mode (FP, BP): every OB word's first term of this command is
    added to +0 instead of the stored partial sum (first input-channel pass; the half
    must be free). WU: the terms of the command's first output pixel are added to +0
    instead of the WB dW words.
  - ``ob_done``: dot mode: marks the OB half full (ready to store) at the end. WU:
    releases the OB half (dy) at the end.
  - ``ib_release``: releases the IB half at the end.
  - ``blocks``: WU only (FP and BP: 1; 0 counts as 1): the dW blocks the command
    accumulates side by side. IB holds that many channel tiles of the same rows, one
    after another (tile b from IB pixel ``b * ib_rows * in_w``), and block b's kernel
    position (i, j) is WB entry ``wb_base + b*k*k + i*k + j``. Every pixel visits its
    kernel positions block by block, so a 1x1 kernel still gives the accumulate
    pipeline ``blocks`` independent words in a row (docs/architecture.md).

Geometry: FP output pixel (oy, ox) reads input (oy*s + i - pad, ox*s + j - pad). BP dx
pixel (y, x) reads dy ((y + pad - i)/s, (x + pad - j)/s) only for kernel positions
where both are integers (the others are skipped); positions outside dy multiply +0.
WU: ``dW[m][n][i][j] += dy[m][oy][ox] * x[n][oy*s + i - pad][ox*s + j - pad]`` serially
(outside x: +0). The summation orders are those of docs/numerics.md.

``python -m eftrain.engine`` writes ``rtl/engine_cmd_pkg.sv``; ``--check`` exits 1 if
the file differs from what would be generated.
"""

from __future__ import annotations

import operator
import sys
from dataclasses import dataclass, fields
from enum import IntEnum

from eftrain.svgen import RTL, generator_main, sv_comment

__all__ = [
    "Op",
    "Mode",
    "FIELDS",
    "FIELD_DOCS",
    "CMD_WIDTH",
    "EngineCmd",
    "sv_package",
    "SV_PATH",
    "main",
]


class Op(IntEnum):
    """Command opcode (field ``op``)."""

    LOAD_IN = 0
    LOAD_OUT = 1
    LOAD_W = 2
    COMPUTE = 3
    STORE_OUT = 4
    STORE_W = 5


class Mode(IntEnum):
    """COMPUTE mode (field ``mode``): FP and BP run the dot mode, WU the outer mode."""

    FP = 0
    BP = 1
    WU = 2


# name -> width in bits, LSB first.
FIELDS: dict[str, int] = {
    "op": 3,
    "half": 1,
    "count": 16,
    "wb_addr": 16,
    "mode": 2,
    "k": 3,
    "stride": 2,
    "pad": 3,
    "ib_half": 1,
    "ob_half": 1,
    "in_h": 12,
    "in_w": 12,
    "ib_row0": 12,
    "ib_rows": 12,
    "out_row0": 12,
    "out_rows": 12,
    "out_w": 12,
    "wb_base": 16,
    "acc_init": 1,
    "ob_done": 1,
    "ib_release": 1,
    "blocks": 4,
}

CMD_WIDTH: int = sum(FIELDS.values())

# The meaning of every field, per op (the `///` comments of the SV struct).
FIELD_DOCS: dict[str, str] = {
    "op": "Command opcode.",
    "half": "LOAD_IN: IB half written. LOAD_OUT, STORE_OUT: OB half written / read.",
    "count": (
        "LOAD_IN, LOAD_OUT, STORE_OUT: pixels (beats) moved, buffer addresses 0..count-1. "
        "LOAD_W, STORE_W: beats moved; beat b is WB entry wb_addr + b / TM, lane row b % TM."
    ),
    "wb_addr": "LOAD_W, STORE_W: first WB entry.",
    "mode": (
        "COMPUTE: FP, BP (dot mode) or WU (outer mode). LOAD_W: the mode of the COMPUTEs "
        "that read the block; BP writes it transposed (word n of lane row m to lane row n, "
        "word m)."
    ),
    "k": "COMPUTE: kernel size (1..KMAX).",
    "stride": "COMPUTE: stride, 1 or 2.",
    "pad": "COMPUTE: zero padding on every side, 0..k-1.",
    "ib_half": "COMPUTE: IB half read.",
    "ob_half": "COMPUTE: OB half accumulated (FP, BP) or read as dy (WU).",
    "in_h": "COMPUTE: rows of the whole image IB holds rows of (x for FP/WU, dy for BP).",
    "in_w": "COMPUTE: columns of that image; every IB row holds all of them.",
    "ib_row0": "COMPUTE: global image row of IB's first stored row.",
    "ib_rows": (
        "COMPUTE: rows stored in IB; IB pixel address = (row-ib_row0)*in_w + col. "
        "Rows outside the image are padding (+0), never stored."
    ),
    "out_row0": (
        "COMPUTE: global first row of the output tile (FP: y, BP: dx, even for stride 2; "
        "WU: dy rows held in OB)."
    ),
    "out_rows": "COMPUTE: rows of the output tile.",
    "out_w": (
        "COMPUTE: output width (FP: Wo, BP: W, WU: Wo); "
        "OB pixel address = (row-out_row0)*out_w + col."
    ),
    "wb_base": (
        "COMPUTE: WB entry of kernel position (0,0) of the TM x TN block used; "
        "position (i,j) is entry wb_base + i*k + j."
    ),
    "acc_init": (
        "COMPUTE: FP/BP: each OB word's first term of this command is added to +0 instead "
        "of its stored partial sum (first pass; needs a free OB half). WU: the terms of "
        "the command's first output pixel are added to +0 instead of the WB dW words."
    ),
    "ob_done": (
        "COMPUTE: FP/BP: mark the OB half full (ready to store) at the end. "
        "WU: release the OB half (dy) at the end."
    ),
    "ib_release": "COMPUTE: release the IB half at the end.",
    "blocks": (
        "COMPUTE WU: dW blocks interleaved (0 counts as 1): IB holds as many channel tiles, "
        "ib_rows*in_w pixels each, one after another; block b's position (i,j) is entry "
        "wb_base + b*k*k + i*k + j. FP, BP: 1."
    ),
}

_ENUM_FIELDS = {"op": ("op_e", Op), "mode": ("mode_e", Mode)}


@dataclass(frozen=True)
class EngineCmd:
    """One engine command; every field defaults to 0 (``blocks`` 0 counts as 1). See the
    module docstring."""

    op: int = 0
    half: int = 0
    count: int = 0
    wb_addr: int = 0
    mode: int = 0
    k: int = 0
    stride: int = 0
    pad: int = 0
    ib_half: int = 0
    ob_half: int = 0
    in_h: int = 0
    in_w: int = 0
    ib_row0: int = 0
    ib_rows: int = 0
    out_row0: int = 0
    out_rows: int = 0
    out_w: int = 0
    wb_base: int = 0
    acc_init: int = 0
    ob_done: int = 0
    ib_release: int = 0
    blocks: int = 0

    def pack(self) -> int:
        """The command as a CMD_WIDTH-bit integer (field table order, LSB first).

        Raises ValueError naming the field if a value is negative, not an integer or
        does not fit its width."""
        word, shift = 0, 0
        for name, width in FIELDS.items():
            value = getattr(self, name)
            try:
                value = operator.index(value)  # int, bool, IntEnum, numpy integers
            except TypeError:
                raise ValueError(f"EngineCmd.{name} must be an integer, got {value!r}") from None
            if value < 0 or value >> width:
                raise ValueError(
                    f"EngineCmd.{name} = {value} does not fit its {width}-bit field "
                    f"(0..{(1 << width) - 1})"
                )
            word |= value << shift
            shift += width
        return word

    @classmethod
    def unpack(cls, word: int) -> EngineCmd:
        """The command encoded by ``word`` (``op`` and ``mode`` as :class:`Op`/:class:`Mode`
        when the value is a member)."""
        word = int(word)
        if word < 0 or word >> CMD_WIDTH:
            raise ValueError(f"EngineCmd.unpack: {word:#x} is not a {CMD_WIDTH}-bit word")
        values = {}
        shift = 0
        for name, width in FIELDS.items():
            value = (word >> shift) & ((1 << width) - 1)
            if name in _ENUM_FIELDS:
                enum = _ENUM_FIELDS[name][1]
                if value in enum._value2member_map_:
                    value = enum(value)
            values[name] = value
            shift += width
        return cls(**values)

    def __str__(self) -> str:
        def show(name: str) -> str:
            value = getattr(self, name)
            if name in _ENUM_FIELDS and value in _ENUM_FIELDS[name][1]._value2member_map_:
                return _ENUM_FIELDS[name][1](value).name
            return str(value)

        shown = [f"{name}={show(name)}" for name in FIELDS if name != "op" and getattr(self, name)]
        return f"{show('op')}({', '.join(shown)})"


# Consistency of the dataclass with the table (checked on import).
assert [f.name for f in fields(EngineCmd)] == list(FIELDS), "EngineCmd fields != FIELDS"


def sv_package() -> str:
    """SystemVerilog source of ``rtl/engine_cmd_pkg.sv``: the enums and the packed struct
    ``engine_cmd_t`` whose bit layout equals :meth:`EngineCmd.pack`."""
    out = [
        "// Generated by `python -m eftrain.engine` from pysrc/eftrain/engine.py: do not edit.",
        "// Regenerate with `python -m eftrain.engine`; `--check` verifies this file.",
        "/// Command format of the conv engine (docs/architecture.md): opcodes, modes and the",
        "/// packed command word. Its bit layout equals `eftrain.engine.EngineCmd.pack()`:",
        "/// `op` in the least significant bits, fields in reverse declaration order.",
        "// A unit uses only some of these definitions; the rest are not a defect.",
        "/* verilator lint_off UNUSEDPARAM */",
        "package engine_cmd_pkg;",
        "",
        "  /// Command opcode.",
        f"  typedef enum logic [{FIELDS['op'] - 1}:0] {{",
    ]
    op_docs = {
        Op.LOAD_IN: "`count` pixels into IB half `half`, addresses from 0.",
        Op.LOAD_OUT: "`count` pixels into OB half `half` (WU: the dy tile).",
        Op.LOAD_W: "`count` beats into WB from entry `wb_addr` (TM beats per entry; mode BP: transposed).",
        Op.COMPUTE: "One pass of `mode` over a row tile.",
        Op.STORE_OUT: "`count` pixels out of OB half `half`, from address 0; frees it.",
        Op.STORE_W: "`count` beats out of WB from entry `wb_addr`, LOAD_W's beat order.",
    }
    for op in Op:
        comma = "," if op != list(Op)[-1] else ""
        out.append(f"    /// {op_docs[op]}")
        out.append(f"    OP_{op.name} = {FIELDS['op']}'d{op.value}{comma}")
    out += [
        "  } op_e;",
        "",
        "  /// COMPUTE mode.",
        f"  typedef enum logic [{FIELDS['mode'] - 1}:0] {{",
    ]
    mode_docs = {
        Mode.FP: "Forward: dot mode, IB = x, OB = y partial sums.",
        Mode.BP: "Backward to the input: dot mode, IB = dy, OB = dx partial sums, WB transposed by LOAD_W.",
        Mode.WU: "Weight update: outer mode, IB = x, OB = dy, WB = dW accumulators.",
    }
    for mode in Mode:
        comma = "," if mode != list(Mode)[-1] else ""
        out.append(f"    /// {mode_docs[mode]}")
        out.append(f"    MODE_{mode.name} = {FIELDS['mode']}'d{mode.value}{comma}")
    out += [
        "  } mode_e;",
        "",
        "  /// Bits of one command word.",
        f"  localparam int unsigned ENGINE_CMD_WIDTH = {CMD_WIDTH};",
        "",
        "  /// One engine command. The first member is the most significant: fields are",
        "  /// declared in reverse order of the encoding, so `op` is bits "
        f"{FIELDS['op'] - 1}:0.",
        "  typedef struct packed {",
    ]
    lsb = {}
    shift = 0
    for name, width in FIELDS.items():
        lsb[name] = shift
        shift += width
    for name in reversed(FIELDS):
        width = FIELDS[name]
        if name in _ENUM_FIELDS:
            type_ = _ENUM_FIELDS[name][0]
        elif width == 1:
            type_ = "logic"
        else:
            type_ = f"logic [{width - 1}:0]"
        hi, lo = lsb[name] + width - 1, lsb[name]
        span = f"Bit {lo}" if width == 1 else f"Bits {hi}:{lo}"
        out += sv_comment(f"{span}. {FIELD_DOCS[name]}", "    ")
        out.append(f"    {type_} {name};")
    out += [
        "  } engine_cmd_t;",
        "",
        "endpackage",
        "/* verilator lint_on UNUSEDPARAM */",
        "",
    ]
    return "\n".join(out)


SV_PATH = RTL / "engine_cmd_pkg.sv"


def main(argv: list[str] | None = None) -> int:
    return generator_main("eftrain.engine", SV_PATH, sv_package, "the engine command table", argv)

if __name__ == "__main__":
    sys.exit(main())

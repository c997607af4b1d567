"""Layer descriptor, error codes and CSR map of the IP top level: the single definition
(docs/architecture.md, section "The IP top level").

This module defines once:

* the descriptor format: :data:`DESC_FIELDS` (name, word, lsb, width) is the only
  place the bit layout is written; :class:`Descriptor` packs and unpacks with it and
  :func:`sv_package` generates the SystemVerilog ``desc_t`` from it;
* the opcodes (:class:`Opcode`), flags (:class:`Flag`, :func:`flags_allowed`) and error
  codes (:class:`ErrorCode`);
* :func:`validate`: the hardware's checks of one descriptor, in the hardware's order
  (the first failing rule is the code reported), with the tile-fit rule
  (:func:`tile_misfit`, :func:`tile_fits`, :func:`largest_tile_rows`) the planner reuses;
* the CSR map (:data:`CSR_REGISTERS`, :data:`COUNTERS`) and its bit constants;
* ``rtl/eftrain_desc_pkg.sv``: ``python -m eftrain.descriptor`` writes it, ``--check``
  exits 1 if the file differs from what would be generated.

Descriptor image: 64 bytes = 16 little-endian 32-bit words; a field of ``width`` bits at
(``word``, ``lsb``) occupies bits ``32*word + lsb ..`` of the 512-bit little-endian
integer of the 64 bytes (byte i = bits 8i+7..8i). The 64-bit addresses are little-endian
too: the low half in the even word.
"""

from __future__ import annotations

import operator
import struct
import sys
from collections.abc import Mapping
from dataclasses import dataclass, fields
from enum import IntEnum
from typing import NamedTuple

import numpy as np

from eftrain.config import HwConfig
from eftrain.svgen import RTL, generator_main, sv_comment
from eftrain.layout import act_bytes, weights_bytes

__all__ = [
    "MAGIC",
    "VERSION",
    "DESC_BYTES",
    "DESC_WORDS",
    "ADDR_ALIGN",
    "MAX_DIM",
    "Opcode",
    "Flag",
    "flags_allowed",
    "POOL_MAX_WO",
    "ErrorCode",
    "DescField",
    "DESC_FIELDS",
    "Descriptor",
    "TensorUse",
    "as_descriptor",
    "out_hw",
    "validate",
    "descriptor_address_ok",
    "tile_misfit",
    "tile_fits",
    "largest_tile_rows",
    "CsrField",
    "CsrReg",
    "CSR_REGISTERS",
    "COUNTERS",
    "CSR_CNT_BASE",
    "NUM_COUNTERS",
    "ID_VALUE",
    "CSR_ID", "CSR_PARAMS", "CSR_DEPTHS", "CSR_WB_DEPTH", "CSR_CTRL", "CSR_STATUS",
    "CSR_IRQ", "CSR_DESC_DONE", "CSR_CHAIN_LO", "CSR_CHAIN_HI",
    "CTRL_START", "CTRL_ABORT", "CTRL_SOFT_RESET", "CTRL_IRQ_ENABLE",
    "STATUS_BUSY", "STATUS_DONE", "STATUS_ERROR", "STATUS_CODE_LSB", "STATUS_INDEX_LSB",
    "IRQ_PENDING",
    "csr",
    "counter_offsets",
    "ro_values",
    "Status",
    "decode_status",
    "encode_status",
    "sv_package",
    "SV_PATH",
    "main",
]

MAGIC: int = 0xEF7A
VERSION: int = 1
DESC_BYTES: int = 64
DESC_WORDS: int = DESC_BYTES // 4
#: Alignment (bytes) of every tensor address and descriptor address.
ADDR_ALIGN: int = 64
#: Largest batch, n, m, h, w a descriptor may give.
MAX_DIM: int = 4095


class Opcode(IntEnum):
    """Descriptor opcode (word 0, bits 31:24)."""

    CONV_FP = 1
    CONV_BP = 2
    CONV_WU = 3
    POOL_FP = 4
    POOL_BP = 5


_OPCODE_DOCS = {
    Opcode.CONV_FP: "Forward: y = conv(x, w), relu(conv(x, w)) with RELU. in_addr x, wgt_addr w, "
                    "out_addr y.",
    Opcode.CONV_BP: "Backward to the input: dx = conv_bp(dy, w), masked by a > 0 with RELU_MASK. "
                    "in_addr dy, wgt_addr w, out_addr dx, aux_addr a (RELU_MASK only).",
    Opcode.CONV_WU: "Weight gradient: dw = conv_wu(x, dy); with SGD, w - lr * dw written instead. "
                    "in_addr x, aux_addr dy, out_addr dw (SGD: the new w), wgt_addr w (SGD only).",
    Opcode.POOL_FP: "2x2 stride-2 max-pool: y = maxpool(x) (k 2, stride 2, pad 0, m = n). "
                    "in_addr x, out_addr y.",
    Opcode.POOL_BP: "Max-pool backward: dx = maxpool_bp(dy, argmax of x), the argmax recomputed "
                    "from x; RELU_MASK also zeroes windows whose maximum is not > 0. "
                    "in_addr dy, aux_addr x, out_addr dx.",
}


class Flag(IntEnum):
    """Descriptor flags (word 1, bits 15:0): bit numbers. A flag an opcode does not take,
    or any other bit, is BAD_FLAGS."""

    def __new__(cls, value: int, doc: str, opcodes: tuple[Opcode, ...]):
        member = int.__new__(cls, value)
        member._value_ = value
        member.__doc__ = doc
        member.opcodes = opcodes
        return member

    RELU = 0, "CONV_FP: the stored y is relu(y) (eftrain.oracle.relu_fp).", (Opcode.CONV_FP,)
    RELU_MASK = 1, (
        "CONV_BP: dx = relu_bp(dx, a), a read at aux_addr (the stored output of the ReLU "
        "that produced this layer's input). POOL_BP: dx = relu_bp(dx, x), x the pool input."
    ), (Opcode.CONV_BP, Opcode.POOL_BP)
    SGD = 2, (
        "CONV_WU: the weight update is fused in the write-back: w is read at wgt_addr and "
        "sgd(w, dw, lr) is written to out_addr (which may equal wgt_addr)."
    ), (Opcode.CONV_WU,)


def flags_allowed(opcode) -> int:
    """The mask of the flags ``opcode`` takes (0 for an unknown opcode)."""
    return sum(1 << f for f in Flag if opcode in f.opcodes)


#: Largest output width (Wo = W // 2) of a POOL_FP/POOL_BP descriptor: the pool unit's
#: line buffers hold one output row.
POOL_MAX_WO: int = 512


class ErrorCode(IntEnum):
    """STATUS.code (CSR 0x14, bits 15:8): why a chain stopped. The checks of
    :func:`validate` run in the order of the values 1..11; the first failing one wins."""

    def __new__(cls, value: int, doc: str):
        member = int.__new__(cls, value)
        member._value_ = value
        member.__doc__ = doc
        return member

    NONE = 0, "No error: the chain completed (or is still running)."
    BAD_MAGIC = 1, "Word 0 bits 15:0 are not MAGIC (0xEF7A)."
    BAD_VERSION = 2, "Word 0 bits 23:16 are not VERSION (1)."
    BAD_OPCODE = 3, "Word 0 bits 31:24 are not an Opcode (1 CONV_FP .. 5 POOL_BP)."
    BAD_FLAGS = 4, "A flag bit that is not a Flag, or a Flag the opcode does not take."
    BAD_KERNEL = 5, "k = 0 or k > KMAX (conv); k != 2 (pool)."
    BAD_STRIDE = 6, "stride is neither 1 nor 2 (conv); stride != 2 (pool)."
    BAD_PAD = 7, "pad >= k (conv); pad != 0 (pool)."
    BAD_DIMENSION = 8, (
        "One of batch, n, m, h, w is 0 or above 4095, or the output has no pixel "
        "(h + 2*pad < k or w + 2*pad < k) or more than 4095 rows or columns; "
        "for a pool, m != n."
    )
    TILE_TOO_LARGE = 9, (
        "tile_rows = 0, a tile overflowing OB or IB, weights overflowing WB, or an odd "
        "stride-2 BP tile that does not cover the whole image (the conservative rule of "
        "tile_misfit); for a pool (tile_rows unused), an output row wider than POOL_MAX_WO."
    )
    UNALIGNED_ADDRESS = 10, (
        "A tensor address the opcode uses, or a descriptor address (CHAIN, next), is not a "
        "multiple of 64 bytes (a zero descriptor address at CHAIN too)."
    )
    ADDRESS_RANGE = 11, "A tensor the opcode uses ends past 2**AXI_ADDR_WIDTH."
    AXI_READ_ERROR = 12, "An AXI read (descriptor fetch or tensor load) answered SLVERR or DECERR."
    AXI_WRITE_ERROR = 13, "An AXI write (tensor store) answered SLVERR or DECERR."
    ABORTED = 14, "Software wrote CTRL.ABORT while the chain ran."


# --------------------------------------------------------------------------------------
# The descriptor format.
# --------------------------------------------------------------------------------------


class DescField(NamedTuple):
    """One descriptor field: ``width`` bits from bit ``lsb`` of 32-bit word ``word``
    (64-bit fields span words ``word`` and ``word + 1``, low half first)."""

    name: str
    word: int
    lsb: int
    width: int
    doc: str

    @property
    def bit(self) -> int:
        """First bit in the 512-bit little-endian image."""
        return 32 * self.word + self.lsb

    @property
    def sv_name(self) -> str:
        """Member name in the SystemVerilog ``desc_t``."""
        return _SV_NAMES.get(self.name, self.name)


_SV_NAMES = {"next": "next_addr"}

#: The descriptor layout, LSB first. ``reserved1`` is written 0 and ignored on read.
DESC_FIELDS: tuple[DescField, ...] = (
    DescField("magic", 0, 0, 16, "MAGIC (0xEF7A); otherwise BAD_MAGIC."),
    DescField("version", 0, 16, 8, "VERSION (1); otherwise BAD_VERSION."),
    DescField("opcode", 0, 24, 8,
              "Opcode: 1 CONV_FP, 2 CONV_BP, 3 CONV_WU, 4 POOL_FP, 5 POOL_BP (opcode_e)."),
    DescField("flags", 1, 0, 16, "Flag bits (flag_e): 0 RELU, 1 RELU_MASK, 2 SGD; others 0."),
    DescField("k", 1, 16, 4, "Kernel size, 1..KMAX (pool: 2)."),
    DescField("stride", 1, 20, 4, "Stride, 1 or 2 (pool: 2)."),
    DescField("pad", 1, 24, 4, "Zero padding on every side, 0..k-1 (pool: 0)."),
    DescField("reserved1", 1, 28, 4, "Reserved: written 0, ignored."),
    DescField("batch", 2, 0, 16, "Images in the batch, 1..4095."),
    DescField("tile_rows", 2, 16, 16,
              "Output rows per tile (y for FP, dx for BP, dy for WU), >= 1; "
              "R = min(tile_rows, rows of that image). Unused by pools."),
    DescField("n", 3, 0, 16, "Input channels N, 1..4095."),
    DescField("m", 3, 16, 16, "Output channels M, 1..4095."),
    DescField("h", 4, 0, 16, "Input image (x) height H, 1..4095."),
    DescField("w", 4, 16, 16, "Input image (x) width W, 1..4095."),
    DescField("lr", 5, 0, 32, "Learning rate, fp32 bits: the fused SGD of CONV_WU with SGD."),
    DescField("in_addr", 6, 0, 64, "CONV_FP, CONV_WU, POOL_FP: x; CONV_BP, POOL_BP: dy. Multiple of 64."),
    DescField("wgt_addr", 8, 0, 64, "CONV_FP, CONV_BP: w; CONV_WU with SGD: w read. Multiple of 64."),
    DescField("out_addr", 10, 0, 64, "y, dx, dw, or the new w (CONV_WU with SGD). Multiple of 64."),
    DescField("aux_addr", 12, 0, 64, "CONV_WU: dy; CONV_BP with RELU_MASK: a; POOL_BP: x. Multiple of 64."),
    DescField("next", 14, 0, 64, "Address of the next descriptor; 0 ends the chain."),
)

_FIELD = {f.name: f for f in DESC_FIELDS}
_RESERVED = {"reserved1"}


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def out_hw(h: int, w: int, k: int, stride: int, pad: int) -> tuple[int, int]:
    """Output (y, dy) height and width of a convolution of an ``h`` x ``w`` image:
    ``(h + 2*pad - k) // stride + 1`` (< 1 means no output pixel)."""
    return (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1


class TensorUse(NamedTuple):
    """A tensor a descriptor uses: its address field, name (x, w, y, dy, dx, dw, a,
    w_new), base address, shape ([B,C,H,W] activation or [M,N,K,K] weights), layout and
    direction."""

    field: str
    name: str
    addr: int
    shape: tuple[int, int, int, int]
    weights: bool
    access: str  # "read" or "write"

    def nbytes(self, g: int) -> int:
        """Bytes of the tensor in its DRAM layout with G = ``g`` channels per group."""
        return weights_bytes(self.shape, g) if self.weights else act_bytes(self.shape, g)


@dataclass(frozen=True)
class Descriptor:
    """One layer descriptor (docs/architecture.md). Every field defaults to 0 except
    ``magic`` and ``version`` (their valid values; set them only to build bad
    descriptors). ``lr`` is a float stored as fp32. ``opcode`` is an :class:`Opcode` after
    :meth:`unpack` when the value is one."""

    opcode: int = 0
    k: int = 0
    stride: int = 0
    pad: int = 0
    flags: int = 0
    batch: int = 0
    tile_rows: int = 0
    n: int = 0
    m: int = 0
    h: int = 0
    w: int = 0
    lr: float = 0.0
    in_addr: int = 0
    wgt_addr: int = 0
    out_addr: int = 0
    aux_addr: int = 0
    next: int = 0
    magic: int = MAGIC
    version: int = VERSION

    @property
    def lr_bits(self) -> int:
        """``lr`` as fp32 bits (round to nearest)."""
        with np.errstate(over="ignore"):
            return int(np.array(self.lr, dtype=np.float32).view(np.uint32))

    def _value(self, name: str) -> int:
        if name in _RESERVED:
            return 0
        if name == "lr":
            return self.lr_bits
        value = getattr(self, name)
        try:
            value = operator.index(value)
        except TypeError:
            raise ValueError(f"Descriptor.{name} must be an integer, got {value!r}") from None
        width = _FIELD[name].width
        if value < 0 or value >> width:
            raise ValueError(
                f"Descriptor.{name} = {value} does not fit its {width}-bit field "
                f"(0..{(1 << width) - 1})"
            )
        return value

    def to_int(self) -> int:
        """The 512-bit image as an integer (bit 0 = bit 0 of word 0)."""
        image = 0
        for f in DESC_FIELDS:
            image |= self._value(f.name) << f.bit
        return image

    def pack(self) -> bytes:
        """The 64-byte little-endian image. Raises ValueError naming a field that does not
        fit its width."""
        return self.to_int().to_bytes(DESC_BYTES, "little")

    def words(self) -> tuple[int, ...]:
        """The 16 32-bit words of the image."""
        return struct.unpack(f"<{DESC_WORDS}I", self.pack())

    @classmethod
    def unpack(cls, data) -> Descriptor:
        """The descriptor of a 64-byte image (bytes-like); reserved bits are dropped."""
        data = bytes(data)
        if len(data) != DESC_BYTES:
            raise ValueError(f"Descriptor.unpack: {len(data)} bytes, expected {DESC_BYTES}")
        image = int.from_bytes(data, "little")
        values = {}
        for f in DESC_FIELDS:
            if f.name in _RESERVED:
                continue
            value = (image >> f.bit) & ((1 << f.width) - 1)
            if f.name == "lr":
                value = float(np.array(value, dtype=np.uint32).view(np.float32))
            elif f.name == "opcode" and value in Opcode._value2member_map_:
                value = Opcode(value)
            values[f.name] = value
        return cls(**values)

    @property
    def out_hw(self) -> tuple[int, int]:
        """(Ho, Wo) of the convolution output (y for FP, dy for BP and WU), or of the
        pooled image (H // 2, W // 2) of a pool descriptor (k 2, stride 2, pad 0)."""
        return out_hw(self.h, self.w, self.k, self.stride, self.pad)

    def tensors(self) -> tuple[TensorUse, ...]:
        """The tensors the opcode uses, in address-field order (in, wgt, out, aux).
        Raises ValueError for an unknown opcode or a zero stride."""
        if self.opcode not in Opcode._value2member_map_:
            raise ValueError(f"Descriptor.tensors: opcode {self.opcode!r} is not an Opcode")
        if self.stride < 1:
            raise ValueError(f"Descriptor.tensors: stride {self.stride} < 1")
        op = Opcode(self.opcode)
        ho, wo = self.out_hw
        x = (self.batch, self.n, self.h, self.w)
        y = (self.batch, self.m, ho, wo)
        w = (self.m, self.n, self.k, self.k)
        has = lambda flag: bool(self.flags >> flag & 1)  # noqa: E731
        if op == Opcode.CONV_FP:
            return (
                TensorUse("in_addr", "x", self.in_addr, x, False, "read"),
                TensorUse("wgt_addr", "w", self.wgt_addr, w, True, "read"),
                TensorUse("out_addr", "y", self.out_addr, y, False, "write"),
            )
        if op == Opcode.CONV_BP:
            return (
                TensorUse("in_addr", "dy", self.in_addr, y, False, "read"),
                TensorUse("wgt_addr", "w", self.wgt_addr, w, True, "read"),
                TensorUse("out_addr", "dx", self.out_addr, x, False, "write"),
            ) + ((TensorUse("aux_addr", "a", self.aux_addr, x, False, "read"),)
                 if has(Flag.RELU_MASK) else ())
        if op == Opcode.CONV_WU:
            sgd = has(Flag.SGD)
            return (
                TensorUse("in_addr", "x", self.in_addr, x, False, "read"),
                *((TensorUse("wgt_addr", "w", self.wgt_addr, w, True, "read"),) if sgd else ()),
                TensorUse("out_addr", "w_new" if sgd else "dw", self.out_addr, w, True, "write"),
                TensorUse("aux_addr", "dy", self.aux_addr, y, False, "read"),
            )
        pooled = (self.batch, self.n, ho, wo)
        if op == Opcode.POOL_FP:
            return (
                TensorUse("in_addr", "x", self.in_addr, x, False, "read"),
                TensorUse("out_addr", "y", self.out_addr, pooled, False, "write"),
            )
        return (
            TensorUse("in_addr", "dy", self.in_addr, pooled, False, "read"),
            TensorUse("out_addr", "dx", self.out_addr, x, False, "write"),
            TensorUse("aux_addr", "x", self.aux_addr, x, False, "read"),
        )


assert [f.name for f in fields(Descriptor)] == [
    "opcode", "k", "stride", "pad", "flags", "batch", "tile_rows", "n", "m", "h", "w", "lr",
    "in_addr", "wgt_addr", "out_addr", "aux_addr", "next", "magic", "version",
], "Descriptor fields"
assert {f.name for f in fields(Descriptor)} == {f.name for f in DESC_FIELDS} - _RESERVED
assert sum(f.width for f in DESC_FIELDS) == 8 * DESC_BYTES


def as_descriptor(desc) -> Descriptor:
    """A :class:`Descriptor` from a Descriptor, a 64-byte image or a mapping of fields."""
    if isinstance(desc, Descriptor):
        return desc
    if isinstance(desc, (bytes, bytearray, memoryview)):
        return Descriptor.unpack(desc)
    if isinstance(desc, Mapping):
        return Descriptor(**desc)
    raise TypeError(f"expected a Descriptor, 64 bytes or a mapping, got {type(desc).__name__}")


# --------------------------------------------------------------------------------------
# Tile fit and validation.
# --------------------------------------------------------------------------------------


def tile_misfit(opcode, k: int, stride: int, pad: int, n: int, m: int, h: int, w: int,
                tile_rows: int, cfg: HwConfig) -> str | None:
    """Why a tile of ``tile_rows`` rows does not fit (the TILE_TOO_LARGE rule of
    docs/architecture.md, checked in this order: tile_rows = 0, OB, IB, WB, odd stride-2
    BP tile), or None. ``R = min(tile_rows, out_h)`` with out the OB image (y for FP,
    dx = x for BP, dy for WU):

    * OB: ``R * out_w <= ob_depth``;
    * IB: ``ib_rows * in_w <= ib_depth``, ``ib_rows = min(H, (R-1)*s + K)`` for FP and
      WU (x rows), ``min(Ho, ceil((R + K - 1) / s))`` for BP (dy rows);
    * WB: ``ceil(N/TN) * K*K <= wb_depth`` for FP and WU, ``ceil(M/TN) * K*K`` for BP;
    * stride-2 BP: ``R`` even unless ``R`` covers the whole image;
    * POOL_FP, POOL_BP (``tile_rows`` unused: the pool unit streams whole rows and holds
      one output row): ``W // 2 <= POOL_MAX_WO``.

    This is conservative (every real tile, clipped at the image, needs at most these
    rows), so a layer that passes it is accepted by :mod:`eftrain.schedule` too. The
    geometry must be valid (the checks before TILE_TOO_LARGE); ValueError otherwise."""
    if opcode not in Opcode._value2member_map_:
        raise ValueError(f"tile_misfit: opcode {opcode!r} is not an Opcode")
    if k < 1 or stride not in (1, 2) or not 0 <= pad < k or min(n, m, h, w) < 1:
        raise ValueError(
            f"tile_misfit: invalid geometry k={k} stride={stride} pad={pad} n={n} m={m} "
            f"h={h} w={w}"
        )
    ho, wo = out_hw(h, w, k, stride, pad)
    if min(ho, wo) < 1:
        raise ValueError(f"tile_misfit: no output pixel (h={h}, w={w}, k={k}, pad={pad})")
    op = Opcode(opcode)
    if op in (Opcode.POOL_FP, Opcode.POOL_BP):
        if (k, stride, pad) != (2, 2, 0) or m != n:
            raise ValueError(
                f"tile_misfit: invalid pool geometry k={k} stride={stride} pad={pad} n={n} "
                f"m={m} (a pool has k 2, stride 2, pad 0, m = n)"
            )
        if wo > POOL_MAX_WO:
            return f"pool: output row of {wo} pixels > POOL_MAX_WO {POOL_MAX_WO}"
        return None
    if tile_rows < 1:
        return "tile_rows is 0"
    if op == Opcode.CONV_BP:
        out_h, out_w = h, w
        rows = min(tile_rows, out_h)
        ib_rows, in_w = min(ho, _ceil_div(rows + k - 1, stride)), wo
        blocks, what = _ceil_div(m, cfg.tn), "M"
    else:
        out_h, out_w = ho, wo
        rows = min(tile_rows, out_h)
        ib_rows, in_w = min(h, (rows - 1) * stride + k), w
        blocks, what = _ceil_div(n, cfg.tn), "N"
    if rows * out_w > cfg.ob_depth:
        return f"OB: {rows} rows x {out_w} pixels > ob_depth {cfg.ob_depth}"
    if ib_rows * in_w > cfg.ib_depth:
        return f"IB: {ib_rows} rows x {in_w} pixels > ib_depth {cfg.ib_depth}"
    if blocks * k * k > cfg.wb_depth:
        return f"WB: ceil({what}/TN) = {blocks} blocks x {k}x{k} > wb_depth {cfg.wb_depth}"
    if op == Opcode.CONV_BP and stride == 2 and rows % 2 and rows < out_h:
        return f"stride-2 BP: {rows} rows is odd and does not cover the {out_h} rows of dx"
    return None


def tile_fits(opcode, k: int, stride: int, pad: int, n: int, m: int, h: int, w: int,
              tile_rows: int, cfg: HwConfig) -> bool:
    """True if :func:`tile_misfit` finds nothing."""
    return tile_misfit(opcode, k, stride, pad, n, m, h, w, tile_rows, cfg) is None


def largest_tile_rows(opcode, k: int, stride: int, pad: int, n: int, m: int, h: int, w: int,
                      cfg: HwConfig) -> int:
    """The largest ``tile_rows`` that fits (at most the OB image's rows: larger values
    give the same tiles), or 0 if none does; for a pool (``tile_rows`` unused) 1 if it
    fits, else 0. ValueError for an invalid geometry, as :func:`tile_misfit`."""
    if opcode in (Opcode.POOL_FP, Opcode.POOL_BP):
        return 1 if tile_fits(opcode, k, stride, pad, n, m, h, w, 1, cfg) else 0
    out_h = h if opcode == Opcode.CONV_BP else out_hw(h, w, k, stride, pad)[0]
    for rows in range(max(out_h, 1), 0, -1):
        if tile_fits(opcode, k, stride, pad, n, m, h, w, rows, cfg):
            return rows
    return 0


def descriptor_address_ok(addr: int) -> bool:
    """A descriptor address (CHAIN or ``next``) the hardware fetches: a nonzero multiple
    of 64. (``next = 0`` ends the chain and is never fetched.)"""
    return addr != 0 and addr % ADDR_ALIGN == 0


def validate(desc, cfg: HwConfig, addr_width: int = 40) -> ErrorCode:
    """The hardware's checks of one descriptor (a :class:`Descriptor`, its 64-byte image
    or a mapping of fields), in this order; the first failing rule is returned:

    1. magic, 2. version, 3. opcode, 4. flags (:func:`flags_allowed`), 5. kernel (conv:
    k = 0 or k > cfg.kmax; pool: k != 2), 6. stride (conv: 1 or 2; pool: 2), 7. pad (conv:
    pad >= k; pool: pad != 0), 8. dimensions (batch, n, m, h, w in 1..4095 and an output
    of 1..4095 rows and columns; pool: m = n), 9. tile fit (:func:`tile_misfit`), 10.
    alignment of the addresses of the tensors the opcode uses (:meth:`Descriptor.tensors`;
    multiples of 64), 11. range (a used tensor's address + its byte size in the DRAM
    layout > 2**addr_width).

    ``lr``, the reserved bits and ``next`` are not checked here (``next`` is checked by
    :func:`descriptor_address_ok` when it is fetched)."""
    d = as_descriptor(desc)
    if d.magic != MAGIC:
        return ErrorCode.BAD_MAGIC
    if d.version != VERSION:
        return ErrorCode.BAD_VERSION
    if d.opcode not in Opcode._value2member_map_:
        return ErrorCode.BAD_OPCODE
    if d.flags & ~flags_allowed(d.opcode):
        return ErrorCode.BAD_FLAGS
    pool = d.opcode in (Opcode.POOL_FP, Opcode.POOL_BP)
    if (d.k != 2) if pool else (d.k == 0 or d.k > cfg.kmax):
        return ErrorCode.BAD_KERNEL
    if d.stride != 2 if pool else d.stride not in (1, 2):
        return ErrorCode.BAD_STRIDE
    if d.pad != 0 if pool else d.pad >= d.k:
        return ErrorCode.BAD_PAD
    dims = (d.batch, d.n, d.m, d.h, d.w)
    if (min(dims) < 1 or max(dims) > MAX_DIM or min(d.out_hw) < 1 or max(d.out_hw) > MAX_DIM
            or (pool and d.m != d.n)):
        return ErrorCode.BAD_DIMENSION
    if not tile_fits(d.opcode, d.k, d.stride, d.pad, d.n, d.m, d.h, d.w, d.tile_rows, cfg):
        return ErrorCode.TILE_TOO_LARGE
    used = d.tensors()
    if any(t.addr % ADDR_ALIGN for t in used):
        return ErrorCode.UNALIGNED_ADDRESS
    if any(t.addr + t.nbytes(cfg.tn) > 1 << addr_width for t in used):
        return ErrorCode.ADDRESS_RANGE
    return ErrorCode.NONE


# --------------------------------------------------------------------------------------
# CSR map.
# --------------------------------------------------------------------------------------


class CsrField(NamedTuple):
    """Bits ``msb:lsb`` of a register."""

    name: str
    msb: int
    lsb: int
    doc: str

    @property
    def width(self) -> int:
        return self.msb - self.lsb + 1

    @property
    def mask(self) -> int:
        return ((1 << self.width) - 1) << self.lsb


class CsrReg(NamedTuple):
    """One 32-bit AXI4-Lite register. ``counter``: the counter name for the halves of the
    64-bit counters, else None."""

    name: str
    offset: int
    access: str  # "RO", "RW" or "RW1C"
    doc: str
    fields: tuple[CsrField, ...]
    counter: str | None = None


#: The 64-bit counters from 0x40, in order: counter i is lo at 0x40 + 8*i, hi at + 4.
COUNTERS: tuple[tuple[str, str], ...] = (
    ("CYCLES", "Clock cycles."),
    ("BUSY", "Busy cycles (STATUS.BUSY set)."),
    ("MAC", "MAC cycles (the array issued a multiply-accumulate)."),
    ("STALL_LOAD", "Stall cycles waiting for a load."),
    ("STALL_STORE", "Stall cycles waiting for a store."),
    ("STALL_HAZARD", "Stall cycles of accumulate hazards (stall_hazard)."),
    ("AXI_RD_BEATS", "AXI read data beats (descriptor fetches included)."),
    ("AXI_RD_BURSTS", "AXI read bursts (AR handshakes)."),
    ("AXI_WR_BEATS", "AXI write data beats."),
    ("AXI_WR_BURSTS", "AXI write bursts (AW handshakes)."),
)
CSR_CNT_BASE: int = 0x40
NUM_COUNTERS: int = len(COUNTERS)
#: CSR ID's value: MAGIC in bits 31:16, VERSION in 15:0.
ID_VALUE: int = (MAGIC << 16) | VERSION


def _f(name, msb, lsb, doc):
    return CsrField(name, msb, lsb, doc)


#: The register map in offset order (docs/architecture.md); unlisted offsets read 0.
CSR_REGISTERS: tuple[CsrReg, ...] = (
    CsrReg("ID", 0x00, "RO", "Identification, ID_VALUE (0xEF7A0001).",
           (_f("VALUE", 31, 0, "0xEF7A0001: MAGIC and VERSION."),)),
    CsrReg("PARAMS", 0x04, "RO", "Build parameters.", (
        _f("TM", 7, 0, "TM."),
        _f("TN", 15, 8, "TN."),
        _f("KMAX", 23, 16, "KMAX."),
        _f("AXI_DATA_BYTES", 31, 24, "AXI_DATA_WIDTH / 8."),
    )),
    CsrReg("DEPTHS", 0x08, "RO", "Buffer depths.", (
        _f("IB_DEPTH", 15, 0, "IB_DEPTH (pixels per IB half)."),
        _f("OB_DEPTH", 31, 16, "OB_DEPTH (pixels per OB half)."),
    )),
    CsrReg("WB_DEPTH", 0x0C, "RO", "Weight-buffer depth and address width.", (
        _f("WB_DEPTH", 15, 0, "WB_DEPTH (kernel-position entries)."),
        _f("AXI_ADDR_WIDTH", 23, 16, "AXI_ADDR_WIDTH."),
    )),
    CsrReg("CTRL", 0x10, "RW", "Control.", (
        _f("START", 0, 0, "Write 1: run the chain at CHAIN (self-clearing)."),
        _f("ABORT", 1, 1, "Write 1: stop the chain with ABORTED (self-clearing)."),
        _f("SOFT_RESET", 2, 2, "Write 1: soft reset (self-clearing)."),
        _f("IRQ_ENABLE", 3, 3, "irq = IRQ.PENDING when set."),
    )),
    CsrReg("STATUS", 0x14, "RO", "Status of the current or last chain.", (
        _f("BUSY", 0, 0, "A chain is running."),
        _f("DONE", 1, 1, "The last chain completed every descriptor."),
        _f("ERROR", 2, 2, "The last chain stopped at an error (CODE, INDEX)."),
        _f("CODE", 15, 8, "ErrorCode (error_e)."),
        _f("INDEX", 31, 16, "Index in the chain of the failing descriptor."),
    )),
    CsrReg("IRQ", 0x18, "RW1C", "Interrupt.", (
        _f("PENDING", 0, 0, "Set when a chain ends (done or error); write 1 to clear."),
    )),
    CsrReg("DESC_DONE", 0x1C, "RO", "Descriptors completed in this chain.",
           (_f("COUNT", 31, 0, "Completed descriptors."),)),
    CsrReg("CHAIN_LO", 0x20, "RW", "Address of the first descriptor, bits 31:0.",
           (_f("ADDR", 31, 0, "Address bits 31:0."),)),
    CsrReg("CHAIN_HI", 0x24, "RW", "Address of the first descriptor, bits 63:32.",
           (_f("ADDR", 31, 0, "Address bits 63:32."),)),
    *(
        CsrReg(f"CNT_{name}_{half}", CSR_CNT_BASE + 8 * i + 4 * (half == "HI"), "RO",
               f"{doc} Bits {'63:32' if half == 'HI' else '31:0'}.",
               (_f("VALUE", 31, 0, f"Counter {name}, {half.lower()} half."),), name)
        for i, (name, doc) in enumerate(COUNTERS)
        for half in ("LO", "HI")
    ),
)

_REG = {r.name: r for r in CSR_REGISTERS}
assert [r.offset for r in CSR_REGISTERS] == sorted({r.offset for r in CSR_REGISTERS})


def csr(name: str) -> CsrReg:
    """The register called ``name`` (KeyError otherwise)."""
    return _REG[name]


def _bit(reg: str, field: str) -> int:
    return next(f.lsb for f in _REG[reg].fields if f.name == field)


# Offsets and bit indices (from the table).
CSR_ID = _REG["ID"].offset
CSR_PARAMS = _REG["PARAMS"].offset
CSR_DEPTHS = _REG["DEPTHS"].offset
CSR_WB_DEPTH = _REG["WB_DEPTH"].offset
CSR_CTRL = _REG["CTRL"].offset
CSR_STATUS = _REG["STATUS"].offset
CSR_IRQ = _REG["IRQ"].offset
CSR_DESC_DONE = _REG["DESC_DONE"].offset
CSR_CHAIN_LO = _REG["CHAIN_LO"].offset
CSR_CHAIN_HI = _REG["CHAIN_HI"].offset
CTRL_START = _bit("CTRL", "START")
CTRL_ABORT = _bit("CTRL", "ABORT")
CTRL_SOFT_RESET = _bit("CTRL", "SOFT_RESET")
CTRL_IRQ_ENABLE = _bit("CTRL", "IRQ_ENABLE")
STATUS_BUSY = _bit("STATUS", "BUSY")
STATUS_DONE = _bit("STATUS", "DONE")
STATUS_ERROR = _bit("STATUS", "ERROR")
STATUS_CODE_LSB = _bit("STATUS", "CODE")
STATUS_INDEX_LSB = _bit("STATUS", "INDEX")
IRQ_PENDING = _bit("IRQ", "PENDING")


def counter_offsets(counter: str | int) -> tuple[int, int]:
    """(lo, hi) offsets of a counter, by name (``"MAC"``) or index."""
    names = [name for name, _ in COUNTERS]
    index = names.index(counter) if isinstance(counter, str) else operator.index(counter)
    if not 0 <= index < NUM_COUNTERS:
        raise ValueError(f"counter index {index} outside 0..{NUM_COUNTERS - 1}")
    return CSR_CNT_BASE + 8 * index, CSR_CNT_BASE + 8 * index + 4


def _pack_fields(reg: str, **values: int) -> int:
    word = 0
    for f in _REG[reg].fields:
        value = values.pop(f.name, 0)
        if value < 0 or value >> f.width:
            raise ValueError(f"{reg}.{f.name} = {value} does not fit {f.width} bits")
        word |= value << f.lsb
    if values:
        raise ValueError(f"{reg} has no field(s) {sorted(values)}")
    return word


def ro_values(cfg: HwConfig, axi_data_width: int = 128, axi_addr_width: int = 40) -> dict[str, int]:
    """Values of the constant registers ID, PARAMS, DEPTHS, WB_DEPTH for a build."""
    return {
        "ID": ID_VALUE,
        "PARAMS": _pack_fields("PARAMS", TM=cfg.tm, TN=cfg.tn, KMAX=cfg.kmax,
                               AXI_DATA_BYTES=axi_data_width // 8),
        "DEPTHS": _pack_fields("DEPTHS", IB_DEPTH=cfg.ib_depth, OB_DEPTH=cfg.ob_depth),
        "WB_DEPTH": _pack_fields("WB_DEPTH", WB_DEPTH=cfg.wb_depth, AXI_ADDR_WIDTH=axi_addr_width),
    }


class Status(NamedTuple):
    """STATUS decoded."""

    busy: bool
    done: bool
    error: bool
    code: ErrorCode | int
    index: int


def decode_status(value: int) -> Status:
    """STATUS (CSR 0x14) decoded; ``code`` is an ErrorCode when it is one."""
    fields_ = {f.name: (value & f.mask) >> f.lsb for f in _REG["STATUS"].fields}
    code = fields_["CODE"]
    if code in ErrorCode._value2member_map_:
        code = ErrorCode(code)
    return Status(bool(fields_["BUSY"]), bool(fields_["DONE"]), bool(fields_["ERROR"]),
                  code, fields_["INDEX"])


def encode_status(busy: bool = False, done: bool = False, error: bool = False,
                  code: int = 0, index: int = 0) -> int:
    """The STATUS word of these values."""
    return _pack_fields("STATUS", BUSY=int(busy), DONE=int(done), ERROR=int(error),
                        CODE=int(code), INDEX=index)


# --------------------------------------------------------------------------------------
# SystemVerilog package.
# --------------------------------------------------------------------------------------


def _enum_lines(members: list[tuple[str, int, str]], width: int) -> list[str]:
    out = []
    for i, (name, value, doc) in enumerate(members):
        out += sv_comment(doc, "    ")
        out.append(f"    {name} = {width}'d{value}{',' if i < len(members) - 1 else ''}")
    return out


def sv_package() -> str:
    """SystemVerilog source of ``rtl/eftrain_desc_pkg.sv``: descriptor constants, the
    opcode and error enums, the packed struct ``desc_t`` whose bit layout equals
    :meth:`Descriptor.pack`, and the CSR map."""
    out = [
        "// Generated by `python -m eftrain.descriptor` from pysrc/eftrain/descriptor.py: "
        "do not edit.",
        "// Regenerate with `python -m eftrain.descriptor`; `--check` verifies this file.",
        "/// Layer descriptor, error codes and CSR map of the EF-Train IP top level",
        "/// (docs/architecture.md, \"The IP top level\"); the single definition is",
        "/// `eftrain.descriptor`.",
        "// A block uses only some of these definitions; the rest are not a defect.",
        "/* verilator lint_off UNUSEDPARAM */",
        "package eftrain_desc_pkg;",
        "",
        "  // ---- Descriptor -------------------------------------------------------------",
        "",
        "  /// Descriptor magic (word 0, bits 15:0).",
        f"  localparam logic [15:0] MAGIC = 16'h{MAGIC:04X};",
        "  /// Descriptor format version (word 0, bits 23:16).",
        f"  localparam logic [7:0] VERSION = 8'd{VERSION};",
        "  /// Bytes of one descriptor.",
        f"  localparam int unsigned DESC_BYTES = {DESC_BYTES};",
        "  /// 32-bit words of one descriptor.",
        f"  localparam int unsigned DESC_WORDS = {DESC_WORDS};",
        "  /// Bits of one descriptor (`$bits(desc_t)`).",
        f"  localparam int unsigned DESC_BITS = {8 * DESC_BYTES};",
        "  /// Alignment in bytes of every tensor and descriptor address.",
        f"  localparam int unsigned ADDR_ALIGN = {ADDR_ALIGN};",
        "  /// Largest batch, n, m, h, w of a descriptor.",
        f"  localparam int unsigned MAX_DIM = {MAX_DIM};",
        "",
        "  /// Descriptor opcode (word 0, bits 31:24).",
        "  typedef enum logic [7:0] {",
        *_enum_lines([(f"OP_{op.name}", op.value, _OPCODE_DOCS[op]) for op in Opcode], 8),
        "  } opcode_e;",
        "",
        "  /// Descriptor flags (word 1, bits 15:0): bit numbers.",
        "  typedef enum int unsigned {",
        *_enum_lines([(f"FLAG_{f.name}", f.value, f.__doc__) for f in Flag], 32),
        "  } flag_e;",
        "",
        "  /// Largest output row (Wo) of a pool descriptor: the pool unit's line buffers.",
        f"  localparam int unsigned POOL_MAX_WO = {POOL_MAX_WO};",
        "",
        "  /// STATUS.code: why a chain stopped. Checks 1..11 run in this order; the first",
        "  /// failing one is reported.",
        "  typedef enum logic [7:0] {",
        *_enum_lines([(f"ERR_{e.name}", e.value, e.__doc__) for e in ErrorCode], 8),
        "  } error_e;",
        "",
        "  /// One descriptor. Its bit layout is the 64-byte little-endian image of",
        "  /// `eftrain.descriptor.Descriptor.pack()`: bit 8*i+b is bit b of byte i, so bit 0",
        "  /// is bit 0 of word 0. A packed struct's first member is its MSB: fields are",
        "  /// declared from word 15 down to word 0 and the last member, `magic`, is bits 15:0.",
        "  /// With a 128-bit AXI bus, `desc_t'({beat3, beat2, beat1, beat0})`.",
        "  /// `opcode` is a plain vector (compare it with opcode_e): it must hold any value.",
        "  typedef struct packed {",
    ]
    for f in reversed(DESC_FIELDS):
        hi, lo = f.bit + f.width - 1, f.bit
        if f.width == 64:
            where = f"Words {f.word + 1}:{f.word}"
        else:
            where = f"Word {f.word} bits {f.lsb + f.width - 1}:{f.lsb}"
        out += sv_comment(f"{where} (bits {hi}:{lo}). {f.doc}", "    ")
        out.append(f"    logic [{f.width - 1}:0] {f.sv_name};")
    out += [
        "  } desc_t;",
        "",
        "  // ---- CSR map (AXI4-Lite, 8-bit byte address, 32-bit registers) ----------------",
        "",
    ]
    for reg in CSR_REGISTERS:
        if reg.counter is not None:
            continue
        out += sv_comment(f"{reg.access}. {reg.doc}", "  ")
        out.append(f"  localparam logic [7:0] CSR_{reg.name} = 8'h{reg.offset:02X};")
    out += [
        "  /// RO. Offset of the first 64-bit counter: counter i is lo at CSR_CNT_BASE + 8*i,",
        "  /// hi at CSR_CNT_BASE + 8*i + 4.",
        f"  localparam logic [7:0] CSR_CNT_BASE = 8'h{CSR_CNT_BASE:02X};",
        "  /// Number of 64-bit counters.",
        f"  localparam int unsigned NUM_COUNTERS = {NUM_COUNTERS};",
    ]
    for i, (name, doc) in enumerate(COUNTERS):
        out += sv_comment(f"Counter index: {doc}", "  ")
        out.append(f"  localparam int unsigned CNT_{name} = {i};")
    out += [
        "  /// Value of CSR ID.",
        f"  localparam logic [31:0] ID_VALUE = 32'h{ID_VALUE:08X};",
        "",
        "  // Register fields: bit index of 1-bit fields, <REG>_<FIELD>_LSB and _WIDTH of wider",
        "  // ones (registers holding one 32-bit value have none).",
    ]
    for reg in CSR_REGISTERS:
        if len(reg.fields) == 1 and reg.fields[0].width == 32:
            continue
        for f in reg.fields:
            if f.width == 1:
                out += sv_comment(f"{reg.name} bit {f.lsb}: {f.doc}", "  ")
                out.append(f"  localparam int unsigned {reg.name}_{f.name} = {f.lsb};")
            else:
                out += sv_comment(f"{reg.name} bits {f.msb}:{f.lsb}: {f.doc}", "  ")
                out.append(f"  localparam int unsigned {reg.name}_{f.name}_LSB = {f.lsb};")
                out.append(f"  localparam int unsigned {reg.name}_{f.name}_WIDTH = {f.width};")
    out += [
        "",
        "endpackage",
        "/* verilator lint_on UNUSEDPARAM */",
        "",
    ]
    return "\n".join(out)


SV_PATH = RTL / "eftrain_desc_pkg.sv"


def main(argv: list[str] | None = None) -> int:
    return generator_main("eftrain.descriptor", SV_PATH, sv_package, "the descriptor and CSR tables", argv)

if __name__ == "__main__":
    sys.exit(main())

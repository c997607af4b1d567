"""DRAM layouts of the IP top level and the DRAM transfers of one descriptor: the
executable definition (docs/architecture.md, "DRAM layouts").

With ``G = TN`` channels per group, fp32 little-endian:

* activations and gradients (x, y, dy, dx, a) ``[B, C, H, W]``: layout
  ``[B][ceil(C/G)][H][W][G]``, padded channels +0.0. Rows ``row0 .. row0+rows-1`` of
  channel group ``cg`` of image ``b`` (every column) are one contiguous range
  (:func:`act_tile_range`);
* weights and weight gradients (w, dw, w_new) ``[M, N, K, K]``: layout
  ``[ceil(M/G)][ceil(N/G)][K][K][G (m)][G (n)]``, padded channels +0.0. Block
  ``(mt, nt)`` is one contiguous range (:func:`weight_block_range`).

One beat of the engine's load/store ports is TN words = ``4*TN`` bytes: a pixel of one
channel group, or one row ``m`` of a block at one kernel position.

:func:`transfers` lists the DRAM transfers of one descriptor in the hardware's program
order (for the convolutions, the loop order of :mod:`eftrain.schedule`, whose tiles it
reuses);
:func:`axi_bursts` and :func:`bursts_of` cut them into AXI INCR bursts: each burst is as
long as possible, at most ``max_beats`` beats and never crossing a 4 KB boundary.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from eftrain.config import HwConfig

if TYPE_CHECKING:
    from eftrain.descriptor import Descriptor

__all__ = [
    "act_bytes",
    "weights_bytes",
    "act_to_dram",
    "act_from_dram",
    "weights_to_dram",
    "weights_from_dram",
    "act_tile_range",
    "weight_block_range",
    "axi_bursts",
    "Transfer",
    "Burst",
    "transfers",
    "chain_transfers",
    "bursts_of",
    "AXI_4K",
]

#: AXI bursts never cross a multiple of this many bytes.
AXI_4K: int = 4096
_WORD = 4  # bytes per fp32 word


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _int(where: str, name: str, value, low: int = 0) -> int:
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{where}: {name} must be an int, got {value!r}")
    try:
        value = operator.index(value)
    except TypeError:
        raise ValueError(f"{where}: {name} must be an int, got {value!r}") from None
    if value < low:
        raise ValueError(f"{where}: {name} must be >= {low}, got {value}")
    return value


def _shape4(where: str, shape) -> tuple[int, int, int, int]:
    shape = tuple(shape)
    if len(shape) != 4:
        raise ValueError(f"{where}: shape must have 4 dimensions, got {shape}")
    return tuple(_int(where, f"shape[{i}]", v, 1) for i, v in enumerate(shape))


def _g(where: str, g) -> int:
    return _int(where, "g", g, 1)


def _as_f32(value) -> np.ndarray:
    """float32 array; uint32 input is taken as fp32 bit patterns (no conversion)."""
    arr = np.asarray(value)
    if arr.dtype == np.uint32:
        return arr.view(np.float32)
    with np.errstate(over="ignore"):
        return np.asarray(arr, dtype=np.float32)


def _as_buf(where: str, buf, words: int) -> np.ndarray:
    """A DRAM image (bytes-like, or a float32 / uint32 / uint8 array) as float32 words."""
    if isinstance(buf, (bytes, bytearray, memoryview)):
        arr = np.frombuffer(buf, dtype="<f4") if len(buf) % _WORD == 0 else None
    else:
        arr = np.asarray(buf).reshape(-1)
        if arr.dtype == np.uint8:
            arr = arr.view("<f4") if arr.size % _WORD == 0 else None
        elif arr.dtype == np.uint32:
            arr = arr.view(np.float32)
        elif arr.dtype != np.float32:
            raise ValueError(f"{where}: buf must be bytes or a float32/uint32/uint8 array, "
                             f"got dtype {arr.dtype}")
    if arr is None or arr.size != words:
        size = "a size not a multiple of 4 bytes" if arr is None else f"{arr.size} words"
        raise ValueError(f"{where}: buf has {size}, the layout has {words} words")
    return arr.astype(np.float32, copy=False)


def act_bytes(shape, g: int) -> int:
    """Bytes of an activation ``[B, C, H, W]`` in layout ``[B][ceil(C/G)][H][W][G]``."""
    b, c, h, w = _shape4("act_bytes", shape)
    g = _g("act_bytes", g)
    return b * _ceil_div(c, g) * h * w * g * _WORD


def weights_bytes(shape, g: int) -> int:
    """Bytes of weights ``[M, N, K, K]`` in layout ``[ceil(M/G)][ceil(N/G)][K][K][G][G]``."""
    m, n, k, k2 = _shape4("weights_bytes", shape)
    g = _g("weights_bytes", g)
    if k != k2:
        raise ValueError(f"weights_bytes: kernel must be square, got {k}x{k2}")
    return _ceil_div(m, g) * _ceil_div(n, g) * k * k * g * g * _WORD


def act_to_dram(t, g: int) -> np.ndarray:
    """Activation ``t [B, C, H, W]`` (uint32 = fp32 bits) as its DRAM image: a 1-D
    little-endian float32 array in layout ``[B][ceil(C/G)][H][W][G]``, padded channels
    +0.0. Bit patterns are kept (NaN payloads included)."""
    t = _as_f32(t)
    if t.ndim != 4 or 0 in t.shape:
        raise ValueError(f"act_to_dram: t must be a non-empty [B,C,H,W] array, got {t.shape}")
    g = _g("act_to_dram", g)
    b, c, h, w = t.shape
    cg = _ceil_div(c, g)
    padded = np.zeros((b, cg * g, h, w), np.float32)
    padded[:, :c] = t
    image = padded.reshape(b, cg, g, h, w).transpose(0, 1, 3, 4, 2)
    return np.ascontiguousarray(image).reshape(-1).astype("<f4", copy=False)


def act_from_dram(buf, shape, g: int) -> np.ndarray:
    """The activation ``[B, C, H, W]`` (float32) held by the DRAM image ``buf`` (exactly
    :func:`act_bytes` long; bytes-like or a float32/uint32/uint8 array). Padded
    channels are dropped."""
    b, c, h, w = _shape4("act_from_dram", shape)
    g = _g("act_from_dram", g)
    cg = _ceil_div(c, g)
    arr = _as_buf("act_from_dram", buf, act_bytes(shape, g) // _WORD)
    image = arr.reshape(b, cg, h, w, g).transpose(0, 1, 4, 2, 3).reshape(b, cg * g, h, w)
    return np.ascontiguousarray(image[:, :c])


def weights_to_dram(w, g: int) -> np.ndarray:
    """Weights ``w [M, N, K, K]`` (uint32 = fp32 bits) as their DRAM image: a 1-D
    little-endian float32 array in layout ``[ceil(M/G)][ceil(N/G)][K][K][G (m)][G (n)]``,
    padded channels +0.0."""
    w = _as_f32(w)
    if w.ndim != 4 or 0 in w.shape or w.shape[2] != w.shape[3]:
        raise ValueError(f"weights_to_dram: w must be a non-empty [M,N,K,K] array, got {w.shape}")
    g = _g("weights_to_dram", g)
    m, n, k, _ = w.shape
    mg, ng = _ceil_div(m, g), _ceil_div(n, g)
    padded = np.zeros((mg * g, ng * g, k, k), np.float32)
    padded[:m, :n] = w
    image = padded.reshape(mg, g, ng, g, k, k).transpose(0, 2, 4, 5, 1, 3)
    return np.ascontiguousarray(image).reshape(-1).astype("<f4", copy=False)


def weights_from_dram(buf, shape, g: int) -> np.ndarray:
    """The weights ``[M, N, K, K]`` (float32) held by the DRAM image ``buf`` (exactly
    :func:`weights_bytes` long). Padded channels are dropped."""
    m, n, k, _ = _shape4("weights_from_dram", shape)
    g = _g("weights_from_dram", g)
    mg, ng = _ceil_div(m, g), _ceil_div(n, g)
    arr = _as_buf("weights_from_dram", buf, weights_bytes(shape, g) // _WORD)
    image = arr.reshape(mg, ng, k, k, g, g).transpose(0, 4, 1, 5, 2, 3)
    image = image.reshape(mg * g, ng * g, k, k)
    return np.ascontiguousarray(image[:m, :n])


def act_tile_range(shape, g: int, b: int, cg: int, row0: int, rows: int) -> tuple[int, int]:
    """``(offset, nbytes)`` of rows ``row0 .. row0+rows-1`` (all columns) of channel
    group ``cg`` of image ``b`` of an activation ``[B, C, H, W]``:
    ``offset = ((b*ceil(C/G) + cg)*H + row0) * W*G*4``, ``nbytes = rows * W*G*4``."""
    where = "act_tile_range"
    nb, c, h, w = _shape4(where, shape)
    g = _g(where, g)
    b, cg = _int(where, "b", b), _int(where, "cg", cg)
    row0, rows = _int(where, "row0", row0), _int(where, "rows", rows, 1)
    groups = _ceil_div(c, g)
    if b >= nb or cg >= groups or row0 + rows > h:
        raise ValueError(
            f"{where}: b={b} cg={cg} rows {row0}..{row0 + rows - 1} outside shape {tuple(shape)} "
            f"({groups} channel groups of {g})"
        )
    row_bytes = w * g * _WORD
    return ((b * groups + cg) * h + row0) * row_bytes, rows * row_bytes


def weight_block_range(shape, g: int, mt: int, nt: int) -> tuple[int, int]:
    """``(offset, nbytes)`` of block ``(mt, nt)`` (K*K*G*G words) of weights
    ``[M, N, K, K]``: ``offset = (mt*ceil(N/G) + nt) * K*K*G*G*4``."""
    where = "weight_block_range"
    m, n, k, _ = _shape4(where, shape)
    g = _g(where, g)
    mt, nt = _int(where, "mt", mt), _int(where, "nt", nt)
    mg, ng = _ceil_div(m, g), _ceil_div(n, g)
    if mt >= mg or nt >= ng:
        raise ValueError(f"{where}: block ({mt}, {nt}) outside the {mg} x {ng} blocks of {shape}")
    block = k * k * g * g * _WORD
    return (mt * ng + nt) * block, block


def axi_bursts(addr: int, nbytes: int, beat_bytes: int = 16,
               max_beats: int = 256) -> list[tuple[int, int]]:
    """The AXI INCR bursts ``[(addr, beats), ...]`` of the contiguous range ``addr ..
    addr+nbytes-1``, in address order: each burst takes ``min(beats left, max_beats,
    beats up to the next 4 KB boundary)`` beats, so none crosses a 4 KB boundary and the
    bursts cover the range exactly. ``addr`` and ``nbytes`` must be multiples of
    ``beat_bytes`` (a power of two, at most 4096); ``nbytes = 0`` gives no burst."""
    where = "axi_bursts"
    addr, nbytes = _int(where, "addr", addr), _int(where, "nbytes", nbytes)
    beat_bytes, max_beats = _int(where, "beat_bytes", beat_bytes, 1), _int(where, "max_beats",
                                                                           max_beats, 1)
    if beat_bytes & (beat_bytes - 1) or beat_bytes > AXI_4K:
        raise ValueError(f"{where}: beat_bytes must be a power of two <= 4096, got {beat_bytes}")
    if addr % beat_bytes or nbytes % beat_bytes:
        raise ValueError(
            f"{where}: addr {addr:#x} and nbytes {nbytes} must be multiples of the "
            f"{beat_bytes}-byte beat"
        )
    bursts = []
    end = addr + nbytes
    while addr < end:
        to_4k = (AXI_4K - addr % AXI_4K) // beat_bytes
        beats = min((end - addr) // beat_bytes, max_beats, to_4k)
        bursts.append((addr, beats))
        addr += beats * beat_bytes
    return bursts


class Transfer(NamedTuple):
    """One contiguous DRAM transfer: ``kind`` "read" or "write", the tensor (``desc``,
    ``x``, ``w``, ``y``, ``dy``, ``dx``, ``dw``, ``a`` the stored activation of a ReLU
    mask, ``w_new`` the weights written by a fused SGD), byte address and size."""

    kind: str
    tensor: str
    addr: int
    nbytes: int


class Burst(NamedTuple):
    """One AXI burst: ``kind`` "read" or "write", address, beats."""

    kind: str
    addr: int
    beats: int


def transfers(desc: Descriptor | bytes, cfg: HwConfig, addr_width: int = 40) -> list[Transfer]:
    """The DRAM transfers of one descriptor (a :class:`eftrain.descriptor.Descriptor`,
    its 64-byte image or a mapping of its fields), in the program order the hardware
    issues them. For the convolutions, each x/w/dy read is one LOAD_* command and each
    y/dx/dw write one STORE_* command, in the loop order of :mod:`eftrain.schedule`
    (tile rows ``R = min(tile_rows, out_h)``, IB rows per tile from
    ``schedule._Geometry.ib_rows``); the fused flags add the second operand of the store
    merge unit, read just before the store it is merged into:

    * the convolutions follow :func:`eftrain.schedule.conv_program`. CONV_FP: a weight
      block (mt, nt) is a ``w`` read, a LOAD_IN an ``x`` read (the x rows of the tile's
      halo, channel group nt), a STORE_OUT a ``y`` write (RELU adds no transfer).
      CONV_BP: blocks likewise, LOAD_IN reads ``dy`` rows of group mt; a STORE_OUT
      writes the ``dx`` tile, after reading ``a`` (``aux_addr``, the shape of x) at its
      range with RELU_MASK. CONV_WU: the dy tile (``aux_addr``) is read before the x
      rows of each tile; a STORE_W of block (mt, nt) writes ``dw``, or with SGD reads
      ``w`` (``wgt_addr``) and writes ``w_new`` (``out_addr``). Where the weight
      blocks move in that order depends on WB double buffering (see
      :mod:`eftrain.schedule`).
    * POOL_FP (``Ho = H // 2``): for b, for channel group cg: read x rows
      ``0 .. 2*Ho-1`` of (b, cg) (one transfer; an odd last row is not read); write y
      rows ``0 .. Ho-1`` of (b, cg) (``[B, N, Ho, Wo]``).
    * POOL_BP: for b, for cg: write dx rows ``0 .. H-1`` of (b, cg) (one transfer,
      issued first: the pool unit streams it out as it computes); then for each dy row
      ``oy``: read x rows ``2*oy, 2*oy+1`` of (b, cg) (``aux_addr``), read dy row
      ``oy`` of (b, cg) (``in_addr``).

    The order among reads and among writes is exact; the hardware overlaps reads with
    writes, so their relative order is only the program order. The descriptor fetch is
    not included (see :func:`chain_transfers`). Raises ValueError naming the ErrorCode
    for a descriptor :func:`eftrain.descriptor.validate` rejects."""
    from eftrain.descriptor import ErrorCode, Flag, Opcode, as_descriptor, validate
    from eftrain.engine import Mode, Op
    from eftrain.schedule import _Geometry, conv_program

    d = as_descriptor(desc)
    code = validate(d, cfg, addr_width)
    if code != ErrorCode.NONE:
        raise ValueError(f"transfers: the descriptor is invalid ({code.name}): {d}")
    g = cfg.tn
    k, s, pad = d.k, d.stride, d.pad
    ho, wo = d.out_hw
    x_shape, y_shape, w_shape = (d.batch, d.n, d.h, d.w), (d.batch, d.m, ho, wo), (d.m, d.n, k, k)
    n_tiles, m_tiles = _ceil_div(d.n, g), _ceil_div(d.m, g)
    out: list[Transfer] = []

    def act(kind, name, base, shape, b, cg, r0, r1):
        offset, nbytes = act_tile_range(shape, g, b, cg, r0, r1 - r0)
        out.append(Transfer(kind, name, base + offset, nbytes))

    def block(kind, name, mt, nt):
        offset, nbytes = weight_block_range(w_shape, g, mt, nt)
        base = d.out_addr if kind == "write" else d.wgt_addr
        out.append(Transfer(kind, name, base + offset, nbytes))

    def has(flag: Flag) -> bool:
        return bool(d.flags >> flag & 1)

    op = Opcode(d.opcode)
    if op in (Opcode.POOL_FP, Opcode.POOL_BP):
        pooled_shape = (d.batch, d.n, ho, wo)
        for b in range(d.batch):
            for cg in range(n_tiles):
                if op == Opcode.POOL_FP:
                    act("read", "x", d.in_addr, x_shape, b, cg, 0, 2 * ho)
                    act("write", "y", d.out_addr, pooled_shape, b, cg, 0, ho)
                    continue
                act("write", "dx", d.out_addr, x_shape, b, cg, 0, d.h)
                for oy in range(ho):
                    act("read", "x", d.aux_addr, x_shape, b, cg, 2 * oy, 2 * oy + 2)
                    act("read", "dy", d.in_addr, pooled_shape, b, cg, oy, oy + 1)
    else:
        # The loop order of eftrain.schedule.conv_program, transfer by transfer.
        mode = {Opcode.CONV_FP: Mode.FP, Opcode.CONV_BP: Mode.BP, Opcode.CONV_WU: Mode.WU}[op]
        if mode == Mode.BP:
            geo = _Geometry(Mode.BP, k, s, pad, (ho, wo), (d.h, d.w))
            outer, inner, tiles = n_tiles, m_tiles, geo.tiles(min(d.tile_rows, d.h))
        else:
            geo = _Geometry(mode, k, s, pad, (d.h, d.w), (ho, wo))
            outer, inner, tiles = m_tiles, n_tiles, geo.tiles(min(d.tile_rows, ho))
        # rtl/layer_ctrl.sv does not group WU's channel tiles yet: one block per COMPUTE.
        for st in conv_program(mode, outer, inner, d.batch, tiles, k * k, cfg.wb_depth):
            mt, nt = (st.it, st.ot) if mode == Mode.BP else (st.ot, st.it)
            if st.op == Op.LOAD_W:
                block("read", "w", mt, nt)
            elif st.op == Op.LOAD_OUT and mode == Mode.WU:
                act("read", "dy", d.aux_addr, y_shape, st.b, st.ot, st.r0, st.r1)
            elif st.op == Op.LOAD_IN:
                # One read per channel tile of the group (a WU COMPUTE's blocks).
                lo, hi = geo.ib_rows(st.r0, st.r1)
                for it in range(st.it, st.it + st.blocks):
                    if mode == Mode.BP:
                        act("read", "dy", d.in_addr, y_shape, st.b, it, lo, hi)
                    else:
                        act("read", "x", d.in_addr, x_shape, st.b, it, lo, hi)
            elif st.op == Op.STORE_OUT:
                if mode == Mode.FP:
                    act("write", "y", d.out_addr, y_shape, st.b, st.ot, st.r0, st.r1)
                else:
                    if has(Flag.RELU_MASK):
                        act("read", "a", d.aux_addr, x_shape, st.b, st.ot, st.r0, st.r1)
                    act("write", "dx", d.out_addr, x_shape, st.b, st.ot, st.r0, st.r1)
            elif st.op == Op.STORE_W:
                if has(Flag.SGD):
                    block("read", "w", mt, nt)
                    block("write", "w_new", mt, nt)
                else:
                    block("write", "dw", mt, nt)
    return out


def chain_transfers(descriptors: Sequence, addresses: Sequence[int], cfg: HwConfig,
                    addr_width: int = 40) -> list[Transfer]:
    """The DRAM transfers of a chain: for descriptor i, the fetch (a 64-byte read of
    tensor ``desc`` at ``addresses[i]``) then :func:`transfers` of it. ``addresses[0]``
    is CHAIN; descriptor i's ``next`` must be ``addresses[i+1]``, and the last one's 0
    (ValueError otherwise). Like the hardware, the list stops before a fetch at an
    address :func:`eftrain.descriptor.descriptor_address_ok` rejects, and right after
    the fetch of a descriptor :func:`eftrain.descriptor.validate` rejects."""
    from eftrain.descriptor import (
        DESC_BYTES, ErrorCode, as_descriptor, descriptor_address_ok, validate,
    )

    if len(descriptors) != len(addresses):
        raise ValueError(f"chain_transfers: {len(descriptors)} descriptors, "
                         f"{len(addresses)} addresses")
    out: list[Transfer] = []
    for i, (desc, addr) in enumerate(zip(descriptors, addresses, strict=True)):
        if not descriptor_address_ok(addr):
            break
        out.append(Transfer("read", "desc", addr, DESC_BYTES))
        d = as_descriptor(desc)
        if validate(d, cfg, addr_width) != ErrorCode.NONE:
            break
        out += transfers(d, cfg, addr_width)
        expected = addresses[i + 1] if i + 1 < len(addresses) else 0
        if d.next != expected:
            raise ValueError(
                f"chain_transfers: descriptor {i} has next={d.next:#x}, expected {expected:#x}"
            )
    return out


def bursts_of(transfers: Iterable[Transfer], beat_bytes: int = 16,
              max_beats: int = 256) -> list[Burst]:
    """The AXI bursts of ``transfers`` in order (each cut by :func:`axi_bursts`)."""
    return [
        Burst(t.kind, addr, beats)
        for t in transfers
        for addr, beats in axi_bursts(t.addr, t.nbytes, beat_bytes, max_beats)
    ]

"""The signals of a waveform dump (FST or VCD): hierarchical names and widths, read from
the dump's header only (no value changes), with the standard library alone.

Used by :mod:`eftrain.gtkwave` to build a save file out of the signals a dump really
holds, and by its test. FST is the format of Verilator's ``--trace-fst`` (the format
gtkwave and Surfer read fastest); VCD is the fallback when the FST libraries are absent.

FST layout (gtkwave's ``fstapi.c``, the reference implementation): a sequence of
blocks, each one type byte and a big-endian 64-bit length that counts itself, then the
payload. The hierarchy block holds the scopes and variables as a byte stream; Verilator
writes it LZ4-compressed (block type ``HIER_LZ4``, or ``HIER_LZ4DUO`` = compressed
twice), gtkwave's own tools gzip it (``HIER``). LZ4 is decoded here (the block format is
small); gzip by :mod:`zlib`.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import NamedTuple

__all__ = ["Signal", "read_signals", "read_fst_signals", "read_vcd_signals", "lz4_block_decompress"]


class Signal(NamedTuple):
    """One variable of a dump: its dotted path from the root scope (``eftrain_top.irq``;
    struct members and array elements as the dumper named them), its width in bits and the
    bit range the dumper declared (``[39:0]``, or ``""`` for a scalar)."""

    path: str
    width: int
    range: str = ""


def read_signals(dump: str | Path) -> dict[str, Signal]:
    """The signals of ``dump`` (``.fst`` or ``.vcd``), by path. ValueError for a file that is
    neither, or that is malformed."""
    dump = Path(dump)
    head = dump.open("rb").read(1)
    if dump.suffix == ".vcd" or head == b"$":
        return read_vcd_signals(dump)
    if dump.suffix == ".fst":
        return read_fst_signals(dump)
    raise ValueError(f"{dump}: not an .fst or .vcd waveform dump")


# --------------------------------------------------------------------------------------
# VCD
# --------------------------------------------------------------------------------------


def read_vcd_signals(dump: str | Path) -> dict[str, Signal]:
    """The ``$var`` declarations of a VCD file's header, up to ``$enddefinitions``."""
    signals: dict[str, Signal] = {}
    scopes: list[str] = []
    tokens: list[str] = []
    with Path(dump).open("r", errors="replace") as f:
        for line in f:
            tokens += line.split()
            while "$end" in tokens:
                end = tokens.index("$end")
                decl, tokens = tokens[:end], tokens[end + 1:]
                if not decl:
                    continue
                kind = decl[0]
                if kind == "$scope":
                    scopes.append(decl[2])
                elif kind == "$upscope":
                    scopes.pop()
                elif kind == "$var":
                    # $var <type> <width> <id> <name> [<range>] $end
                    name, bits = _split_range(decl[4] + "".join(decl[5:]))
                    path = ".".join([*scopes, name])
                    signals[path] = Signal(path, int(decl[2]), bits)
                elif kind == "$enddefinitions":
                    return signals
    raise ValueError(f"{dump}: no $enddefinitions: not a complete VCD header")


def _split_range(name: str) -> tuple[str, str]:
    """``data [31:0]`` / ``data[31:0]`` -> (``data``, ``[31:0]``); an array index
    (``mem[3]``) is part of the name."""
    if name.endswith("]") and ":" in name[name.rfind("["):]:
        cut = name.rfind("[")
        return name[:cut].rstrip(), name[cut:].replace(" ", "")
    return name, ""


# --------------------------------------------------------------------------------------
# FST
# --------------------------------------------------------------------------------------

_FST_BL_HIER = 4
_FST_BL_HIER_LZ4 = 6
_FST_BL_HIER_LZ4DUO = 7
_FST_BL_SKIP = 255

_FST_ST_VCD_SCOPE = 254
_FST_ST_VCD_UPSCOPE = 255
_FST_ST_GEN_ATTRBEGIN = 252
_FST_ST_GEN_ATTREND = 253
_FST_VT_VCD_PORT = 10  # its length field is 3 * width + 2


def read_fst_signals(dump: str | Path) -> dict[str, Signal]:
    """The variables of an FST file's hierarchy block."""
    data = Path(dump).read_bytes()
    pos = 0
    while pos + 9 <= len(data):
        kind = data[pos]
        (length,) = struct.unpack_from(">Q", data, pos + 1)
        if length < 8 or pos + 1 + length > len(data):
            if kind == _FST_BL_SKIP:
                break
            raise ValueError(f"{dump}: FST block at byte {pos} has a bad length {length}")
        payload = data[pos + 9: pos + 1 + length]
        if kind in (_FST_BL_HIER, _FST_BL_HIER_LZ4, _FST_BL_HIER_LZ4DUO):
            return _parse_fst_hierarchy(_fst_hierarchy_bytes(kind, payload), dump)
        pos += 1 + length
    raise ValueError(f"{dump}: no hierarchy block: not a complete FST file")


def _fst_hierarchy_bytes(kind: int, payload: bytes) -> bytes:
    (size,) = struct.unpack_from(">Q", payload, 0)
    body = payload[8:]
    if kind == _FST_BL_HIER:
        out = zlib.decompress(body, wbits=47)  # gzip or zlib header, whichever it is
    elif kind == _FST_BL_HIER_LZ4:
        out = lz4_block_decompress(body, size)
    else:
        once, used = _varint(body, 0)
        out = lz4_block_decompress(lz4_block_decompress(body[used:], once), size)
    if len(out) != size:
        raise ValueError(f"FST hierarchy: {len(out)} bytes decoded, header says {size}")
    return out


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    """An LEB128 unsigned integer at ``pos``: (value, position after it)."""
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def _cstring(data: bytes, pos: int) -> tuple[str, int]:
    end = data.index(0, pos)
    return data[pos:end].decode("latin-1"), end + 1


def _parse_fst_hierarchy(h: bytes, dump) -> dict[str, Signal]:
    signals: dict[str, Signal] = {}
    scopes: list[str] = []
    pos = 0
    while pos < len(h):
        tag = h[pos]
        pos += 1
        if tag == _FST_ST_VCD_SCOPE:
            pos += 1  # scope type
            name, pos = _cstring(h, pos)
            _, pos = _cstring(h, pos)  # component (module) name
            scopes.append(name)
        elif tag == _FST_ST_VCD_UPSCOPE:
            scopes.pop()
        elif tag == _FST_ST_GEN_ATTRBEGIN:
            pos += 2  # attribute type, subtype
            _, pos = _cstring(h, pos)
            _, pos = _varint(h, pos)
        elif tag == _FST_ST_GEN_ATTREND:
            pass
        elif tag < _FST_ST_GEN_ATTRBEGIN:
            pos += 1  # direction
            name, pos = _cstring(h, pos)
            width, pos = _varint(h, pos)
            _, pos = _varint(h, pos)  # alias of an earlier handle, or 0
            if tag == _FST_VT_VCD_PORT:
                width = (width - 2) // 3
            name, bits = _split_range(name)
            path = ".".join([*scopes, name])
            signals[path] = Signal(path, width, bits)
        else:
            raise ValueError(f"{dump}: unknown FST hierarchy tag {tag} at byte {pos - 1}")
    return signals


def lz4_block_decompress(src: bytes, size: int) -> bytes:
    """Decode one LZ4 block (the raw block format, no frame) of ``size`` bytes."""
    out = bytearray()
    pos = 0
    while pos < len(src):
        token = src[pos]
        pos += 1
        literals = token >> 4
        if literals == 15:
            while True:
                extra = src[pos]
                pos += 1
                literals += extra
                if extra != 255:
                    break
        out += src[pos: pos + literals]
        pos += literals
        if pos >= len(src):
            break  # the last sequence has literals only
        offset = src[pos] | src[pos + 1] << 8
        pos += 2
        if offset == 0 or offset > len(out):
            raise ValueError(f"LZ4: bad match offset {offset} at output byte {len(out)}")
        match = (token & 0x0F) + 4
        if token & 0x0F == 15:
            while True:
                extra = src[pos]
                pos += 1
                match += extra
                if extra != 255:
                    break
        start = len(out) - offset
        if match <= offset:
            out += out[start: start + match]
        else:  # overlapping copy: the match repeats the last `offset` bytes
            for i in range(match):
                out.append(out[start + i])
    if len(out) != size:
        raise ValueError(f"LZ4: {len(out)} bytes decoded, expected {size}")
    return bytes(out)

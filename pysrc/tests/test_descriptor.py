"""The descriptor format, its validation, the CSR map and the generated SystemVerilog
package (eftrain.descriptor)."""

from __future__ import annotations

import dataclasses
import itertools
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from eftrain import HwConfig, descriptor
from eftrain.descriptor import (
    COUNTERS, CSR_REGISTERS, DESC_BYTES, DESC_FIELDS, ID_VALUE, MAGIC, POOL_MAX_WO, VERSION,
    Descriptor, ErrorCode, Flag, Opcode, counter_offsets, decode_status, descriptor_address_ok,
    encode_status, flags_allowed, largest_tile_rows, out_hw, ro_values, tile_fits, tile_misfit,
    validate,
)
from eftrain.engine import Mode
from eftrain.layout import act_bytes, weights_bytes
from eftrain.schedule import _Geometry

CFG = HwConfig(tm=8, tn=8, kmax=5, ib_depth=2048, ob_depth=2048, wb_depth=1024)


def replace(d: Descriptor, **changes) -> Descriptor:
    return dataclasses.replace(d, **changes)


POOLS = (Opcode.POOL_FP, Opcode.POOL_BP)
CONVS = (Opcode.CONV_FP, Opcode.CONV_BP, Opcode.CONV_WU)

#: The flags each opcode takes (the descriptor extension's spec, written out by hand).
TAKES = {
    Opcode.CONV_FP: {Flag.RELU},
    Opcode.CONV_BP: {Flag.RELU_MASK},
    Opcode.CONV_WU: {Flag.SGD},
    Opcode.POOL_FP: set(),
    Opcode.POOL_BP: {Flag.RELU_MASK},
}


def flag_sets(op: Opcode) -> list[int]:
    """Every combination of the flags ``op`` takes, as flag words (0 first)."""
    taken = sorted(TAKES[op])
    return [sum(1 << f for f in combo)
            for r in range(len(taken) + 1) for combo in itertools.combinations(taken, r)]


# --------------------------------------------------------------------------------------
# (a) Format.
# --------------------------------------------------------------------------------------


def test_constants_and_enums():
    assert (MAGIC, VERSION, DESC_BYTES, descriptor.DESC_WORDS) == (0xEF7A, 1, 64, 16)
    assert [(o.name, o.value) for o in Opcode] == [
        ("CONV_FP", 1), ("CONV_BP", 2), ("CONV_WU", 3), ("POOL_FP", 4), ("POOL_BP", 5),
    ]
    assert [e.name for e in ErrorCode] == [
        "NONE", "BAD_MAGIC", "BAD_VERSION", "BAD_OPCODE", "BAD_FLAGS", "BAD_KERNEL",
        "BAD_STRIDE", "BAD_PAD", "BAD_DIMENSION", "TILE_TOO_LARGE", "UNALIGNED_ADDRESS",
        "ADDRESS_RANGE", "AXI_READ_ERROR", "AXI_WRITE_ERROR", "ABORTED",
    ]
    assert [e.value for e in ErrorCode] == list(range(15))
    assert ErrorCode(4) is ErrorCode.BAD_FLAGS and ErrorCode(9) is ErrorCode.TILE_TOO_LARGE
    assert ErrorCode.AXI_READ_ERROR == 12 and ErrorCode.ABORTED == 14
    docs = [e.__doc__ for e in ErrorCode]
    assert all(docs) and len(set(docs)) == len(docs)
    assert POOL_MAX_WO == 512


def test_flags():
    assert [(f.name, f.value) for f in Flag] == [("RELU", 0), ("RELU_MASK", 1), ("SGD", 2)]
    assert all(f.__doc__ for f in Flag) and len({f.__doc__ for f in Flag}) == len(Flag)
    assert {op: flags_allowed(op) for op in Opcode} == {
        Opcode.CONV_FP: 0b001, Opcode.CONV_BP: 0b010, Opcode.CONV_WU: 0b100,
        Opcode.POOL_FP: 0b000, Opcode.POOL_BP: 0b010,
    }
    for op in Opcode:  # a plain int opcode (as unpacked from an unknown image) works too
        assert flags_allowed(int(op)) == sum(1 << f for f in TAKES[op])
        assert {f for f in Flag if op in f.opcodes} == TAKES[op]
    for unknown in (0, 6, 255):
        assert flags_allowed(unknown) == 0
    # the flags field is word 1 bits 15:0: bit f of the word is Flag f
    for f in Flag:
        assert Descriptor(flags=1 << f).words()[1] == 1 << f.value


def test_field_table_matches_the_spec():
    spec = [  # docs/architecture.md, the descriptor table
        ("magic", 0, 0, 16), ("version", 0, 16, 8), ("opcode", 0, 24, 8),
        ("flags", 1, 0, 16), ("k", 1, 16, 4), ("stride", 1, 20, 4), ("pad", 1, 24, 4),
        ("reserved1", 1, 28, 4),
        ("batch", 2, 0, 16), ("tile_rows", 2, 16, 16), ("n", 3, 0, 16), ("m", 3, 16, 16),
        ("h", 4, 0, 16), ("w", 4, 16, 16), ("lr", 5, 0, 32),
        ("in_addr", 6, 0, 64), ("wgt_addr", 8, 0, 64), ("out_addr", 10, 0, 64),
        ("aux_addr", 12, 0, 64), ("next", 14, 0, 64),
    ]
    assert [(f.name, f.word, f.lsb, f.width) for f in DESC_FIELDS] == spec
    # the fields tile the 512 bits exactly, in order
    at = 0
    for f in DESC_FIELDS:
        assert f.bit == at and f.doc
        at += f.width
    assert at == 8 * DESC_BYTES


def test_pack_by_hand():
    d = Descriptor(opcode=Opcode.CONV_BP, k=3, stride=2, pad=1, batch=4, tile_rows=6, n=16,
                   m=32, h=28, w=30, lr=0.5, in_addr=0x12_3456_7840, wgt_addr=0x40,
                   out_addr=0xAB_0000_0000, next=0x1_0000_0040)
    words = [0x0201EF7A, 0x01230000, 0x00060004, 0x00200010, 0x001E001C, 0x3F000000,
             0x34567840, 0x12, 0x40, 0, 0, 0xAB, 0, 0, 0x40, 1]
    image = struct.pack("<16I", *words)
    assert d.pack() == image
    assert image[:4] == b"\x7a\xef\x01\x02"
    assert d.words() == tuple(words)
    assert d.to_int() == int.from_bytes(image, "little")
    back = Descriptor.unpack(image)
    assert back == d and back.opcode is Opcode.CONV_BP
    assert Descriptor.unpack(bytearray(image)) == d
    assert Descriptor(flags=0xFFFF).words()[1] == 0xFFFF
    assert Descriptor(magic=0, version=0).pack() == bytes(64)


def test_pack_round_trip(rng):
    settable = [f for f in DESC_FIELDS if f.name not in ("reserved1", "lr")]
    for _ in range(300):
        values = {f.name: int.from_bytes(rng.bytes(8), "little") >> (64 - f.width)
                  for f in settable}
        lr_bits = int(rng.integers(0, 1 << 32))
        if (lr_bits >> 23) & 0xFF == 0xFF:
            lr_bits &= ~(1 << 30)  # no NaN/inf: lr is a Python float
        lr = float(np.array(lr_bits, np.uint32).view(np.float32))
        d = Descriptor(lr=lr, **values)
        image = d.pack()
        assert len(image) == DESC_BYTES
        back = Descriptor.unpack(image)
        assert back == d and back.lr_bits == lr_bits
        assert back.pack() == image
        word = int.from_bytes(image, "little")
        for f in DESC_FIELDS:
            field = (word >> f.bit) & ((1 << f.width) - 1)
            expected = {"reserved1": 0, "lr": lr_bits}.get(f.name, values.get(f.name))
            assert field == expected, f.name
    # random images: everything but the reserved bits survives (lr not NaN)
    for _ in range(100):
        raw = bytearray(rng.integers(0, 256, DESC_BYTES, dtype=np.uint8).tobytes())
        raw[23] &= 0xBF  # bit 30 clear: lr is not a NaN (its payload would not survive)
        back = Descriptor.unpack(bytes(raw)).pack()
        raw[7] &= 0x0F  # word 1 bits 31:28 reserved
        assert back == bytes(raw)


@pytest.mark.parametrize("name, value", [
    ("k", 16), ("stride", -1), ("batch", 1 << 16), ("opcode", 256), ("next", 1 << 64),
    ("magic", 1 << 16), ("in_addr", 1.0),
])
def test_pack_errors(name, value):
    with pytest.raises(ValueError, match=rf"Descriptor\.{name}"):
        Descriptor(**{name: value}).pack()


def test_unpack_and_coercion_errors():
    with pytest.raises(ValueError, match="63 bytes"):
        Descriptor.unpack(bytes(63))
    with pytest.raises(TypeError):
        validate(42, CFG)
    assert Descriptor.unpack(Descriptor(opcode=9).pack()).opcode == 9


# --------------------------------------------------------------------------------------
# (b) Validation.
# --------------------------------------------------------------------------------------

BASE = {
    op: Descriptor(opcode=op, k=3, stride=1, pad=1, batch=2, tile_rows=8, n=16, m=24, h=32,
                   w=32, lr=0.01, in_addr=0x1000_0000, wgt_addr=0x2000_0000,
                   out_addr=0x3000_0000, aux_addr=0x4000_0000)
    for op in Opcode
}

# A valid pool: 2x2 stride 2, no padding, m = n; tile_rows is unused (0 is fine).
BASE.update({
    op: replace(BASE[Opcode.CONV_FP], opcode=op, k=2, stride=2, pad=0, m=16, tile_rows=0)
    for op in POOLS
})


def mutations(op: Opcode) -> list[tuple[ErrorCode, dict]]:
    """One mutation per rule, in the hardware's order; each touches only its rule's field
    (a pool's tile rule is its output row: W // 2 > POOL_MAX_WO)."""
    tile = {"w": 2 * POOL_MAX_WO + 2} if op in POOLS else {"tile_rows": 0}
    return [
        (ErrorCode.BAD_MAGIC, {"magic": 0xEF7B}),
        (ErrorCode.BAD_VERSION, {"version": 2}),
        (ErrorCode.BAD_OPCODE, {"opcode": 6}),
        (ErrorCode.BAD_FLAGS, {"flags": 1 << 15}),
        (ErrorCode.BAD_KERNEL, {"k": 0}),
        (ErrorCode.BAD_STRIDE, {"stride": 3}),
        (ErrorCode.BAD_PAD, {"pad": 3}),
        (ErrorCode.BAD_DIMENSION, {"batch": 0}),
        (ErrorCode.TILE_TOO_LARGE, tile),
        (ErrorCode.UNALIGNED_ADDRESS, {"in_addr": 0x1000_0020}),
        (ErrorCode.ADDRESS_RANGE, {"out_addr": (1 << 40) - 64}),
    ]


@pytest.mark.parametrize("op, flags", [(op, f) for op in Opcode for f in flag_sets(op)],
                         ids=lambda v: v.name if isinstance(v, Opcode) else f"flags{v}")
def test_validate_every_rule_and_order(rng, op, flags):
    base = replace(BASE[op], flags=flags)
    rules = mutations(op)
    assert [code for code, _ in rules] == [e for e in ErrorCode if 1 <= e <= 11]
    assert validate(base, CFG) is ErrorCode.NONE
    assert validate(base.pack(), CFG) is ErrorCode.NONE
    assert validate(dataclasses.asdict(base), CFG) is ErrorCode.NONE
    for code, change in rules:
        assert validate(replace(base, **change), CFG) is code, change
        assert validate(replace(base, **change).pack(), CFG) is code, change
    # two failing rules: the first reports
    for (c1, m1), (_, m2) in itertools.combinations(rules, 2):
        assert validate(replace(base, **m1, **m2), CFG) is c1, (m1, m2)
    for _ in range(100):
        chosen = [i for i in range(len(rules)) if rng.random() < 0.3] or [10]
        change = {k: v for i in chosen for k, v in rules[i][1].items()}
        assert validate(replace(base, **change), CFG) is rules[chosen[0]][0]


def test_validate_flags(rng):
    """BAD_FLAGS for every opcode x flag bit the opcode does not take (the 3 flags and
    the 13 unknown bits), alone and mixed with allowed ones; after BAD_OPCODE, before
    BAD_KERNEL."""
    for op in Opcode:
        base = BASE[op]
        allowed = sum(1 << f for f in TAKES[op])
        for bit in range(16):
            word = 1 << bit
            expect = ErrorCode.NONE if word & allowed else ErrorCode.BAD_FLAGS
            assert validate(replace(base, flags=word), CFG) is expect, (op.name, bit)
            assert validate(replace(base, flags=word | allowed), CFG) is expect, (op.name, bit)
            # the flags are checked before the geometry, after the opcode
            assert validate(replace(base, flags=word, k=0), CFG) is (
                ErrorCode.BAD_KERNEL if expect is ErrorCode.NONE else ErrorCode.BAD_FLAGS)
        assert validate(replace(base, flags=0xFFFF), CFG) is ErrorCode.BAD_FLAGS
        for _ in range(50):
            word = int(rng.integers(0, 1 << 16))
            expect = ErrorCode.BAD_FLAGS if word & ~allowed & 0xFFFF else ErrorCode.NONE
            assert validate(replace(base, flags=word), CFG) is expect, (op.name, hex(word))
    assert validate(replace(BASE[Opcode.CONV_FP], opcode=6, flags=0xFFFF), CFG) \
        is ErrorCode.BAD_OPCODE
    # by hand: the cases the top-level test runs on the RTL
    cases = [
        (Opcode.CONV_BP, Flag.RELU), (Opcode.CONV_FP, Flag.SGD), (Opcode.POOL_FP, Flag.RELU_MASK),
        (Opcode.CONV_FP, Flag.RELU_MASK), (Opcode.CONV_WU, Flag.RELU), (Opcode.POOL_BP, Flag.SGD),
    ]
    for op, flag in cases:
        assert validate(replace(BASE[op], flags=1 << flag), CFG) is ErrorCode.BAD_FLAGS


def test_validate_pool():
    N, T = ErrorCode.NONE, ErrorCode.TILE_TOO_LARGE
    for op in POOLS:
        d = BASE[op]
        cases = [
            ({"k": 1}, ErrorCode.BAD_KERNEL), ({"k": 3}, ErrorCode.BAD_KERNEL),
            ({"k": 0}, ErrorCode.BAD_KERNEL), ({"k": 15}, ErrorCode.BAD_KERNEL),
            ({"stride": 1}, ErrorCode.BAD_STRIDE), ({"stride": 0}, ErrorCode.BAD_STRIDE),
            ({"stride": 3}, ErrorCode.BAD_STRIDE),
            ({"pad": 1}, ErrorCode.BAD_PAD), ({"pad": 15}, ErrorCode.BAD_PAD),
            ({"m": 17}, ErrorCode.BAD_DIMENSION), ({"m": 15}, ErrorCode.BAD_DIMENSION),
            ({"m": 0, "n": 0}, ErrorCode.BAD_DIMENSION), ({"n": 4096, "m": 4096},
                                                          ErrorCode.BAD_DIMENSION),
            ({"h": 1}, ErrorCode.BAD_DIMENSION), ({"w": 1}, ErrorCode.BAD_DIMENSION),
            ({"h": 2, "w": 2}, N), ({"h": 3, "w": 5}, N), ({"n": 1, "m": 1}, N),
            # tile_rows is unused; only the output row is bounded: Wo = W // 2 <= 512
            ({"tile_rows": 0}, N), ({"tile_rows": 65535}, N),
            ({"w": 2 * POOL_MAX_WO}, N), ({"w": 2 * POOL_MAX_WO + 1}, N),
            ({"w": 2 * POOL_MAX_WO + 2}, T), ({"w": 4095}, T),
            ({"h": 4095}, N), ({"batch": 4095}, N),
            # no weights: WB does not bound a pool's channels
            ({"n": 4000, "m": 4000}, N),
        ]
        for change, code in cases:
            assert validate(replace(d, **change), CFG) is code, (op.name, change)
        # the engine's buffers do not bound a pool
        tiny = HwConfig(ib_depth=1, ob_depth=1, wb_depth=1)
        assert validate(replace(d, w=2 * POOL_MAX_WO, h=300, n=900, m=900), tiny) is N
        geo = (op, 2, 2, 0, 16, 16, 9, 2 * POOL_MAX_WO + 2)
        assert tile_misfit(*geo, 0, CFG) == "pool: output row of 513 pixels > POOL_MAX_WO 512"
        assert largest_tile_rows(*geo, CFG) == 0
        assert tile_misfit(*geo[:-1], 2 * POOL_MAX_WO, 0, tiny) is None
        assert largest_tile_rows(*geo[:-1], 2 * POOL_MAX_WO, tiny) == 1
        for bad in ((op, 3, 2, 0, 16, 16, 9, 9), (op, 2, 1, 0, 16, 16, 9, 9),
                    (op, 2, 2, 1, 16, 16, 9, 9), (op, 2, 2, 0, 16, 8, 9, 9)):
            with pytest.raises(ValueError, match="pool geometry"):
                tile_misfit(*bad, 1, CFG)
        with pytest.raises(ValueError, match="no output pixel"):
            tile_misfit(op, 2, 2, 0, 16, 16, 1, 9, 1, CFG)
    # a 2x2 stride-2 conv is still a conv: its tile rule applies, m != n is fine
    conv = replace(BASE[Opcode.CONV_FP], k=2, stride=2, pad=0)
    assert validate(conv, CFG) is N
    assert validate(replace(conv, tile_rows=0), CFG) is T


def test_validate_header_kernel_stride_pad():
    d = BASE[Opcode.CONV_FP]
    cases = [
        ({"magic": 0}, ErrorCode.BAD_MAGIC), ({"magic": 0x7AEF}, ErrorCode.BAD_MAGIC),
        ({"version": 0}, ErrorCode.BAD_VERSION), ({"version": 255}, ErrorCode.BAD_VERSION),
        ({"opcode": 0}, ErrorCode.BAD_OPCODE), ({"opcode": 6}, ErrorCode.BAD_OPCODE),
        ({"opcode": 255}, ErrorCode.BAD_OPCODE),
        ({"k": 6}, ErrorCode.BAD_KERNEL), ({"k": 15}, ErrorCode.BAD_KERNEL),
        ({"k": 5, "pad": 4}, ErrorCode.NONE), ({"k": 1, "pad": 0}, ErrorCode.NONE),
        ({"stride": 0}, ErrorCode.BAD_STRIDE), ({"stride": 15}, ErrorCode.BAD_STRIDE),
        ({"stride": 2}, ErrorCode.NONE),
        ({"pad": 4}, ErrorCode.BAD_PAD), ({"pad": 15}, ErrorCode.BAD_PAD),
        ({"k": 1, "pad": 1}, ErrorCode.BAD_PAD),
        # lr, next and the reserved bits are not checked (flags are: test_validate_flags)
        ({"lr": float("nan"), "next": 0x12345}, ErrorCode.NONE),
        ({"flags": 1 << Flag.RELU, "lr": float("inf")}, ErrorCode.NONE),
    ]
    for change, code in cases:
        assert validate(replace(d, **change), CFG) is code, change
    assert validate(replace(d, k=6), HwConfig(kmax=7)) is ErrorCode.NONE
    image = bytearray(d.pack())
    image[7] |= 0xF0
    assert validate(bytes(image), CFG) is ErrorCode.NONE


def test_validate_dimensions():
    d = BASE[Opcode.CONV_FP]
    for name in ("batch", "n", "m", "h", "w"):
        for value in (0, 4096, 65535):
            assert validate(replace(d, **{name: value}), CFG) is ErrorCode.BAD_DIMENSION, name
    # no output pixel: h + 2*pad < k
    assert validate(replace(d, h=1, pad=0), CFG) is ErrorCode.BAD_DIMENSION
    assert validate(replace(d, w=2, k=5, pad=1), CFG) is ErrorCode.BAD_DIMENSION
    assert validate(replace(d, w=3, k=5, pad=1), CFG) is ErrorCode.NONE  # 1 output column
    assert validate(replace(d, h=1, pad=1), CFG) is ErrorCode.NONE
    # 4095 is allowed (on a configuration whose buffers hold it)
    big = HwConfig(ib_depth=65535, ob_depth=65535, wb_depth=1 << 12)
    edge = Descriptor(opcode=Opcode.CONV_FP, k=1, stride=1, pad=0, batch=4095, tile_rows=1,
                      n=4095, m=4095, h=4095, w=4095, out_addr=1 << 38)
    assert validate(edge, big, addr_width=64) is ErrorCode.NONE
    assert validate(edge, big) is ErrorCode.ADDRESS_RANGE  # x alone is about 2**50 bytes
    # an output over 4095 columns does not fit the engine's 12-bit geometry fields
    wide = replace(edge, w=4095, k=5, pad=4, n=1, m=1, batch=1, h=1)
    assert wide.out_hw[1] == 4099
    assert validate(wide, big, addr_width=64) is ErrorCode.BAD_DIMENSION


def test_validate_tile_fit():
    fp, bp, wu = BASE[Opcode.CONV_FP], BASE[Opcode.CONV_BP], BASE[Opcode.CONV_WU]
    T = ErrorCode.TILE_TOO_LARGE
    # OB: 64 rows x 32 = 2048 fits, 65 rows do not (out_h = 32 caps R unless h grows)
    cfg = HwConfig(ib_depth=65535, ob_depth=2048)
    assert validate(replace(fp, h=100, tile_rows=64), cfg) is ErrorCode.NONE
    assert validate(replace(fp, h=100, tile_rows=65), cfg) is T
    assert validate(replace(fp, tile_rows=65), cfg) is ErrorCode.NONE  # R = 32
    # IB: FP x rows (R-1)*s + K: R = 62 -> 64 rows x 32 = 2048; 63 -> 65 rows
    cfg = HwConfig(ib_depth=2048, ob_depth=4096)
    assert validate(replace(fp, h=100, tile_rows=62), cfg) is ErrorCode.NONE
    assert validate(replace(fp, h=100, tile_rows=63), cfg) is T
    # stride 2: x rows 2*(R-1) + 3 <= 64 -> R = 31
    assert validate(replace(fp, h=200, stride=2, tile_rows=31), cfg) is ErrorCode.NONE
    assert validate(replace(fp, h=200, stride=2, tile_rows=32), cfg) is T
    # BP: dy rows ceil((R + K - 1)/s) x Wo: s = 2, Wo = 16: 128 rows -> R = 254
    bp2 = replace(bp, h=600, w=32, stride=2, tile_rows=254)
    assert validate(bp2, HwConfig(ib_depth=2048, ob_depth=65535)) is ErrorCode.NONE
    assert validate(replace(bp2, tile_rows=256), HwConfig(ib_depth=2048, ob_depth=65535)) is T
    # WB: FP and WU count ceil(N/TN) blocks, BP ceil(M/TN): 114 x 9 = 1026 > 1024
    for d, big, small in ((fp, "n", "m"), (wu, "n", "m"), (bp, "m", "n")):
        assert validate(replace(d, **{big: 905}), CFG) is T
        assert validate(replace(d, **{big: 904}), CFG) is ErrorCode.NONE  # 113 blocks
        assert validate(replace(d, **{small: 905}), CFG) is ErrorCode.NONE
    # stride-2 BP: R odd only if it covers dx
    bps = replace(bp, stride=2, h=31)
    assert validate(replace(bps, tile_rows=3), CFG) is T
    assert validate(replace(bps, tile_rows=4), CFG) is ErrorCode.NONE
    assert validate(replace(bps, tile_rows=31), CFG) is ErrorCode.NONE
    assert validate(replace(bps, tile_rows=1000), CFG) is ErrorCode.NONE
    assert validate(replace(fp, stride=2, tile_rows=3), CFG) is ErrorCode.NONE  # FP: any R
    assert validate(replace(fp, tile_rows=0), CFG) is T
    assert tile_misfit(Opcode.CONV_BP, 3, 2, 1, 16, 24, 31, 32, 3, CFG).startswith("stride-2")
    assert tile_misfit(Opcode.CONV_FP, 3, 1, 1, 16, 24, 32, 32, 0, CFG) == "tile_rows is 0"
    with pytest.raises(ValueError):
        tile_misfit(Opcode.CONV_FP, 3, 1, 3, 16, 24, 32, 32, 8, CFG)


# The address fields each opcode (and flag) uses: the spec's address roles, by hand.
USED_FIELDS = [
    (Opcode.CONV_FP, 0, ("in_addr", "wgt_addr", "out_addr")),
    (Opcode.CONV_FP, 1 << Flag.RELU, ("in_addr", "wgt_addr", "out_addr")),
    (Opcode.CONV_BP, 0, ("in_addr", "wgt_addr", "out_addr")),
    (Opcode.CONV_BP, 1 << Flag.RELU_MASK, ("in_addr", "wgt_addr", "out_addr", "aux_addr")),
    (Opcode.CONV_WU, 0, ("in_addr", "out_addr", "aux_addr")),
    (Opcode.CONV_WU, 1 << Flag.SGD, ("in_addr", "wgt_addr", "out_addr", "aux_addr")),
    (Opcode.POOL_FP, 0, ("in_addr", "out_addr")),
    (Opcode.POOL_BP, 0, ("in_addr", "out_addr", "aux_addr")),
    (Opcode.POOL_BP, 1 << Flag.RELU_MASK, ("in_addr", "out_addr", "aux_addr")),
]


def test_validate_addresses():
    U, R, N = ErrorCode.UNALIGNED_ADDRESS, ErrorCode.ADDRESS_RANGE, ErrorCode.NONE
    assert {(op, flags) for op, flags, _ in USED_FIELDS} == {
        (op, f) for op in Opcode for f in flag_sets(op)}
    for op, flags, names in USED_FIELDS:
        d = replace(BASE[op], flags=flags)
        assert tuple(t.field for t in d.tensors()) == names
        for name in ("in_addr", "wgt_addr", "out_addr", "aux_addr"):
            for offset in (1, 32, 63):
                got = validate(replace(d, **{name: getattr(d, name) + offset}), CFG)
                assert got is (U if name in names else N), (op.name, flags, name)
            got = validate(replace(d, **{name: 1 << 40}), CFG)
            assert got is (R if name in names else N), (op.name, flags, name)
        # a tensor may end exactly at 2**40
        for t in d.tensors():
            end = (1 << 40) - t.nbytes(CFG.tn)
            assert validate(replace(d, **{t.field: end}), CFG) is N
            assert validate(replace(d, **{t.field: end + 64}), CFG) is R
            assert validate(replace(d, **{t.field: end}), CFG, addr_width=39) is R
            assert validate(replace(d, **{t.field: (1 << 64) - 64}), CFG) is R
    assert validate(BASE[Opcode.CONV_FP], CFG, addr_width=28) is R
    assert descriptor_address_ok(0x40) and descriptor_address_ok(1 << 39)
    assert not descriptor_address_ok(0) and not descriptor_address_ok(0x20)


def test_tensors_and_sizes():
    d = replace(BASE[Opcode.CONV_FP], n=20, m=9, h=7, w=5, k=3, stride=2, pad=1, batch=3)
    ho, wo = d.out_hw
    assert (ho, wo) == out_hw(7, 5, 3, 2, 1) == (4, 3)
    sizes = {t.name: t.nbytes(8) for t in d.tensors()}
    assert sizes == {"x": 3 * 3 * 7 * 5 * 8 * 4, "w": 2 * 3 * 9 * 64 * 4,
                     "y": 3 * 2 * 4 * 3 * 8 * 4}
    assert sizes["x"] == act_bytes((3, 20, 7, 5), 8)
    assert sizes["w"] == weights_bytes((9, 20, 3, 3), 8)
    assert all(not t.weights for t in d.tensors() if t.name != "w")


def test_tensors_of_every_opcode_and_flag():
    """Address field, name, shape, layout and direction of every tensor, for every opcode
    with and without its flags (the spec's address roles, written out by hand)."""
    conv = replace(BASE[Opcode.CONV_FP], n=20, m=9, h=7, w=5, k=3, stride=2, pad=1, batch=3,
                   in_addr=0x1000, wgt_addr=0x2000, out_addr=0x3000, aux_addr=0x4000)
    x, y, w = (3, 20, 7, 5), (3, 9, 4, 3), (9, 20, 3, 3)
    pool = replace(conv, k=2, stride=2, pad=0, m=20)
    px, py = (3, 20, 7, 5), (3, 20, 3, 2)  # odd trailing row and column dropped
    X, R, W, A = ("in_addr", 0x1000), ("wgt_addr", 0x2000), ("out_addr", 0x3000), \
        ("aux_addr", 0x4000)
    RELU, MASK, SGD = 1 << Flag.RELU, 1 << Flag.RELU_MASK, 1 << Flag.SGD
    expected = {
        (Opcode.CONV_FP, 0): [(*X, "x", x, False, "read"), (*R, "w", w, True, "read"),
                              (*W, "y", y, False, "write")],
        (Opcode.CONV_BP, 0): [(*X, "dy", y, False, "read"), (*R, "w", w, True, "read"),
                              (*W, "dx", x, False, "write")],
        (Opcode.CONV_BP, MASK): [(*X, "dy", y, False, "read"), (*R, "w", w, True, "read"),
                                 (*W, "dx", x, False, "write"), (*A, "a", x, False, "read")],
        (Opcode.CONV_WU, 0): [(*X, "x", x, False, "read"), (*W, "dw", w, True, "write"),
                              (*A, "dy", y, False, "read")],
        (Opcode.CONV_WU, SGD): [(*X, "x", x, False, "read"), (*R, "w", w, True, "read"),
                                (*W, "w_new", w, True, "write"), (*A, "dy", y, False, "read")],
        (Opcode.POOL_FP, 0): [(*X, "x", px, False, "read"), (*W, "y", py, False, "write")],
        (Opcode.POOL_BP, 0): [(*X, "dy", py, False, "read"), (*W, "dx", px, False, "write"),
                              (*A, "x", px, False, "read")],
    }
    expected[(Opcode.CONV_FP, RELU)] = expected[(Opcode.CONV_FP, 0)]
    expected[(Opcode.POOL_BP, MASK)] = expected[(Opcode.POOL_BP, 0)]
    assert set(expected) == {(op, f) for op in Opcode for f in flag_sets(op)}
    for (op, flags), want in expected.items():
        d = replace(pool if op in POOLS else conv, opcode=op, flags=flags)
        assert validate(d, CFG) is ErrorCode.NONE
        got = [(t.field, t.addr, t.name, t.shape, t.weights, t.access) for t in d.tensors()]
        assert got == want, (op.name, flags)
        # exactly one written tensor: the one the RTL stores
        assert [t.access for t in d.tensors()].count("write") == 1
    # the pooled tensors' sizes: 3 images x 3 groups x rows x columns x 8 words x 4 bytes
    sizes = {t.name: t.nbytes(8) for t in replace(pool, opcode=Opcode.POOL_BP).tensors()}
    assert sizes == {"dy": 3 * 3 * 3 * 2 * 32, "dx": 3 * 3 * 7 * 5 * 32, "x": 3 * 3 * 7 * 5 * 32}
    with pytest.raises(ValueError, match="opcode 6"):
        replace(conv, opcode=6).tensors()


def spec_tile_fits(op, k, s, pad, n, m, h, w, tile_rows, cfg) -> bool:
    """docs/architecture.md's tile-fit rule, transcribed."""
    ho, wo = (h + 2 * pad - k) // s + 1, (w + 2 * pad - k) // s + 1
    out_h, out_w = (h, w) if op == Opcode.CONV_BP else (ho, wo)
    r = min(tile_rows, out_h)
    if tile_rows == 0 or r * out_w > cfg.ob_depth:
        return False
    if op == Opcode.CONV_BP:
        ib = min(ho, -(-(r + k - 1) // s)) * wo
        wb = -(-m // cfg.tn) * k * k
    else:
        ib = min(h, (r - 1) * s + k) * w
        wb = -(-n // cfg.tn) * k * k
    if ib > cfg.ib_depth or wb > cfg.wb_depth:
        return False
    return not (op == Opcode.CONV_BP and s == 2 and r % 2 and r < out_h)


def test_tile_fit_rule_is_conservative(rng):
    """tile_fits is the spec's rule; whatever it accepts the scheduler's exact per-tile
    rule accepts too; largest_tile_rows is the largest accepted value."""
    for _ in range(400):
        op = Opcode(int(rng.integers(1, 4)))
        tn = int(rng.choice([2, 4, 8]))
        k = int(rng.integers(1, 6))
        s, pad = int(rng.integers(1, 3)), int(rng.integers(0, k))
        n, m = (int(v) for v in rng.integers(1, 40, size=2))
        h, w = (int(v) for v in rng.integers(1, 40, size=2))
        ho, wo = out_hw(h, w, k, s, pad)
        if min(ho, wo) < 1:
            continue
        cfg = HwConfig(tm=tn, tn=tn, ib_depth=int(rng.integers(1, 300)),
                       ob_depth=int(rng.integers(1, 300)), wb_depth=int(rng.integers(1, 100)))
        geo = (op, k, s, pad, n, m, h, w)
        if op == Opcode.CONV_BP:
            exact = _Geometry(Mode.BP, k, s, pad, (ho, wo), (h, w))
            out_h = h
        else:
            exact = _Geometry(Mode(op - 1), k, s, pad, (h, w), (ho, wo))
            out_h = ho
        blocks = -(-(m if op == Opcode.CONV_BP else n) // tn)
        fits = [r for r in range(0, out_h + 3) if tile_fits(*geo, r, cfg)]
        for r in range(0, out_h + 3):
            assert tile_fits(*geo, r, cfg) == spec_tile_fits(*geo, r, cfg), (geo, r)
        for r in fits:
            assert exact.misfit(min(r, out_h), cfg) is None and blocks * k * k <= cfg.wb_depth
        assert largest_tile_rows(*geo, cfg) == max((r for r in fits if r <= out_h), default=0)


# --------------------------------------------------------------------------------------
# (c) CSR map.
# --------------------------------------------------------------------------------------


def test_csr_map_matches_the_spec():
    spec = [("ID", 0x00, "RO"), ("PARAMS", 0x04, "RO"), ("DEPTHS", 0x08, "RO"),
            ("WB_DEPTH", 0x0C, "RO"), ("CTRL", 0x10, "RW"), ("STATUS", 0x14, "RO"),
            ("IRQ", 0x18, "RW1C"), ("DESC_DONE", 0x1C, "RO"), ("CHAIN_LO", 0x20, "RW"),
            ("CHAIN_HI", 0x24, "RW")]
    names = ["CYCLES", "BUSY", "MAC", "STALL_LOAD", "STALL_STORE", "STALL_HAZARD",
             "AXI_RD_BEATS", "AXI_RD_BURSTS", "AXI_WR_BEATS", "AXI_WR_BURSTS"]
    for i, name in enumerate(names):
        spec += [(f"CNT_{name}_LO", 0x40 + 8 * i, "RO"), (f"CNT_{name}_HI", 0x44 + 8 * i, "RO")]
    assert [(r.name, r.offset, r.access) for r in CSR_REGISTERS] == spec
    assert [name for name, _ in COUNTERS] == names and descriptor.NUM_COUNTERS == 10
    assert counter_offsets("CYCLES") == (0x40, 0x44) and counter_offsets(9) == (0x88, 0x8C)
    assert counter_offsets("AXI_RD_BURSTS") == (0x78, 0x7C)
    assert all(r.offset < 0x100 and r.offset % 4 == 0 for r in CSR_REGISTERS)
    fields = {r.name: [(f.name, f.msb, f.lsb) for f in r.fields] for r in CSR_REGISTERS}
    assert fields["PARAMS"] == [("TM", 7, 0), ("TN", 15, 8), ("KMAX", 23, 16),
                                ("AXI_DATA_BYTES", 31, 24)]
    assert fields["DEPTHS"] == [("IB_DEPTH", 15, 0), ("OB_DEPTH", 31, 16)]
    assert fields["WB_DEPTH"] == [("WB_DEPTH", 15, 0), ("AXI_ADDR_WIDTH", 23, 16)]
    assert fields["CTRL"] == [("START", 0, 0), ("ABORT", 1, 1), ("SOFT_RESET", 2, 2),
                              ("IRQ_ENABLE", 3, 3)]
    assert fields["STATUS"] == [("BUSY", 0, 0), ("DONE", 1, 1), ("ERROR", 2, 2),
                                ("CODE", 15, 8), ("INDEX", 31, 16)]
    assert fields["IRQ"] == [("PENDING", 0, 0)]
    for r in CSR_REGISTERS:  # fields do not overlap and fit 32 bits
        used = 0
        for f in r.fields:
            assert 0 <= f.lsb <= f.msb < 32 and not used & f.mask
            used |= f.mask
    assert ID_VALUE == 0xEF7A0001
    assert (descriptor.CTRL_START, descriptor.CTRL_ABORT, descriptor.CTRL_SOFT_RESET,
            descriptor.CTRL_IRQ_ENABLE) == (0, 1, 2, 3)
    assert (descriptor.STATUS_BUSY, descriptor.STATUS_DONE, descriptor.STATUS_ERROR,
            descriptor.STATUS_CODE_LSB, descriptor.STATUS_INDEX_LSB) == (0, 1, 2, 8, 16)
    assert (descriptor.CSR_CTRL, descriptor.CSR_CHAIN_HI) == (0x10, 0x24)


def test_csr_values(rng):
    assert ro_values(CFG) == {"ID": 0xEF7A0001, "PARAMS": 0x10050808,
                              "DEPTHS": 0x08000800, "WB_DEPTH": 0x00280400}
    assert encode_status(error=True, code=ErrorCode.TILE_TOO_LARGE, index=3) == 0x00030904
    for _ in range(100):
        busy, done, error = (bool(v) for v in rng.integers(0, 2, 3))
        code, index = int(rng.integers(0, 256)), int(rng.integers(0, 1 << 16))
        value = encode_status(busy, done, error, code, index)
        assert decode_status(value) == (busy, done, error, code, index)
    assert decode_status(0x0E04).code is ErrorCode.ABORTED
    assert decode_status(0x0404).code is ErrorCode.BAD_FLAGS
    assert decode_status(0x0F04).code == 15  # not an ErrorCode: the plain value
    with pytest.raises(ValueError):
        encode_status(code=256)


# --------------------------------------------------------------------------------------
# (d) The generated SystemVerilog package.
# --------------------------------------------------------------------------------------


def test_sv_package_is_up_to_date():
    assert descriptor.SV_PATH.read_text() == descriptor.sv_package(), (
        "rtl/eftrain_desc_pkg.sv is stale: run `python -m eftrain.descriptor`"
    )
    assert descriptor.main(["--check"]) == 0


def test_sv_package_check_and_write(tmp_path):
    out = tmp_path / "eftrain_desc_pkg.sv"
    assert descriptor.main(["--check", "--output", str(out)]) == 1  # missing
    assert descriptor.main(["--output", str(out)]) == 0
    assert descriptor.main(["--check", "--output", str(out)]) == 0
    out.write_text(out.read_text().replace("tile_rows", "tile_row"))
    assert descriptor.main(["--check", "--output", str(out)]) == 1


def test_sv_package_matches_python():
    """desc_t's members read bottom-up (the last member is bit 0) are the field table;
    enums and CSR localparams have the Python values."""
    text = descriptor.sv_package()
    assert "generated by `python -m eftrain.descriptor`" in text.lower()
    assert "package eftrain_desc_pkg;" in text
    assert text.index("/* verilator lint_off UNUSEDPARAM */") < text.index("package")
    assert text.rstrip().endswith("/* verilator lint_on UNUSEDPARAM */")
    body = text[text.index("typedef struct packed {"): text.index("} desc_t;")]
    members = re.findall(r"^\s*logic \[(\d+):0\] (\w+);", body, re.M)
    layout = [(name, int(msb) + 1) for msb, name in members][::-1]
    assert layout == [(f.sv_name, f.width) for f in DESC_FIELDS]
    assert sum(w for _, w in layout) == 512
    assert "next_addr" in dict(layout)
    assert len(re.findall(r"^\s*/// Words? \d+", body, re.M)) == len(DESC_FIELDS)
    for op in Opcode:
        assert re.search(rf"\bOP_{op.name} = 8'd{op.value}\b", text)
    for e in ErrorCode:
        assert re.search(rf"\bERR_{e.name} = 8'd{e.value}\b", text)
    for f in Flag:
        assert re.search(rf"\bFLAG_{f.name} = 32'd{f.value}\b", text)
    assert "ERR_BAD_FLAGS = 8'd4," in text and "OP_POOL_BP = 8'd5" in text
    assert "FLAG_RELU_MASK = 32'd1," in text and "FLAG_SGD = 32'd2" in text
    assert "localparam int unsigned POOL_MAX_WO = 512;" in text
    params = dict(re.findall(r"localparam logic \[7:0\] (CSR_\w+) = 8'h([0-9A-F]{2});", text))
    expected = {f"CSR_{r.name}": r.offset for r in CSR_REGISTERS if r.counter is None}
    expected["CSR_CNT_BASE"] = 0x40
    assert {k: int(v, 16) for k, v in params.items()} == expected
    assert "localparam logic [31:0] ID_VALUE = 32'hEF7A0001;" in text
    assert "localparam logic [15:0] MAGIC = 16'hEF7A;" in text
    for line in ("NUM_COUNTERS = 10;", "DESC_WORDS = 16;", "DESC_BYTES = 64;",
                 "CTRL_START = 0;", "CTRL_ABORT = 1;", "CTRL_SOFT_RESET = 2;",
                 "CTRL_IRQ_ENABLE = 3;", "STATUS_CODE_LSB = 8;", "STATUS_INDEX_LSB = 16;",
                 "CNT_AXI_WR_BURSTS = 9;", "IRQ_PENDING = 0;"):
        assert f"localparam int unsigned {line}" in text


def _verilator() -> str:
    """The project's verilator (make setup installs it into the virtual environment)."""
    local = Path(sys.executable).parent / "verilator"
    found = str(local) if local.exists() else shutil.which("verilator")
    assert found, "verilator is not installed: run `make setup`"
    return found


def test_sv_package_lints_and_elaborates_the_python_layout(tmp_path):
    """Verilator -Wall accepts the package, and a constant desc_t made from a packed
    Python descriptor has every member equal to the Python field (checked at
    elaboration; a wrong check is shown to fail)."""
    d = Descriptor(opcode=2, k=5, stride=2, pad=3, flags=0xABCD, batch=0x1234,
                   tile_rows=0x5678, n=0x9ABC, m=0xDEF0, h=0x1357, w=0x2468, lr=1.5,
                   in_addr=0x1122334455667788, wgt_addr=0x99AABBCCDDEEFF00,
                   out_addr=0x0102030405060708, aux_addr=0x1112131415161718,
                   next=0x2122232425262728)
    image = d.to_int() | (0xA << 60)  # reserved bits too

    def top(wrong: str | None) -> str:
        checks = []
        for f in DESC_FIELDS:
            value = (image >> f.bit) & ((1 << f.width) - 1)
            if f.name == wrong:
                value ^= 1
            checks += [f"  if (P.{f.sv_name} != {f.width}'h{value:X}) begin : g_bad_{f.sv_name}",
                       f'    $error("desc_t.{f.sv_name} misplaced");', "  end"]
        return "\n".join([
            "module desc_lint_top",
            "  import eftrain_desc_pkg::*;",
            "(",
            "  input  logic [DESC_BITS-1:0] raw_i,",
            "  output desc_t desc_o,",
            "  output logic is_fp_o,",
            "  output logic is_pool_bp_o,",
            "  output logic relu_mask_o",
            ");",
            f"  localparam desc_t P = desc_t'(512'h{image:0128X});",
            *checks,
            "  if ($bits(desc_t) != DESC_BITS) begin : g_bad_bits",
            '    $error("desc_t width");',
            "  end",
            "  assign desc_o = desc_t'(raw_i);",
            "  assign is_fp_o = desc_o.opcode == OP_CONV_FP;",
            "  assign is_pool_bp_o = desc_o.opcode == OP_POOL_BP;",
            "  assign relu_mask_o = desc_o.flags[FLAG_RELU_MASK];",
            "endmodule",
            "",
        ])

    def lint(text: str) -> subprocess.CompletedProcess:
        path = tmp_path / "desc_lint_top.sv"
        path.write_text(text)
        return subprocess.run(
            [_verilator(), "--lint-only", "-Wall", str(descriptor.SV_PATH), str(path),
             "--top-module", "desc_lint_top"],
            capture_output=True, text=True, timeout=60,
        )

    good = lint(top(None))
    assert good.returncode == 0, good.stdout + good.stderr
    bad = lint(top("k"))
    assert bad.returncode != 0 and "desc_t.k misplaced" in bad.stdout + bad.stderr

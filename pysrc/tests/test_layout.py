"""DRAM layouts, tile byte ranges, AXI burst splitting and the DRAM transfers of a
descriptor (eftrain.layout).

The key test builds random layers as descriptors and as engine programs
(eftrain.schedule) and requires every LOAD_* command's beats to be exactly the bytes of
the matching read transfer in the DRAM image, and every STORE_* command to land where
the matching write transfer puts it: layout.py and schedule.py then agree byte for byte.
"""

from __future__ import annotations

import numpy as np
import pytest

from eftrain import HwConfig
from eftrain.descriptor import (
    DESC_BYTES, POOL_MAX_WO, Descriptor, ErrorCode, Flag, Opcode, largest_tile_rows, out_hw,
    tile_fits, validate,
)
from eftrain.engine import Mode, Op
from eftrain.layout import (
    Burst, Transfer, act_bytes, act_from_dram, act_tile_range, act_to_dram, axi_bursts,
    bursts_of, chain_transfers, transfers, weight_block_range, weights_bytes,
    weights_from_dram, weights_to_dram,
)
from eftrain.schedule import schedule_conv


def bits(a) -> np.ndarray:
    return np.asarray(a, np.float32).view(np.uint32)


def random_f32(rng, shape) -> np.ndarray:
    """Random fp32 bit patterns, NaNs with payloads and signed zeros included."""
    return rng.integers(0, 1 << 32, size=shape, dtype=np.uint64).astype(np.uint32).view(np.float32)


# --------------------------------------------------------------------------------------
# (a) Layouts.
# --------------------------------------------------------------------------------------


def test_act_layout_by_hand():
    # B=1, C=3, H=2, W=2, G=2: index (((b*Cg + cg)*H + y)*W + x)*G + c%G
    t = np.arange(12, dtype=np.float32).reshape(1, 3, 2, 2) + 1
    buf = act_to_dram(t, 2)
    assert buf.dtype == np.dtype("<f4") and buf.shape == (16,)
    assert act_bytes(t.shape, 2) == 64
    assert buf[0] == t[0, 0, 0, 0] and buf[1] == t[0, 1, 0, 0]
    assert buf[2] == t[0, 0, 0, 1] and buf[7] == t[0, 1, 1, 1]
    assert buf[12] == t[0, 2, 1, 0]
    assert bits(buf[[9, 11, 13, 15]]).tolist() == [0, 0, 0, 0]  # padded channel 3: +0.0
    assert buf.tolist() == [1, 5, 2, 6, 3, 7, 4, 8, 9, 0, 10, 0, 11, 0, 12, 0]


def test_weights_layout_by_hand():
    # M=3, N=5, K=2, G=2: index ((((mt*Ng + nt)*K + i)*K + j)*G + m%G)*G + n%G, Ng = 3
    w = np.arange(60, dtype=np.float32).reshape(3, 5, 2, 2) + 1
    buf = weights_to_dram(w, 2)
    assert weights_bytes(w.shape, 2) == 2 * 3 * 4 * 4 * 4 == buf.size * 4
    assert buf[73] == w[2, 3, 1, 0]
    assert buf[0] == w[0, 0, 0, 0] and buf[1] == w[0, 1, 0, 0] and buf[2] == w[1, 0, 0, 0]
    assert buf[4] == w[0, 0, 0, 1]
    assert buf[16] == w[0, 2, 0, 0] and buf[17] == w[0, 3, 0, 0]  # block (0, 1)
    assert buf[32] == w[0, 4, 0, 0] and bits(buf[33]) == 0  # block (0, 2): n = 5 is padding
    assert buf[48] == w[2, 0, 0, 0] and bits(buf[50:52]).tolist() == [0, 0]  # m = 3 padding


@pytest.mark.parametrize("g", [1, 2, 4, 8])
def test_layout_round_trips(rng, g):
    for _ in range(20):
        shape = tuple(int(v) for v in rng.integers(1, 7, size=4))
        t = random_f32(rng, shape)
        buf = act_to_dram(t, g)
        assert buf.size * 4 == act_bytes(shape, g)
        assert np.array_equal(bits(act_from_dram(buf, shape, g)), bits(t))
        assert np.array_equal(bits(act_from_dram(buf.tobytes(), shape, g)), bits(t))
        assert np.array_equal(bits(act_from_dram(buf.view(np.uint32), shape, g)), bits(t))
        assert np.array_equal(bits(act_to_dram(t.view(np.uint32), g)), bits(buf))
        # padded channels are +0.0: the image holds t's words and zeros only
        assert np.count_nonzero(bits(buf)) == np.count_nonzero(bits(t))

        k = int(rng.integers(1, 6))
        wshape = (int(rng.integers(1, 12)), int(rng.integers(1, 12)), k, k)
        w = random_f32(rng, wshape)
        wbuf = weights_to_dram(w, g)
        assert wbuf.size * 4 == weights_bytes(wshape, g)
        assert np.array_equal(bits(weights_from_dram(wbuf, wshape, g)), bits(w))
        assert np.array_equal(bits(weights_from_dram(bytearray(wbuf.tobytes()), wshape, g)),
                              bits(w))
        assert np.count_nonzero(bits(wbuf)) == np.count_nonzero(bits(w))


def test_layout_errors():
    with pytest.raises(ValueError, match="words"):
        act_from_dram(np.zeros(15, np.float32), (1, 3, 2, 2), 2)
    with pytest.raises(ValueError, match="multiple of 4"):
        act_from_dram(b"\0" * 63, (1, 3, 2, 2), 2)
    with pytest.raises(ValueError, match="dtype"):
        act_from_dram(np.zeros(16, np.float64), (1, 3, 2, 2), 2)
    with pytest.raises(ValueError, match=r"\[B,C,H,W\]"):
        act_to_dram(np.zeros((3, 2, 2)), 2)
    with pytest.raises(ValueError, match="square"):
        weights_bytes((1, 1, 2, 3), 2)
    with pytest.raises(ValueError, match="g must be"):
        act_bytes((1, 1, 1, 1), 0)


# --------------------------------------------------------------------------------------
# (b) Tile byte ranges.
# --------------------------------------------------------------------------------------


def test_ranges_by_hand():
    # Cg = 2, one row = W*G*4 = 48 bytes: ((1*2 + 1)*7 + 2) * 48
    assert act_tile_range((2, 5, 7, 3), 4, 1, 1, 2, 3) == (1104, 144)
    assert act_tile_range((2, 5, 7, 3), 4, 0, 0, 0, 7) == (0, 336)
    # Ng = 2, a block = 3*3*4*4*4 = 576 bytes: (2*2 + 1) * 576
    assert weight_block_range((10, 6, 3, 3), 4, 2, 1) == (2880, 576)
    assert weight_block_range((10, 6, 3, 3), 4, 0, 0) == (0, 576)
    for bad in [(2, 0, 0, 1), (0, 2, 0, 1), (0, 0, 5, 3), (0, 0, 0, 0)]:
        with pytest.raises(ValueError):
            act_tile_range((2, 5, 7, 3), 4, *bad)
    with pytest.raises(ValueError):
        weight_block_range((10, 6, 3, 3), 4, 3, 0)


def test_ranges_hold_the_tiles(rng):
    for _ in range(30):
        g = int(rng.choice([2, 4, 8]))
        shape = tuple(int(v) for v in rng.integers(1, 8, size=4))
        t = random_f32(rng, shape)
        image = act_to_dram(t, g).tobytes()
        b, cg = int(rng.integers(shape[0])), int(rng.integers(-(-shape[1] // g)))
        row0 = int(rng.integers(shape[2]))
        rows = int(rng.integers(1, shape[2] - row0 + 1))
        offset, nbytes = act_tile_range(shape, g, b, cg, row0, rows)
        got = np.frombuffer(image[offset:offset + nbytes], "<f4").reshape(rows, shape[3], g)
        want = np.zeros((g, rows, shape[3]), np.float32)
        part = t[b, cg * g:(cg + 1) * g, row0:row0 + rows]
        want[: part.shape[0]] = part
        assert np.array_equal(bits(got), bits(want.transpose(1, 2, 0)))

        k = int(rng.integers(1, 6))
        wshape = (int(rng.integers(1, 20)), int(rng.integers(1, 20)), k, k)
        w = random_f32(rng, wshape)
        wimage = weights_to_dram(w, g).tobytes()
        mt, nt = int(rng.integers(-(-wshape[0] // g))), int(rng.integers(-(-wshape[1] // g)))
        offset, nbytes = weight_block_range(wshape, g, mt, nt)
        got = np.frombuffer(wimage[offset:offset + nbytes], "<f4").reshape(k, k, g, g)
        want = np.zeros((g, g, k, k), np.float32)
        part = w[mt * g:(mt + 1) * g, nt * g:(nt + 1) * g]
        want[: part.shape[0], : part.shape[1]] = part
        assert np.array_equal(bits(got), bits(want.transpose(2, 3, 0, 1)))


# --------------------------------------------------------------------------------------
# (c) AXI bursts.
# --------------------------------------------------------------------------------------


def test_bursts_by_hand():
    assert axi_bursts(0xFF0, 0x30) == [(0xFF0, 1), (0x1000, 2)]
    assert axi_bursts(0, 8192) == [(0, 256), (4096, 256)]
    assert axi_bursts(0x100, 8192) == [(0x100, 240), (0x1000, 256), (0x2000, 16)]
    assert axi_bursts(0x40, 64) == [(0x40, 4)]
    assert axi_bursts(0x40, 0) == []
    assert axi_bursts(0, 8192, beat_bytes=64) == [(0, 64), (4096, 64)]  # 4 KB, not 256 beats
    assert axi_bursts(0, 4096, beat_bytes=8) == [(0, 256), (2048, 256)]
    assert axi_bursts(0x7F0, 64, max_beats=2) == [(0x7F0, 2), (0x810, 2)]
    assert axi_bursts(1 << 39, 32) == [(1 << 39, 2)]
    for args in [(8, 16), (0, 24), (0, 16, 24), (0, -16), (-16, 16), (0, 16, 16, 0)]:
        with pytest.raises(ValueError):
            axi_bursts(*args)


def check_bursts(bursts, addr, nbytes, beat_bytes, max_beats):
    at = addr
    for burst_addr, beats in bursts:
        assert burst_addr == at
        assert 1 <= beats <= max_beats
        last = burst_addr + beats * beat_bytes - 1
        assert burst_addr // 4096 == last // 4096, "crosses a 4 KB boundary"
        at += beats * beat_bytes
    assert at == addr + nbytes
    # as long as possible: every burst but the last ends on the cap or a 4 KB boundary
    for burst_addr, beats in bursts[:-1]:
        assert beats == max_beats or (burst_addr + beats * beat_bytes) % 4096 == 0


def test_bursts_random(rng):
    for _ in range(2000):
        beat = int(rng.choice([4, 8, 16, 32, 64]))
        max_beats = int(rng.choice([1, 16, 256]))
        addr = int(rng.integers(0, 1 << 40)) // beat * beat
        nbytes = int(rng.integers(0, 40000)) // beat * beat
        bursts = axi_bursts(addr, nbytes, beat, max_beats)
        check_bursts(bursts, addr, nbytes, beat, max_beats)


# --------------------------------------------------------------------------------------
# (d) Transfers of a descriptor.
# --------------------------------------------------------------------------------------


def test_transfers_by_hand():
    cfg = HwConfig(tm=4, tn=4, ib_depth=64, ob_depth=64, wb_depth=64)
    d = Descriptor(opcode=Opcode.CONV_FP, k=3, stride=1, pad=1, batch=1, tile_rows=2, n=4, m=8,
                   h=4, w=4, in_addr=0x1000, wgt_addr=0x2000, out_addr=0x3000)
    # a pixel is 16 bytes, an image row 64, a block 3*3*4*4*4 = 576. One block (9 WB
    # entries) per output tile fits half of WB: block (1, 0) is loaded into the other
    # half right after the first COMPUTE of output tile 0.
    assert transfers(d, cfg) == [
        Transfer("read", "w", 0x2000, 576),
        Transfer("read", "x", 0x1000, 192),        # y rows 0-1 read x rows 0-2
        Transfer("read", "w", 0x2000 + 576, 576),  # block (1, 0), behind COMPUTE 0
        Transfer("write", "y", 0x3000, 128),
        Transfer("read", "x", 0x1000 + 64, 192),   # y rows 2-3 read x rows 1-3
        Transfer("write", "y", 0x3000 + 128, 128),
        Transfer("read", "x", 0x1000, 192),
        Transfer("write", "y", 0x3000 + 256, 128),
        Transfer("read", "x", 0x1000 + 64, 192),
        Transfer("write", "y", 0x3000 + 384, 128),
    ]
    assert transfers(d.pack(), cfg) == transfers(d, cfg)
    # With 17 WB entries (a half of 8 < 9) WB holds one output tile's blocks: the next
    # block is loaded after the batch.
    single = transfers(d, HwConfig(tm=4, tn=4, ib_depth=64, ob_depth=64, wb_depth=17))
    assert single == [transfers(d, cfg)[i] for i in (0, 1, 3, 4, 5, 2, 6, 7, 8, 9)]
    wu = Descriptor(opcode=Opcode.CONV_WU, k=1, stride=2, pad=0, batch=2, tile_rows=9, n=8,
                    m=4, h=3, w=3, in_addr=0x1000, out_addr=0x2000, aux_addr=0x3000,
                    wgt_addr=0x33)  # unused by WU: not checked
    # dy is 2x2 (one 2-row tile per image); x rows 0 and 2 -> rows 0..2 (one range)
    assert transfers(wu, cfg) == [
        Transfer("read", "dy", 0x3000, 64),
        Transfer("read", "x", 0x1000, 144),
        Transfer("read", "x", 0x1000 + 144, 144),
        Transfer("read", "dy", 0x3000 + 64, 64),
        Transfer("read", "x", 0x1000 + 288, 144),
        Transfer("read", "x", 0x1000 + 432, 144),
        Transfer("write", "dw", 0x2000, 64),
        Transfer("write", "dw", 0x2000 + 64, 64),
    ]
    with pytest.raises(ValueError, match="TILE_TOO_LARGE"):
        transfers(Descriptor(**{**d.__dict__, "tile_rows": 0}), cfg)


def random_layer(rng, opcode: Opcode) -> tuple[HwConfig, Descriptor]:
    """A random descriptor that validates, on a random small configuration, with
    random tensor addresses that do not overlap."""
    while True:
        tn = int(rng.choice([2, 4, 8]))
        k = int(rng.choice([1, 2, 3, 5]))
        stride = int(rng.choice([1, 2]))
        pad = int(rng.integers(0, k))
        n, m = (int(v) for v in rng.integers(1, 3 * tn + 1, size=2))
        h, w = (int(v) for v in rng.integers(1, 13, size=2))
        batch = int(rng.integers(1, 3))
        ho, wo = out_hw(h, w, k, stride, pad)
        if min(ho, wo) < 1:
            continue
        cfg = HwConfig(tm=tn, tn=tn, kmax=5, ib_depth=int(rng.integers(8, 160)),
                       ob_depth=int(rng.integers(8, 160)), wb_depth=int(rng.integers(25, 120)))
        geo = (opcode, k, stride, pad, n, m, h, w)
        best = largest_tile_rows(*geo, cfg)
        if best == 0:
            continue
        rows = [r for r in range(1, best + 1) if tile_fits(*geo, r, cfg)]
        tile_rows = int(rng.choice(rows))
        out_h = h if opcode == Opcode.CONV_BP else ho
        if tile_rows == out_h and rng.random() < 0.5:
            tile_rows = int(rng.integers(out_h, 1 << 16))
        d = Descriptor(opcode=opcode, k=k, stride=stride, pad=pad, batch=batch,
                       tile_rows=tile_rows, n=n, m=m, h=h, w=w, lr=0.01)
        addr = 0x80_0000_0000 - (1 << 24) + 64 * int(rng.integers(0, 64))
        fields = {}
        for t in d.tensors():
            fields[t.field] = addr
            addr += -(-t.nbytes(tn) // 64) * 64 + 64 * int(rng.integers(0, 64))
        return cfg, Descriptor(**{**d.__dict__, **fields})


def schedule_of(d: Descriptor, cfg: HwConfig, rng):
    """The engine program of ``d`` (eftrain.schedule) and the input tensors by name."""
    ho, wo = d.out_hw
    x = random_f32(rng, (d.batch, d.n, d.h, d.w))
    w = random_f32(rng, (d.m, d.n, d.k, d.k))
    dy = random_f32(rng, (d.batch, d.m, ho, wo))
    common = dict(cfg=cfg, stride=d.stride, pad=d.pad, tile_rows=d.tile_rows)
    if d.opcode == Opcode.CONV_FP:
        return schedule_conv(Mode.FP, x=x, w=w, **common), {"x": x, "w": w}
    if d.opcode == Opcode.CONV_BP:
        return (schedule_conv(Mode.BP, dy=dy, w=w, in_hw=(d.h, d.w), **common),
                {"dy": dy, "w": w})
    return schedule_conv(Mode.WU, x=x, dy=dy, k=d.k, **common), {"x": x, "dy": dy}


LOAD_TENSORS = {
    Opcode.CONV_FP: {Op.LOAD_W: "w", Op.LOAD_IN: "x"},
    Opcode.CONV_BP: {Op.LOAD_W: "w", Op.LOAD_IN: "dy"},
    Opcode.CONV_WU: {Op.LOAD_OUT: "dy", Op.LOAD_IN: "x"},
}


CONVS = (Opcode.CONV_FP, Opcode.CONV_BP, Opcode.CONV_WU)


@pytest.mark.parametrize("opcode", CONVS, ids=lambda o: o.name)
def test_transfers_agree_with_schedule(rng, opcode):
    """For random layers: the read transfers are the LOAD_* commands in order (sizes =
    beats x TN*4, bytes = the beats), the write transfers the STORE_* commands in order
    (sizes, and placing the store beats where Schedule.assemble puts them)."""
    ks, strides = set(), set()
    for _ in range(25):
        cfg, d = random_layer(rng, opcode)
        ks.add(d.k)
        strides.add(d.stride)
        tn, beat = cfg.tn, 4 * cfg.tn
        schedule, inputs = schedule_of(d, cfg, rng)
        assert schedule.tile_rows == min(d.tile_rows, d.h if opcode == Opcode.CONV_BP
                                         else d.out_hw[0])
        moves = transfers(d, cfg)
        reads = [t for t in moves if t.kind == "read"]
        writes = [t for t in moves if t.kind == "write"]
        loads = [c for c in schedule.commands if c.op in (Op.LOAD_IN, Op.LOAD_OUT, Op.LOAD_W)]
        stores = [c for c in schedule.commands if c.op in (Op.STORE_OUT, Op.STORE_W)]
        assert [t.nbytes for t in reads] == [c.count * beat for c in loads]
        assert [t.nbytes for t in writes] == [c.count * beat for c in stores]
        assert [t.tensor for t in reads] == [LOAD_TENSORS[opcode][Op(c.op)] for c in loads]
        # program order: the transfers interleave like the LOAD/STORE commands
        kinds = ["write" if c.op in (Op.STORE_OUT, Op.STORE_W) else "read"
                 for c in schedule.commands if c.op != Op.COMPUTE]
        assert [t.kind for t in moves] == kinds

        # Reads: the bytes at each transfer's range are the command's beats.
        tensors = {t.name: t for t in d.tensors()}
        images = {
            name: (weights_to_dram(v, tn) if tensors[name].weights else act_to_dram(v, tn))
            .tobytes()
            for name, v in inputs.items()
        }
        for t, beats in zip(reads, schedule.loads, strict=True):
            offset = t.addr - tensors[t.tensor].addr
            assert offset >= 0 and offset + t.nbytes <= len(images[t.tensor])
            assert images[t.tensor][offset:offset + t.nbytes] == beats.astype("<f4").tobytes()

        # Writes: store beats taken from the image of a result land where assemble puts them.
        out = next(t for t in d.tensors() if t.access == "write")
        result = random_f32(rng, out.shape)
        image = (weights_to_dram(result, tn) if out.weights else act_to_dram(result, tn)).tobytes()
        assert len(image) == out.nbytes(tn)
        pieces = []
        for t in writes:
            assert t.tensor == out.name
            offset = t.addr - out.addr
            pieces.append(np.frombuffer(image[offset:offset + t.nbytes], "<f4").reshape(-1, tn))
        assert np.array_equal(bits(schedule.assemble(pieces)), bits(result))

        # Bursts: with 16-byte beats (TN >= 4) each transfer is covered exactly.
        if tn >= 4:
            bursts = bursts_of(moves, 16)
            assert sum(b.beats for b in bursts) * 16 == sum(t.nbytes for t in moves)
            at = 0
            for t in moves:
                mine = []
                while at < len(bursts) and sum(b.beats for b in mine) * 16 < t.nbytes:
                    mine.append(bursts[at])
                    at += 1
                assert all(b.kind == t.kind for b in mine)
                check_bursts([(b.addr, b.beats) for b in mine], t.addr, t.nbytes, 16, 256)
    assert ks == {1, 2, 3, 5} or len(ks) >= 3
    assert strides == {1, 2}


def with_flag(d: Descriptor, flag: Flag, **fields) -> Descriptor:
    return Descriptor(**{**d.__dict__, "flags": d.flags | 1 << flag, **fields})


def free_address(d: Descriptor, cfg: HwConfig) -> int:
    """A 64-byte aligned address past every tensor ``d`` uses."""
    end = max(t.addr + t.nbytes(cfg.tn) for t in d.tensors())
    return -(-end // 64) * 64 + 64


def covers_once(moves: list[Transfer], base: int, nbytes: int) -> bool:
    """The transfers' ranges tile ``base .. base+nbytes-1`` exactly, each byte once."""
    spans = sorted((t.addr, t.addr + t.nbytes) for t in moves)
    return (spans[0][0] == base and spans[-1][1] == base + nbytes
            and all(a[1] == b[0] for a, b in zip(spans, spans[1:])))


def test_transfers_relu_adds_nothing(rng):
    for _ in range(10):
        cfg, d = random_layer(rng, Opcode.CONV_FP)
        assert transfers(with_flag(d, Flag.RELU), cfg) == transfers(d, cfg)


def test_transfers_relu_mask(rng):
    """CONV_BP with RELU_MASK: right after each dx tile's dy reads (and a weight block
    double buffering may load after its last COMPUTE), one read of "a" at aux_addr with the dx tile's offset and size; without those reads, the plain BP list.
    The a reads cover a (x's shape) exactly once, as the dx writes cover dx."""
    for _ in range(15):
        cfg, d = random_layer(rng, Opcode.CONV_BP)
        aux = free_address(d, cfg)
        masked = with_flag(d, Flag.RELU_MASK, aux_addr=aux)
        assert validate(masked, cfg) is ErrorCode.NONE
        plain, moves = transfers(d, cfg), transfers(masked, cfg)
        assert [t for t in moves if t.tensor != "a"] == plain
        a_reads = [i for i, t in enumerate(moves) if t.tensor == "a"]
        assert len(a_reads) == sum(t.tensor == "dx" for t in plain)
        for i in a_reads:
            a, before, after = moves[i], moves[i - 1], moves[i + 1]
            assert a.kind == "read" and before.tensor in ("dy", "w") and after.tensor == "dx"
            assert (a.addr - aux, a.nbytes) == (after.addr - d.out_addr, after.nbytes)
        x_bytes = act_bytes((d.batch, d.n, d.h, d.w), cfg.tn)
        assert covers_once([moves[i] for i in a_reads], aux, x_bytes)
        assert covers_once([t for t in moves if t.tensor == "dx"], d.out_addr, x_bytes)


def test_transfers_sgd(rng):
    """CONV_WU with SGD: each dw block write becomes a read of that block of w at
    wgt_addr then its write as w_new at out_addr; w is read whole and w_new written
    whole, once each; out_addr may equal wgt_addr (in place)."""
    for _ in range(15):
        cfg, d = random_layer(rng, Opcode.CONV_WU)
        w_bytes = weights_bytes((d.m, d.n, d.k, d.k), cfg.tn)
        for wgt in (d.out_addr, free_address(d, cfg)):
            sgd = with_flag(d, Flag.SGD, wgt_addr=wgt)
            assert validate(sgd, cfg) is ErrorCode.NONE
            expected = []
            for t in transfers(d, cfg):
                if t.tensor == "dw":
                    expected += [Transfer("read", "w", wgt + t.addr - d.out_addr, t.nbytes),
                                 t._replace(tensor="w_new")]
                else:
                    expected.append(t)
            moves = transfers(sgd, cfg)
            assert moves == expected
            assert covers_once([t for t in moves if t.tensor == "w"], wgt, w_bytes)
            assert covers_once([t for t in moves if t.tensor == "w_new"], d.out_addr, w_bytes)
            assert not any(t.tensor == "dw" for t in moves)


def test_transfers_pool_by_hand():
    cfg = HwConfig(tm=4, tn=4, ib_depth=64, ob_depth=64, wb_depth=64)
    # x [1, 6, 5, 3]: 2 channel groups, a pixel 16 bytes, an x row 48, a group 240;
    # y [1, 6, 2, 1]: a y row 16 bytes, a group 32; the odd last x row is not read
    fp = Descriptor(opcode=Opcode.POOL_FP, k=2, stride=2, pad=0, batch=1, n=6, m=6, h=5, w=3,
                    in_addr=0x1000, out_addr=0x2000)
    assert transfers(fp, cfg) == [
        Transfer("read", "x", 0x1000, 192),
        Transfer("write", "y", 0x2000, 32),
        Transfer("read", "x", 0x1000 + 240, 192),
        Transfer("write", "y", 0x2000 + 32, 32),
    ]
    bp = Descriptor(opcode=Opcode.POOL_BP, k=2, stride=2, pad=0, batch=1, n=6, m=6, h=5, w=3,
                    in_addr=0x3000, out_addr=0x4000, aux_addr=0x1000)
    group = [
        Transfer("read", "x", 0x1000, 96), Transfer("read", "dy", 0x3000, 16),
        Transfer("read", "x", 0x1000 + 96, 96), Transfer("read", "dy", 0x3000 + 16, 16),
    ]
    assert transfers(bp, cfg) == [
        Transfer("write", "dx", 0x4000, 240), *group,
        Transfer("write", "dx", 0x4000 + 240, 240),
        *(t._replace(addr=t.addr + (240 if t.tensor == "x" else 32)) for t in group),
    ]
    assert transfers(with_flag(bp, Flag.RELU_MASK), cfg) == transfers(bp, cfg)


def random_pool(rng, opcode: Opcode) -> tuple[HwConfig, Descriptor]:
    tn = int(rng.choice([2, 4, 8]))
    n = int(rng.integers(1, 3 * tn + 1))
    h, w = (int(v) for v in rng.integers(2, 14, size=2))
    d = Descriptor(opcode=opcode, k=2, stride=2, pad=0, batch=int(rng.integers(1, 4)), n=n,
                   m=n, h=h, w=w, in_addr=0x10_0000, out_addr=0x20_0000, aux_addr=0x30_0000,
                   flags=int(opcode == Opcode.POOL_BP and rng.random() < 0.5) << Flag.RELU_MASK)
    return HwConfig(tm=tn, tn=tn), d


@pytest.mark.parametrize("opcode", [Opcode.POOL_FP, Opcode.POOL_BP], ids=lambda o: o.name)
def test_transfers_pool_totals(rng, opcode):
    """Random pools, checked by totals and coverage: per (image, channel group) in
    order, POOL_FP reads the 2*Ho x rows and writes the Ho y rows; POOL_BP writes all H
    dx rows first, then per dy row reads 2 x rows and 1 dy row. y, dx and dy are moved
    whole, once; x whole but an odd last row."""
    for _ in range(30):
        cfg, d = random_pool(rng, opcode)
        g = cfg.tn
        groups, ho, wo = -(-d.n // g), d.h // 2, d.w // 2
        row_x, row_y = d.w * g * 4, wo * g * 4
        x_bytes = act_bytes((d.batch, d.n, d.h, d.w), g)
        y_bytes = act_bytes((d.batch, d.n, ho, wo), g)
        assert y_bytes == d.batch * groups * ho * row_y
        moves = transfers(d, cfg)
        by = {(t.kind, t.tensor): [u for u in moves if (u.kind, u.tensor) == (t.kind, t.tensor)]
              for t in moves}
        if opcode == Opcode.POOL_FP:
            assert set(by) == {("read", "x"), ("write", "y")}
            assert [t.kind for t in moves] == ["read", "write"] * d.batch * groups
            assert [t.nbytes for t in by["read", "x"]] == [2 * ho * row_x] * d.batch * groups
            assert [t.addr for t in by["read", "x"]] == [
                d.in_addr + i * d.h * row_x for i in range(d.batch * groups)]
            assert covers_once(by["write", "y"], d.out_addr, y_bytes)
            assert [t.addr for t in by["write", "y"]] == sorted(t.addr for t in by["write", "y"])
        else:
            assert set(by) == {("write", "dx"), ("read", "x"), ("read", "dy")}
            per_group = ["dx"] + ["x", "dy"] * ho
            assert [t.tensor for t in moves] == per_group * d.batch * groups
            assert covers_once(by["write", "dx"], d.out_addr, x_bytes)
            assert [t.nbytes for t in by["write", "dx"]] == [d.h * row_x] * d.batch * groups
            assert covers_once(by["read", "dy"], d.in_addr, y_bytes)
            assert [t.nbytes for t in by["read", "dy"]] == [row_y] * d.batch * groups * ho
            assert sum(t.nbytes for t in by["read", "x"]) == x_bytes - d.batch * groups * (
                d.h % 2) * row_x
            if d.h % 2 == 0:
                assert covers_once(by["read", "x"], d.aux_addr, x_bytes)
            # reads are in address order: x and dy stream row by row
            for name in ("x", "dy"):
                addrs = [t.addr for t in by["read", name]]
                assert addrs == sorted(addrs)


def test_transfers_pool_widest_row():
    cfg = HwConfig(tm=4, tn=4)
    d = Descriptor(opcode=Opcode.POOL_FP, k=2, stride=2, pad=0, batch=1, n=4, m=4, h=2,
                   w=2 * POOL_MAX_WO + 1, in_addr=0x1000, out_addr=0x10_0000)
    assert transfers(d, cfg) == [Transfer("read", "x", 0x1000, 2 * d.w * 16),
                                 Transfer("write", "y", 0x10_0000, POOL_MAX_WO * 16)]
    with pytest.raises(ValueError, match="TILE_TOO_LARGE"):
        transfers(Descriptor(**{**d.__dict__, "w": 2 * POOL_MAX_WO + 2}), cfg)


def test_chain_transfers():
    cfg = HwConfig(tm=4, tn=4, ib_depth=64, ob_depth=64, wb_depth=64)
    fp = Descriptor(opcode=Opcode.CONV_FP, k=3, stride=1, pad=1, batch=1, tile_rows=2, n=4,
                    m=8, h=4, w=4, in_addr=0x1000, wgt_addr=0x2000, out_addr=0x3000,
                    next=0x140)
    wu = Descriptor(opcode=Opcode.CONV_WU, k=1, stride=2, pad=0, batch=2, tile_rows=9, n=8,
                    m=4, h=3, w=3, in_addr=0x1000, out_addr=0x2000, aux_addr=0x3000)
    chain = chain_transfers([fp, wu.pack()], [0x100, 0x140], cfg)
    assert chain == [
        Transfer("read", "desc", 0x100, DESC_BYTES), *transfers(fp, cfg),
        Transfer("read", "desc", 0x140, DESC_BYTES), *transfers(wu, cfg),
    ]
    # an invalid descriptor is fetched, then nothing more
    bad = Descriptor(**{**wu.__dict__, "magic": 0})
    first = 1 + len(transfers(fp, cfg))
    assert chain_transfers([fp, bad], [0x100, 0x140], cfg) == chain[: first + 1]
    # a bad descriptor address is not fetched
    fp_odd = Descriptor(**{**fp.__dict__, "next": 0x148})
    assert chain_transfers([fp_odd, wu], [0x100, 0x148], cfg) == chain[:first]
    assert chain_transfers([fp], [0], cfg) == []
    with pytest.raises(ValueError, match="next"):
        chain_transfers([fp, wu], [0x100, 0x180], cfg)
    with pytest.raises(ValueError, match="next"):
        chain_transfers([fp], [0x100], cfg)
    bursts = bursts_of(chain)
    assert bursts[0] == Burst("read", 0x100, 4)
    assert sum(b.beats for b in bursts) * 16 == sum(t.nbytes for t in chain)

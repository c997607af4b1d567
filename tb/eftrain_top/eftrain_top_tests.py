"""cocotb tests of the whole core, eftrain_top, from DRAM to DRAM (run by test_eftrain_top.py).

Every chain is checked the same way (top_tb.TB.run_checked): the whole DRAM is snapshot
before the doorbell; after irq, STATUS / DESC_DONE / one irq edge are checked, every
output word of the completed descriptors is compared bit for bit with the oracle's exact
mode (padded channels included: they must be +0), and no other DRAM byte (guards,
inputs, descriptors, free space, the outputs of descriptors that did not complete) may
have changed. The AXI monitor checks every burst (<= 256 beats, no 4 KB crossing, LAST).
TIMING_STRESS: see top_tb.

Tests: top_layers, top_wb_regions, top_chain, top_bursts, top_invalid_descriptors, top_csrs,
top_perf_counters, top_abort_and_soft_reset, top_axi_errors, and two reproductions of a
layer_ctrl defect (a stop request -- DMA error, ABORT, SOFT_RESET -- arriving in the
cycle the last transfer of a descriptor completes is lost for that chain and kept for
the next one): top_axi_write_error_last_burst, top_stop_at_chain_end.
"""

from __future__ import annotations

import dataclasses
import os

import cocotb
from cocotb.triggers import RisingEdge, Timer

from eftrain import layout
from eftrain import descriptor as dsc
from eftrain.descriptor import Descriptor, ErrorCode, Flag, Opcode
from top_tb import (
    ADDR_WIDTH, BEAT_BYTES, CLK_NS, DRAM_BYTES, PAGE, TB, Chain, ceil_div, make_layer, now_cycles,
    random_layer, start,
)

FP, BP, WU = Opcode.CONV_FP, Opcode.CONV_BP, Opcode.CONV_WU
CTRL_IRQ_EN = 1 << dsc.CTRL_IRQ_ENABLE


# --------------------------------------------------------------------------------------
# 1. whole layers
# --------------------------------------------------------------------------------------


@cocotb.test()
async def top_layers(dut):
    """Random FP, BP and WU layers (every kernel size, stride 1 and 2, any padding, ragged
    channels and images, batch 1..3, a random tile that fits), one descriptor per
    doorbell, DRAM to DRAM, bit-exact. TOP_LAYERS layers (default 12)."""
    tb = await start(dut, "top_layers")
    n_layers = int(os.environ.get("TOP_LAYERS", "12"))
    ops, ks = [FP, BP, WU], [1, 2, 3, 5]
    order = [(ops[i % 3], ks[(i // 3) % 4]) for i in range(n_layers)]
    tb.rng.shuffle(order)
    total = 0
    for i, (op, k) in enumerate(order):
        tb.ensure_room()
        stride = 1 + (i % 2) if i < 4 else None          # both strides early, then random
        layer = tb.place(random_layer(tb.rng, tb.cfg, op, k=k, stride=stride))
        res = await tb.run_checked(tb.chain([layer]), what=f"layer {i:2d} {layer.name}")
        total += res.cycles
    tb.log.info("%d layers bit-exact in %d cycles", n_layers, total)


@cocotb.test()
async def top_wb_regions(dut):
    """Both ways WB holds weights (eftrain.schedule.conv_program), FP, BP and WU (plain
    and SGD), three outer tiles each, bit-exact: double buffered (an outer tile's blocks
    fit half of WB: the halves alternate, blocks move beside the COMPUTEs) and one
    region (5x5 blocks of more inner tiles than half of WB holds)."""
    from eftrain.schedule import wb_double_buffered

    tb = await start(dut, "top_wb_regions")
    cfg, rng, tn = tb.cfg, tb.rng, tb.cfg.tn
    single = cfg.wb_depth // 2 // 25 + 1                  # inner tiles of 5x5 blocks past half of WB
    assert single * 25 <= cfg.wb_depth, "the one-region layers must still fit WB"
    for double, k, inner in ((True, 3, 2), (False, 5, single)):
        assert wb_double_buffered(inner, k * k, cfg.wb_depth) == double
        for op, flags in ((FP, 0), (BP, 0), (WU, 0), (WU, 1 << Flag.SGD)):
            tb.ensure_room()
            inner_c, outer_c = inner * tn - 1, 2 * tn + 1       # ragged, three outer tiles
            n, m = (outer_c, inner_c) if op == BP else (inner_c, outer_c)
            layer = tb.place(make_layer(rng, cfg, op, k=k, stride=1, pad=k // 2, batch=2, n=n, m=m, h=4, w=5,
                                        flags=flags))
            await tb.run_checked(tb.chain([layer]),
                                 what=f"{'double-buffered' if double else 'one-region'} WB: {layer.name}")


# --------------------------------------------------------------------------------------
# 2. a chain of mixed descriptors in one doorbell
# --------------------------------------------------------------------------------------


@cocotb.test()
async def top_chain(dut):
    """Seven descriptors of mixed kinds and shapes in ONE doorbell; the second reads the
    first one's output from DRAM (read after write across descriptors). DESC_DONE = 7,
    STATUS.done, irq once."""
    tb = await start(dut, "top_chain")
    cfg, rng = tb.cfg, tb.rng
    tn = cfg.tn
    for rep in range(2):
        tb.ensure_room()
        a = tb.place(make_layer(rng, cfg, FP, k=3, stride=1, pad=1, batch=2, n=tn + 3, m=2 * tn - 1, h=7, w=6))
        # b: FP on a's output (x = y_a), read from the DRAM a wrote.
        ho, wo = a.out_hw
        b = make_layer(rng, cfg, FP, k=2, stride=2, pad=1, batch=2, n=a.m, m=tn // 2 + 1, h=ho, w=wo, x=a.expected)
        b.label = " (x = y of descriptor 0)"
        b = tb.place(b, in_addr=a.desc.out_addr)
        layers = [a, b,
                  tb.place(random_layer(rng, cfg, BP, stride=2, max_c=2.0, max_hw=8)),
                  tb.place(random_layer(rng, cfg, WU, max_c=2.0, max_hw=8)),
                  tb.place(random_layer(rng, cfg, FP, k=5, max_c=1.5, max_hw=8, max_batch=1)),
                  tb.place(random_layer(rng, cfg, WU, k=1, stride=2, max_c=1.5, max_hw=8)),
                  tb.place(random_layer(rng, cfg, BP, stride=1, max_c=2.0, max_hw=8))]
        chain = tb.chain(layers)
        for i, lay in enumerate(layers):
            tb.log.info("  descriptor %d at %#x: %s", i, chain.addrs[i], lay.name)
        res = await tb.run_checked(chain, what=f"chain {rep} of {len(layers)} descriptors")
        assert res.desc_done == len(layers) and res.irq_edges == 1


# --------------------------------------------------------------------------------------
# 3. AXI burst sequences
# --------------------------------------------------------------------------------------


@cocotb.test()
async def top_bursts(dut):
    """The AR and AW burst sequences equal layout.bursts_of(layout.chain_transfers(...))
    read side and write side, in order; tensors sit across 4 KB boundaries and some
    transfers exceed 4 KB, so bursts are cut at 256 beats and at 4 KB."""
    tb = await start(dut, "top_bursts")
    cfg, rng = tb.cfg, tb.rng
    tn = cfg.tn
    for rep in range(2):
        tb.ensure_room()
        # A 1x1 FP over a 16x20 image, one tile: every x and y transfer is 320 pixels
        # (5120 bytes at TN=4), x 4 KB aligned (a 256-beat burst), y across a boundary.
        fp = make_layer(rng, cfg, FP, k=1, stride=1, pad=0, batch=1, n=tn, m=tn + 1, h=16, w=20, tile_rows=16)
        tb.place(fp, in_offset=0, out_offset=PAGE - 192)
        # WU with 5x5 blocks (6400 bytes at TN=8), dw and x across 4 KB boundaries.
        wu = tb.place(make_layer(rng, cfg, WU, k=5, stride=1, pad=2, batch=1, n=tn + 1, m=tn, h=6, w=5),
                      in_offset=PAGE - 64, out_offset=PAGE - 320)
        bp = tb.place(random_layer(rng, cfg, BP, stride=2, max_c=1.5, max_hw=8, max_batch=2))
        layers = [fp, wu, bp] if rep == 0 else [bp, fp, wu]
        chain = tb.chain(layers)
        tb.mon.clear()
        await tb.run_checked(chain, what=f"burst chain {rep}")
        want = layout.bursts_of(layout.chain_transfers(chain.descs, chain.addrs, cfg, ADDR_WIDTH), BEAT_BYTES)
        want_r = [(b.addr, b.beats) for b in want if b.kind == "read"]
        want_w = [(b.addr, b.beats) for b in want if b.kind == "write"]
        for side, got, exp in (("read", tb.mon.ar, want_r), ("write", tb.mon.aw, want_w)):
            if got != exp:
                first = next((i for i, (g, e) in enumerate(zip(got, exp)) if g != e), min(len(got), len(exp)))
                raise AssertionError(
                    f"{side} bursts differ from layout.bursts_of: {len(got)} vs {len(exp)} bursts; first "
                    f"difference at {first}: got {got[first:first + 3]}, expected {exp[first:first + 3]}")
        for side, bursts in (("read", want_r), ("write", want_w)):
            assert max(n for _, n in bursts) == 256 or side == "write", f"no 256-beat {side} burst"
            split = sum(1 for (a, n), (a2, _) in zip(bursts, bursts[1:]) if a + n * BEAT_BYTES == a2
                        and a2 % PAGE == 0)
            assert split, f"no {side} transfer cut at a 4 KB boundary"
            tb.log.info("  %s: %d bursts, %d beats, longest %d, %d cuts at a 4 KB boundary", side, len(bursts),
                        sum(n for _, n in bursts), max(n for _, n in bursts), split)
        assert tb.mon.r_beats == sum(n for _, n in want_r) and tb.mon.w_beats == sum(n for _, n in want_w)
        tb.mon.check()


# --------------------------------------------------------------------------------------
# 4. invalid descriptors
# --------------------------------------------------------------------------------------


def _bad_cases(tb: TB) -> list[tuple[str, ErrorCode, dict, dict]]:
    """(name, expected code, base layer geometry, field changes)."""
    cfg = tb.cfg
    tn, kmax = cfg.tn, cfg.kmax
    small = dict(op=FP, k=3, stride=1, pad=1, batch=1, n=tn, m=tn, h=4, w=4)
    ib_w = cfg.ib_depth // 5 + 10                 # FP k=5: 5 x rows do not fit IB, 1 y row fits OB
    assert ib_w - 4 <= cfg.ob_depth
    wb_groups = cfg.wb_depth // 25 + 1            # 5x5 blocks that overflow WB
    # a valid POOL_FP made from the small layer (same tensors), one field broken per case
    pool = dict(opcode=Opcode.POOL_FP, k=2, stride=2, pad=0)
    big = 1 << ADDR_WIDTH
    return [
        ("magic", ErrorCode.BAD_MAGIC, small, dict(magic=0xEF7B)),
        ("magic zero", ErrorCode.BAD_MAGIC, small, dict(magic=0, version=0, opcode=0)),
        ("version", ErrorCode.BAD_VERSION, small, dict(version=2)),
        ("opcode 0", ErrorCode.BAD_OPCODE, small, dict(opcode=0)),
        ("opcode 6", ErrorCode.BAD_OPCODE, small, dict(opcode=6)),
        ("opcode 255", ErrorCode.BAD_OPCODE, small, dict(opcode=255)),
        ("unknown flag bit", ErrorCode.BAD_FLAGS, small, dict(flags=1 << 15)),
        ("RELU on CONV_BP", ErrorCode.BAD_FLAGS, dict(small, op=BP), dict(flags=1 << Flag.RELU)),
        ("SGD on CONV_FP", ErrorCode.BAD_FLAGS, small, dict(flags=1 << Flag.SGD)),
        ("RELU_MASK on POOL_FP", ErrorCode.BAD_FLAGS, small, dict(pool, flags=1 << Flag.RELU_MASK)),
        ("k 0", ErrorCode.BAD_KERNEL, small, dict(k=0, pad=0)),
        ("k KMAX+1", ErrorCode.BAD_KERNEL, small, dict(k=kmax + 1)),
        ("k 15", ErrorCode.BAD_KERNEL, small, dict(k=15)),
        ("stride 0", ErrorCode.BAD_STRIDE, small, dict(stride=0)),
        ("stride 3", ErrorCode.BAD_STRIDE, small, dict(stride=3)),
        ("pad = k", ErrorCode.BAD_PAD, small, dict(pad=3)),
        ("pad > k", ErrorCode.BAD_PAD, dict(small, op=WU), dict(k=2, pad=7)),
        ("pool k 3", ErrorCode.BAD_KERNEL, small, dict(pool, k=3)),
        ("pool stride 1", ErrorCode.BAD_STRIDE, small, dict(pool, opcode=Opcode.POOL_BP, stride=1)),
        ("pool pad 1", ErrorCode.BAD_PAD, small, dict(pool, pad=1)),
        ("batch 0", ErrorCode.BAD_DIMENSION, small, dict(batch=0)),
        ("n 0", ErrorCode.BAD_DIMENSION, dict(small, op=BP), dict(n=0)),
        ("m 0", ErrorCode.BAD_DIMENSION, dict(small, op=WU), dict(m=0)),
        ("h 0", ErrorCode.BAD_DIMENSION, small, dict(h=0)),
        ("w 0", ErrorCode.BAD_DIMENSION, small, dict(w=0)),
        ("h 4096", ErrorCode.BAD_DIMENSION, small, dict(h=4096)),
        ("w 65535", ErrorCode.BAD_DIMENSION, dict(small, op=BP), dict(w=65535)),
        ("n 4096", ErrorCode.BAD_DIMENSION, small, dict(n=4096)),
        ("batch 4096", ErrorCode.BAD_DIMENSION, small, dict(batch=4096)),
        ("no output pixel", ErrorCode.BAD_DIMENSION, small, dict(h=1, pad=0)),
        ("pool m != n", ErrorCode.BAD_DIMENSION, small, dict(pool, m=2 * tn)),
        ("tile_rows 0", ErrorCode.TILE_TOO_LARGE, small, dict(tile_rows=0)),
        ("tile over OB", ErrorCode.TILE_TOO_LARGE, small, dict(k=1, pad=0, w=cfg.ob_depth + 1, tile_rows=1)),
        ("tile over IB", ErrorCode.TILE_TOO_LARGE, small, dict(k=5, pad=0, h=5, w=ib_w, tile_rows=1)),
        ("weights over WB", ErrorCode.TILE_TOO_LARGE, dict(small, op=WU), dict(k=5, pad=0, h=5, w=5,
                                                                               n=wb_groups * tn)),
        ("BP weights over WB", ErrorCode.TILE_TOO_LARGE, dict(small, op=BP), dict(k=5, pad=2, m=wb_groups * tn)),
        ("odd stride-2 BP tile", ErrorCode.TILE_TOO_LARGE, dict(small, op=BP, h=8, w=5),
         dict(stride=2, tile_rows=3)),
        ("pool row over POOL_MAX_WO", ErrorCode.TILE_TOO_LARGE, small,
         dict(pool, opcode=Opcode.POOL_BP, w=2 * dsc.POOL_MAX_WO + 2)),
        ("unaligned x", ErrorCode.UNALIGNED_ADDRESS, small, dict(in_addr=+32)),
        ("unaligned w", ErrorCode.UNALIGNED_ADDRESS, dict(small, op=BP), dict(wgt_addr=+16)),
        ("unaligned y", ErrorCode.UNALIGNED_ADDRESS, small, dict(out_addr=+4)),
        ("unaligned dy (WU)", ErrorCode.UNALIGNED_ADDRESS, dict(small, op=WU), dict(aux_addr=+8)),
        ("x past 2**40", ErrorCode.ADDRESS_RANGE, small, dict(in_addr=big - 64)),
        ("w past 2**40", ErrorCode.ADDRESS_RANGE, dict(small, op=BP), dict(wgt_addr=big)),
        ("dw at 2**63", ErrorCode.ADDRESS_RANGE, dict(small, op=WU), dict(out_addr=1 << 63)),
        ("dy past 2**40 (WU)", ErrorCode.ADDRESS_RANGE, dict(small, op=WU), dict(aux_addr=big - 128)),
    ]


def _apply(desc: Descriptor, changes: dict) -> Descriptor:
    """Field changes; '+n' on an address field (an int given as a positive offset to an
    address field below 2**40 that is not a full address) adds to the placed address."""
    out = {}
    for name, value in changes.items():
        if name.endswith("_addr") and 0 < value < 64:
            out[name] = getattr(desc, name) + value
        else:
            out[name] = value
    return dataclasses.replace(desc, **out)


def _good_prefix(tb: TB, count: int) -> list:
    """``count`` small valid layers; some with junk in the fields they do not use (the
    address fields outside Descriptor.tensors(), unaligned; lr unless SGD; the reserved
    bits once in DRAM, see _junk_reserved): those are not checked. Flags are checked
    (BAD_FLAGS): random_layer picks valid ones."""
    layers = []
    for i in range(count):
        lay = tb.place(random_layer(tb.rng, tb.cfg, max_c=1.5, max_hw=6, max_batch=2))
        if i % 2 == 0:
            used = {t.field for t in lay.desc.tensors()}
            junk = {name: 0x12345 + 8 * i for name in ("wgt_addr", "aux_addr") if name not in used}
            if not lay.desc.flags >> Flag.SGD & 1:
                junk["lr"] = 0.125
            lay.desc = dataclasses.replace(lay.desc, **junk)
            lay.label = " (junk in unused fields)"
        layers.append(lay)
    return layers


def _junk_reserved(tb: TB, chain: Chain) -> None:
    """Set the reserved bits (word 1, 31:28) of the junk-field descriptors in DRAM."""
    for lay, addr in zip(chain.layers, chain.addrs):
        if lay is not None and "junk" in lay.label:
            tb.mem[addr + 7] |= 0xF0


async def _run_bad_chain(tb: TB, chain: Chain, head: int, expect: ErrorCode, index: int, what: str,
                         n_ok: int | None = None) -> None:
    """Doorbell at ``head``; expect ``expect`` at ``index`` with the first ``n_ok``
    (default index) descriptors done and nothing else in DRAM changed."""
    n_ok = index if n_ok is None else n_ok
    on = tb.pick_stress()
    before = tb.snapshot()
    res = await tb.run_chain(head, tb.budget_cycles(chain, n_ok))
    tb.stress.off()
    st = res.status
    assert st.error and not st.done and not st.busy and st.code == expect and st.index == index, \
        f"{what}: STATUS {st}, expected {expect.name} at index {index}"
    assert res.desc_done == n_ok, f"{what}: DESC_DONE {res.desc_done}, expected {n_ok}"
    assert res.irq_edges == 1, f"{what}: {res.irq_edges} irq edges"
    for lay in chain.layers[:n_ok]:
        tb.check_output(lay)
    tb.check_untouched(before, [lay.out_region for lay in chain.layers[:n_ok]], what)
    tb.mon.check()
    tb.log.info("%-28s %s at index %d, DESC_DONE %d, %d cycles%s", what, ErrorCode(st.code).name, st.index,
                res.desc_done, res.cycles, " (timing stress)" if on else "")


@cocotb.test()
async def top_invalid_descriptors(dut):
    """One chain per validation rule (every ErrorCode BAD_MAGIC..ADDRESS_RANGE, several
    ways each, pools and flags included): the bad
    descriptor at a chosen index after valid ones (and a valid one after it, which must
    never run). STATUS.error with the code descriptor.validate gives and the index, irq,
    the earlier outputs complete and bit-exact, and no other DRAM byte changed (the bad
    descriptor's and later outputs included). Then CHAIN = 0, an unaligned CHAIN and an
    unaligned next; a good chain at the end."""
    tb = await start(dut, "top_invalid_descriptors")
    cfg = tb.cfg
    cases = _bad_cases(tb)
    for i, (name, code, base, changes) in enumerate(cases):
        tb.ensure_room(1 << 19)
        index = 0 if i % 5 == 0 else 1 + i % 2
        prefix = _good_prefix(tb, index)
        geo = dict(base)
        op = geo.pop("op")
        base_layer = tb.place(make_layer(tb.rng, cfg, op, **geo))
        bad = _apply(base_layer.desc, changes)
        got = dsc.validate(bad, cfg, ADDR_WIDTH)
        assert got == code, f"case {name}: descriptor.validate says {got.name}, the case expects {code.name}"
        after = tb.place(random_layer(tb.rng, cfg, max_c=1.0, max_hw=4, max_batch=1))
        chain = tb.chain(prefix + [bad, after])
        _junk_reserved(tb, chain)
        await _run_bad_chain(tb, chain, chain.head, code, index, f"bad {name} @{index}")

    # Descriptor addresses: CHAIN 0, CHAIN unaligned (nothing fetched), next unaligned.
    tb.ensure_room(1 << 19)
    prefix = _good_prefix(tb, 2)
    chain = tb.chain(prefix)
    _junk_reserved(tb, chain)
    await _run_bad_chain(tb, chain, 0, ErrorCode.UNALIGNED_ADDRESS, 0, "CHAIN = 0")
    await _run_bad_chain(tb, chain, chain.head + 32, ErrorCode.UNALIGNED_ADDRESS, 0, "CHAIN unaligned")
    await _run_bad_chain(tb, chain, (1 << 32) | chain.head | 8, ErrorCode.UNALIGNED_ADDRESS, 0,
                         "CHAIN unaligned, high bits")
    for n_good in (1, 2):
        prefix = _good_prefix(tb, n_good)
        nxt = tb.dmap.alloc("next target", 64) + 16
        # the last good descriptor carries the bad next
        chain = tb.chain(prefix[:-1] + [dataclasses.replace(prefix[-1].desc, next=nxt)])
        chain.layers[-1] = prefix[-1]
        _junk_reserved(tb, chain)
        await _run_bad_chain(tb, chain, chain.head, ErrorCode.UNALIGNED_ADDRESS, n_good,
                             f"next unaligned after {n_good}", n_ok=n_good)
    await tb.good_chain()


# --------------------------------------------------------------------------------------
# 5. registers
# --------------------------------------------------------------------------------------


@cocotb.test()
async def top_csrs(dut):
    """ID/PARAMS/DEPTHS/WB_DEPTH = descriptor.ro_values(cfg); RO registers ignore writes;
    unmapped offsets read 0; CHAIN_LO/HI read back (byte strobes merge); CTRL reads back
    IRQ_ENABLE only; IRQ is W1C; with IRQ_ENABLE = 0 irq stays low while IRQ.pending
    rises, and goes high when IRQ_ENABLE is set; START while busy is ignored."""
    tb = await start(dut, "top_csrs")
    cfg = tb.cfg
    tb.pick_stress()
    want = dsc.ro_values(cfg, 128, ADDR_WIDTH)
    for name, value in want.items():
        got = await tb.rd(dsc.csr(name).offset)
        assert got == value, f"{name}: {got:#010x}, expected {value:#010x}"
        await tb.wr(dsc.csr(name).offset, ~value & 0xFFFFFFFF)
        assert await tb.rd(dsc.csr(name).offset) == value, f"{name} changed by a write"
    tb.log.info("RO registers: %s", {k: f"{v:#010x}" for k, v in want.items()})
    idle = await tb.rd(dsc.CSR_STATUS)
    assert idle == 0, f"STATUS after reset {idle:#x}"
    for off in (dsc.CSR_STATUS, dsc.CSR_DESC_DONE):
        await tb.wr(off, 0xFFFFFFFF)
        assert await tb.rd(off) == 0
    for off in [0x28, 0x2C, 0x30, 0x34, 0x38, 0x3C, 0x40 + 8 * dsc.NUM_COUNTERS, 0xA0, 0xFC]:
        await tb.wr(off, 0xFFFFFFFF)
        assert await tb.rd(off) == 0, f"unmapped {off:#x} reads nonzero"
    for lo, hi in ((0x12345678, 0x9ABCDEF0), (0xFFFFFFC0, 0xFFFFFFFF), (0, 0)):
        await tb.wr(dsc.CSR_CHAIN_LO, lo)
        await tb.wr(dsc.CSR_CHAIN_HI, hi)
        assert (await tb.rd(dsc.CSR_CHAIN_LO), await tb.rd(dsc.CSR_CHAIN_HI)) == (lo, hi)
    await tb.wr(dsc.CSR_CHAIN_LO, 0x11223344)
    await tb.axil.write(dsc.CSR_CHAIN_LO + 2, b"\xAB")                  # one byte lane
    await tb.axil.write(dsc.CSR_CHAIN_HI + 1, b"\xCD\xEF")             # two lanes
    assert await tb.rd(dsc.CSR_CHAIN_LO) == 0x11AB3344
    assert await tb.rd(dsc.CSR_CHAIN_HI) == 0x00EFCD00
    # CTRL: only IRQ_ENABLE reads back; the pulses read 0. Writing ABORT / SOFT_RESET idle.
    await tb.wr(dsc.CSR_CTRL, CTRL_IRQ_EN | (1 << dsc.CTRL_ABORT))
    assert await tb.rd(dsc.CSR_CTRL) == CTRL_IRQ_EN
    assert await tb.rd(dsc.CSR_STATUS) == 0, "ABORT while idle changed STATUS"
    await tb.wr(dsc.CSR_CTRL, 0)
    assert await tb.rd(dsc.CSR_CTRL) == 0
    # IRQ pending is only set by the end of a chain; writing 1 while clear keeps it clear.
    await tb.wr(dsc.CSR_IRQ, 1)
    assert await tb.rd(dsc.CSR_IRQ) == 0

    # A chain with IRQ_ENABLE = 0: irq never rises, IRQ.pending does.
    lay = tb.place(make_layer(tb.rng, cfg, FP, k=3, stride=1, pad=1, batch=1, n=cfg.tn, m=cfg.tn + 1, h=5, w=5))
    chain = tb.chain([lay])
    edges = tb.irq_edges
    await tb.doorbell(chain.head, irq_enable=False)
    for _ in range(2000):
        st = await tb.status()
        if not st.busy:
            break
    assert st.done and not st.error and st.code == 0, st
    assert await tb.rd(dsc.CSR_IRQ) == 1, "IRQ.pending not set"
    assert tb.irq_edges == edges and int(dut.irq.value) == 0, "irq rose with IRQ_ENABLE = 0"
    tb.check_output(lay)
    await tb.wr(dsc.CSR_IRQ, 0)                                           # W1C: 0 does nothing
    assert await tb.rd(dsc.CSR_IRQ) == 1
    await tb.wr(dsc.CSR_CTRL, CTRL_IRQ_EN)                                # enable: pending shows
    await RisingEdge(dut.clk)
    assert int(dut.irq.value) == 1 and tb.irq_edges == edges + 1, "irq not raised by IRQ_ENABLE"
    await tb.wr(dsc.CSR_IRQ, 1)
    assert await tb.rd(dsc.CSR_IRQ) == 0 and int(dut.irq.value) == 0, "IRQ not cleared by W1C"
    assert await tb.rd(dsc.CSR_DESC_DONE) == 1
    tb.log.info("IRQ_ENABLE=0: pending set, irq low; enabling raised irq; W1C cleared it")

    # START while busy is ignored (CHAIN written meanwhile is not used until the next START).
    tb.ensure_room()
    first = tb.place(make_layer(tb.rng, cfg, WU, k=3, stride=1, pad=1, batch=2, n=cfg.tn + 2, m=cfg.tn, h=6, w=6))
    other = tb.place(make_layer(tb.rng, cfg, FP, k=1, stride=1, pad=0, batch=1, n=2, m=2, h=2, w=2))
    c1, c2 = tb.chain([first]), tb.chain([other])
    before = tb.snapshot()
    edges = tb.irq_edges
    await tb.doorbell(c1.head)
    await tb.wr(dsc.CSR_CHAIN_LO, c2.head)
    await tb.wr(dsc.CSR_CTRL, CTRL_IRQ_EN | (1 << dsc.CTRL_START))
    st = await tb.status()
    assert st.busy, f"expected busy: {st}"
    await tb.wait_irq(tb.budget_cycles(c1))
    st = await tb.status()
    assert st.done and await tb.rd(dsc.CSR_DESC_DONE) == 1 and tb.irq_edges == edges + 1, st
    tb.check_output(first)
    tb.check_untouched(before, [first.out_region], "START while busy")
    await tb.wr(dsc.CSR_IRQ, 1)
    assert await tb.rd(dsc.CSR_CHAIN_LO) == c2.head
    # the second START (ignored) ran nothing; running c2 now works.
    await tb.run_checked(c2, what="chain after an ignored START")
    tb.stress.off()


# --------------------------------------------------------------------------------------
# 6. performance counters
# --------------------------------------------------------------------------------------


@cocotb.test()
async def top_perf_counters(dut):
    """The 10 counters after a layer (and after a second one: they accumulate): AXI read /
    write beats and bursts equal the handshakes the monitor counted and bursts_of(...);
    CYCLES lies between the cycles elapsed since reset before and after its read; BUSY
    within the doorbell..irq window; MAC equals the layer's MAC issues; stalls <= BUSY;
    nothing but CYCLES moves while idle."""
    tb = await start(dut, "top_perf_counters")
    cfg, rng = tb.cfg, tb.rng
    tn = cfg.tn
    layers = [make_layer(rng, cfg, FP, k=3, stride=1, pad=0, batch=2, n=tn + 2, m=tn + 3, h=8, w=7),
              make_layer(rng, cfg, WU, k=2, stride=2, pad=1, batch=2, n=tn - 1, m=2 * tn + 1, h=7, w=6),
              make_layer(rng, cfg, BP, k=3, stride=2, pad=1, batch=1, n=tn + 1, m=tn, h=8, w=7)]
    want_rd_beats = want_rd_bursts = want_wr_beats = want_wr_bursts = want_macs = 0
    busy_lo = busy_hi = 0.0
    for i, lay in enumerate(layers):
        tb.place(lay)
        chain = tb.chain([lay])
        res = await tb.run_checked(chain, what=f"layer {i} {lay.name}")
        bursts = layout.bursts_of(layout.chain_transfers(chain.descs, chain.addrs, cfg, ADDR_WIDTH), BEAT_BYTES)
        want_rd_beats += sum(b.beats for b in bursts if b.kind == "read")
        want_rd_bursts += sum(1 for b in bursts if b.kind == "read")
        want_wr_beats += sum(b.beats for b in bursts if b.kind == "write")
        want_wr_bursts += sum(1 for b in bursts if b.kind == "write")
        want_macs += lay.macs(cfg)
        busy_lo += res.t_irq - tb.t_doorbell_done - 4
        busy_hi += res.t_irq - res.t_start
        # CYCLES (low half) alone, bracketed by the cycles elapsed since reset release.
        c0 = now_cycles() - tb.t_reset
        cycles_lo = await tb.rd(dsc.counter_offsets("CYCLES")[0])
        c1 = now_cycles() - tb.t_reset
        assert c0 <= cycles_lo <= c1, f"CYCLES {cycles_lo} outside the {c0}..{c1} cycles since reset"
        cnt = await tb.counters()
        tb.log.info("counters after layer %d: %s", i, cnt)
        tb.log.info("  CYCLES %d read during cycles %d..%d after reset; BUSY window %d..%d; MAC expected %d",
                    cycles_lo, c0, c1, busy_lo, busy_hi, want_macs)
        mon = tb.mon
        assert (cnt["AXI_RD_BEATS"], cnt["AXI_RD_BURSTS"]) == (mon.r_beats, len(mon.ar)), "read counters vs monitor"
        assert (cnt["AXI_WR_BEATS"], cnt["AXI_WR_BURSTS"]) == (mon.w_beats, len(mon.aw)), "write counters vs monitor"
        assert (mon.r_beats, len(mon.ar), mon.w_beats, len(mon.aw)) == \
            (want_rd_beats, want_rd_bursts, want_wr_beats, want_wr_bursts), "monitor vs bursts_of"
        assert cnt["CYCLES"] > cycles_lo and cnt["CYCLES"] >> 32 == 0
        assert busy_lo <= cnt["BUSY"] <= busy_hi, f"BUSY {cnt['BUSY']} outside {busy_lo}..{busy_hi}"
        assert cnt["MAC"] == want_macs, f"MAC {cnt['MAC']}, expected {want_macs}"
        assert 0 < cnt["MAC"] <= cnt["BUSY"] <= cnt["CYCLES"]
        for name in ("STALL_LOAD", "STALL_STORE", "STALL_HAZARD"):
            assert cnt[name] <= cnt["BUSY"], name
        # Idle: only CYCLES moves.
        await Timer(200 * CLK_NS, "ns")
        again = await tb.counters()
        assert {k: v for k, v in again.items() if k != "CYCLES"} == {k: v for k, v in cnt.items() if k != "CYCLES"}
        assert again["CYCLES"] >= cnt["CYCLES"] + 200
        tb.log.info("  MAC utilisation of busy cycles %.1f%%, stalls load/store/hazard %d/%d/%d",
                    100 * cnt["MAC"] / cnt["BUSY"], cnt["STALL_LOAD"], cnt["STALL_STORE"], cnt["STALL_HAZARD"])


# --------------------------------------------------------------------------------------
# 7. abort and soft reset
# --------------------------------------------------------------------------------------


def _long_layer(tb: TB, op: Opcode = FP, flags: int = 0):
    """A layer long enough to be stopped in the middle (thousands of cycles): a 3x3 conv
    of two channel groups, or a pool of three, with ``flags``."""
    cfg = tb.cfg
    tn = cfg.tn
    if op in (Opcode.POOL_FP, Opcode.POOL_BP):
        return tb.place(make_layer(tb.rng, cfg, op, batch=2, n=2 * tn + 1, h=14, w=12, flags=flags))
    return tb.place(make_layer(tb.rng, cfg, op, k=3, stride=1, pad=1, batch=2, n=2 * tn, m=2 * tn + 1, h=8, w=8,
                               flags=flags))


def _busy_cycles(tb: TB, lay) -> int:
    """A rough length of ``lay`` in cycles, to aim a stop at a fraction of it: its MAC
    issues, or for a pool (no MAC) its AXI beats."""
    beats = sum(t.nbytes for t in layout.transfers(lay.desc, tb.cfg, ADDR_WIDTH)) // BEAT_BYTES
    return lay.macs(tb.cfg) or beats


async def _stop_mid_run(tb: TB, chain: Chain, bit: int, delay: int, wait_done: int | None, what: str):
    """Doorbell, wait until DESC_DONE = wait_done (if given), then ``delay`` cycles, then
    write CTRL with ``bit`` and wait for the stop (irq for ABORT, STATUS.busy low for
    SOFT_RESET). Returns (status, DESC_DONE, irq edges, cycles from the write to the
    stop, cycle of the write, timing stress on), or None if the chain had already ended."""
    on = tb.pick_stress()
    edges = tb.irq_edges
    await tb.doorbell(chain.head)
    if wait_done is not None:
        while await tb.rd(dsc.CSR_DESC_DONE) < wait_done:
            pass
    if delay:
        await Timer(delay * CLK_NS, "ns")
    st = await tb.status()
    if not st.busy:
        tb.stress.off()
        return None
    t0 = now_cycles()
    await tb.wr(dsc.CSR_CTRL, CTRL_IRQ_EN | (1 << bit))
    if bit == dsc.CTRL_ABORT:
        await tb.wait_irq(tb.budget_cycles(chain), what)
        t1 = tb.t_irq
    else:
        for _ in range(100_000):
            st = await tb.status()
            if not st.busy:
                break
        t1 = now_cycles()
    st = await tb.status()
    done = await tb.rd(dsc.CSR_DESC_DONE)
    tb.stress.off()
    tb.log.info("%s: stopped %d cycles after the CTRL write, STATUS %s, DESC_DONE %d%s", what, t1 - t0, st, done,
                " (timing stress)" if on else "")
    return st, done, tb.irq_edges - edges, t1 - t0, t0, on


@cocotb.test()
async def top_abort_and_soft_reset(dut):
    """CTRL.ABORT mid-run (at the start, mid-layer, late, in a later descriptor of a chain,
    and at random times in random chains: 0..2 random layers before the stopped one and
    0..1 after it, every opcode and flag, pools and fused layers included): STATUS
    ABORTED at the running descriptor (= DESC_DONE), irq once, idle within
    TB.stop_bound, no DRAM byte changed outside the outputs of the descriptors up to the
    stopped one, earlier outputs complete; then a good chain. CTRL.SOFT_RESET mid-run
    (fixed and random times): idle with STATUS and DESC_DONE clear, no irq, counters
    cleared, nothing changed outside the outputs; then a good chain. An ABORT that
    arrives as the chain completes may find it done. Soft reset while idle clears STATUS.
    TOP_RANDOM_STOPS random stops (default 8)."""
    tb = await start(dut, "top_abort_and_soft_reset")
    cfg, rng = tb.cfg, tb.rng
    F = dsc.Flag
    n_random = int(os.environ.get("TOP_RANDOM_STOPS", "8"))
    # (kind, opcode, flags, fraction of the layer, random layers before it, after it)
    cases = [("abort", FP, 0, 0.0, 0, 0), ("abort", FP, 0, 0.4, 0, 0), ("abort", BP, 0, 0.3, 1, 0),
             ("abort", WU, 0, 0.8, 0, 0), ("soft", BP, 0, 0.5, 0, 0), ("soft", WU, 0, 0.05, 0, 0),
             ("abort", Opcode.POOL_BP, 1 << F.RELU_MASK, 0.5, 1, 1), ("abort", WU, 1 << F.SGD, 0.5, 0, 1),
             ("soft", Opcode.POOL_FP, 0, 0.3, 2, 0), ("abort", BP, 1 << F.RELU_MASK, 0.6, 0, 0)]
    for _ in range(n_random):
        op = Opcode(int(rng.integers(1, len(Opcode) + 1)))
        flags = sum(1 << f for f in F if op in f.opcodes and rng.random() < 0.5)
        cases.append(("abort" if rng.random() < 0.7 else "soft", op, flags, float(rng.uniform(0, 0.8)),
                      int(rng.integers(0, 3)), int(rng.random() < 0.4)))
    counts = {"abort": 0, "soft": 0, "ended first": 0}
    for case, (kind, op, flags, frac, n_before, n_after) in enumerate(cases):
        tb.ensure_room()
        lay = _long_layer(tb, op, flags)
        layers = [tb.place(random_layer(rng, cfg, max_c=1.5, max_hw=6, max_batch=1)) for _ in range(n_before)]
        layers += [lay] + [tb.place(random_layer(rng, cfg, max_c=1.5, max_hw=6, max_batch=1))
                           for _ in range(n_after)]
        chain = tb.chain(layers)
        idx = n_before
        bit = dsc.CTRL_ABORT if kind == "abort" else dsc.CTRL_SOFT_RESET
        what = (f"{kind} {case} in {lay.name.split(' tile')[0]} at {frac:.0%}, descriptor {idx} of "
                f"{len(layers)}")
        before = tb.snapshot()
        got = await _stop_mid_run(tb, chain, bit, int(frac * _busy_cycles(tb, lay)), idx or None, what)
        if got is not None and kind == "abort" and got[0].done:
            # The ABORT landed as the chain completed: only legal within an AXI-Lite
            # write's time of the end.
            late = tb.t_irq - got[4]
            assert late <= 60 * (4 if got[5] else 1), f"{what}: done {late} cycles after the ABORT write: ignored"
            await tb.wr(dsc.CSR_IRQ, 1)
            got = None
        if got is None:
            tb.log.info("%s: the chain ended before the stop; checked as a normal chain", what)
            if (await tb.status()).busy:
                await tb.wait_irq(1000)
            assert (await tb.status()).done
            await tb.wr(dsc.CSR_IRQ, 1)
            for x in layers:
                tb.check_output(x)
            tb.check_untouched(before, [x.out_region for x in layers], what)
            counts["ended first"] += 1
            continue
        st, done, edges, stop, t0, on = got
        if kind == "abort":
            assert st.error and not st.busy and not st.done and st.code == ErrorCode.ABORTED and st.index == done \
                and idx <= done < len(layers), f"{what}: {st}, DESC_DONE {done}"
            assert edges == 1, f"{what}: {edges} irq edges"
            await tb.wr(dsc.CSR_IRQ, 1)
            stopped, written = [layers[done]], layers[:done + 1]
        else:
            assert not st.busy and not st.done and not st.error and st.code == 0 and st.index == 0, f"{what}: {st}"
            assert done == 0 and edges == 0 and await tb.rd(dsc.CSR_IRQ) == 0, f"{what}: an interrupt was raised"
            t1 = now_cycles()
            cycles = await tb.counter("CYCLES")
            assert cycles <= t1 - t0, f"{what}: CYCLES {cycles} not cleared by the soft reset ({t1 - t0} cycles ago)"
            done = idx                          # DESC_DONE was cleared: at least these completed
            stopped, written = layers[idx:], layers
        bound = max(tb.stop_bound(x, on) for x in stopped)
        assert stop <= bound, f"{what}: the stop took {stop} cycles (bound {bound})"
        for earlier in layers[:done]:
            tb.check_output(earlier)
        tb.check_untouched(before, [x.out_region for x in written], what)
        tb.mon.check()
        counts[kind] += 1
        await tb.good_chain(f"after {kind} {case}")
    tb.summary(f"stops TN={cfg.tn}: {len(cases)} ({counts['abort']} aborts, {counts['soft']} soft resets, "
               f"{counts['ended first']} chains ended first), each within its bound, then a good chain")

    # Soft reset while idle clears an error status.
    tb.ensure_room()
    lay = _long_layer(tb)
    chain = tb.chain([dataclasses.replace(lay.desc, magic=0)])
    chain.layers = [None]
    res = await tb.run_chain(chain.head, 5000)
    assert res.status.error and res.status.code == ErrorCode.BAD_MAGIC
    await tb.wr(dsc.CSR_CTRL, CTRL_IRQ_EN | (1 << dsc.CTRL_SOFT_RESET))
    assert await tb.rd(dsc.CSR_STATUS) == 0 and await tb.rd(dsc.CSR_DESC_DONE) == 0
    await tb.good_chain("after an idle soft reset")


# --------------------------------------------------------------------------------------
# 8. AXI error responses
# --------------------------------------------------------------------------------------


async def _axi_error_case(tb: TB, chain: Chain, index: int, code: ErrorCode, what: str,
                          windows=(), decerr: bool = False, head: int | None = None,
                          allowed_extra=()):
    """Run with error windows; expect ``code`` at ``index``; bounded stop; earlier outputs
    exact; DRAM changed only in the outputs of descriptors 0..index."""
    tb.err_windows = list(windows)
    tb.decerr = decerr
    tb.err_events = []
    on = tb.pick_stress()
    before = tb.snapshot()
    res = await tb.run_chain(chain.head if head is None else head, tb.budget_cycles(chain))
    tb.stress.off()
    tb.err_windows, tb.decerr = [], False
    st = res.status
    assert st.error and not st.done and not st.busy and st.code == code and st.index == index, \
        f"{what}: STATUS {st}, expected {code.name} at {index}"
    assert res.desc_done == index and res.irq_edges == 1, (res.desc_done, res.irq_edges)
    assert tb.err_events, f"{what}: no error response was given"
    stop = res.t_irq - tb.err_events[0][0]
    for lay in chain.layers[:index]:
        tb.check_output(lay)
    allowed = [lay.out_region for lay in chain.layers[:index + 1] if lay is not None] + list(allowed_extra)
    tb.check_untouched(before, allowed, what)
    tb.mon.check()
    tb.log.info("%s: %s at %d, %d error responses, irq %d cycles after the first one%s", what,
                ErrorCode(st.code).name, st.index, len(tb.err_events), stop, " (timing stress)" if on else "")
    return stop


@cocotb.test()
async def top_axi_errors(dut):
    """SLVERR / DECERR answers (injected by the DRAM model in chosen address windows, or
    any access past the end of the DRAM): on a tensor read, a weight read, a descriptor
    fetch (first and later), a mid-layer output write. AXI_READ_ERROR / AXI_WRITE_ERROR at
    the right index, irq, a stop within a bounded number of cycles, earlier outputs exact,
    nothing else changed; a good chain after each."""
    tb = await start(dut, "top_axi_errors")
    cfg = tb.cfg
    tn = cfg.tn
    for case in range(6):
        tb.ensure_room()
        first = tb.place(random_layer(tb.rng, cfg, max_c=1.5, max_hw=6, max_batch=1))
        lay = tb.place(make_layer(tb.rng, cfg, [FP, BP, WU][case % 3], k=3, stride=1, pad=1, batch=2, n=tn + 3,
                                  m=tn + 2, h=8, w=6, tile_rows=2))
        chain = tb.chain([first, lay])
        d = lay.desc
        if lay.op == BP:
            in_bytes = layout.act_bytes((lay.batch, lay.m, *lay.out_hw), tn)
        else:
            in_bytes = layout.act_bytes((lay.batch, lay.n, lay.h, lay.w), tn)
        decerr = case % 2 == 1
        if case in (0, 1):          # an input tensor read in the middle of the layer
            win = [(d.in_addr + in_bytes // 2, d.in_addr + in_bytes // 2 + 16, "read")]
            stop = await _axi_error_case(tb, chain, 1, ErrorCode.AXI_READ_ERROR, f"read error in {lay.name}",
                                         win, decerr)
        elif case == 2:             # the dy (aux) read of a WU, first beat
            win = [(d.aux_addr, d.aux_addr + 16, "read")]
            stop = await _axi_error_case(tb, chain, 1, ErrorCode.AXI_READ_ERROR, f"dy read error in {lay.name}",
                                         win, decerr)
        elif case == 3:             # the weight read of a FP (not WU: it has none)
            addr = d.wgt_addr if lay.op != WU else d.in_addr
            win = [(addr + 16, addr + 32, "read")]
            stop = await _axi_error_case(tb, chain, 1, ErrorCode.AXI_READ_ERROR, f"weight read error {lay.name}",
                                         win, decerr)
        elif case == 4:             # a write in the middle of the output (not its last burst)
            win = [(d.out_addr + 64, d.out_addr + 80, "write")]
            stop = await _axi_error_case(tb, chain, 1, ErrorCode.AXI_WRITE_ERROR, f"write error in {lay.name}",
                                         win, decerr)
        else:                       # the fetch of the second descriptor
            win = [(chain.addrs[1] + 32, chain.addrs[1] + 48, "read")]
            stop = await _axi_error_case(tb, chain, 1, ErrorCode.AXI_READ_ERROR, "descriptor 1 fetch error",
                                         win, decerr)
        bound = 4 * lay.compute_pass_cycles() * ceil_div(max(lay.n, lay.m), tn) + 2000
        assert stop <= bound, f"stop took {stop} cycles, bound {bound}"
        await tb.good_chain(f"after AXI error case {case}")

    # A chain whose first descriptor lies past the end of the DRAM (every beat SLVERR).
    tb.ensure_room()
    chain = tb.chain([tb.place(random_layer(tb.rng, cfg, max_c=1.0, max_hw=4, max_batch=1))])
    await _axi_error_case(tb, chain, 0, ErrorCode.AXI_READ_ERROR, "CHAIN past the DRAM", head=DRAM_BYTES + 0x1000)
    # An output past the end of the DRAM: every write burst answers SLVERR (several
    # bursts: an error on the chain's only / last burst is top_axi_write_error_last_burst).
    lay = tb.place(make_layer(tb.rng, cfg, FP, k=3, stride=1, pad=1, batch=2, n=tn - 1, m=tn + 1, h=5, w=4,
                              tile_rows=2))
    lay.desc = dataclasses.replace(lay.desc, out_addr=DRAM_BYTES + 0x4000)
    chain = tb.chain([lay])
    await _axi_error_case(tb, chain, 0, ErrorCode.AXI_WRITE_ERROR, "y past the DRAM")
    await tb.good_chain("after AXI errors")


# --------------------------------------------------------------------------------------
# Reproductions: a stop request that arrives in the cycle the last descriptor completes
# --------------------------------------------------------------------------------------


async def _tiny_chain(tb: TB, n: int = 1, op: Opcode = FP) -> Chain:
    tb.ensure_room()
    cfg = tb.cfg
    return tb.chain([tb.place(make_layer(tb.rng, cfg, op, k=1, stride=1, pad=0, batch=1, n=cfg.tn, m=cfg.tn,
                                         h=2, w=2)) for _ in range(n)])


async def _expect_good(tb: TB, what: str, problems: list[str]) -> None:
    """A tiny good chain must report done (no stale stop from before)."""
    chain = await _tiny_chain(tb)
    edges = tb.irq_edges
    await tb.doorbell(chain.head)
    try:
        await tb.wait_irq(3000, what)
    except AssertionError as e:
        problems.append(f"{what}: the next good chain never raised irq ({e})")
        return
    st = await tb.status()
    await tb.wr(dsc.CSR_IRQ, 1)
    if not st.done or st.error or tb.irq_edges != edges + 1:
        problems.append(f"{what}: the next good chain reported {st}")
    else:
        tb.check_output(chain.layers[0])


@cocotb.test()
async def top_axi_write_error_last_burst(dut):
    """Reproduction: SLVERR on the LAST write burst of a descriptor (its B response is
    also what makes the write DMA idle). Expected: AXI_WRITE_ERROR at that descriptor's
    index, DESC_DONE = index; and the next good chain runs clean."""
    tb = await start(dut, "top_axi_write_error_last_burst")
    cfg = tb.cfg
    problems: list[str] = []
    for n_desc, fail_at in ((1, 0), (2, 0), (2, 1)):
        for op in (FP, WU):
            chain = await _tiny_chain(tb, n_desc, op)
            bursts = layout.bursts_of(layout.chain_transfers(chain.descs, chain.addrs, cfg, ADDR_WIDTH),
                                      BEAT_BYTES)
            out = chain.layers[fail_at].out_region
            last_w = [b for b in bursts if b.kind == "write" and out.addr <= b.addr < out.end][-1]
            tb.err_windows, tb.err_events = [(last_w.addr, last_w.addr + 16, "write")], []
            before = tb.snapshot()
            res = await tb.run_chain(chain.head, tb.budget_cycles(chain))
            tb.err_windows = []
            what = f"{n_desc}-descriptor {op.name} chain, SLVERR on the last write burst of descriptor {fail_at}"
            tb.log.info("%s: STATUS %s, DESC_DONE %d", what, res.status, res.desc_done)
            tb.check_untouched(before, [lay.out_region for lay in chain.layers[:fail_at + 1]], what)
            st = res.status
            if not (st.error and st.code == ErrorCode.AXI_WRITE_ERROR and st.index == fail_at
                    and res.desc_done == fail_at):
                problems.append(f"{what}: STATUS {st}, DESC_DONE {res.desc_done} (expected AXI_WRITE_ERROR at "
                                f"{fail_at}, DESC_DONE {fail_at})")
            await _expect_good(tb, what, problems)
    for p in problems:
        tb.log.error("%s", p)
    assert not problems, f"{len(problems)} problems, first: {problems[0]}"


@cocotb.test()
async def top_stop_at_chain_end(dut):
    """Reproduction: CTRL.ABORT / CTRL.SOFT_RESET written in every cycle around the end of
    a chain (no timing stress, so the AXI-Lite latency is fixed and the sweep hits the
    cycle the last descriptor completes). Whatever the chain reports, the next good chain
    must run clean (done, irq)."""
    tb = await start(dut, "top_stop_at_chain_end")
    problems: list[str] = []
    tb.stress.off()
    tb.stress_mode = "0"
    # calibrate: cycles from the doorbell write's completion to irq
    chain = await _tiny_chain(tb)
    await tb.doorbell(chain.head)
    t1 = tb.t_doorbell_done
    await tb.wait_irq(3000)
    length = int(tb.t_irq - t1)
    await tb.wr(dsc.CSR_IRQ, 1)
    t_wr = now_cycles()
    await tb.wr(dsc.CSR_CTRL, CTRL_IRQ_EN)
    wr_lat = int(now_cycles() - t_wr)
    tb.log.info("tiny chain: irq %d cycles after the doorbell; a CTRL write takes %d cycles", length, wr_lat)
    for bit in (dsc.CTRL_ABORT, dsc.CTRL_SOFT_RESET):
        name = "ABORT" if bit == dsc.CTRL_ABORT else "SOFT_RESET"
        outcomes = {}
        for delay in range(max(1, length - wr_lat - 8), length - wr_lat + 6):
            chain = await _tiny_chain(tb)
            edges = tb.irq_edges
            await tb.doorbell(chain.head)
            await Timer(delay * CLK_NS, "ns")
            await tb.wr(dsc.CSR_CTRL, CTRL_IRQ_EN | (1 << bit))
            for _ in range(200):
                st = await tb.status()
                if not st.busy:
                    break
            await tb.wr(dsc.CSR_IRQ, 1)
            outcomes[delay] = ("done" if st.done else ErrorCode(st.code).name if st.error else "idle",
                               tb.irq_edges - edges)
            await _expect_good(tb, f"{name} {delay} cycles after the doorbell (chain reported {outcomes[delay]})",
                               problems)
        tb.log.info("%s sweep: delay -> (chain outcome, irq edges): %s", name, outcomes)
    for p in problems:
        tb.log.error("%s", p)
    assert not problems, f"{len(problems)} problems, first: {problems[0]}"


# --------------------------------------------------------------------------------------
# Fused layers: ReLU, the ReLU mask, SGD, max-pool
# --------------------------------------------------------------------------------------


@cocotb.test()
async def top_fused_layers(dut):
    """Every fused operation and pool, alone (one doorbell each, odd and even image sizes,
    ragged channels) and then all in one chain: CONV_FP+RELU, CONV_BP+RELU_MASK,
    CONV_WU+SGD (separate output and in place), POOL_FP, POOL_BP with and without
    RELU_MASK. Bit-exact against the oracle, nothing else in DRAM changed."""
    tb = await start(dut, "top_fused_layers")
    cfg, rng, tn = tb.cfg, tb.rng, tb.cfg.tn
    F = dsc.Flag

    def layers():
        return [
            make_layer(rng, cfg, FP, k=3, stride=1, pad=1, batch=2, n=tn + 1, m=tn + 2, h=5, w=6, flags=1 << F.RELU),
            make_layer(rng, cfg, BP, k=3, stride=2, pad=1, batch=2, n=tn - 1, m=tn + 1, h=7, w=6,
                       flags=1 << F.RELU_MASK),
            make_layer(rng, cfg, WU, k=3, stride=1, pad=1, batch=2, n=tn + 2, m=tn - 1, h=5, w=5, flags=1 << F.SGD),
            make_layer(rng, cfg, WU, k=1, stride=1, pad=0, batch=3, n=2 * tn, m=tn, h=1, w=1, flags=1 << F.SGD,
                       inplace=True),
            make_layer(rng, cfg, Opcode.POOL_FP, batch=2, n=tn + 3, h=7, w=9),
            make_layer(rng, cfg, Opcode.POOL_FP, batch=1, n=tn, h=4, w=2),
            make_layer(rng, cfg, Opcode.POOL_BP, batch=2, n=tn + 1, h=6, w=5),
            make_layer(rng, cfg, Opcode.POOL_BP, batch=2, n=2 * tn - 1, h=5, w=8, flags=1 << F.RELU_MASK),
        ]

    for i, lay in enumerate(layers()):
        tb.ensure_room()
        await tb.run_checked(tb.chain([tb.place(lay)]), what=f"fused {i} {lay.name}")
    tb.dmap.reset()
    chain = tb.chain([tb.place(lay) for lay in layers()])
    await tb.run_checked(chain, what=f"{len(chain)} fused layers in one chain")

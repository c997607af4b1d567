"""cocotb robustness tests of eftrain_top (run by test_fuzz.py): descriptor fuzzing and
AXI fault injection at random beats.

Both check the core against the documented behaviour only (docs/architecture.md): the
expected STATUS, index and DESC_DONE come from eftrain.descriptor (validate,
descriptor_address_ok) and eftrain.layout, every word written by a descriptor that
completes is compared with the oracle's exact mode, and no DRAM byte outside those
outputs may change. TIMING_STRESS (top_tb) applies to every doorbell.

Env: FUZZ (fuzzed doorbells of top_fuzz_descriptors, default 1000), FUZZ_NONFINITE_LR=1
(valid SGD layers may also get a NaN or infinite lr: the core then writes NaN into the
padded channel words of w, which the DRAM layout keeps +0; off by default until that is
settled), FAULTS (injected faults of top_axi_faults, default 24). Each test ends with a
one-line summary of its counts (TB.summary), which the pytest wrapper prints.
"""

from __future__ import annotations

import collections
import os

import cocotb

from eftrain import descriptor as dsc
from eftrain import layout
from eftrain.descriptor import ErrorCode
from fuzz_stimulus import DescriptorFuzzer, FuzzItem
from top_tb import ADDR_WIDTH, BEAT_BYTES, TB, Chain, Layer, random_layer, start

#: Doorbells per batch: the DRAM is reset and snapshot once per batch.
BATCH = 100


def histogram(counts: collections.Counter) -> str:
    return ", ".join(f"{name} {n}" for name, n in sorted(counts.items(), key=lambda kv: -kv[1]))


# --------------------------------------------------------------------------------------
# Descriptor fuzzing
# --------------------------------------------------------------------------------------


def _check_writes(tb: TB, first_aw: int, runs: list[Layer], what: str) -> None:
    """Every AXI write burst since ``first_aw`` lies inside the output of one of ``runs``.
    The DRAM model changes memory only through write bursts and the monitor sees every
    AW handshake, so this proves that nothing else in DRAM changed."""
    allowed = [lay.out_region for lay in runs]
    for addr, beats in tb.mon.aw[first_aw:]:
        end = addr + beats * BEAT_BYTES
        if not any(r.addr <= addr and end <= r.end for r in allowed):
            raise AssertionError(f"{what}: write burst {addr:#x}..{end:#x} ({tb.dmap.describe(addr)}) outside "
                                 f"the outputs of the descriptors that completed")


def _layer_name(lay: Layer) -> str:
    if lay.flags >> dsc.Flag.SGD & 1:
        return f"{lay.name} lr={lay.desc.lr_bits:#010x}{' in place' if lay.inplace else ''}"
    return lay.name


async def _run_item(tb: TB, item: FuzzItem, what: str) -> None:
    """One doorbell: STATUS, index, DESC_DONE and one irq as predicted, the writes only
    into the completed descriptors' outputs, and those outputs bit-exact."""
    want = item.outcome
    on = tb.pick_stress()
    tb.log.info("%s: expect %s at %d after %s%s", what, want.code.name, want.index,
                "; ".join(_layer_name(lay) for lay in item.runs) or "no descriptor", " (timing stress)" if on else "")
    first_aw = len(tb.mon.aw)
    res = await tb.run_chain(item.head, tb.budget_cycles(Chain(list(item.runs), [], [])))
    tb.stress.off()
    st = res.status
    if want.code == ErrorCode.NONE:
        ok = st.done and not st.error and not st.busy and st.code == 0
    else:
        ok = st.error and not st.done and not st.busy and st.code == want.code and st.index == want.index
    assert ok, f"{what}: STATUS {st}, expected {want.code.name} at index {want.index}" + \
        (" (timing stress)" if on else "")
    assert res.desc_done == len(want.completed), \
        f"{what}: DESC_DONE {res.desc_done}, expected {len(want.completed)}"
    assert res.irq_edges == 1, f"{what}: {res.irq_edges} irq edges"
    _check_writes(tb, first_aw, item.runs, what)
    for lay in item.runs:
        tb.check_output(lay)


@cocotb.test()
async def top_fuzz_descriptors(dut):
    """FUZZ doorbells of fuzzed descriptors (fuzz_stimulus: about 1 in 10 a valid tiny
    layer of any opcode and flags, the rest boundary and random values of every field
    alone and combined, chains with one bad link, bad next pointers, bad CHAIN values),
    in batches of BATCH. Each: the predicted code and index, DESC_DONE, one irq, writes
    only into the outputs of the descriptors that completed, those bit-exact. Each batch:
    the whole DRAM compared with its snapshot (only those outputs changed, and they still
    hold the exact results), every AXI burst legal, then a good chain. Prints the count
    and the error-code histogram."""
    tb = await start(dut, "top_fuzz_descriptors")
    total = int(os.environ.get("FUZZ", "1000"))
    fuzzer = DescriptorFuzzer(tb, nonfinite_sgd_lr=os.environ.get("FUZZ_NONFINITE_LR", "0") == "1")
    codes: collections.Counter = collections.Counter()
    fetched = ran = 0
    done = 0
    while done < total:
        n = min(BATCH, total - done)
        items = fuzzer.batch(n)
        tb.mon.clear()                     # the core is idle: no burst in flight
        before = tb.snapshot()
        for i, item in enumerate(items):
            what = f"fuzz {done + i} ({item.kind}, CHAIN {item.head:#x})"
            await _run_item(tb, item, what)
            codes[item.outcome.code.name] += 1
            fetched += len(item.outcome.fetched)
            ran += len(item.runs)
        touched = {id(lay): lay for item in items for lay in item.runs}.values()
        tb.check_untouched(before, [lay.out_region for lay in touched], f"fuzz batch at {done}")
        for lay in touched:
            tb.check_output(lay)
        tb.mon.check()
        done += n
        tb.log.info("fuzz: %d of %d doorbells checked; codes so far: %s; %s", done, total, histogram(codes),
                    fuzzer.coverage())
        await tb.good_chain(f"after fuzz batch {done // BATCH}")
    tb.log.info("fuzz items by kind: %s", histogram(collections.Counter(fuzzer.stats)))
    tb.summary(f"fuzz TN={tb.cfg.tn}: {total} fuzzed doorbells, {fetched} descriptors fetched, "
               f"{ran} valid descriptors run bit-exact; codes: {histogram(codes)}; {fuzzer.coverage()}")


# --------------------------------------------------------------------------------------
# AXI fault injection
# --------------------------------------------------------------------------------------


def _beats_by_descriptor(tb: TB, chain: Chain) -> list[dict[str, int]]:
    """Read and write beats of each descriptor of a valid chain, its fetch first
    (layout.chain_transfers, the hardware's program order). The core finishes every
    transfer of a descriptor before it fetches the next, so beat ordinals map to
    descriptors by these counts."""
    per = [{"read": 0, "write": 0, "fetch": 0} for _ in chain.descs]
    index = -1
    for t in layout.chain_transfers(chain.descs, chain.addrs, tb.cfg, ADDR_WIDTH):
        if t.tensor == "desc":
            index += 1
            per[index]["fetch"] = t.nbytes // BEAT_BYTES
        per[index][t.kind] += t.nbytes // BEAT_BYTES
    return per


@cocotb.test()
async def top_axi_faults(dut):
    """FAULTS injected AXI faults: SLVERR or DECERR on one read beat (of a descriptor
    fetch, or of a tensor, weight, mask or SGD operand read) or one write beat, chosen
    at random among the beats of a random chain of 1..3 random layers (every opcode and
    flag). Each: AXI_READ_ERROR / AXI_WRITE_ERROR at the index of the descriptor that beat
    belongs to, DESC_DONE, one irq, the stop within TB.stop_bound cycles of the faulty
    beat, the earlier outputs bit-exact and nothing else in DRAM changed but the failing
    descriptor's output; then a soft reset (STATUS, DESC_DONE, IRQ clear) and a good
    chain, bit-exact."""
    tb = await start(dut, "top_axi_faults")
    rng, cfg = tb.rng, tb.cfg
    n_faults = int(os.environ.get("FAULTS", "24"))
    # Every (where, response) pair equally often, in a seeded order.
    pairs = [(where, decerr) for where in ("fetch", "read", "write") for decerr in (False, True)]
    plan = [pairs[j] for _ in range(-(-n_faults // len(pairs))) for j in rng.permutation(len(pairs))]
    kinds: collections.Counter = collections.Counter()
    worst = 0.0
    for case, (where, decerr) in enumerate(plan[:n_faults]):
        tb.ensure_room()
        layers = [tb.place(random_layer(rng, cfg, max_c=1.5, max_hw=6, max_batch=2))
                  for _ in range(int(rng.integers(1, 4)))]
        chain = tb.chain(layers)
        beats = _beats_by_descriptor(tb, chain)
        index = int(rng.integers(len(layers)))
        kind = "write" if where == "write" else "read"
        before_index = sum(b[kind] for b in beats[:index])
        if where == "fetch":
            ordinal = before_index + int(rng.integers(beats[index]["fetch"]))
        elif where == "read":
            ordinal = before_index + int(rng.integers(beats[index]["fetch"], beats[index]["read"]))
        else:
            ordinal = before_index + int(rng.integers(beats[index]["write"]))
        resp = "DECERR" if decerr else "SLVERR"
        lay = layers[index]
        what = f"fault {case}: {resp} on {where} beat {ordinal - before_index} of descriptor {index} ({lay.name})"
        code = ErrorCode.AXI_WRITE_ERROR if kind == "write" else ErrorCode.AXI_READ_ERROR
        on = tb.pick_stress()
        before = tb.snapshot()
        tb.decerr = decerr
        tb.arm_beat_faults(**{kind: [ordinal]})
        res = await tb.run_chain(chain.head, tb.budget_cycles(chain))
        events = tb.err_events
        tb.arm_beat_faults()
        tb.decerr = False
        tb.stress.off()
        st = res.status
        assert st.error and not st.done and not st.busy and st.code == code and st.index == index, \
            f"{what}: STATUS {st}, expected {code.name} at {index}"
        assert res.desc_done == index and res.irq_edges == 1, \
            f"{what}: DESC_DONE {res.desc_done} (expected {index}), {res.irq_edges} irq edges"
        assert len(events) == 1, f"{what}: {len(events)} error responses, expected the one injected"
        stop = res.t_irq - events[0][0]
        bound = tb.stop_bound(None if where == "fetch" else lay, on)
        assert stop <= bound, f"{what}: irq {stop} cycles after the faulty beat, bound {bound}"
        worst = max(worst, stop / bound)
        for earlier in layers[:index]:
            tb.check_output(earlier)
        written = layers[:index] + ([] if where == "fetch" else [lay])
        tb.check_untouched(before, [x.out_region for x in written], what)
        tb.mon.check()
        tb.log.info("%s: %s at %d, irq %d cycles after the faulty beat (bound %d)%s", what, code.name, index,
                    stop, bound, " (timing stress)" if on else "")
        kinds[f"{resp} {where}"] += 1
        # Recovery: a soft reset clears the error, then the core runs a good chain.
        await tb.wr(dsc.CSR_CTRL, (1 << dsc.CTRL_IRQ_ENABLE) | (1 << dsc.CTRL_SOFT_RESET))
        st, done, irq = await tb.status(), await tb.rd(dsc.CSR_DESC_DONE), await tb.rd(dsc.CSR_IRQ)
        assert st == dsc.decode_status(0) and done == 0 and irq == 0, \
            f"{what}: after the soft reset STATUS {st}, DESC_DONE {done}, IRQ {irq}"
        await tb.good_chain(f"after {what}")
    tb.summary(f"AXI faults TN={tb.cfg.tn}: {n_faults} injected ({histogram(kinds)}), each "
                f"reported, stopped and recovered; slowest stop {worst:.0%} of its bound")

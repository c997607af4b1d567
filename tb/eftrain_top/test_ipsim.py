"""eftrain.ipsim, the Python entry to the simulated IP (the README's snippet): one layer of
each phase through SimulatedIP, bit-exact with the oracle, and a bad layer refused; then
the persistent session: many chains in one simulator (bit-exact, DRAM kept across chains),
a rejected descriptor reported as a status, a timeout raised, no simulator outliving its
parent, and the per-chain cost of a session against a simulator process per chain."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, replace

import numpy as np
import pytest

from eftrain import HwConfig, fp32, ipsim, layout, oracle
from eftrain import descriptor as dsc
from eftrain.descriptor import Descriptor, ErrorCode, Opcode

HW = HwConfig(tm=4, tn=4, ib_depth=512, ob_depth=512, wb_depth=256)
G = HW.tn
# Plenty for the layers below (a few thousand cycles each): only a hang reaches it.
BUDGET_CYCLES = 2_000_000


def test_ipsim_conv_layers(rng):
    ip = ipsim.SimulatedIP(HW)
    x = rng.standard_normal((2, 5, 7, 6)).astype(np.float32)
    w = rng.standard_normal((6, 5, 3, 3)).astype(np.float32)
    dy = rng.standard_normal((2, 6, 4, 3)).astype(np.float32)
    cases = [
        ("FP", ip.conv_fp(x, w, stride=2, pad=1), oracle.conv_fp(x, w, 2, 1, HW)),
        ("BP", ip.conv_bp(dy, w, (7, 6), stride=2, pad=1), oracle.conv_bp(dy, w, (7, 6), 2, 1, HW)),
        ("WU", ip.conv_wu(x, dy, 3, stride=2, pad=1), oracle.conv_wu(x, dy, 3, 2, 1, HW)),
    ]
    for name, got, want in cases:
        assert got.shape == want.shape, name
        assert np.array_equal(fp32.bits(got), fp32.bits(want)), f"{name} differs from the oracle"
    run = ip.last_run
    assert run.status.done and not run.status.error and run.desc_done == 1
    assert 0 < run.counters["mac"] <= run.counters["busy"] <= run.counters["cycles"]


def test_ipsim_rejects_a_layer_the_core_cannot_run():
    ip = ipsim.SimulatedIP(HW)
    x = np.zeros((1, 1, 8, 8), np.float32)
    with pytest.raises(ValueError, match="BAD_KERNEL"):
        ip.conv_fp(x, np.zeros((1, 1, 7, 7), np.float32), pad=3)  # K = 7 > KMAX = 5


# ---- sessions ---------------------------------------------------------------------------------
class Dram:
    """Places tensors and descriptors in a session's DRAM (64-byte aligned, a 64-byte gap
    between neighbours) and reads outputs back."""

    def __init__(self, session: ipsim.Session):
        self.s = session
        self.cursor = 0x1000

    def alloc(self, nbytes: int) -> int:
        addr = self.cursor
        self.cursor += -(-nbytes // dsc.ADDR_ALIGN) * dsc.ADDR_ALIGN + dsc.ADDR_ALIGN
        return addr

    def put(self, image: bytes) -> int:
        addr = self.alloc(len(image))
        self.s.write(addr, image)
        return addr

    def put_act(self, t: np.ndarray) -> int:
        return self.put(layout.act_to_dram(t, G).tobytes())

    def put_weights(self, w: np.ndarray) -> int:
        return self.put(layout.weights_to_dram(w, G).tobytes())

    def guarded_output(self, nbytes: int) -> int:
        """An output region filled with a pattern no result has (all-ones words are NaNs
        with a payload the core never writes), so a word the core skipped shows."""
        return self.put(b"\xff" * nbytes)

    def chain(self, descs: list[Descriptor]) -> int:
        """Write the descriptors linked in order; returns the head address."""
        addrs = [self.alloc(dsc.DESC_BYTES) for _ in descs]
        for i, (addr, d) in enumerate(zip(addrs, descs)):
            nxt = addrs[i + 1] if i + 1 < len(descs) else 0
            self.s.write(addr, replace(d, next=nxt).pack())
        return addrs[0]


@dataclass
class Layer:
    """One conv descriptor placed in DRAM, with the oracle's exact result for its output."""

    desc: Descriptor
    out_shape: tuple[int, int, int, int]
    out_weights: bool
    want: np.ndarray
    x: np.ndarray  # the input activation (FP, WU)

    @property
    def out_bytes(self) -> int:
        return (layout.weights_bytes if self.out_weights else layout.act_bytes)(self.out_shape, G)

    def check(self, dram: Dram) -> None:
        data = dram.s.read(self.desc.out_addr, self.out_bytes)
        got = (layout.weights_from_dram if self.out_weights else layout.act_from_dram)(data, self.out_shape, G)
        name = f"{Opcode(self.desc.opcode).name} k{self.desc.k} s{self.desc.stride} p{self.desc.pad}"
        bad = np.flatnonzero(fp32.bits(got) != fp32.bits(self.want))
        assert not len(bad), f"{name}: {len(bad)} of {got.size} words differ from the oracle"
        # The padded channels of the DRAM layout are written too (+0), not left as they were.
        words = np.frombuffer(data, "<u4")
        assert not (words == 0xFFFFFFFF).any(), f"{name}: the core left words of its output unwritten"


def place_conv(dram: Dram, rng, opcode: Opcode, *, k: int, stride: int, pad: int, b: int, n: int, m: int,
               h: int, w: int, x_addr: int | None = None, x: np.ndarray | None = None) -> Layer:
    """Random operands of one conv layer written to DRAM (``x`` reused when given, e.g.
    a previous layer's input still in DRAM), its descriptor, and the oracle's answer."""
    ho, wo = dsc.out_hw(h, w, k, stride, pad)
    tile_rows = dsc.largest_tile_rows(opcode, k, stride, pad, n, m, h, w, HW)
    wts = rng.standard_normal((m, n, k, k)).astype(np.float32)
    dy = rng.standard_normal((b, m, ho, wo)).astype(np.float32)
    if x is None:
        x = rng.standard_normal((b, n, h, w)).astype(np.float32)
    if opcode == Opcode.CONV_FP:
        want, out_shape = oracle.conv_fp(x, wts, stride, pad, HW), (b, m, ho, wo)
        addrs = dict(in_addr=x_addr if x_addr is not None else dram.put_act(x), wgt_addr=dram.put_weights(wts))
    elif opcode == Opcode.CONV_BP:
        want, out_shape = oracle.conv_bp(dy, wts, (h, w), stride, pad, HW), (b, n, h, w)
        addrs = dict(in_addr=dram.put_act(dy), wgt_addr=dram.put_weights(wts))
    else:
        want, out_shape = oracle.conv_wu(x, dy, k, stride, pad, HW), (m, n, k, k)
        addrs = dict(in_addr=x_addr if x_addr is not None else dram.put_act(x), aux_addr=dram.put_act(dy))
    out_weights = opcode == Opcode.CONV_WU
    out_bytes = (layout.weights_bytes if out_weights else layout.act_bytes)(out_shape, G)
    desc = Descriptor(opcode=opcode, k=k, stride=stride, pad=pad, batch=b, tile_rows=tile_rows, n=n, m=m,
                      h=h, w=w, out_addr=dram.guarded_output(out_bytes), **addrs)
    assert dsc.validate(desc, HW) == ErrorCode.NONE, desc
    return Layer(desc, out_shape, out_weights, want, x)


def random_geometry(rng) -> dict[str, int]:
    """A small conv geometry the 4x4 core takes (redrawn until it fits the buffers)."""
    while True:
        k = int(rng.integers(1, 4))
        geo = dict(k=k, stride=int(rng.integers(1, 3)), pad=int(rng.integers(0, k)), b=int(rng.integers(1, 3)),
                   n=int(rng.integers(1, 10)), m=int(rng.integers(1, 10)), h=int(rng.integers(k, 10)),
                   w=int(rng.integers(k, 10)))
        opcodes = (Opcode.CONV_FP, Opcode.CONV_BP, Opcode.CONV_WU)
        if all(dsc.largest_tile_rows(op, geo["k"], geo["stride"], geo["pad"], geo["n"], geo["m"], geo["h"],
                                     geo["w"], HW) for op in opcodes):
            return geo


def run_ok(s: ipsim.Session, head: int, n_descs: int, what: str) -> ipsim.RunResult:
    run = s.run_chain(head, timeout_cycles=BUDGET_CYCLES)
    st = run.status
    assert st.done and not st.error and st.code == ErrorCode.NONE, f"{what}: STATUS {st}"
    assert run.desc_done == n_descs, f"{what}: DESC_DONE {run.desc_done}, expected {n_descs}"
    assert 0 < run.counters["mac"] <= run.counters["busy"] <= run.counters["cycles"], f"{what}: {run.counters}"
    return run


def test_session_runs_many_chains_bit_exact(rng):
    """Sixteen chains in one simulator: random FP/BP/WU layers, WU layers reading an input
    an earlier chain left in DRAM, a two-layer chain whose second layer reads the first's
    output, and rejected descriptors in between that leave the core ready for the next
    chain."""
    ip = ipsim.SimulatedIP(HW)
    with ip.session() as s:
        dram = Dram(s)
        pid = s.simulator_pid
        for i in range(4):
            geo = random_geometry(rng)
            fp = place_conv(dram, rng, Opcode.CONV_FP, **geo)
            run = run_ok(s, dram.chain([fp.desc]), 1, f"chain {i} FP {geo}")
            fp.check(dram)
            assert ip.last_run is run
            bp = place_conv(dram, rng, Opcode.CONV_BP, **geo)
            run_ok(s, dram.chain([bp.desc]), 1, f"chain {i} BP {geo}")
            bp.check(dram)
            # WU reads the x written for the FP chain two chains ago: DRAM is kept.
            wu = place_conv(dram, rng, Opcode.CONV_WU, x_addr=fp.desc.in_addr, x=fp.x, **geo)
            run_ok(s, dram.chain([wu.desc]), 1, f"chain {i} WU {geo}")
            wu.check(dram)

        # Two layers in one doorbell: the second reads the first's output.
        first = place_conv(dram, rng, Opcode.CONV_FP, k=3, stride=1, pad=1, b=2, n=3, m=6, h=7, w=6)
        second = place_conv(dram, rng, Opcode.CONV_FP, k=3, stride=2, pad=0, b=2, n=6, m=5, h=7, w=6,
                            x_addr=first.desc.out_addr, x=first.want)
        run_ok(s, dram.chain([first.desc, second.desc]), 2, "two-layer chain")
        first.check(dram)
        second.check(dram)

        # A rejected descriptor is a status, not an exception; nothing of it is written.
        good = place_conv(dram, rng, Opcode.CONV_FP, k=1, stride=1, pad=0, b=1, n=4, m=4, h=4, w=4)
        bad = place_conv(dram, rng, Opcode.CONV_FP, k=3, stride=1, pad=1, b=1, n=4, m=4, h=4, w=4)
        bad_desc = replace(bad.desc, k=HW.kmax + 1)
        run = s.run_chain(dram.chain([good.desc, bad_desc]), timeout_cycles=BUDGET_CYCLES)
        assert run.status.error and not run.status.done, run.status
        assert run.status.code == ErrorCode.BAD_KERNEL and run.status.index == 1, run.status
        assert run.desc_done == 1
        good.check(dram)
        assert s.read(bad.desc.out_addr, bad.out_bytes) == b"\xff" * bad.out_bytes, "a rejected layer wrote"
        run = s.run_chain(dram.chain([replace(good.desc, magic=0)]),
                          timeout_cycles=BUDGET_CYCLES)
        assert run.status.error and run.status.code == ErrorCode.BAD_MAGIC and run.status.index == 0
        assert run.desc_done == 0 and run.counters["mac"] == 0

        # ... and the core takes the next chain.
        geo = random_geometry(rng)
        after = place_conv(dram, rng, Opcode.CONV_BP, **geo)
        run_ok(s, dram.chain([after.desc]), 1, f"after the errors: BP {geo}")
        after.check(dram)
        assert s.chains_run == 4 * 3 + 1 + 2 + 1 and s.simulator_pid == pid
    assert s.closed and not _alive(pid), "the simulator outlived close()"


def test_session_timeout_raises_and_closes(rng):
    ip = ipsim.SimulatedIP(HW)
    s = ip.session()
    dram = Dram(s)
    layer = place_conv(dram, rng, Opcode.CONV_FP, k=3, stride=1, pad=1, b=2, n=8, m=8, h=8, w=8)
    with pytest.raises(RuntimeError, match=r"no interrupt within 50 cycles .*busy=True"):
        s.run_chain(dram.chain([layer.desc]), timeout_cycles=50)
    assert s.closed
    with pytest.raises(RuntimeError, match="closed"):
        s.read(0, 4)
    assert not _alive(s.simulator_pid), "the simulator outlived its failed session"


def test_session_checks_its_arguments():
    """Bad arguments are refused in the parent, before the simulator sees them; the
    session stays usable."""
    with ipsim.SimulatedIP(HW).session() as s:
        with pytest.raises(ValueError, match="Session.write: addr"):
            s.write(ipsim.DRAM_BYTES - 2, b"1234")
        with pytest.raises(ValueError, match="Session.read: nbytes"):
            s.read(0, -1)
        with pytest.raises(ValueError, match="Session.run_chain: timeout_cycles"):
            s.run_chain(64, timeout_cycles=0)
        s.write(0x40, b"\x01\x02\x03")
        assert s.read(0x3F, 5) == b"\x00\x01\x02\x03\x00"


def test_an_abandoned_session_ends_its_simulator():
    """A session dropped without close() ends its simulator when it is collected."""
    s = ipsim.SimulatedIP(HW).session()
    pid = s.simulator_pid
    assert _alive(pid)
    del s
    gc.collect()
    assert not _alive(pid), "the simulator outlived its abandoned session"


@pytest.mark.parametrize("ending", ["exit", "os_exit", "sigkill_mid_chain"])
def test_session_never_outlives_its_parent(ending, tmp_path):
    """A parent that exits without close(), exits without running any clean-up, or is
    killed while the simulator is deep in a chain (a descriptor whose ``next`` is itself,
    so the chain never ends): the simulator goes too, and the parent does not hang."""
    child = textwrap.dedent(f"""
        import os, signal, threading, time
        from eftrain import HwConfig, ipsim
        from eftrain import descriptor as dsc
        s = ipsim.SimulatedIP(HwConfig(tm=4, tn=4, ib_depth=512, ob_depth=512, wb_depth=256)).session()
        s.write(0x40, b"still here")
        assert s.read(0x40, 10) == b"still here"
        print("SIMPID", s.simulator_pid, flush=True)
        if {ending!r} == "os_exit":
            os._exit(0)
        if {ending!r} == "sigkill_mid_chain":
            endless = dsc.Descriptor(opcode=dsc.Opcode.CONV_FP, k=1, stride=1, pad=0, batch=1, tile_rows=4,
                                     n=4, m=4, h=4, w=4, in_addr=0x1000, wgt_addr=0x2000, out_addr=0x3000,
                                     next=0x80)
            s.write(0x80, endless.pack())
            threading.Thread(target=s.run_chain, args=(0x80,), daemon=True).start()
            time.sleep(1.0)
            os.kill(os.getpid(), signal.SIGKILL)
    """)
    # Output to a file, not a pipe: a stray simulator would hold a pipe open and hang the wait.
    out = tmp_path / "child.log"
    with out.open("w") as log:
        subprocess.run([sys.executable, "-c", child], stdout=log, stderr=subprocess.STDOUT, timeout=300)
    pids = [int(line.split()[1]) for line in out.read_text().splitlines() if line.startswith("SIMPID")]
    assert pids, f"the child did not start a session:\n{out.read_text()}"
    deadline = time.monotonic() + 15
    while _alive(pids[0]) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(pids[0]):
        os.kill(pids[0], signal.SIGKILL)  # do not leave it running after the failure
        pytest.fail(f"simulator {pids[0]} outlived its parent ({ending})")


def test_session_costs_less_per_chain_than_a_process_per_chain(rng):
    """The point of a session: time a few tiny chains as one simulator process each (the
    old SimulatedIP.run_chain) and in one session, print both (the figures of the
    session's documentation), and require a clear win."""
    ip = ipsim.SimulatedIP(HW)
    chains = 3
    x = rng.standard_normal((1, 4, 4, 4)).astype(np.float32)
    w = rng.standard_normal((4, 4, 1, 1)).astype(np.float32)
    want = fp32.bits(oracle.conv_fp(x, w, 1, 0, HW))
    ip.conv_fp(x, w)  # builds the model (not part of either figure)

    t0 = time.perf_counter()
    for _ in range(chains):
        assert np.array_equal(fp32.bits(ip.conv_fp(x, w)), want)
    per_process = (time.perf_counter() - t0) / chains

    t0 = time.perf_counter()
    with ip.session() as s:
        started = time.perf_counter()
        dram = Dram(s)
        x_addr, w_addr = dram.put_act(x), dram.put_weights(w)
        out_bytes = layout.act_bytes(x.shape, G)
        for _ in range(chains):
            out_addr = dram.guarded_output(out_bytes)
            desc = Descriptor(opcode=Opcode.CONV_FP, k=1, stride=1, pad=0, batch=1, tile_rows=4, n=4, m=4, h=4, w=4,
                              in_addr=x_addr, wgt_addr=w_addr, out_addr=out_addr)
            run_ok(s, dram.chain([desc]), 1, "tiny FP")
            got = layout.act_from_dram(s.read(out_addr, out_bytes), x.shape, G)
            assert np.array_equal(fp32.bits(got), want)
        per_chain = (time.perf_counter() - started) / chains
    session_start = started - t0
    ratio = per_process / per_chain
    print(f"\nper chain: one process each {per_process * 1e3:.0f} ms, in a session {per_chain * 1e3:.1f} ms "
          f"(x{ratio:.0f}); session start {session_start * 1e3:.0f} ms")
    assert ratio > 5, f"a chain in a session costs {per_chain:.3f} s, one process per chain {per_process:.3f} s"


def _alive(pid: int) -> bool:
    """A process that exists and is not a zombie waiting to be reaped."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:
        return os.path.exists(f"/proc/{pid}")

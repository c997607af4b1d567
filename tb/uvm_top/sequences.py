"""Sequences of the top-level environment.

* :class:`RunChainSeq` (control sequencer): the software's doorbell -- CHAIN, START
  with IRQ_ENABLE, wait for irq, read STATUS, DESC_DONE and IRQ, clear IRQ.
* Virtual sequences (they place tensors and descriptors in the DRAM model, then run
  RunChainSeq; they check nothing the scoreboard checks):
  :class:`LayerChainSeq` (given layers, one chain), :class:`RandomLayersSeq` (random
  layers of every kind, coverage-driven, in chains of 1..4), :class:`TrainingStepSeq`
  (a random small CNN: forward chain, loss on the host, backward/update chain; the
  logits and new weights are also compared with the oracle's network-level step),
  :class:`InvalidDescriptorSeq` (a bad descriptor after good ones, one per validation
  rule, and bad descriptor addresses).

Randomness comes from the env's RNG (cocotb's seed); env UVM_STRESS: 1 every chain with
random AXI/AXI-Lite pauses, 0 none, unset half of them.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
from pyuvm import uvm_sequence

from eftrain import descriptor as dsc
from eftrain import layout, oracle
from eftrain.descriptor import Descriptor, ErrorCode, Flag, Opcode
from items import CsrItem
from network import backward_chain, forward_chain, random_network, reference_forward, reference_step, runnable
from stimulus import (
    ADDRESS_FIELDS, PlacedLayer, Variant, cycle_budget, legal_bins, place_chain, place_layer, random_spec,
)
from top_tb import ADDR_WIDTH


class RunChainSeq(uvm_sequence):
    """Ring the doorbell for the chain at ``head`` and wait (at most ``budget`` cycles)
    for its interrupt; ``status`` and ``desc_done`` hold what the core reported."""

    def __init__(self, name: str, head: int, budget: int):
        super().__init__(name)
        self.head, self.budget = head, budget
        self.status: dsc.Status | None = None
        self.desc_done = -1

    async def csr(self, kind: str, offset: int = 0, data: int = 0, cycles: int = 0) -> CsrItem:
        item = CsrItem(kind, kind, offset, data, cycles)
        await self.start_item(item)
        await self.finish_item(item)
        return item

    async def body(self):
        await self.csr("write", dsc.CSR_CHAIN_LO, self.head & 0xFFFFFFFF)
        await self.csr("write", dsc.CSR_CHAIN_HI, self.head >> 32)
        await self.csr("write", dsc.CSR_CTRL, 1 << dsc.CTRL_START | 1 << dsc.CTRL_IRQ_ENABLE)
        wait = await self.csr("wait_irq", cycles=self.budget)
        self.status = dsc.decode_status((await self.csr("read", dsc.CSR_STATUS)).data)
        self.desc_done = (await self.csr("read", dsc.CSR_DESC_DONE)).data
        if wait.timed_out:
            raise AssertionError(f"chain at {self.head:#x}: no irq within {self.budget} cycles; STATUS "
                                 f"{self.status}, DESC_DONE {self.desc_done}")
        await self.csr("read", dsc.CSR_IRQ)
        await self.csr("write", dsc.CSR_IRQ, 1 << dsc.IRQ_PENDING)


class TopSeq(uvm_sequence):
    """Base of the virtual sequences: the env's DRAM, configuration and RNG."""

    def __init__(self, name: str, env):
        super().__init__(name)
        self.env = env
        self.cfg, self.rng = env.cfg, env.rng
        self.memory = env.memory
        self.dmap = env.memory.dmap
        self.log = env.logger
        # UVM_STRESS for this environment alone, else the regression-wide TIMING_STRESS.
        self.stress_mode = os.environ.get("UVM_STRESS") or os.environ.get("TIMING_STRESS", "")
        self.chains_run = 0

    def stressed(self) -> bool:
        if self.stress_mode in ("0", "1"):
            return self.stress_mode == "1"
        return bool(self.rng.random() < 0.5)

    async def run_chain(self, descs: list[Descriptor], what: str, *, head_of=None, last_next: int = 0,
                        reserved_bits: tuple[int, ...] = ()) -> RunChainSeq:
        """Place ``descs`` (linked, the last one's next = ``last_next``) in DRAM and run
        them. ``head_of(chain address)`` overrides CHAIN; ``reserved_bits``: descriptors
        whose reserved bits (word 1, 31:28) are set in DRAM (the core ignores them)."""
        addrs, linked = place_chain(self.dmap, descs, last_next)
        for i in reserved_bits:
            self.memory.mem[addrs[i] + 7] |= 0xF0
        stressed = self.stressed()
        self.env.set_stress(stressed)
        head = addrs[0] if head_of is None else head_of(addrs[0])
        seq = RunChainSeq("run_chain", head, cycle_budget(linked, self.cfg, stressed))
        await seq.start(self.env.control.sequencer)
        self.env.set_stress(False)
        self.chains_run += 1
        st = seq.status
        self.log.info("%s: %s, DESC_DONE %d%s", what,
                      "done" if st.done else f"{ErrorCode(st.code).name} at index {st.index}", seq.desc_done,
                      " (AXI pauses)" if stressed else "")
        return seq


class LayerChainSeq(TopSeq):
    """Given layers (LayerSpec), each with fresh random inputs, in one chain."""

    def __init__(self, name: str, env, specs, what: str = "chain"):
        super().__init__(name, env)
        self.specs, self.what = list(specs), what

    def place(self, spec) -> PlacedLayer:
        sgd = spec.variant.flags >> Flag.SGD & 1
        return place_layer(self.dmap, self.rng, self.cfg, spec, out_in_place=bool(sgd and self.rng.random() < 0.5),
                           specials=bool(self.rng.random() < 0.3), junk=bool(self.rng.random() < 0.3))

    async def body(self):
        self.memory.ensure_room(1 << 20)
        placed = [self.place(s) for s in self.specs]
        for i, p in enumerate(placed):
            self.log.info("  %s, descriptor %d: %s", self.what, i, p.spec.name)
        await self.run_chain([p.desc for p in placed], self.what)


class RandomLayersSeq(TopSeq):
    """``count`` random layers of the ``allowed`` variants, in chains of 1..4. Each layer
    takes the (variant, kernel, stride, pad) bin that adds the most marginal values not
    yet run (variant, kernel, stride, pad), ties broken at random, then random sizes."""

    def __init__(self, name: str, env, count: int, allowed: tuple[Variant, ...]):
        super().__init__(name, env)
        self.count, self.allowed = count, allowed

    def pick_bins(self) -> list[tuple[Variant, int, int, int]]:
        remaining = legal_bins(self.cfg, self.allowed)
        seen: set = set()
        picked = []
        for _ in range(self.count):
            if not remaining:
                remaining = legal_bins(self.cfg, self.allowed)
            order = self.rng.permutation(len(remaining))
            best = max(order, key=lambda i: len(_marginals(remaining[i]) - seen))
            picked.append(remaining.pop(int(best)))
            seen |= _marginals(picked[-1])
        return picked

    async def body(self):
        bins = self.pick_bins()
        done = 0
        while done < len(bins):
            size = min(int(self.rng.integers(1, 5)), len(bins) - done)
            specs = [random_spec(self.rng, self.cfg, v, k=k, stride=s, pad=p, max_hw=9, max_batch=2)
                     for v, k, s, p in bins[done:done + size]]
            done += size
            await LayerChainSeq("layers", self.env, specs,
                                f"layers {done - size + 1}-{done} of {len(bins)}").start()


def _marginals(b: tuple[Variant, int, int, int]) -> set:
    """The marginal coverage values of a bin (a pool has only its variant)."""
    v, k, s, p = b
    return {("v", v)} if v.is_pool else {("v", v), ("k", k), ("s", s), ("p", p)}


class TrainingStepSeq(TopSeq):
    """``steps`` SGD steps of a random small CNN on one batch, on the core: forward
    chain, softmax cross-entropy of the DRAM logits on the host, dlogits into DRAM,
    backward chain. After each step the logits read from DRAM and the weights the core
    left in DRAM must equal the oracle's network-level step (network.reference_step)
    bit for bit; the loss is logged."""

    def __init__(self, name: str, env, steps: int):
        super().__init__(name, env)
        self.steps = steps
        self.losses: list[float] = []

    def read(self, region_addr: int, shape, weights: bool) -> np.ndarray:
        g = self.cfg.tn
        nbytes = layout.weights_bytes(shape, g) if weights else layout.act_bytes(shape, g)
        raw = np.frombuffer(self.memory.mem, np.uint8)[region_addr:region_addr + nbytes]
        return layout.weights_from_dram(raw, shape, g) if weights else layout.act_from_dram(raw, shape, g)

    async def body(self):
        cfg, rng = self.cfg, self.rng
        tn = cfg.tn
        while True:
            classes = int(rng.integers(2, 2 * tn + 2))
            layers = random_network(rng, cfg, max_c=2 * tn, classes=classes)
            if runnable(layers, cfg):
                break
        batch = int(rng.integers(2, 5))
        lr = float(np.float32(2.0 ** -int(rng.integers(2, 6))))
        self.log.info("network (batch %d, lr %g): %s", batch, lr, " -> ".join(
            f"{lay.name}[{'x'.join(map(str, lay.in_shape))}"
            f"{f' k{lay.k} s{lay.stride} p{lay.pad}' if lay.kind != 'pool' else ''}"
            f"{' relu' if lay.relu else ''}]" for lay in layers) + f" -> {classes} logits")

        self.memory.ensure_room(1 << 21)
        dm, g = self.dmap, tn
        x = rng.standard_normal((batch, *layers[0].in_shape)).astype(np.float32)
        labels = rng.integers(0, classes, batch)
        weights = {}
        for lay in layers:
            if lay.weight_shape:
                fan_in = np.prod(lay.weight_shape[1:])
                weights[lay.name] = (rng.standard_normal(lay.weight_shape) / np.sqrt(fan_in)).astype(np.float32)
        shapes = [(batch, *lay.in_shape) for lay in layers] + [(batch, *layers[-1].out_shape)]
        act = [dm.alloc(f"act{i}", layout.act_bytes(s, g)) for i, s in enumerate(shapes)]
        grad = [0] + [dm.alloc(f"grad{i}", layout.act_bytes(s, g)) for i, s in enumerate(shapes) if i]
        wgt = {name: dm.alloc(name, layout.weights_bytes(w.shape, g)) for name, w in weights.items()}
        dm.write(act[0], layout.act_to_dram(x, g).tobytes())
        for name, w in weights.items():
            dm.write(wgt[name], layout.weights_to_dram(w, g).tobytes())
        fwd = forward_chain(rng, cfg, layers, batch, act, wgt)
        bwd = backward_chain(rng, cfg, layers, batch, act, grad, wgt, lr)

        ref_weights = weights
        for step in range(self.steps):
            seq = await self.run_chain(fwd, f"step {step + 1}/{self.steps}: forward chain of {len(fwd)}")
            if not seq.status.done:
                raise AssertionError(f"forward chain stopped: {seq.status}")
            logits = self.read(act[-1], shapes[-1], False)[:, :, 0, 0]
            ref_logits, loss, ref_new = reference_step(layers, x, labels, ref_weights, lr, cfg)
            self.compare("logits", logits, ref_logits)
            loss_dram, dlogits = oracle.softmax_xent(logits, labels)
            dm.write(grad[-1], layout.act_to_dram(dlogits[:, :, None, None], g).tobytes())
            seq = await self.run_chain(bwd, f"step {step + 1}/{self.steps}: backward chain of {len(bwd)}")
            if not seq.status.done:
                raise AssertionError(f"backward chain stopped: {seq.status}")
            for name, w in ref_new.items():
                self.compare(f"{name} weights after step {step + 1}", self.read(wgt[name], w.shape, True), w)
            ref_weights = ref_new
            self.losses.append(loss_dram)
            self.log.info("step %d: loss %.6f; logits and new weights bit-identical to the oracle's network step",
                          step + 1, loss_dram)
        # One more forward pass: the loss of the updated weights on the same batch.
        acts, _ = reference_forward(layers, x, ref_weights, cfg)
        self.log.info("loss after %d steps (oracle, same batch): %.6f", self.steps,
                      oracle.softmax_xent(acts[-1][:, :, 0, 0], labels)[0])

    @staticmethod
    def compare(what: str, got: np.ndarray, want: np.ndarray) -> None:
        g = np.ascontiguousarray(got, np.float32).view(np.uint32)
        w = np.ascontiguousarray(want, np.float32).view(np.uint32)
        bad = np.flatnonzero(g.reshape(-1) != w.reshape(-1))
        if bad.size:
            i = int(bad[0])
            raise AssertionError(f"training step: {what}: {bad.size} of {g.size} words differ from the oracle's "
                                 f"network step; first at flat index {i}: DRAM {g.reshape(-1)[i]:08x}, oracle "
                                 f"{w.reshape(-1)[i]:08x}")


# --------------------------------------------------------------------------------------
# Invalid descriptors
# --------------------------------------------------------------------------------------

#: The validation rules, in the hardware's order (eftrain.descriptor.validate).
VALIDATION_CODES = tuple(c for c in ErrorCode if ErrorCode.NONE < c <= ErrorCode.ADDRESS_RANGE)


def mutate(rng: np.random.Generator, cfg, d: Descriptor, code: ErrorCode, new_ops: bool) -> Descriptor:
    """A random change of the valid ``d`` that breaks rule ``code`` (and no earlier
    one): validate() must give ``code``; ValueError if no try does."""
    pool = d.opcode in (Opcode.POOL_FP, Opcode.POOL_BP)
    used = [u.field for u in d.tensors()]
    big = 1 << ADDR_WIDTH

    def one() -> dict:
        r = lambda lo, hi: int(rng.integers(lo, hi + 1))  # noqa: E731
        if code == ErrorCode.BAD_MAGIC:
            return dict(magic=int(rng.choice([0, dsc.MAGIC ^ 1 << r(0, 15), r(0, 0xFFFF)])))
        if code == ErrorCode.BAD_VERSION:
            return dict(version=int(rng.choice([0, 2, r(0, 255)])))
        if code == ErrorCode.BAD_OPCODE:
            return dict(opcode=int(rng.choice([0, r(6, 255)])))
        if code == ErrorCode.BAD_FLAGS:
            wrong = [f for f in Flag if not (dsc.flags_allowed(d.opcode) >> f & 1)]
            bit = r(len(Flag), 15) if not wrong or rng.random() < 0.5 else int(rng.choice(wrong))
            return dict(flags=d.flags | 1 << bit)
        if code == ErrorCode.BAD_KERNEL:
            return dict(k=int(rng.choice([0, 1, 3, r(4, 15)] if pool else [0, r(cfg.kmax + 1, 15)])))
        if code == ErrorCode.BAD_STRIDE:
            return dict(stride=int(rng.choice([0, 1, r(3, 15)] if pool else [0, r(3, 15)])))
        if code == ErrorCode.BAD_PAD:
            return dict(pad=r(1, 15) if pool else r(d.k, 15))
        if code == ErrorCode.BAD_DIMENSION:
            choice = r(0, 2)
            if choice == 0:
                return {str(rng.choice(["batch", "n", "m", "h", "w"])): int(rng.choice([0, r(4096, 65535)]))}
            if choice == 1:
                return dict(h=1, pad=0) if pool or d.k > 1 else dict(w=0)   # no output pixel
            return dict(m=d.n + r(1, 4)) if pool else dict(h=4096)
        if code == ErrorCode.TILE_TOO_LARGE:
            if pool:
                return dict(w=2 * (dsc.POOL_MAX_WO + r(1, 100)), h=2)
            choice = r(0, 3)
            if choice == 0:
                return dict(tile_rows=0)
            if choice == 1:
                return dict(w=cfg.ob_depth + r(1, 64), tile_rows=max(d.tile_rows, 1))
            if choice == 2:
                return dict(n=(cfg.wb_depth // (d.k * d.k) + 1) * cfg.tn, m=(cfg.wb_depth // (d.k * d.k) + 1) * cfg.tn)
            return dict(h=64, w=cfg.ib_depth // 2, tile_rows=64)
        if code == ErrorCode.UNALIGNED_ADDRESS:
            f = str(rng.choice(used))
            return {f: getattr(d, f) + 4 * r(1, 15)}
        if code == ErrorCode.ADDRESS_RANGE:
            f = str(rng.choice(used))
            return {f: int(rng.choice([big - 64, big, 1 << 63, big - 64 * r(1, 8)]))}
        raise ValueError(f"mutate: no rule for {code!r}")

    for _ in range(200):
        bad = dataclasses.replace(d, **one())
        if dsc.validate(bad, cfg, ADDR_WIDTH) == code:
            return bad
    raise ValueError(f"mutate: no change of {d} gives {code.name}")


class InvalidDescriptorSeq(TopSeq):
    """For every validation rule (``rounds`` times each, shuffled): 0..2 good layers, a
    descriptor broken for that rule (mutate(); the base is a random variant), then a good
    layer that must never run. Good layers carry junk in the address fields their opcode
    does not use, and some have their reserved bits set in DRAM (the core ignores both).
    Then the descriptor-address cases: CHAIN = 0, CHAIN unaligned (low or high half), an
    unaligned ``next`` after good layers. The expected code, index and DESC_DONE come
    from the scoreboard's model (validate())."""

    def __init__(self, name: str, env, rounds: int, allowed: tuple[Variant, ...], new_ops: bool):
        super().__init__(name, env)
        self.rounds, self.allowed, self.new_ops = rounds, allowed, new_ops

    def small(self, variant: Variant | None = None) -> PlacedLayer:
        v = variant or self.allowed[int(self.rng.integers(len(self.allowed)))]
        spec = random_spec(self.rng, self.cfg, v, max_c=1.5, max_hw=6, max_batch=2)
        return place_layer(self.dmap, self.rng, self.cfg, spec, junk=bool(self.rng.random() < 0.5))

    async def body(self):
        cases = [c for c in VALIDATION_CODES for _ in range(self.rounds)]
        cases = [cases[i] for i in self.rng.permutation(len(cases))]
        for n, code in enumerate(cases):
            self.memory.ensure_room(1 << 19)
            prefix = [self.small() for _ in range(int(self.rng.integers(0, 3)))]
            base = self.small()
            bad = mutate(self.rng, self.cfg, base.desc, code, self.new_ops)
            after = self.small()
            what = (f"bad {n + 1}/{len(cases)}: {code.name} at index {len(prefix)} "
                    f"({base.spec.variant.name}: {_changes(base.desc, bad)})")
            junk = tuple(i for i in range(len(prefix)) if self.rng.random() < 0.5)
            await self.run_chain([p.desc for p in prefix] + [bad, after.desc], what, reserved_bits=junk)

        # Descriptor addresses.
        self.memory.ensure_room(1 << 19)
        good = [self.small() for _ in range(2)]
        descs = [p.desc for p in good]
        await self.run_chain(descs, "CHAIN = 0", head_of=lambda a: 0)
        await self.run_chain(descs, "CHAIN unaligned", head_of=lambda a: a + 32)
        await self.run_chain(descs, "CHAIN unaligned in the high half", head_of=lambda a: (1 << 32) | a | 8)
        for n_good in (1, 2):
            target = self.dmap.alloc("next target", 64) + 16 * int(self.rng.integers(1, 4))
            await self.run_chain(descs[:n_good], f"next unaligned after {n_good}", last_next=target)


def _changes(old: Descriptor, new: Descriptor) -> str:
    out = []
    for f in dataclasses.fields(Descriptor):
        a, b = getattr(old, f.name), getattr(new, f.name)
        if a != b:
            out.append(f"{f.name} {a:#x} -> {b:#x}" if f.name in ADDRESS_FIELDS else f"{f.name} {a} -> {b}")
    return ", ".join(out)

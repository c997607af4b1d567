"""The network compiler (eftrain.netcompile): every descriptor validates, regions are
aligned and disjoint, the memory-image helpers round-trip bit for bit, and the compiled
chains, run by a descriptor-level model of the core, give the oracle backend's results
bit for bit, also through the Trainer's rtl backend (host side: memory image, chains,
learning-rate rewrite, read-back, statistics)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

from eftrain import FC, Conv, HwConfig, MaxPool, Network, Trainer, fp32, ipsim, oracle
from eftrain import descriptor as dsc
from eftrain.descriptor import DESC_BYTES, Descriptor, ErrorCode, Flag, Opcode, Status
from eftrain.layout import (
    act_bytes, act_from_dram, act_to_dram, weights_bytes, weights_from_dram, weights_to_dram,
)
from eftrain.netcompile import DEFAULT_BASE, compile_network
from eftrain.trainer import run_op

HW4 = HwConfig(tm=4, tn=4)


def example_net() -> Network:
    return Network(input_shape=(1, 8, 8), layers=[
        Conv(8, k=3, stride=1, pad=1, relu=True), MaxPool(),
        Conv(16, k=3, stride=1, pad=1, relu=True), MaxPool(),
        FC(10)])


def mixed_net() -> Network:
    return Network(input_shape=(3, 6, 6), layers=[
        Conv(4, k=3, pad=1, relu=True), Conv(5, k=3, stride=2, pad=1), MaxPool(),
        FC(6, relu=True), FC(3)])


COMPILES = {
    "example": (example_net, HW4, None),
    "example, last two trainable": (example_net, HW4, ["conv2", "fc1"]),
    "example, tn 8": (example_net, HwConfig(tm=8, tn=8), ["conv1", "fc1"]),
    "mixed": (mixed_net, HW4, None),
}


def same_bits(a, b) -> bool:
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    return a.shape == b.shape and np.array_equal(fp32.bits(a), fp32.bits(b))


# --------------------------------------------------------------------------------------
# Chains and memory map.
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", COMPILES)
def test_chains_validate_and_link(case: str) -> None:
    make, hw, trainable = COMPILES[case]
    compiled = compile_network(make(), batch=4, hw=hw, trainable=trainable)
    lr = 0.1  # not an fp32 value: the descriptor stores it rounded
    for start, descs, ops, image in (
        (compiled.forward_chain, compiled.forward_descriptors(), compiled.lowering.forward,
         compiled.forward_chain_image()),
        (compiled.backward_chain, compiled.backward_descriptors(lr), compiled.lowering.backward,
         compiled.backward_chain_image(lr)),
    ):
        assert len(descs) == len(ops) > 0
        assert list(image) == [start] and len(image[start]) == DESC_BYTES * len(ops)
        addr = start
        for i, ((where, desc), op) in enumerate(zip(descs, ops, strict=True)):
            assert where == addr and dsc.descriptor_address_ok(addr)
            assert dsc.validate(desc, hw) == ErrorCode.NONE, op.label
            unpacked = Descriptor.unpack(image[start][i * DESC_BYTES:(i + 1) * DESC_BYTES])
            assert (unpacked.opcode, unpacked.flags, unpacked.tile_rows) == (op.opcode, op.flags,
                                                                              op.tile_rows)
            if unpacked.opcode == Opcode.CONV_WU:
                assert unpacked.flags >> Flag.SGD & 1 and unpacked.lr == float(np.float32(lr))
                assert unpacked.out_addr == unpacked.wgt_addr  # the update is in place
            addr = unpacked.next
        assert addr == 0, "the last descriptor ends the chain"


@pytest.mark.parametrize("case", COMPILES)
def test_regions_aligned_disjoint_and_used_as_declared(case: str) -> None:
    make, hw, trainable = COMPILES[case]
    compiled = compile_network(make(), batch=3, hw=hw, trainable=trainable, base=0x40000)
    regions = sorted(compiled.regions.values(), key=lambda r: r.addr)
    assert regions[0].addr == 0x40000
    for a, b in zip(regions, regions[1:], strict=False):
        assert a.end <= b.addr, f"{a.name} overlaps {b.name}"
    for r in regions:
        assert r.addr % dsc.ADDR_ALIGN == 0 and r.nbytes > 0
        if r.shape is not None:
            assert r.nbytes == (weights_bytes if r.weights else act_bytes)(r.shape, hw.tn)
    # Every tensor a descriptor touches is exactly one region: same start, same shape,
    # same layout (the roles of eftrain.descriptor, not the compiler's own bookkeeping).
    by_addr = {r.addr: r for r in regions}
    descs = compiled.forward_descriptors() + compiled.backward_descriptors(0.05)
    for _, desc in descs:
        for use in desc.tensors():
            region = by_addr[use.addr]
            assert (region.shape, region.weights) == (use.shape, use.weights), (use, region)
            assert use.nbytes(hw.tn) == region.nbytes
    written = {u.addr for _, d in descs for u in d.tensors() if u.access == "write"}
    inputs_and_weights = {compiled.region("input").addr} | {
        compiled.region(t).addr for t in compiled.lowering.weights.values()}
    # The chains never write the input; weights only by the fused SGD (in place).
    assert compiled.region("input").addr not in written
    assert written & inputs_and_weights == {compiled.region(compiled.lowering.weights[n]).addr
                                            for n in compiled.lowering.trainable}


def test_memory_helpers_round_trip(rng) -> None:
    net = example_net()
    compiled = compile_network(net, batch=2, hw=HW4)
    patterns = {n: rng.integers(0, 1 << 32, s, dtype=np.uint32).view(np.float32)
                for n, s in net.weight_shapes.items()}
    image = compiled.weights_image(patterns)
    for name, w in patterns.items():
        region = compiled.region(f"w:{name}")
        assert len(image[region.addr]) == region.nbytes
        # The layout's own decoder, with the [M,C,H,W] view of an FC weight.
        hw_shape = net.layer(name).hw_weight_shape
        assert same_bits(weights_from_dram(image[region.addr], hw_shape, 4).reshape(w.shape), w)
        assert same_bits(compiled.weights_from(name, image[region.addr]), w)
    x = rng.standard_normal((2, 1, 8, 8)).astype(np.float32)
    (addr, data), = compiled.input_image(x).items()
    assert addr == compiled.region("input").addr and same_bits(act_from_dram(data, (2, 1, 8, 8), 4), x)
    d = rng.standard_normal((2, 10)).astype(np.float32)
    (addr, data), = compiled.dlogits_image(d).items()
    assert addr == compiled.region("grad:fc1").addr
    assert same_bits(act_from_dram(data, (2, 10, 1, 1), 4)[:, :, 0, 0], d)
    logits_bytes = act_to_dram(d[:, :, None, None], 4).tobytes()
    assert same_bits(compiled.logits_from(logits_bytes), d)
    with pytest.raises(ValueError, match=r"input: x\.shape \(3, 1, 8, 8\) != \(2, 1, 8, 8\)"):
        compiled.input_image(np.zeros((3, 1, 8, 8), np.float32))
    with pytest.raises(ValueError, match=r"fc1: weights must be float32"):
        compiled.weights_image({"fc1": np.zeros((10, 64))})


def test_compile_errors() -> None:
    net = example_net()
    with pytest.raises(ValueError, match=r"base must be a positive multiple of 64"):
        compile_network(net, 2, HW4, base=DEFAULT_BASE + 32)
    # Placed at the top of a 40-bit address space, the first descriptor's tensors end past it.
    with pytest.raises(ValueError, match=r"conv1 CONV_FP\+RELU \(forward chain\): the core rejects the "
                                         r"descriptor: ADDRESS_RANGE"):
        compile_network(net, 2, HW4, base=(1 << 40) - 0x1000)
    with pytest.raises(ValueError, match=r"fc1: .*add pooling"):
        compile_network(Network((1, 8, 8), [Conv(2, pad=1), FC(2)]), 2, HW4)


# --------------------------------------------------------------------------------------
# A descriptor-level model of the core, to run the compiled chains without the simulator.
# --------------------------------------------------------------------------------------


@dataclass
class ChainResult:
    """The fields of eftrain.ipsim's RunResult that the runtime reads."""

    status: Status
    desc_done: int
    counters: dict[str, int] = field(default_factory=dict)


class DescriptorLevelCore:
    """The core as software sees it, one descriptor at a time: a flat DRAM; a chain is
    followed through ``next``; each descriptor is validated (eftrain.descriptor.validate)
    and executed by run_op on the tensors its address fields point at, read and written
    in their eftrain.layout layouts with the shapes eftrain.descriptor gives each field.
    It offers the session API of eftrain.ipsim (write, read, run_chain, close). Its
    counters are not the core's: busy = 1000 per descriptor, mac = the MACs over TM*TN,
    and AXI beats = the bytes of the descriptors and tensors moved, over 16."""

    def __init__(self, hw: HwConfig, dram_bytes: int = 1 << 22):
        self.hw = hw
        self.dram = bytearray(dram_bytes)
        self.closed = False

    def write(self, addr: int, data) -> None:
        data = bytes(data)
        assert 0 <= addr and addr + len(data) <= len(self.dram)
        self.dram[addr:addr + len(data)] = data

    def read(self, addr: int, nbytes: int) -> bytes:
        return bytes(self.dram[addr:addr + nbytes])

    def run_chain(self, addr: int) -> ChainResult:
        counters = dict.fromkeys((name.lower() for name, _ in dsc.COUNTERS), 0)
        done = 0
        while addr:
            desc = Descriptor.unpack(self.read(addr, DESC_BYTES))
            counters["axi_rd_beats"] += DESC_BYTES // 16
            code = dsc.validate(desc, self.hw)
            if code != ErrorCode.NONE:
                return ChainResult(Status(False, False, True, code, done), done, counters)
            g = self.hw.tn
            operands, out = {}, None
            for use in desc.tensors():
                if use.access == "write":
                    out = use
                    continue
                data = self.read(use.addr, use.nbytes(g))
                from_dram = weights_from_dram if use.weights else act_from_dram
                operands[use.field] = from_dram(data, use.shape, g)
                counters["axi_rd_beats"] += len(data) // 16
            result = run_op(desc, operands, desc.lr, self.hw)
            image = (weights_to_dram if out.weights else act_to_dram)(result, g).tobytes()
            self.write(out.addr, image)
            counters["axi_wr_beats"] += len(image) // 16
            counters["busy"] += 1000
            if desc.opcode in (Opcode.CONV_FP, Opcode.CONV_BP, Opcode.CONV_WU):
                ho, wo = desc.out_hw
                macs = desc.batch * desc.m * desc.n * desc.k ** 2 * ho * wo
                counters["mac"] += -(-macs // (self.hw.tm * self.hw.tn))
            done += 1
            addr = desc.next
        return ChainResult(Status(False, True, False, ErrorCode.NONE, 0), done, counters)

    def close(self) -> None:
        self.closed = True


def test_compiled_chains_give_the_oracle_backend_results(rng) -> None:
    """The memory image and chains of the compiler, run descriptor by descriptor, equal
    the oracle backend (the op list executed directly) bit for bit over two steps with
    different learning rates."""
    net = example_net()
    compiled = compile_network(net, batch=4, hw=HW4)
    core = DescriptorLevelCore(HW4)
    reference = Trainer(net, batch=4, backend="oracle", hw=HW4, seed=4)
    for addr, data in {**compiled.forward_chain_image(),
                       **compiled.weights_image(reference.get_weights())}.items():
        core.write(addr, data)
    for lr in (0.05, 0.125):
        x = rng.standard_normal((4, 1, 8, 8)).astype(np.float32)
        labels = rng.integers(0, 10, 4)
        for addr, data in {**compiled.input_image(x), **compiled.backward_chain_image(lr)}.items():
            core.write(addr, data)
        forward = core.run_chain(compiled.forward_chain)
        assert forward.status.done and forward.desc_done == len(compiled.lowering.forward)
        region = compiled.region(compiled.lowering.logits)
        logits = compiled.logits_from(core.read(region.addr, region.nbytes))
        loss, dlogits = oracle.softmax_xent(logits, labels)
        for addr, data in compiled.dlogits_image(dlogits).items():
            core.write(addr, data)
        backward = core.run_chain(compiled.backward_chain)
        assert backward.status.done and backward.desc_done == len(compiled.lowering.backward)
        assert reference.step(x, labels, lr) == loss
        assert same_bits(reference.last_logits, logits)
        for name, w in reference.get_weights().items():
            region = compiled.region(f"w:{name}")
            assert same_bits(compiled.weights_from(name, core.read(region.addr, region.nbytes)), w), name


# --------------------------------------------------------------------------------------
# The Trainer's rtl backend on the descriptor-level core.
# --------------------------------------------------------------------------------------


@pytest.fixture
def descriptor_level_ip(monkeypatch):
    """Make Trainer(backend="rtl") run on DescriptorLevelCore instead of the simulator."""
    sessions = []

    class DescriptorLevelIP:
        def __init__(self, hw, seed=1):
            self.hw = hw

        def session(self):
            sessions.append(DescriptorLevelCore(self.hw))
            return sessions[-1]

    monkeypatch.setattr(ipsim, "SimulatedIP", DescriptorLevelIP)
    return sessions


@pytest.mark.parametrize("trainable", [None, ["conv2", "fc1"]], ids=["all", "last two"])
def test_rtl_backend_host_side(descriptor_level_ip, trainable, rng) -> None:
    net = example_net()
    kwargs = {"batch": 4, "hw": HW4, "seed": 6, "trainable": trainable}
    with Trainer(net, backend="rtl", **kwargs) as rtl:
        oracle_tr = Trainer(net, backend="oracle", **kwargs)
        core = descriptor_level_ip[-1]
        for name, w in oracle_tr.get_weights().items():
            assert same_bits(rtl.get_weights()[name], w), f"initial {name}"
        for lr in (0.05, 0.05, 0.2):
            x = rng.standard_normal((4, 1, 8, 8)).astype(np.float32)
            labels = rng.integers(0, 10, 4)
            assert rtl.step(x, labels, lr) == oracle_tr.step(x, labels, lr)
            assert same_bits(rtl.last_logits, oracle_tr.last_logits)
            for name, w in oracle_tr.get_weights().items():
                assert same_bits(rtl.get_weights()[name], w), name
        # predict: chunks of the batch, the last one padded; stats stay the last step's.
        stats = rtl.stats
        many = rng.standard_normal((9, 1, 8, 8)).astype(np.float32)
        assert same_bits(rtl.predict(many), oracle_tr.predict(many))
        assert rtl.stats is stats
        # set_weights goes to the DRAM.
        fresh = net.init_weights(99)
        rtl.set_weights(fresh)
        oracle_tr.set_weights(fresh)
        assert same_bits(rtl.predict(many), oracle_tr.predict(many))
    assert core.closed

    # Statistics: bytes = beats * 16, per chain and in total, from the core's counters.
    compiled = compile_network(net, **{k: kwargs[k] for k in ("batch", "hw", "trainable")})

    def bytes_moved(ops, access):
        total = DESC_BYTES * len(ops) if access == "read" else 0
        return total + sum(u.nbytes(4) for op in ops for u in op.descriptor().tensors() if u.access == access)

    for chain, ops in (("forward", compiled.lowering.forward), ("backward", compiled.lowering.backward)):
        s = stats[chain]
        assert s["dram_bytes_read"] == bytes_moved(ops, "read")
        assert s["dram_bytes_written"] == bytes_moved(ops, "write")
        assert s["busy_cycles"] == 1000 * len(ops) and s["macs"] == sum(op.macs for op in ops)
        assert s["mac_utilisation"] == s["mac_cycles"] / s["busy_cycles"]
    total = stats["total"]
    for key in ("busy_cycles", "mac_cycles", "macs", "dram_bytes_read", "dram_bytes_written"):
        assert total[key] == stats["forward"][key] + stats["backward"][key], key
    assert total["mac_utilisation"] == total["mac_cycles"] / total["busy_cycles"]


def test_rtl_backend_reports_a_stopped_chain(descriptor_level_ip, rng) -> None:
    net = example_net()
    tr = Trainer(net, batch=4, backend="rtl", hw=HW4, seed=1)
    x = rng.standard_normal((4, 1, 8, 8)).astype(np.float32)
    labels = rng.integers(0, 10, 4)
    tr.step(x, labels, 0.05)
    # Break the backward chain's third descriptor (pool2's POOL_BP): its magic.
    core = descriptor_level_ip[-1]
    addr = tr._backend.compiled.backward_chain + 2 * DESC_BYTES
    core.write(addr, b"\0\0")
    with pytest.raises(RuntimeError, match=r"the backward chain stopped at descriptor 2 "
                                           r"\(pool2 POOL_BP\+RELU_MASK\): BAD_MAGIC"):
        tr.step(x, labels, 0.05)
    tr.close()

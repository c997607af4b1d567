"""Trainer(backend="rtl"): training steps on eftrain_top under Verilator (through a
persistent eftrain.ipsim session) give the oracle backend's losses, logits and weights bit
for bit, and the statistics come from the core's counters. Needs the simulator (``make
setup``); the model is built once per hardware configuration under build/ipsim."""

from __future__ import annotations

import numpy as np
import pytest

from eftrain import FC, Conv, HwConfig, MaxPool, Network, Trainer, fp32

# The configuration of tb/eftrain_top/test_ipsim.py: the two share one Verilator build.
HW = HwConfig(tm=4, tn=4, ib_depth=512, ob_depth=512, wb_depth=256)


def example_net() -> Network:
    return Network(input_shape=(1, 8, 8), layers=[
        Conv(8, k=3, stride=1, pad=1, relu=True), MaxPool(),
        Conv(16, k=3, stride=1, pad=1, relu=True), MaxPool(),
        FC(10)])


def mixed_net() -> Network:
    """Stride 2, a conv feeding a conv through a ReLU (CONV_BP with RELU_MASK), a pool
    after a conv without ReLU, an FC on a 1x1 map, an FC after an FC, ReLU logits."""
    return Network(input_shape=(3, 6, 6), layers=[
        Conv(4, k=3, pad=1, relu=True), Conv(5, k=3, stride=2, pad=1), MaxPool(),
        FC(6, relu=True), FC(4, relu=True)])


CASES = {
    "example": (example_net, None),
    "example, last two trainable": (example_net, ["conv2", "fc1"]),
    "mixed": (mixed_net, None),
}


def same_bits(a, b) -> bool:
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    return a.shape == b.shape and np.array_equal(fp32.bits(a), fp32.bits(b))


@pytest.mark.parametrize("case", CASES)
def test_rtl_steps_match_the_oracle_bit_for_bit(case: str, seed: int, rng) -> None:
    make, trainable = CASES[case]
    net = make()
    kwargs = {"batch": 4, "hw": HW, "seed": seed, "trainable": trainable}
    reference = Trainer(net, backend="oracle", **kwargs)
    with Trainer(net, backend="rtl", **kwargs) as rtl:
        for name, w in reference.get_weights().items():
            assert same_bits(rtl.get_weights()[name], w), f"initial {name}"
        for step, lr in enumerate((0.05, 0.05, 0.2)):
            x = rng.standard_normal((4, *net.input_shape)).astype(np.float32)
            labels = rng.integers(0, net.num_classes, 4)
            loss = rtl.step(x, labels, lr)
            assert loss == reference.step(x, labels, lr), f"step {step}: loss"
            assert same_bits(rtl.last_logits, reference.last_logits), f"step {step}: logits"
            for name, w in reference.get_weights().items():
                assert same_bits(rtl.get_weights()[name], w), f"step {step}: {name}"
            print(f"step {step}: loss {loss:.6f}, {rtl.stats['total']['busy_cycles']} busy cycles, "
                  f"MAC utilisation {rtl.stats['total']['mac_utilisation']:.3f}")
        many = rng.standard_normal((6, *net.input_shape)).astype(np.float32)
        assert same_bits(rtl.predict(many), reference.predict(many)), "predict"

        lowering = rtl.lowering
        for chain, ops in (("forward", lowering.forward), ("backward", lowering.backward)):
            s = rtl.stats[chain]
            assert 0 < s["mac_cycles"] <= s["busy_cycles"], (chain, s)
            assert s["mac_utilisation"] == s["mac_cycles"] / s["busy_cycles"]
            # A MAC cycle does at most TM x TN useful multiply-accumulates.
            assert s["mac_cycles"] * HW.tm * HW.tn >= s["macs"] == sum(op.macs for op in ops), (chain, s)
            # At least every descriptor is fetched and every tensor written once.
            assert s["dram_bytes_read"] >= 64 * len(ops), (chain, s)
            written = sum(u.nbytes(HW.tn) for op in ops for u in op.descriptor().tensors()
                          if u.access == "write")
            assert s["dram_bytes_written"] >= written, (chain, s)

"""eftrain.ipsim, the Python entry to the simulated IP (the README's snippet): one layer of
each phase through SimulatedIP, bit-exact with the oracle, and a bad layer refused."""

from __future__ import annotations

import numpy as np
import pytest

from eftrain import HwConfig, fp32, ipsim, oracle

HW = HwConfig(tm=4, tn=4, ib_depth=512, ob_depth=512, wb_depth=256)


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

"""The two fp32 models agree with each other and with numpy float32 arithmetic on every
vector category the RTL test uses, plus a million random pairs (no simulation)."""

from __future__ import annotations

import numpy as np
import pytest

from eftrain import fp32
from eftrain_tb import fp32_vectors


@pytest.mark.parametrize("op", ["mul", "add"])
def test_bit_model_matches_native_and_numpy(op, rng):
    model, native = getattr(fp32, op), getattr(fp32, f"{op}_native")
    for category, (a, b) in fp32_vectors.all_vectors(rng, 1_000_000).items():
        fa, fb = a.view(np.float32), b.view(np.float32)
        by_model = fp32.bits(model(fa, fb))
        assert np.array_equal(by_model, fp32.bits(native(fa, fb))), f"{op} [{category}]: model != native"
        assert np.array_equal(by_model, fp32_vectors.numpy_expected(op, a, b)), f"{op} [{category}]: model != numpy"


def test_directed_values():
    """Hand-derived results for the rules of docs/numerics.md section 1."""
    f = lambda *v: np.array(v, dtype=np.float32)  # noqa: E731
    as_bits = lambda x: [int(v) for v in fp32.bits(x)]  # noqa: E731
    # (1 - 2^-24) * 2^-126 = 2^-126 - 2^-150: gradual underflow rounds it up to 2^-126.
    assert as_bits(fp32.mul(fp32.from_bits([0x3F7FFFFF]), fp32.from_bits([0x00800000]))) == [0x00800000]
    # (1 - 2^-23) * 2^-126 is subnormal after rounding: flushed to +0.
    assert as_bits(fp32.mul(fp32.from_bits([0x3F7FFFFE]), fp32.from_bits([0x00800000]))) == [0]
    # Subnormal inputs are zeros; 0 x inf is NaN; every NaN is canonical.
    assert as_bits(fp32.mul(fp32.from_bits([0x00000001]), f(np.inf))) == [0x7FC00000]
    assert as_bits(fp32.add(fp32.from_bits([0xFFC12345]), f(1.0))) == [0x7FC00000]
    assert as_bits(fp32.add(f(np.inf), f(-np.inf))) == [0x7FC00000]
    # Signed zeros: x + (-x) = +0, (-0) + (-0) = -0, subnormal + -0 = -0 + -0.
    assert as_bits(fp32.add(f(1.5), f(-1.5))) == [0]
    assert as_bits(fp32.add(f(-0.0), f(-0.0))) == [0x80000000]
    assert as_bits(fp32.add(fp32.from_bits([0x80000005]), f(-0.0))) == [0x80000000]
    # Ties to even: 1 + 2^-24 -> 1, (1 + 2^-23) + 2^-24 -> 1 + 2^-22.
    assert as_bits(fp32.add(f(1.0), f(2.0**-24))) == [0x3F800000]
    assert as_bits(fp32.add(f(1.0 + 2.0**-23), f(2.0**-24))) == [0x3F800002]
    # Overflow after rounding gives inf.
    assert as_bits(fp32.add(fp32.from_bits([0x7F7FFFFF]), fp32.from_bits([0x73000000]))) == [0x7F800000]

"""Operand pairs for the fp32 unit tests, by category (uint32 bit patterns).

Every category is built for the corner it names; all pairs go through both units.
``all_vectors(rng, n_random)`` returns ``{category: (a_bits, b_bits)}``.
"""

from __future__ import annotations

import numpy as np

U32 = np.uint32


def _pack(sign, exp, frac) -> np.ndarray:
    sign = np.asarray(sign, np.uint64)
    exp = np.asarray(exp, np.uint64)
    frac = np.asarray(frac, np.uint64)
    return ((sign << 31) | (exp << 23) | frac).astype(U32)


SPECIAL_VALUES = {
    "+0": 0x00000000,
    "-0": 0x80000000,
    "+min subnormal": 0x00000001,
    "-min subnormal": 0x80000001,
    "+max subnormal": 0x007FFFFF,
    "-mid subnormal": 0x80400000,
    "+min normal": 0x00800000,
    "-min normal": 0x80800000,
    "+max finite": 0x7F7FFFFF,
    "-max finite": 0xFF7FFFFF,
    "+inf": 0x7F800000,
    "-inf": 0xFF800000,
    "+qNaN": 0x7FC00000,
    "-qNaN payload": 0xFFC12345,
    "+sNaN": 0x7F800001,
    "-sNaN payload": 0xFFA00000,
    "+1": 0x3F800000,
    "-1.5": 0xBFC00000,
    "+2^-63": 0x20000000,
}


def specials() -> tuple[np.ndarray, np.ndarray]:
    """Every ordered pairing of the special classes."""
    values = np.array(list(SPECIAL_VALUES.values()), dtype=U32)
    a, b = np.meshgrid(values, values, indexing="ij")
    return a.ravel(), b.ravel()


def halfway(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact ties for both units.

    Products: a 12-bit odd significand times a 13-bit odd one has 24 or 25 significant
    bits and ends in a one; the 25-bit ones are exactly halfway between two fp32
    values. Sums: ``a + m * ulp(a)/2`` with ``m`` odd is exactly halfway too.
    """
    half = n // 2
    sa = rng.integers(0, 2, half)
    sb = rng.integers(0, 2, half)
    ma = (rng.integers(0, 1 << 10, half) << 1 | 1) | (1 << 11)  # 12 bits, odd
    mb = (rng.integers(0, 1 << 11, half) << 1 | 1) | (1 << 12)  # 13 bits, odd
    ea = rng.integers(60, 190, half)
    eb = rng.integers(60, 190, half)
    mul_a = _pack(sa, ea, (ma << 12) & 0x7FFFFF)
    mul_b = _pack(sb, eb, (mb << 11) & 0x7FFFFF)

    rest = n - half
    a = _pack(rng.integers(0, 2, rest), rng.integers(30, 220, rest), rng.integers(0, 1 << 23, rest))
    exp_a = ((a >> 23) & 0xFF).astype(np.int64) - 127
    half_ulp = np.ldexp(1.0, exp_a - 24)
    m = (rng.integers(0, 1 << 20, rest) << 1) | 1
    b_val = m * half_ulp * rng.choice([-1.0, 1.0], rest)
    add_b = b_val.astype(np.float32).view(U32)
    assert np.all(b_val.astype(np.float32).astype(np.float64) == b_val)  # exact by construction
    return np.concatenate([mul_a, a]), np.concatenate([mul_b, add_b])


def overflow(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Results at and beyond the largest finite value, including rounding up into inf."""
    q = n // 3
    # products whose exponent sum straddles 254 + 127
    ea = rng.integers(190, 255, q)
    eb = np.clip(381 - ea + rng.integers(-2, 3, q), 1, 254)
    mul = (_pack(rng.integers(0, 2, q), ea, rng.integers(0, 1 << 23, q)),
           _pack(rng.integers(0, 2, q), eb, rng.integers(0, 1 << 23, q)))
    # sums of two values near the top binade with the same sign
    s = rng.integers(0, 2, q)
    add = (_pack(s, rng.integers(252, 255, q), rng.integers((1 << 23) - 4096, 1 << 23, q)),
           _pack(s, rng.integers(220, 255, q), rng.integers(0, 1 << 23, q)))
    # max finite plus exactly half an ulp and a bit more or less (tie goes to inf)
    r = n - 2 * q
    s = rng.integers(0, 2, r)
    edge = (_pack(s, 254, 0x7FFFFF), _pack(s, 254 - 24 + rng.integers(-1, 2, r), rng.integers(0, 4, r)))
    return tuple(np.concatenate(parts) for parts in zip(mul, add, edge))


def underflow(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Results around 2^-126: flushed subnormals and the products that round up to it."""
    q = n // 3
    # products with exponent sums near 127 + 1 (the result binade of 2^-126)
    ea = rng.integers(1, 255, q)
    eb = np.clip(128 - ea + rng.integers(-2, 2, q), 1, 254)
    fb = np.where(rng.random(q) < 0.5, 0x7FFFFF - rng.integers(0, 1 << 8, q), rng.integers(0, 1 << 23, q))
    mul = (_pack(rng.integers(0, 2, q), ea, rng.integers(0, 1 << 23, q)), _pack(rng.integers(0, 2, q), eb, fb))
    # the exact rounding boundary: (1 - 2^-24 * k) * 2^-126 for a few k
    k = rng.integers(1, 4, q)
    boundary = (_pack(rng.integers(0, 2, q), 126, (1 << 23) - k), _pack(rng.integers(0, 2, q), 1, 0))
    # differences of nearby small normals (exact subnormal results, flushed)
    r = n - 2 * q
    s = rng.integers(0, 2, r)
    e = rng.integers(1, 4, r)
    diff = (_pack(s, e, rng.integers(0, 1 << 23, r)), _pack(1 - s, e, rng.integers(0, 1 << 23, r)))
    return tuple(np.concatenate(parts) for parts in zip(mul, boundary, diff))


def cancellation(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """a + b with b close to -a: exponent difference 0 or 1, few bits left."""
    s = rng.integers(0, 2, n)
    e = rng.integers(2, 254, n)
    f = rng.integers(0, 1 << 23, n)
    delta = rng.integers(-64, 65, n)
    eb = np.where(rng.random(n) < 0.25, e - 1, e)
    fb = np.clip(f + delta, 0, (1 << 23) - 1)
    fb = np.where(eb < e, (1 << 23) - 1 - rng.integers(0, 64, n), fb)
    return _pack(s, e, f), _pack(1 - s, eb, fb)


def exponent_differences(rng: np.random.Generator, per_diff: int) -> tuple[np.ndarray, np.ndarray]:
    """For every exponent difference 0..30, random signs and significands."""
    a_parts, b_parts = [], []
    for d in range(31):
        e = rng.integers(1 + d, 255, per_diff)
        a_parts.append(_pack(rng.integers(0, 2, per_diff), e, rng.integers(0, 1 << 23, per_diff)))
        b_parts.append(_pack(rng.integers(0, 2, per_diff), e - d, rng.integers(0, 1 << 23, per_diff)))
    return np.concatenate(a_parts), np.concatenate(b_parts)


def random_pairs(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """A third uniform bit patterns, a third normals of moderate size, a third pairs
    with close exponents (where addition does its interesting work)."""
    q = n // 3
    uniform = (rng.integers(0, 1 << 32, q, dtype=np.uint64).astype(U32),
               rng.integers(0, 1 << 32, q, dtype=np.uint64).astype(U32))
    moderate = (_pack(rng.integers(0, 2, q), rng.integers(64, 192, q), rng.integers(0, 1 << 23, q)),
                _pack(rng.integers(0, 2, q), rng.integers(64, 192, q), rng.integers(0, 1 << 23, q)))
    r = n - 2 * q
    e = rng.integers(8, 248, r)
    close = (_pack(rng.integers(0, 2, r), e, rng.integers(0, 1 << 23, r)),
             _pack(rng.integers(0, 2, r), e + rng.integers(-6, 7, r), rng.integers(0, 1 << 23, r)))
    return tuple(np.concatenate(parts) for parts in zip(uniform, moderate, close))


def all_vectors(rng: np.random.Generator, n_random: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {
        "specials": specials(),
        "halfway": halfway(rng, 4000),
        "overflow": overflow(rng, 3000),
        "underflow": underflow(rng, 3000),
        "cancellation": cancellation(rng, 3000),
        "exponent differences 0..30": exponent_differences(rng, 200),
        "random": random_pairs(rng, n_random),
    }


def ftz_numpy(x: np.ndarray) -> np.ndarray:
    """Flush subnormal float32 values to signed zero with plain numpy (independent of
    eftrain.fp32, so the comparison against numpy arithmetic is a second opinion)."""
    x = np.asarray(x, np.float32)
    return np.where(np.abs(x) < np.finfo(np.float32).tiny, np.copysign(np.float32(0), x), x).astype(np.float32)


def numpy_expected(op: str, a_bits: np.ndarray, b_bits: np.ndarray) -> np.ndarray:
    """canon(ftz(ftz(a) op ftz(b))) in numpy float32 arithmetic, as uint32."""
    a = ftz_numpy(a_bits.view(np.float32))
    b = ftz_numpy(b_bits.view(np.float32))
    with np.errstate(all="ignore"):
        r = ftz_numpy(a * b if op == "mul" else a + b)
    out = r.view(U32).copy()
    out[np.isnan(r)] = 0x7FC00000
    return out

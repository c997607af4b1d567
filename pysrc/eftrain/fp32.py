"""Bit-exact models of the core's fp32 multiplier and adder (docs/numerics.md, section 1).

Two implementations that must agree on every input:

* ``mul`` / ``add``: an integer, bit-level model of the RTL algorithm (unpack, align with
  guard/round/sticky bits, normalise, round to nearest even, flush, pack), vectorised
  over numpy ``uint32``/``int64`` arrays. It mirrors ``rtl/fp32_mul.sv`` and
  ``rtl/fp32_add.sv`` step by step, so a mismatch points at one step.
* ``mul_native`` / ``add_native``: numpy float32 arithmetic with flush-to-zero and NaN
  canonicalisation around it. Fast; the oracle's exact mode uses these.

All functions take array-likes of float32 (or anything numpy converts to float32) and
return float32 arrays. ``bits``/``from_bits`` convert between float32 and uint32.
"""

from __future__ import annotations

import numpy as np

CANONICAL_NAN = np.uint32(0x7FC00000)
SIGN_MASK = np.uint32(0x80000000)
EXP_MASK = np.uint32(0x7F800000)
MANT_MASK = np.uint32(0x007FFFFF)
MIN_NORMAL = np.float32(2.0**-126)


def bits(x) -> np.ndarray:
    """The IEEE-754 bit patterns of ``x`` (converted to float32) as uint32."""
    return np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)


def from_bits(b) -> np.ndarray:
    """float32 values with the given uint32 bit patterns."""
    return np.ascontiguousarray(b, dtype=np.uint32).view(np.float32)


def ftz(x) -> np.ndarray:
    """Replace subnormals by zeros of the same sign (a new float32 array)."""
    b = bits(x).copy()
    subnormal = (b & EXP_MASK) == 0
    b[subnormal] &= SIGN_MASK
    return b.view(np.float32)


def ftz_inplace(x: np.ndarray) -> np.ndarray:
    """``ftz`` on a float32 array in place (the oracle's hot path); returns ``x``."""
    b = x.view(np.uint32)
    np.bitwise_and(b, np.where((b & EXP_MASK) == 0, SIGN_MASK, np.uint32(0xFFFFFFFF)), out=b)
    return x


def canon(x) -> np.ndarray:
    """Replace every NaN by the canonical quiet NaN 0x7FC00000 (a new float32 array)."""
    b = bits(x).copy()
    b[np.isnan(b.view(np.float32))] = CANONICAL_NAN
    return b.view(np.float32)


def canon_inplace(x: np.ndarray) -> np.ndarray:
    """``canon`` on a float32 array in place; returns ``x``."""
    nan = np.isnan(x)
    if nan.any():
        x.view(np.uint32)[nan] = CANONICAL_NAN
    return x


def check_ieee_subnormals() -> None:
    """Raise RuntimeError if this process's CPU flushes subnormals.

    Some native libraries set the FTZ/DAZ flags process-wide; numpy would then no longer
    round subnormal results the IEEE way and every native-path result could be wrong.
    """
    tiny = np.array([2.0**-126], dtype=np.float32) * np.float32(0.5)
    if tiny[0] == 0:
        raise RuntimeError(
            "the CPU flushes subnormals in this process (FTZ/DAZ set by a native library); "
            "eftrain.fp32's native path needs IEEE subnormal arithmetic"
        )


def mul_native(a, b) -> np.ndarray:
    """fp32 product with the core's rules, through numpy float32 arithmetic."""
    check_ieee_subnormals()
    with np.errstate(all="ignore"):
        r = np.multiply(ftz(a), ftz(b), dtype=np.float32)
    return canon_inplace(ftz_inplace(np.asarray(r, dtype=np.float32)))


def add_native(a, b) -> np.ndarray:
    """fp32 sum with the core's rules, through numpy float32 arithmetic."""
    check_ieee_subnormals()
    with np.errstate(all="ignore"):
        r = np.add(ftz(a), ftz(b), dtype=np.float32)
    return canon_inplace(ftz_inplace(np.asarray(r, dtype=np.float32)))


# --------------------------------------------------------------------------------------
# Bit-level model of the RTL. Every step names the RTL stage it mirrors.
# --------------------------------------------------------------------------------------


def _unpack(x):
    """Sign, biased exponent, 24-bit significand (hidden bit set), class flags (FTZ)."""
    b = bits(x).astype(np.int64)
    sign = (b >> 31) & 1
    exp = (b >> 23) & 0xFF
    frac = b & 0x7FFFFF
    is_zero = exp == 0  # zeros and subnormals (denormals-are-zero)
    is_inf = (exp == 0xFF) & (frac == 0)
    is_nan = (exp == 0xFF) & (frac != 0)
    sig = np.where(is_zero, 0, frac | (1 << 23))
    return sign, exp, sig, is_zero, is_inf, is_nan


def _pack(sign, exp, frac) -> np.ndarray:
    word = (sign.astype(np.int64) << 31) | (exp.astype(np.int64) << 23) | frac.astype(np.int64)
    return word.astype(np.uint32).view(np.float32)


def _round_and_pack(sign, exp, sig, guard, sticky):
    """Round a normalised significand ``sig`` (24 bits, bit 23 set, or 0) to nearest even
    and pack, with overflow to infinity and flush of subnormal results.

    ``exp`` is the biased exponent of ``sig`` before rounding; it may be <= 0 or >= 255.
    The IEEE result is subnormal, hence flushed, whenever ``exp <= 0``, except for the
    one case in which gradual-underflow rounding reaches the smallest normal: ``exp == 0``
    with an all-ones significand (the value is at least 2^-126 - 2^-150, which the
    subnormal grid rounds up to 2^-126).
    """
    lsb = sig & 1
    round_up = guard & (sticky | lsb)
    sig_r = sig + round_up
    carry = sig_r >> 24
    exp_r = exp + carry
    sig_r = np.where(carry == 1, sig_r >> 1, sig_r)
    frac = sig_r & 0x7FFFFF
    zero_exp = np.zeros_like(exp)
    overflow = exp_r >= 0xFF
    to_min_normal = (exp == 0) & (sig == 0xFFFFFF)
    underflow = exp_r <= 0
    out_exp = np.where(overflow, 0xFF, np.where(underflow, zero_exp, exp_r))
    out_frac = np.where(overflow | underflow, 0, frac)
    out_exp = np.where(to_min_normal, 1, out_exp)
    out_frac = np.where(to_min_normal, 0, out_frac)
    return _pack(sign, out_exp, out_frac)


def _specials(result, sign, nan, inf, zero):
    """Overlay NaN / signed infinity / signed zero results (the RTL's special-case path)."""
    out = bits(result).astype(np.int64)
    out = np.where(zero, sign << 31, out)
    out = np.where(inf, (sign << 31) | 0x7F800000, out)
    out = np.where(nan, int(CANONICAL_NAN), out)
    return out.astype(np.uint32).view(np.float32)


def mul(a, b) -> np.ndarray:
    """Bit-level model of ``rtl/fp32_mul.sv``."""
    a, b = np.broadcast_arrays(np.asarray(a, np.float32), np.asarray(b, np.float32))
    sa, ea, ma, za, ia, na = _unpack(a)
    sb, eb, mb, zb, ib, nb = _unpack(b)
    sign = sa ^ sb
    # Stage 1: 24 x 24 -> 48-bit product, exponent sum.
    prod = ma * mb
    exp = ea + eb - 127
    # Stage 2: normalise by at most one position, then round.
    top = (prod >> 47) & 1
    exp = exp + top
    sig = np.where(top == 1, prod >> 24, prod >> 23) & 0xFFFFFF
    guard = np.where(top == 1, prod >> 23, prod >> 22) & 1
    sticky_mask = np.where(top == 1, (1 << 23) - 1, (1 << 22) - 1)
    sticky = ((prod & sticky_mask) != 0).astype(np.int64)
    result = _round_and_pack(sign, exp, sig, guard, sticky)
    nan = na | nb | (ia & zb) | (ib & za)
    inf = (ia | ib) & ~nan
    zero = (za | zb) & ~nan & ~inf
    return _specials(result, sign, nan, inf, zero).reshape(a.shape)


# Width of the adder's aligned significands: 24 significand bits + guard, round, sticky.
_GRS = 3


def add(a, b) -> np.ndarray:
    """Bit-level model of ``rtl/fp32_add.sv``."""
    a, b = np.broadcast_arrays(np.asarray(a, np.float32), np.asarray(b, np.float32))
    sa, ea, ma, za, ia, na = _unpack(a)
    sb, eb, mb, zb, ib, nb = _unpack(b)
    # Stage 1: order the operands by magnitude (zeros have exponent 0 and significand 0,
    # so they sort below every normal) and align the smaller one with a sticky bit.
    a_big = (ea > eb) | ((ea == eb) & (ma >= mb))
    s_big = np.where(a_big, sa, sb)
    s_small = np.where(a_big, sb, sa)
    e_big = np.where(a_big, ea, eb)
    e_small = np.where(a_big, eb, ea)
    m_big = np.where(a_big, ma, mb) << _GRS
    m_small = np.where(a_big, mb, ma) << _GRS
    shift = np.minimum(e_big - e_small, 24 + _GRS)
    shifted = m_small >> shift
    lost = (m_small & ((np.int64(1) << shift) - 1)) != 0
    m_small_aligned = shifted | lost.astype(np.int64)
    subtract = s_big != s_small
    # Stage 2: add or subtract (the big operand's magnitude is never smaller).
    total = np.where(subtract, m_big - m_small_aligned, m_big + m_small_aligned)
    # Stage 3: normalise (right by one on carry-out, left by the leading-zero count after
    # cancellation), then round. ``total`` has 24 + 3 bits; a carry makes it 28.
    carry = (total >> (24 + _GRS)) & 1
    sticky_carry = total & 1
    total = np.where(carry == 1, (total >> 1) | sticky_carry, total)
    exp = e_big + carry
    width = np.frexp(total.astype(np.float64))[1].astype(np.int64)  # bit length, exact
    lshift = np.where(total == 0, 0, (24 + _GRS) - width)
    total = total << lshift
    exp = exp - lshift
    sig = total >> _GRS
    guard = (total >> (_GRS - 1)) & 1
    sticky = ((total & ((1 << (_GRS - 1)) - 1)) != 0).astype(np.int64)
    exact_zero = total == 0
    result = _round_and_pack(s_big, exp, sig, guard, sticky)
    nan = na | nb | (ia & ib & (sa != sb))
    inf = (ia | ib) & ~nan
    inf_sign = np.where(ia, sa, sb)
    # An exact zero sum is +0 under round-to-nearest, except (-0) + (-0) = -0.
    zero = exact_zero & ~nan & ~inf
    zero_sign = sa & sb
    out = _specials(result, zero_sign, np.zeros_like(nan), np.zeros_like(nan), zero)
    out = _specials(out, inf_sign, nan, inf, np.zeros_like(nan))
    return out.reshape(a.shape)

"""The oracle's exact mode (``cfg`` given): bit for bit against a direct transcription of
docs/numerics.md, within the section-7 bound of the reference mode, and its validation.

The transcription below is deliberately slow and literal: one loop per output word, the
loop nests of docs/numerics.md sections 3-5 written out, and every operation done by the
bit-level models ``fp32.mul``/``fp32.add`` (not the numpy-native path the oracle uses).
The shapes are tiny so that it stays fast; the blocking of larger shapes is checked by
comparing the oracle with itself under other block sizes.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import NamedTuple

import numpy as np
import pytest

from eftrain import HwConfig, fp32, oracle

U = 2.0**-24  # fp32 unit roundoff
MIN_NORMAL = 2.0**-126
POSITIVE_ZERO = np.zeros(1, np.float32)


# --------------------------------------------------------------------------------------
# The transcription of docs/numerics.md.
# --------------------------------------------------------------------------------------


def pad_to_multiple(values: np.ndarray, axis: int, multiple: int) -> np.ndarray:
    """Zero-pad ``axis`` with +0.0 up to a multiple of ``multiple`` (section 2)."""
    widths = [(0, 0)] * values.ndim
    widths[axis] = (0, -values.shape[axis] % multiple)
    return np.pad(values, widths)


def pad_pixels(values: np.ndarray, pad: int) -> np.ndarray:
    return np.pad(values, ((0, 0), (0, 0), (pad, pad), (pad, pad)))


def tree(values: np.ndarray) -> np.ndarray:
    """Section 2: the balanced tree of adjacent pairs over the last axis (TN values)."""
    while values.shape[-1] > 1:
        values = fp32.add(values[..., 0::2], values[..., 1::2])
    return values[..., 0]


def dot_chain(lhs: list[np.ndarray], rhs: list[np.ndarray]) -> np.float32:
    """``acc = +0; for each step: acc = add(acc, tree(mul(lhs[step], rhs[step])))``.

    The products and trees of all steps are independent of ``acc``, so they are computed
    as small vectors; the accumulation is the serial chain, step by step.
    """
    acc = POSITIVE_ZERO
    if lhs:
        for tree_sum in tree(fp32.mul(np.array(lhs), np.array(rhs))):
            acc = fp32.add(acc, tree_sum)
    return acc[0]


def serial_chain(lhs: list[np.float32], rhs: list[np.float32]) -> np.float32:
    """``acc = +0; for each term: acc = add(acc, mul(lhs[term], rhs[term]))`` (section 4)."""
    acc = POSITIVE_ZERO
    for product in fp32.mul(np.array(lhs, np.float32), np.array(rhs, np.float32)):
        acc = fp32.add(acc, product)
    return acc[0]


def transcribed_conv_fp(x: np.ndarray, w: np.ndarray, s: int, pad: int, tn: int) -> np.ndarray:
    """Section 3, FP."""
    batch, _, height, width = x.shape
    n_out, _, k, _ = w.shape
    xp = pad_pixels(pad_to_multiple(x, 1, tn), pad)
    wp = pad_to_multiple(w, 1, tn)
    out_h, out_w = (height + 2 * pad - k) // s + 1, (width + 2 * pad - k) // s + 1
    y = np.empty((batch, n_out, out_h, out_w), np.float32)
    for b, m, oy, ox in np.ndindex(y.shape):
        lhs, rhs = [], []
        for nt in range(xp.shape[1] // tn):
            lanes = slice(nt * tn, (nt + 1) * tn)
            for i in range(k):
                for j in range(k):
                    lhs.append(xp[b, lanes, oy * s + i, ox * s + j])
                    rhs.append(wp[m, lanes, i, j])
        y[b, m, oy, ox] = dot_chain(lhs, rhs)
    return y


def transcribed_conv_bp(
    dy: np.ndarray, w: np.ndarray, in_hw: tuple[int, int], s: int, pad: int, tn: int
) -> np.ndarray:
    """Section 3, BP: flipped kernel, parity-invalid positions skipped, dy_ext zeros."""
    batch, _, out_h, out_w = dy.shape
    _, n_in, k, _ = w.shape
    dyp = pad_to_multiple(dy, 1, tn)
    wp = pad_to_multiple(w, 0, tn)

    def dy_ext(b: int, lanes: slice, oy: int, ox: int) -> np.ndarray:
        if 0 <= oy < out_h and 0 <= ox < out_w:
            return dyp[b, lanes, oy, ox]
        return np.zeros(tn, np.float32)

    dx = np.empty((batch, n_in, *in_hw), np.float32)
    for b, n, y, x in np.ndindex(dx.shape):
        lhs, rhs = [], []
        for mt in range(dyp.shape[1] // tn):
            lanes = slice(mt * tn, (mt + 1) * tn)
            for i in range(k - 1, -1, -1):
                for j in range(k - 1, -1, -1):
                    if (y + pad - i) % s or (x + pad - j) % s:
                        continue
                    oy, ox = (y + pad - i) // s, (x + pad - j) // s
                    lhs.append(dy_ext(b, lanes, oy, ox))
                    rhs.append(wp[lanes, n, i, j])
        dx[b, n, y, x] = dot_chain(lhs, rhs)
    return dx


def transcribed_conv_wu(x: np.ndarray, dy: np.ndarray, k: int, s: int, pad: int) -> np.ndarray:
    """Section 4: one serial chain per dW word over b, oy, ox."""
    batch, n_in = x.shape[:2]
    _, n_out, out_h, out_w = dy.shape
    xp = pad_pixels(x, pad)
    dw = np.empty((n_out, n_in, k, k), np.float32)
    for m, n, i, j in np.ndindex(dw.shape):
        lhs, rhs = [], []
        for b in range(batch):
            for oy in range(out_h):
                for ox in range(out_w):
                    lhs.append(dy[b, m, oy, ox])
                    rhs.append(xp[b, n, oy * s + i, ox * s + j])
        dw[m, n, i, j] = serial_chain(lhs, rhs)
    return dw


def transcribed_sgd(w: np.ndarray, dw: np.ndarray, lr: float) -> np.ndarray:
    """Section 6: add(w, neg(mul(lr, dw))), neg flipping the sign bit."""
    step = fp32.mul(np.float32(lr), dw)
    negated = fp32.from_bits(fp32.bits(step) ^ fp32.SIGN_MASK).reshape(step.shape)
    return fp32.add(w, negated)


# --------------------------------------------------------------------------------------
# Test data.
# --------------------------------------------------------------------------------------


class Geometry(NamedTuple):
    """One conv layer: kernel, stride, pad, reduction width, and the tensor extents."""

    k: int
    stride: int
    pad: int
    tn: int
    batch: int
    n_in: int
    n_out: int
    height: int
    width: int

    @property
    def out_hw(self) -> tuple[int, int]:
        return tuple(
            (e + 2 * self.pad - self.k) // self.stride + 1 for e in (self.height, self.width)
        )

    @property
    def cfg(self) -> HwConfig:
        return HwConfig(tm=self.tn, tn=self.tn)

    def __str__(self) -> str:
        return (
            f"K{self.k}s{self.stride}p{self.pad}-tn{self.tn}-B{self.batch}"
            f"N{self.n_in}M{self.n_out}-{self.height}x{self.width}"
        )


# Tiny layers for the bit-exact transcription: K in {1,2,3,5}, stride 1 and 2, every pad
# 0..K-1 appears, channel counts that are not multiples of tn, tn in {2,4,8}, batch 1..3.
# Odd extents with stride 2 leave input rows FP never reads (BP must write +0 there).
TINY_GEOMETRIES = [
    Geometry(1, 1, 0, 2, 3, 3, 2, 3, 2),
    Geometry(1, 2, 0, 4, 2, 5, 3, 5, 4),
    Geometry(2, 1, 1, 2, 1, 3, 2, 3, 4),
    Geometry(2, 2, 0, 8, 2, 3, 2, 5, 4),
    Geometry(2, 2, 1, 4, 1, 2, 5, 4, 3),
    Geometry(3, 1, 0, 4, 1, 6, 2, 4, 5),
    Geometry(3, 1, 1, 4, 1, 6, 2, 4, 3),
    Geometry(3, 2, 2, 2, 2, 3, 2, 4, 5),
    Geometry(3, 2, 0, 8, 1, 9, 3, 6, 5),
    Geometry(3, 2, 1, 2, 3, 2, 3, 3, 4),
    Geometry(5, 1, 2, 4, 1, 3, 2, 3, 4),
    Geometry(5, 1, 4, 8, 1, 2, 1, 2, 2),
    Geometry(5, 2, 3, 2, 1, 2, 3, 4, 3),
    Geometry(5, 2, 4, 2, 1, 2, 2, 3, 2),
    Geometry(5, 2, 1, 4, 2, 1, 2, 5, 6),
    Geometry(5, 2, 0, 8, 1, 3, 2, 7, 6),
]
TINY_IDS = [str(g) for g in TINY_GEOMETRIES]

# Words with special meaning to the fp32 units, planted into "specials" operands.
SPECIAL_WORDS = np.array(
    [
        0x7F800000,  # +inf
        0xFF800000,  # -inf
        0x7FC12345,  # quiet NaN with a payload
        0xFF800001,  # negative signalling NaN
        0x80000000,  # -0
        0x00000001,  # smallest subnormal: read as +0
        0x807FFFFF,  # largest negative subnormal: read as -0
        0x7F7FFFFF,  # largest finite: products overflow
        0xFF000000,  # -2^127
        0x00800000,  # smallest normal
    ],
    dtype=np.uint32,
)


def operand(rng: np.random.Generator, shape: tuple[int, ...], flavour: str) -> np.ndarray:
    """A float32 operand.

    normal: standard normal values. tiny: magnitudes near 2^-63, so that products lie
    around 2^-126 and their sums cancel into the subnormal range (exercises every flush).
    specials: normal values with SPECIAL_WORDS planted at random positions.
    """
    values = rng.standard_normal(shape).astype(np.float32)
    if flavour == "tiny":
        values *= np.float32(2.0**-63)
    elif flavour == "specials":
        flat = values.reshape(-1)
        count = min(flat.size, len(SPECIAL_WORDS))
        flat[rng.choice(flat.size, size=count, replace=False)] = fp32.from_bits(
            SPECIAL_WORDS[:count]
        )
    else:
        assert flavour == "normal", flavour
    return values


def assert_same_bits(got: np.ndarray, expected: np.ndarray, what: str) -> None:
    assert got.dtype == np.float32, f"{what}: dtype {got.dtype}"
    assert got.shape == expected.shape, f"{what}: shape {got.shape} != {expected.shape}"
    got_bits, expected_bits = fp32.bits(got), fp32.bits(expected)
    bad = np.argwhere(got_bits != expected_bits)
    assert bad.size == 0, f"{what}: {len(bad)} words differ, first at " + ", ".join(
        f"{tuple(int(v) for v in at)}: {int(got_bits[tuple(at)]):#010x} != "
        f"{int(expected_bits[tuple(at)]):#010x}"
        for at in bad[:4]
    )


def has_subnormal_products(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether some product of an ``a`` value and a ``b`` value is subnormal in fp32."""
    products = np.abs(
        np.multiply.outer(
            fp32.ftz(a).astype(np.float64).ravel(), fp32.ftz(b).astype(np.float64).ravel()
        )
    )
    return bool(np.any((products > 0) & (products < MIN_NORMAL)))


def layer_operands(
    rng: np.random.Generator, g: Geometry, flavour: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x, w and dy of layer ``g``."""
    x = operand(rng, (g.batch, g.n_in, g.height, g.width), flavour)
    w = operand(rng, (g.n_out, g.n_in, g.k, g.k), flavour)
    dy = operand(rng, (g.batch, g.n_out, *g.out_hw), flavour)
    return x, w, dy


def oracle_phases(
    g: Geometry, x: np.ndarray, w: np.ndarray, dy: np.ndarray
) -> dict[str, np.ndarray]:
    """FP, BP and WU of layer ``g`` by the oracle's exact mode."""
    in_hw = (g.height, g.width)
    return {
        "conv_fp": oracle.conv_fp(x, w, g.stride, g.pad, g.cfg),
        "conv_bp": oracle.conv_bp(dy, w, in_hw, g.stride, g.pad, g.cfg),
        "conv_wu": oracle.conv_wu(x, dy, g.k, g.stride, g.pad, g.cfg),
    }


def transcribed_phases(
    g: Geometry, x: np.ndarray, w: np.ndarray, dy: np.ndarray
) -> dict[str, np.ndarray]:
    """FP, BP and WU of layer ``g`` by the transcription."""
    in_hw = (g.height, g.width)
    return {
        "conv_fp": transcribed_conv_fp(x, w, g.stride, g.pad, g.tn),
        "conv_bp": transcribed_conv_bp(dy, w, in_hw, g.stride, g.pad, g.tn),
        "conv_wu": transcribed_conv_wu(x, dy, g.k, g.stride, g.pad),
    }


def assert_phases_match(got: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> None:
    for what in expected:
        assert_same_bits(got[what], expected[what], what)


# --------------------------------------------------------------------------------------
# (a) Bit for bit against the transcription.
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("g", TINY_GEOMETRIES, ids=TINY_IDS)
def test_conv_bits_match_transcription(g: Geometry, rng) -> None:
    x, w, dy = layer_operands(rng, g, "normal")
    assert_phases_match(oracle_phases(g, x, w, dy), transcribed_phases(g, x, w, dy))


def transcription_calls(g: Geometry) -> int:
    """How many fp32 model calls the transcription needs for the busiest phase of ``g``."""
    out_pixels = g.out_hw[0] * g.out_hw[1]
    tree_levels = int(math.log2(g.tn))
    fp = g.batch * g.n_out * out_pixels * (1 + tree_levels + math.ceil(g.n_in / g.tn) * g.k**2)
    bp = (
        g.batch
        * g.n_in
        * g.height
        * g.width
        * (1 + tree_levels + math.ceil(g.n_out / g.tn) * g.k**2)
    )
    wu = g.n_out * g.n_in * g.k**2 * (1 + g.batch * out_pixels)
    return max(fp, bp, wu)


def random_tiny_geometry(rng: np.random.Generator, max_calls: int = 4000) -> Geometry:
    """A random layer within the ranges of TINY_GEOMETRIES, cheap enough to transcribe."""
    while True:
        k = int(rng.choice([1, 2, 3, 5]))
        pad = int(rng.integers(0, k))
        smallest = max(1, k - 2 * pad)  # the smallest input extent with an output
        extents = rng.integers(smallest, smallest + 6, size=2)
        g = Geometry(
            k,
            int(rng.integers(1, 3)),
            pad,
            int(rng.choice([2, 4, 8])),
            int(rng.integers(1, 4)),
            int(rng.integers(1, 10)),
            int(rng.integers(1, 6)),
            int(extents[0]),
            int(extents[1]),
        )
        if transcription_calls(g) <= max_calls:
            return g


@pytest.mark.parametrize("draw", range(8))
def test_conv_bits_match_transcription_on_random_layers(draw: int, rng) -> None:
    """Layers drawn from the seed: another SEED explores other geometries and data."""
    g = random_tiny_geometry(rng)
    flavour = str(rng.choice(["normal", "specials", "tiny"]))
    print(f"layer {g}, {flavour} operands")
    x, w, dy = layer_operands(rng, g, flavour)
    assert_phases_match(oracle_phases(g, x, w, dy), transcribed_phases(g, x, w, dy))


SPECIAL_GEOMETRIES = [TINY_GEOMETRIES[i] for i in (1, 4, 7, 10, 13)]


@pytest.mark.parametrize("flavour", ["specials", "tiny"])
@pytest.mark.parametrize("g", SPECIAL_GEOMETRIES, ids=[str(g) for g in SPECIAL_GEOMETRIES])
def test_conv_bits_match_transcription_on_special_values(g: Geometry, flavour: str, rng) -> None:
    """inf, NaN payloads, -0, subnormal inputs, overflow, and subnormal intermediate
    results: the words written are canonical NaNs and flushed zeros exactly where the
    bit-level models put them."""
    x, w, dy = layer_operands(rng, g, flavour)
    if flavour == "tiny":  # the data must really exercise the flush of products
        assert has_subnormal_products(x, w)
        assert has_subnormal_products(x, dy)
    results = oracle_phases(g, x, w, dy)
    assert_phases_match(results, transcribed_phases(g, x, w, dy))
    for what, got in results.items():
        words = fp32.bits(got)
        subnormal = ((words & fp32.EXP_MASK) == 0) & ((words & fp32.MANT_MASK) != 0)
        assert not subnormal.any(), f"{what}: subnormal word written"
        assert np.all(words[np.isnan(got)] == fp32.CANONICAL_NAN), f"{what}: non-canonical NaN"
    if flavour == "specials":  # planted NaNs and infinities must reach some output words
        assert any(np.isnan(got).any() for got in results.values())


@pytest.mark.parametrize("tn", [2, 4, 8])
@pytest.mark.parametrize("flavour", ["normal", "specials", "tiny"])
def test_fc_bits_match_transcription(tn: int, flavour: str, rng) -> None:
    """Section 5: FC is the 1x1 convolution with the batch as the pixel axis."""
    batch, n_in, n_out = 3, 11, 5
    cfg = HwConfig(tm=tn, tn=tn)
    x = operand(rng, (batch, n_in), flavour)
    w = operand(rng, (n_out, n_in), flavour)
    dy = operand(rng, (batch, n_out), flavour)
    as_conv = lambda a: a[:, :, None, None]  # noqa: E731
    assert_same_bits(
        oracle.fc_fp(x, w, cfg),
        transcribed_conv_fp(as_conv(x), as_conv(w), 1, 0, tn)[:, :, 0, 0],
        "fc_fp",
    )
    assert_same_bits(
        oracle.fc_bp(dy, w, cfg),
        transcribed_conv_bp(as_conv(dy), as_conv(w), (1, 1), 1, 0, tn)[:, :, 0, 0],
        "fc_bp",
    )
    assert_same_bits(
        oracle.fc_wu(x, dy, cfg),
        transcribed_conv_wu(as_conv(x), as_conv(dy), 1, 1, 0)[:, :, 0, 0],
        "fc_wu",
    )


@pytest.mark.parametrize("flavour", ["normal", "specials", "tiny"])
def test_sgd_bits_match_transcription(flavour: str, rng) -> None:
    w = operand(rng, (4, 3, 3, 3), flavour)
    dw = operand(rng, (4, 3, 3, 3), flavour)
    if flavour == "tiny":  # near 2^-126: subnormal inputs, products and differences
        w *= np.float32(2.0**-63)
        dw *= np.float32(2.0**-63)
    for lr in (0.01, float(np.float32(0.125)), 3e38, -2.5):
        assert_same_bits(
            oracle.sgd(w, dw, lr, HwConfig()), transcribed_sgd(w, dw, lr), f"sgd lr={lr}"
        )


def test_sgd_rounds_and_flushes_like_the_units() -> None:
    """Hand-derived: the product rounds before the add (no FMA); subnormal results flush."""
    cfg = HwConfig()
    f = lambda *v: np.array(v, np.float32)  # noqa: E731
    # lr*dw = (1 + 2^-23)^2 = 1 + 2^-22 + 2^-46 rounds to 1 + 2^-22; minus 1 + 2^-22 is +0.
    one_up = 1.0 + 2.0**-23
    assert fp32.bits(oracle.sgd(f(1.0 + 2.0**-22), f(one_up), one_up, cfg)).tolist() == [0]
    # 2^-125 - 1.5 * 2^-126 = 2^-127 is subnormal: flushed to +0; the mirror case to -0.
    assert fp32.bits(oracle.sgd(f(2.0**-125), f(1.5 * 2.0**-126), 1.0, cfg)).tolist() == [0]
    assert fp32.bits(oracle.sgd(f(-(2.0**-125)), f(-1.5 * 2.0**-126), 1.0, cfg)).tolist() == [
        0x80000000
    ]
    # A NaN from inf - inf is canonical.
    assert fp32.bits(oracle.sgd(f(np.inf), f(np.inf), 1.0, cfg)).tolist() == [0x7FC00000]


def test_flush_shortcut_does_not_change_bits(rng, monkeypatch) -> None:
    """The oracle skips flushes when it can prove no result is subnormal; forcing every
    flush must give the same words (the shortcut is an optimisation, not a rule)."""
    g = Geometry(3, 2, 1, 4, 2, 7, 6, 9, 8)
    x, w, dy = layer_operands(rng, g, "normal")
    assert not oracle._flush_needed(fp32.ftz(x), fp32.ftz(w))  # the shortcut is taken
    shortcut = oracle_phases(g, x, w, dy)
    monkeypatch.setattr(oracle, "_flush_needed", lambda a, b: True)
    assert_phases_match(oracle_phases(g, x, w, dy), shortcut)


@pytest.mark.parametrize("dot_words, wu_products", [(1, 1), (5, 37), (300, 1000)])
def test_blocking_does_not_change_bits(dot_words: int, wu_products: int, rng, monkeypatch) -> None:
    """The transcription tests use shapes that fit in one block; here layers that span
    many blocks (single rows, partial images, several images) match the one-block run."""
    g = Geometry(3, 2, 1, 4, 3, 6, 5, 11, 9)
    x, w, dy = layer_operands(rng, g, "normal")
    monkeypatch.setattr(oracle, "_DOT_BLOCK_WORDS", 1 << 30)
    monkeypatch.setattr(oracle, "_WU_BLOCK_PRODUCTS", 1 << 30)
    one_block = oracle_phases(g, x, w, dy)
    monkeypatch.setattr(oracle, "_DOT_BLOCK_WORDS", dot_words)
    monkeypatch.setattr(oracle, "_WU_BLOCK_PRODUCTS", wu_products)
    assert_phases_match(oracle_phases(g, x, w, dy), one_block)


def test_exact_mode_reads_any_real_input_as_fp32() -> None:
    """Lists and float64 arrays are rounded to fp32 first; the result is float32."""
    x = [[[[1.0, 2.0], [3.0, 4.0]]]]
    w = [[[[0.1]]]]
    y = oracle.conv_fp(x, w, cfg=HwConfig())
    assert y.dtype == np.float32
    expected = transcribed_conv_fp(np.array(x, np.float32), np.array(w, np.float32), 1, 0, 8)
    assert_same_bits(y, expected, "conv_fp")


# --------------------------------------------------------------------------------------
# Select-only layers on fp32 words (section 6).
# --------------------------------------------------------------------------------------


def words(*bit_patterns: int) -> np.ndarray:
    return fp32.from_bits(np.array(bit_patterns, np.uint32))


def test_relu_fp32_words() -> None:
    x = words(
        0x3F800000,
        0xBF800000,
        0x80000000,
        0x00000001,
        0x80000001,
        0x7F800000,
        0xFF800000,
        0x7FC12345,
        0xFFBFFFFF,
    )
    y = oracle.relu_fp(x)
    assert y.dtype == np.float32
    assert fp32.bits(y).tolist() == [0x3F800000, 0, 0, 0, 0, 0x7F800000, 0, 0x7FC00000, 0x7FC00000]


def test_relu_bp_passes_dy_bits_unchanged() -> None:
    dy = words(0x7FC12345, 0x00000003, 0x80000000, 0x3F800000, 0x40000000)
    y = words(0x3F800000, 0x3F800000, 0x3F800000, 0x00000001, 0x7FC00000)
    dx = oracle.relu_bp(dy, y)
    # y > 0 passes dy bit for bit (a NaN payload, a subnormal, -0); a subnormal or NaN y
    # is not > 0.
    assert fp32.bits(dx).tolist() == [0x7FC12345, 0x00000003, 0x80000000, 0, 0]


def pool_window(*bit_patterns: int) -> np.ndarray:
    """One 2x2 window, scan order (0,0), (0,1), (1,0), (1,1), as a [1,1,2,2] array."""
    return words(*bit_patterns).reshape(1, 1, 2, 2)


@pytest.mark.parametrize(
    "window, winner",
    [
        ((0xBF800000, 0x00000001, 0xC0000000, 0xC0400000), 1),  # subnormal compares as 0 > -1
        ((0x00000005, 0x00000000, 0x80000000, 0x00000007), 0),  # subnormals tie with zeros
        ((0x80000000, 0x00000000, 0x80000000, 0x00000000), 0),  # -0 and +0 tie: first kept
        ((0x7FC12345, 0x7F800000, 0x3F800000, 0x40000000), 0),  # a first NaN is never beaten
        ((0x3F800000, 0x7FC00000, 0xFFC00001, 0x3F800000), 0),  # later NaNs never win
        ((0xFF800000, 0xFF7FFFFF, 0x7F800000, 0x7F800000), 2),  # -inf < -max < +inf, tie kept
    ],
)
def test_maxpool_fp32_words(window: tuple[int, ...], winner: int) -> None:
    x = pool_window(*window)
    y, idx = oracle.maxpool_fp(x)
    assert y.dtype == np.float32 and idx.dtype == np.uint8
    assert int(idx[0, 0, 0, 0]) == winner
    assert int(fp32.bits(y)[0, 0, 0, 0]) == window[winner]  # the winner's bits, unchanged
    dy = words(0xFFC0DEAD).reshape(1, 1, 1, 1)
    dx = oracle.maxpool_bp(dy, idx, (2, 2))
    expected = [0, 0, 0, 0]
    expected[winner] = 0xFFC0DEAD
    assert fp32.bits(dx).ravel().tolist() == expected


def test_softmax_xent_keeps_fp32_dtype(rng) -> None:
    logits = rng.standard_normal((4, 7)).astype(np.float32)
    labels = np.array([0, 6, 3, 3])
    loss, dlogits = oracle.softmax_xent(logits, labels)
    reference_loss, reference_grad = oracle.softmax_xent(logits.astype(np.float64), labels)
    assert isinstance(loss, float) and loss == reference_loss  # host float64 either way
    assert dlogits.dtype == np.float32
    assert np.array_equal(dlogits, reference_grad.astype(np.float32))


# --------------------------------------------------------------------------------------
# (b) Within the section-7 bound of the reference mode, per output word.
# --------------------------------------------------------------------------------------


def gamma(roundings: int) -> float:
    return roundings * U / (1 - roundings * U)


def assert_within_bound(
    exact: np.ndarray,
    reference: np.ndarray,
    abs_sum: np.ndarray,
    roundings: int,
    n_ops: int,
    what: str,
) -> None:
    """|exact - reference| <= gamma(L) * S + 2 * n_ops * 2^-126 for every word."""
    assert exact.dtype == np.float32 and reference.dtype == np.float64
    error = np.abs(exact.astype(np.float64) - reference)
    bound = gamma(roundings) * abs_sum + 2 * n_ops * MIN_NORMAL
    worst = float(np.max(error / bound))
    print(f"{what}: L={roundings}, worst error / bound = {worst:.3g}")
    assert worst <= 1.0, f"{what}: error exceeds the section-7 bound by {worst:.3g}x"
    assert error.max() > 0, f"{what}: no rounding at all; is the exact mode really fp32?"


BOUND_GEOMETRIES = [
    Geometry(1, 2, 0, 2, 3, 9, 7, 10, 7),
    Geometry(2, 1, 1, 8, 2, 13, 9, 8, 9),
    Geometry(3, 1, 1, 8, 2, 19, 10, 9, 7),
    Geometry(3, 2, 2, 4, 3, 10, 17, 12, 11),
    Geometry(5, 2, 2, 4, 2, 6, 9, 11, 8),
    Geometry(7, 1, 3, 8, 1, 20, 6, 9, 10),
    Geometry(7, 2, 6, 2, 2, 3, 5, 8, 9),
]


@pytest.mark.parametrize("g", BOUND_GEOMETRIES, ids=[str(g) for g in BOUND_GEOMETRIES])
def test_conv_within_bound_of_reference(g: Geometry, rng) -> None:
    x, w, dy = layer_operands(rng, g, "normal")
    in_hw, tree_levels = (g.height, g.width), int(math.log2(g.tn))
    n_tiles, m_tiles = math.ceil(g.n_in / g.tn), math.ceil(g.n_out / g.tn)
    chain = g.batch * g.out_hw[0] * g.out_hw[1]
    # S per word is the reference layer applied to the magnitudes.
    assert_within_bound(
        oracle.conv_fp(x, w, g.stride, g.pad, g.cfg),
        oracle.conv_fp(x, w, g.stride, g.pad),
        oracle.conv_fp(np.abs(x), np.abs(w), g.stride, g.pad),
        1 + tree_levels + n_tiles * g.k**2,
        n_tiles * g.k**2 * 2 * g.tn,
        "conv_fp",
    )
    assert_within_bound(
        oracle.conv_bp(dy, w, in_hw, g.stride, g.pad, g.cfg),
        oracle.conv_bp(dy, w, in_hw, g.stride, g.pad),
        oracle.conv_bp(np.abs(dy), np.abs(w), in_hw, g.stride, g.pad),
        1 + tree_levels + m_tiles * g.k**2,
        m_tiles * g.k**2 * 2 * g.tn,
        "conv_bp",
    )
    assert_within_bound(
        oracle.conv_wu(x, dy, g.k, g.stride, g.pad, g.cfg),
        oracle.conv_wu(x, dy, g.k, g.stride, g.pad),
        oracle.conv_wu(np.abs(x), np.abs(dy), g.k, g.stride, g.pad),
        1 + chain,
        2 * chain,
        "conv_wu",
    )


@pytest.mark.parametrize("tn", [2, 8])
def test_fc_and_sgd_within_bound_of_reference(tn: int, rng) -> None:
    batch, n_in, n_out = 6, 37, 11
    cfg = HwConfig(tm=tn, tn=tn)
    x = operand(rng, (batch, n_in), "normal")
    w = operand(rng, (n_out, n_in), "normal")
    dy = operand(rng, (batch, n_out), "normal")
    tree_levels = int(math.log2(tn))
    n_tiles, m_tiles = math.ceil(n_in / tn), math.ceil(n_out / tn)
    assert_within_bound(
        oracle.fc_fp(x, w, cfg),
        oracle.fc_fp(x, w),
        oracle.fc_fp(np.abs(x), np.abs(w)),
        1 + tree_levels + n_tiles,
        n_tiles * 2 * tn,
        "fc_fp",
    )
    assert_within_bound(
        oracle.fc_bp(dy, w, cfg),
        oracle.fc_bp(dy, w),
        oracle.fc_bp(np.abs(dy), np.abs(w)),
        1 + tree_levels + m_tiles,
        m_tiles * 2 * tn,
        "fc_bp",
    )
    assert_within_bound(
        oracle.fc_wu(x, dy, cfg),
        oracle.fc_wu(x, dy),
        oracle.fc_wu(np.abs(x), np.abs(dy)),
        1 + batch,
        2 * batch,
        "fc_wu",
    )
    # The bound assumes lr is an fp32 value, as the descriptor field is.
    lr = float(np.float32(0.3))
    dw = operand(rng, w.shape, "normal")
    assert_within_bound(
        oracle.sgd(w, dw, lr, cfg),
        oracle.sgd(w, dw, lr),
        np.abs(w.astype(np.float64)) + np.abs(lr * dw.astype(np.float64)),
        2,
        2,
        "sgd",
    )


# --------------------------------------------------------------------------------------
# (c) Validation: ValueError naming the function and the field.
# --------------------------------------------------------------------------------------

CFG = HwConfig()
X = np.ones((2, 4, 6, 6), np.float32)
W = np.ones((3, 4, 3, 3), np.float32)
DY = np.ones((2, 3, 6, 6), np.float32)  # conv_fp(X, W, pad=1)
IDX = np.zeros((2, 4, 3, 3), np.uint8)  # maxpool_fp(X)
POOLED = np.ones((2, 4, 3, 3), np.float32)

INVALID_CALLS = {
    "conv_fp stride": (
        lambda: oracle.conv_fp(X, W, stride=3, pad=1, cfg=CFG),
        "stride must be 1 or 2, got 3",
    ),
    "conv_fp stride type": (
        lambda: oracle.conv_fp(X, W, stride=1.0, cfg=CFG),
        "stride must be an int",
    ),
    "conv_fp pad": (
        lambda: oracle.conv_fp(X, W, pad=3, cfg=CFG),
        "pad must be in 0..K-1 (K=3), got 3",
    ),
    "conv_fp negative pad": (lambda: oracle.conv_fp(X, W, pad=-1), "pad must be in 0..K-1"),
    "conv_fp x dims": (lambda: oracle.conv_fp(X[0], W), "x has 3 dims, expected 4 [B,N,H,W]"),
    "conv_fp w dims": (lambda: oracle.conv_fp(X, W[0]), "w has 3 dims, expected 4 [M,N,K,K]"),
    "conv_fp channels": (
        lambda: oracle.conv_fp(X, np.ones((3, 5, 3, 3))),
        "w.shape[1] (N=5) does not match x.shape[1] (N=4)",
    ),
    "conv_fp square kernel": (
        lambda: oracle.conv_fp(X, np.ones((3, 4, 3, 2))),
        "w must have a square kernel",
    ),
    "conv_fp output size": (lambda: oracle.conv_fp(np.ones((1, 4, 2, 6)), W), "output size Ho"),
    "conv_fp output width": (
        lambda: oracle.conv_fp(np.ones((1, 4, 6, 2)), W, cfg=CFG),
        "output size Wo",
    ),
    "conv_fp empty batch": (
        lambda: oracle.conv_fp(np.ones((0, 4, 6, 6)), W),
        "x.shape[0] (B) must be >= 1",
    ),
    "conv_fp dtype": (lambda: oracle.conv_fp(X.astype(complex), W), "x must hold real numbers"),
    "conv_fp cfg": (
        lambda: oracle.conv_fp(X, W, cfg={"tn": 8}),
        "cfg must be an eftrain.HwConfig or None",
    ),
    "conv_bp in_hw": (lambda: oracle.conv_bp(DY, W, 6, pad=1), "in_hw must be a pair"),
    "conv_bp in_hw positive": (
        lambda: oracle.conv_bp(DY, W, (0, 6), pad=1),
        "in_hw must be positive",
    ),
    "conv_bp dy dims": (
        lambda: oracle.conv_bp(DY[0], W, (6, 6), pad=1),
        "dy has 3 dims, expected 4 [B,M,Ho,Wo]",
    ),
    "conv_bp channels": (
        lambda: oracle.conv_bp(DY[:, :2], W, (6, 6), pad=1),
        "dy.shape[1] (M=2) does not match w.shape[0] (M=3)",
    ),
    "conv_bp dy height": (
        lambda: oracle.conv_bp(DY, W, (6, 6), pad=0, cfg=CFG),
        "dy.shape[2] (Ho=6)",
    ),
    "conv_bp dy width": (lambda: oracle.conv_bp(DY, W, (6, 7), pad=1), "dy.shape[3] (Wo=6)"),
    "conv_bp stride": (
        lambda: oracle.conv_bp(DY, W, (6, 6), stride=0, pad=1),
        "stride must be 1 or 2",
    ),
    "conv_bp cfg": (
        lambda: oracle.conv_bp(DY, W, (6, 6), pad=1, cfg=8),
        "cfg must be an eftrain.HwConfig",
    ),
    "conv_wu k": (lambda: oracle.conv_wu(X, DY, 0), "k must be >= 1"),
    "conv_wu k type": (lambda: oracle.conv_wu(X, DY, "3"), "k must be an int"),
    "conv_wu batch": (
        lambda: oracle.conv_wu(X, DY[:1], 3, pad=1),
        "dy.shape[0] (B=1) does not match x.shape[0] (B=2)",
    ),
    "conv_wu dy grid": (
        lambda: oracle.conv_wu(X, DY, 3, stride=2, pad=1, cfg=CFG),
        "dy.shape[2] (Ho=6)",
    ),
    "conv_wu pad": (lambda: oracle.conv_wu(X, DY, 1, pad=1), "pad must be in 0..K-1 (K=1), got 1"),
    "fc_fp x dims": (lambda: oracle.fc_fp(X, W[:, :, 0, 0]), "x has 4 dims, expected 2 [B,N]"),
    "fc_fp features": (
        lambda: oracle.fc_fp(np.ones((2, 5)), np.ones((3, 4))),
        "w.shape[1] (N=4) does not match x.shape[1] (N=5)",
    ),
    "fc_bp outputs": (
        lambda: oracle.fc_bp(np.ones((2, 5)), np.ones((3, 4)), CFG),
        "dy.shape[1] (M=5) does not match w.shape[0] (M=3)",
    ),
    "fc_wu batch": (
        lambda: oracle.fc_wu(np.ones((2, 4)), np.ones((3, 5))),
        "dy.shape[0] (B=3) does not match x.shape[0] (B=2)",
    ),
    "fc_wu cfg": (lambda: oracle.fc_wu(np.ones((2, 4)), np.ones((2, 5)), cfg="hw"), "cfg must be"),
    "relu_bp shapes": (
        lambda: oracle.relu_bp(DY, DY[:1]),
        "dy.shape (2, 3, 6, 6) does not match y.shape",
    ),
    "relu_fp dtype": (lambda: oracle.relu_fp(np.array(["a"])), "x must hold real numbers"),
    "maxpool_fp size": (lambda: oracle.maxpool_fp(np.ones((1, 1, 1, 4))), "x must be at least 2x2"),
    "maxpool_fp dims": (lambda: oracle.maxpool_fp(np.ones((4, 4))), "x has 2 dims"),
    "maxpool_bp idx values": (
        lambda: oracle.maxpool_bp(POOLED, IDX + 4, (6, 6)),
        "idx values must be in 0..3",
    ),
    "maxpool_bp idx dtype": (
        lambda: oracle.maxpool_bp(POOLED, IDX.astype(float), (6, 6)),
        "idx must hold integers",
    ),
    "maxpool_bp idx shape": (
        lambda: oracle.maxpool_bp(POOLED, IDX[:1], (6, 6)),
        "idx.shape (1, 4, 3, 3)",
    ),
    "maxpool_bp in_hw": (
        lambda: oracle.maxpool_bp(POOLED, IDX, (8, 6)),
        "in_hw (8, 6) does not match",
    ),
    "softmax_xent labels range": (
        lambda: oracle.softmax_xent(np.ones((2, 3)), [0, 3]),
        "labels must be in 0..C-1 (C=3)",
    ),
    "softmax_xent negative label": (
        lambda: oracle.softmax_xent(np.ones((2, 3)), [-1, 0]),
        "labels must be in 0..C-1",
    ),
    "softmax_xent labels dtype": (
        lambda: oracle.softmax_xent(np.ones((2, 3)), [0.0, 1.0]),
        "labels must hold integers",
    ),
    "softmax_xent labels count": (
        lambda: oracle.softmax_xent(np.ones((2, 3)), [0, 1, 2]),
        "labels.shape[0] (B=3) does not match logits.shape[0] (B=2)",
    ),
    "softmax_xent labels dims": (
        lambda: oracle.softmax_xent(np.ones((2, 3)), [[0, 1]]),
        "labels has 2 dims",
    ),
    "softmax_xent logits dims": (
        lambda: oracle.softmax_xent(np.ones(3), [0]),
        "logits has 1 dims, expected 2 [B,C]",
    ),
    "sgd shapes": (
        lambda: oracle.sgd(W, W[:1], 0.1, CFG),
        "dw.shape (1, 4, 3, 3) does not match w.shape",
    ),
    "sgd lr": (lambda: oracle.sgd(W, W, [0.1], CFG), "lr must be a real scalar"),
    "sgd cfg": (lambda: oracle.sgd(W, W, 0.1, cfg=object()), "cfg must be an eftrain.HwConfig"),
}


@pytest.mark.parametrize("case", INVALID_CALLS)
def test_invalid_arguments_raise_value_error_naming_the_field(case: str) -> None:
    call, message = INVALID_CALLS[case]
    function = case.split()[0]  # every case is named after the function it calls
    with pytest.raises(ValueError, match=f"^{re.escape(function)}: .*{re.escape(message)}"):
        call()


def test_valid_calls_beside_the_invalid_ones_pass() -> None:
    """The fixtures of the validation tests are themselves valid calls."""
    assert oracle.conv_fp(X, W, pad=1, cfg=CFG).shape == DY.shape
    assert oracle.conv_bp(DY, W, (6, 6), pad=1, cfg=CFG).shape == X.shape
    assert oracle.conv_wu(X, DY, 3, pad=1, cfg=CFG).shape == W.shape
    assert oracle.maxpool_fp(X)[0].shape == POOLED.shape
    assert oracle.maxpool_bp(POOLED, IDX, (6, 6)).shape == X.shape
    assert oracle.sgd(W, W, 0.1, CFG).shape == W.shape


# --------------------------------------------------------------------------------------
# (d) HwConfig validation.
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"tm": 6, "tn": 6}, "HwConfig.tn must be a power of two >= 2, got 6"),
        ({"tm": 1, "tn": 1}, "HwConfig.tn must be a power of two >= 2, got 1"),
        ({"tm": 0, "tn": 0}, "HwConfig.tn must be a power of two >= 2, got 0"),
        ({"tm": 4, "tn": 8}, "HwConfig.tm must equal tn (8), got 4"),
        ({"kmax": 2}, "HwConfig.kmax must be at least 3, got 2"),
        ({"tn": 8.0}, "HwConfig.tn must be an int"),
        ({"tm": True}, "HwConfig.tm must be an int"),
        ({"kmax": "5"}, "HwConfig.kmax must be an int"),
    ],
)
def test_hwconfig_rejects_invalid_fields(fields: dict, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        HwConfig(**fields)


@pytest.mark.parametrize("tn", [2, 4, 8, 16, 32])
def test_hwconfig_accepts_valid_fields_and_is_frozen(tn: int) -> None:
    cfg = HwConfig(tm=tn, tn=tn, kmax=7)
    assert (cfg.tm, cfg.tn, cfg.kmax) == (tn, tn, 7)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.tn = 4  # type: ignore[misc]

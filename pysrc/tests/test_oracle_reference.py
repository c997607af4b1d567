"""The oracle's reference mode (``cfg=None``, float64): against plain loop definitions of
every layer, and its backward functions against central finite differences of the
forward ones.

The loop definitions are written independently of the oracle: conv BP gathers, per dx
word, the dy words that read it (the oracle's reference scatters), and every loop does
its own bounds checks instead of padding.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import pytest

from eftrain import oracle


class Layer(NamedTuple):
    """A conv layer: batch, input and output channels, input extents, kernel, stride, pad."""

    batch: int
    n_in: int
    n_out: int
    height: int
    width: int
    k: int
    stride: int
    pad: int

    @property
    def out_hw(self) -> tuple[int, int]:
        return tuple(
            (e + 2 * self.pad - self.k) // self.stride + 1 for e in (self.height, self.width)
        )

    def __str__(self) -> str:
        return (
            f"K{self.k}s{self.stride}p{self.pad}-B{self.batch}N{self.n_in}M{self.n_out}"
            f"-{self.height}x{self.width}"
        )

    def operands(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x = rng.standard_normal((self.batch, self.n_in, self.height, self.width))
        w = rng.standard_normal((self.n_out, self.n_in, self.k, self.k))
        dy = rng.standard_normal((self.batch, self.n_out, *self.out_hw))
        return x, w, dy


# K 1..7, stride 1 and 2, pads 0..K-1, non-square inputs, channel counts of every kind.
# Several stride-2 layers leave input rows or columns the forward pass never reads.
LAYERS = [
    Layer(1, 1, 1, 5, 5, 1, 1, 0),
    Layer(2, 3, 2, 6, 4, 1, 2, 0),
    Layer(2, 3, 4, 5, 7, 2, 1, 1),
    Layer(1, 2, 3, 6, 5, 2, 2, 0),
    Layer(2, 5, 3, 7, 6, 3, 1, 1),
    Layer(2, 3, 5, 8, 7, 3, 2, 2),
    Layer(1, 4, 2, 6, 9, 3, 2, 0),
    Layer(1, 3, 2, 9, 8, 4, 1, 3),
    Layer(2, 2, 3, 9, 7, 4, 2, 1),
    Layer(1, 3, 3, 9, 10, 5, 1, 2),
    Layer(2, 2, 2, 11, 9, 5, 2, 4),
    Layer(1, 2, 3, 10, 8, 6, 2, 5),
    Layer(1, 2, 2, 9, 11, 6, 1, 0),
    Layer(1, 2, 2, 9, 9, 7, 1, 3),
    Layer(1, 2, 3, 12, 10, 7, 2, 6),
]
LAYER_IDS = [str(layer) for layer in LAYERS]


# --------------------------------------------------------------------------------------
# (a) Plain loop definitions.
# --------------------------------------------------------------------------------------


def loop_conv_fp(x: np.ndarray, w: np.ndarray, s: int, pad: int) -> np.ndarray:
    """y[b,m,oy,ox] = sum over n, i, j of x[b,n,oy*s+i-pad,ox*s+j-pad] w[m,n,i,j]."""
    batch, n_in, height, width = x.shape
    n_out, _, k, _ = w.shape
    out_h, out_w = (height + 2 * pad - k) // s + 1, (width + 2 * pad - k) // s + 1
    y = np.zeros((batch, n_out, out_h, out_w))
    for b, m, oy, ox in itertools.product(range(batch), range(n_out), range(out_h), range(out_w)):
        for n, i, j in itertools.product(range(n_in), range(k), range(k)):
            row, col = oy * s + i - pad, ox * s + j - pad
            if 0 <= row < height and 0 <= col < width:
                y[b, m, oy, ox] += x[b, n, row, col] * w[m, n, i, j]
    return y


def loop_conv_bp(
    dy: np.ndarray, w: np.ndarray, in_hw: tuple[int, int], s: int, pad: int
) -> np.ndarray:
    """dx[b,n,row,col] = sum of dy[b,m,oy,ox] w[m,n,i,j] over the (m, i, j) and output
    pixels (oy, ox) with oy*s + i - pad == row and ox*s + j - pad == col."""
    batch, n_out, out_h, out_w = dy.shape
    _, n_in, k, _ = w.shape
    dx = np.zeros((batch, n_in, *in_hw))
    for b, n, row, col in itertools.product(
        range(batch), range(n_in), range(in_hw[0]), range(in_hw[1])
    ):
        for m, i, j in itertools.product(range(n_out), range(k), range(k)):
            oy, rem_y = divmod(row + pad - i, s)
            ox, rem_x = divmod(col + pad - j, s)
            if rem_y == 0 and rem_x == 0 and 0 <= oy < out_h and 0 <= ox < out_w:
                dx[b, n, row, col] += dy[b, m, oy, ox] * w[m, n, i, j]
    return dx


def loop_conv_wu(x: np.ndarray, dy: np.ndarray, k: int, s: int, pad: int) -> np.ndarray:
    """dw[m,n,i,j] = sum over b, oy, ox of dy[b,m,oy,ox] x[b,n,oy*s+i-pad,ox*s+j-pad]."""
    batch, n_in, height, width = x.shape
    _, n_out, out_h, out_w = dy.shape
    dw = np.zeros((n_out, n_in, k, k))
    for m, n, i, j in itertools.product(range(n_out), range(n_in), range(k), range(k)):
        for b, oy, ox in itertools.product(range(batch), range(out_h), range(out_w)):
            row, col = oy * s + i - pad, ox * s + j - pad
            if 0 <= row < height and 0 <= col < width:
                dw[m, n, i, j] += dy[b, m, oy, ox] * x[b, n, row, col]
    return dw


def loop_maxpool_fp(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """2x2 windows, stride 2; the first strictly greatest in scan order wins."""
    batch, channels, height, width = x.shape
    y = np.zeros((batch, channels, height // 2, width // 2))
    idx = np.zeros(y.shape, np.uint8)
    for b, c, oy, ox in itertools.product(*map(range, y.shape)):
        scan = [x[b, c, 2 * oy + di, 2 * ox + dj] for di, dj in ((0, 0), (0, 1), (1, 0), (1, 1))]
        best = 0
        for position in range(1, 4):
            if scan[position] > scan[best]:
                best = position
        y[b, c, oy, ox], idx[b, c, oy, ox] = scan[best], best
    return y, idx


def assert_close(
    got: np.ndarray, expected: np.ndarray, what: str, rtol: float = 1e-12, atol: float = 1e-12
) -> None:
    assert got.dtype == np.float64, f"{what}: reference mode must return float64, got {got.dtype}"
    assert got.shape == expected.shape, f"{what}: shape {got.shape} != {expected.shape}"
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, err_msg=what)


@pytest.mark.parametrize("layer", LAYERS, ids=LAYER_IDS)
def test_conv_matches_loop_definitions(layer: Layer, rng) -> None:
    x, w, dy = layer.operands(rng)
    s, pad, in_hw = layer.stride, layer.pad, (layer.height, layer.width)
    assert_close(oracle.conv_fp(x, w, s, pad), loop_conv_fp(x, w, s, pad), "conv_fp")
    assert_close(
        oracle.conv_bp(dy, w, in_hw, s, pad), loop_conv_bp(dy, w, in_hw, s, pad), "conv_bp"
    )
    assert_close(
        oracle.conv_wu(x, dy, layer.k, s, pad), loop_conv_wu(x, dy, layer.k, s, pad), "conv_wu"
    )


@pytest.mark.parametrize("batch, n_in, n_out", [(1, 1, 1), (3, 7, 5), (4, 16, 10)])
def test_fc_matches_loop_definitions(batch: int, n_in: int, n_out: int, rng) -> None:
    x = rng.standard_normal((batch, n_in))
    w = rng.standard_normal((n_out, n_in))
    dy = rng.standard_normal((batch, n_out))
    y, dx, dw = np.zeros((batch, n_out)), np.zeros((batch, n_in)), np.zeros((n_out, n_in))
    for b, m, n in itertools.product(range(batch), range(n_out), range(n_in)):
        y[b, m] += x[b, n] * w[m, n]
        dx[b, n] += dy[b, m] * w[m, n]
        dw[m, n] += dy[b, m] * x[b, n]
    assert_close(oracle.fc_fp(x, w), y, "fc_fp")
    assert_close(oracle.fc_bp(dy, w), dx, "fc_bp")
    assert_close(oracle.fc_wu(x, dy), dw, "fc_wu")


@pytest.mark.parametrize("shape", [(1, 1, 2, 2), (2, 3, 6, 4), (1, 2, 7, 5)])
def test_relu_and_maxpool_match_loop_definitions(shape: tuple[int, ...], rng) -> None:
    x = rng.standard_normal(shape)
    x[0, 0, 0, 0] = 0.0
    assert_close(
        oracle.relu_fp(x),
        np.array([v if v > 0 else 0.0 for v in x.ravel()]).reshape(shape),
        "relu_fp",
    )
    dy = rng.standard_normal(shape)
    assert_close(oracle.relu_bp(dy, oracle.relu_fp(x)), np.where(x > 0, dy, 0.0), "relu_bp")
    y, idx = oracle.maxpool_fp(x)
    expected_y, expected_idx = loop_maxpool_fp(x)
    assert_close(y, expected_y, "maxpool_fp")
    assert idx.dtype == np.uint8 and np.array_equal(idx, expected_idx)


def test_softmax_xent_and_sgd_match_their_formulas(rng) -> None:
    logits = rng.standard_normal((5, 4)) * 3
    labels = np.array([0, 3, 1, 1, 2])
    loss, dlogits = oracle.softmax_xent(logits, labels)
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert isinstance(loss, float)
    assert loss == pytest.approx(-np.mean(np.log(probabilities[np.arange(5), labels])), rel=1e-12)
    assert_close(dlogits, (probabilities - np.eye(4)[labels]) / 5, "softmax_xent dlogits")
    w, dw = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    assert_close(oracle.sgd(w, dw, 0.05), w - 0.05 * dw, "sgd")


def test_softmax_xent_is_stable_for_extreme_logits() -> None:
    """Max-subtraction: huge logits neither overflow nor give NaN."""
    loss, dlogits = oracle.softmax_xent(
        np.array([[1000.0, -1000.0, 0.0], [-1e4, -1e4, -1e4]]), [0, 2]
    )
    assert np.isfinite(loss) and np.all(np.isfinite(dlogits))
    assert loss == pytest.approx(np.log(3) / 2)  # row 0 contributes ~0, row 1 log(3)
    assert_close(
        dlogits, np.array([[0.0, 0.0, 0.0], [1 / 6, 1 / 6, -1 / 3]]), "dlogits", atol=1e-15
    )


def test_reference_mode_returns_float64_for_float32_input(rng) -> None:
    x = rng.standard_normal((1, 2, 4, 4)).astype(np.float32)
    w = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
    y = oracle.conv_fp(x, w, pad=1)
    assert y.dtype == np.float64
    assert_close(y, loop_conv_fp(x.astype(np.float64), w.astype(np.float64), 1, 1), "conv_fp")


# --------------------------------------------------------------------------------------
# Max-pool ties and NaN (the rule of docs/numerics.md, section 6).
# --------------------------------------------------------------------------------------


def window(*values: float) -> np.ndarray:
    """One 2x2 window given in scan order (0,0), (0,1), (1,0), (1,1): [1,1,2,2]."""
    return np.array(values, dtype=np.float64).reshape(1, 1, 2, 2)


@pytest.mark.parametrize(
    "values, winner",
    [
        ((1.0, 3.0, 3.0, 2.0), 1),  # tie between (0,1) and (1,0): the first in scan order
        ((5.0, 5.0, 5.0, 5.0), 0),  # all equal: the first
        ((-0.0, 0.0, 0.0, -0.0), 0),  # -0 and +0 compare equal: -0 (the first) is kept
        ((1.0, 2.0, 3.0, 3.0), 2),  # a later candidate must be strictly greater
        ((np.nan, 1.0, 2.0, 3.0), 0),  # a NaN in first position is never beaten
        ((1.0, np.nan, 2.0, np.nan), 2),  # a later NaN never wins
    ],
)
def test_maxpool_tie_rule_keeps_the_first_strict_maximum(
    values: tuple[float, ...], winner: int
) -> None:
    """Scan order (0,0), (0,1), (1,0), (1,1); a candidate replaces the current maximum only
    if strictly greater, so ties keep the earlier position and only it gets the gradient."""
    y, idx = oracle.maxpool_fp(window(*values))
    assert int(idx[0, 0, 0, 0]) == winner
    winning_value = values[winner]
    assert np.array_equal(y.ravel(), [winning_value], equal_nan=True)
    assert np.signbit(y[0, 0, 0, 0]) == np.signbit(winning_value)
    dx = oracle.maxpool_bp(np.full((1, 1, 1, 1), 7.0), idx, (2, 2))
    assert dx.ravel().tolist() == [7.0 if k == winner else 0.0 for k in range(4)]


# --------------------------------------------------------------------------------------
# (b) Backward functions against central finite differences of the forward ones.
# --------------------------------------------------------------------------------------


def numerical_gradient(
    loss: Callable[[np.ndarray], float], at: np.ndarray, step: float
) -> np.ndarray:
    """Central differences (L(a + h e_k) - L(a - h e_k)) / 2h for every element k."""
    at = at.copy()
    grad = np.empty_like(at)
    for index in np.ndindex(at.shape):
        original = at[index]
        at[index] = original + step
        up = loss(at)
        at[index] = original - step
        down = loss(at)
        at[index] = original
        grad[index] = (up - down) / (2 * step)
    return grad


# The conv and FC losses are linear in each argument, so central differences are exact
# up to rounding of L (about 1e-16 |L| / h): tight tolerances apply.
LINEAR_STEP, LINEAR_RTOL, LINEAR_ATOL = 1e-2, 1e-9, 1e-10


@pytest.mark.parametrize("layer", LAYERS, ids=LAYER_IDS)
def test_conv_gradients_match_finite_differences(layer: Layer, rng) -> None:
    """L = sum(r * conv_fp(x, w)): conv_bp(r, w) is dL/dx and conv_wu(x, r) is dL/dw."""
    x, w, r = layer.operands(rng)
    s, pad = layer.stride, layer.pad

    def loss_of_x(xv: np.ndarray) -> float:
        return float(np.sum(r * oracle.conv_fp(xv, w, s, pad)))

    def loss_of_w(wv: np.ndarray) -> float:
        return float(np.sum(r * oracle.conv_fp(x, wv, s, pad)))

    assert_close(
        oracle.conv_bp(r, w, (layer.height, layer.width), s, pad),
        numerical_gradient(loss_of_x, x, LINEAR_STEP),
        "conv_bp vs dL/dx",
        LINEAR_RTOL,
        LINEAR_ATOL,
    )
    assert_close(
        oracle.conv_wu(x, r, layer.k, s, pad),
        numerical_gradient(loss_of_w, w, LINEAR_STEP),
        "conv_wu vs dL/dw",
        LINEAR_RTOL,
        LINEAR_ATOL,
    )


def test_fc_gradients_match_finite_differences(rng) -> None:
    x, w, r = rng.standard_normal((3, 9)), rng.standard_normal((4, 9)), rng.standard_normal((3, 4))
    assert_close(
        oracle.fc_bp(r, w),
        numerical_gradient(lambda xv: float(np.sum(r * oracle.fc_fp(xv, w))), x, LINEAR_STEP),
        "fc_bp vs dL/dx",
        LINEAR_RTOL,
        LINEAR_ATOL,
    )
    assert_close(
        oracle.fc_wu(x, r),
        numerical_gradient(lambda wv: float(np.sum(r * oracle.fc_fp(x, wv))), w, LINEAR_STEP),
        "fc_wu vs dL/dw",
        LINEAR_RTOL,
        LINEAR_ATOL,
    )


def test_softmax_xent_gradient_matches_finite_differences(rng) -> None:
    logits = rng.standard_normal((4, 6)) * 2
    labels = rng.integers(0, 6, size=4)
    _, dlogits = oracle.softmax_xent(logits, labels)
    numerical = numerical_gradient(lambda z: oracle.softmax_xent(z, labels)[0], logits, 1e-5)
    assert_close(dlogits, numerical, "dlogits vs dloss/dlogits", rtol=1e-6, atol=1e-9)


def distinct_values(rng: np.random.Generator, shape: tuple[int, ...], gap: float) -> np.ndarray:
    """Values at least ``gap`` apart and away from zero, so that a step smaller than
    gap/2 never changes a comparison (max-pool winner, ReLU sign)."""
    ranks = rng.permutation(int(np.prod(shape))).reshape(shape)
    return (ranks - ranks.size / 2 + 0.5) * gap


@pytest.mark.parametrize("shape", [(1, 1, 2, 2), (2, 3, 4, 6), (1, 2, 5, 7)])
def test_maxpool_and_relu_gradients_match_finite_differences(shape: tuple[int, ...], rng) -> None:
    """Odd extents: the dropped trailing row/column gets zero gradient."""
    x = distinct_values(rng, shape, gap=0.1)
    y, idx = oracle.maxpool_fp(x)
    r = rng.standard_normal(y.shape)
    numerical = numerical_gradient(lambda xv: float(np.sum(r * oracle.maxpool_fp(xv)[0])), x, 1e-3)
    assert_close(
        oracle.maxpool_bp(r, idx, shape[2:]),
        numerical,
        "maxpool_bp vs dL/dx",
        LINEAR_RTOL,
        LINEAR_ATOL,
    )
    r = rng.standard_normal(shape)
    numerical = numerical_gradient(lambda xv: float(np.sum(r * oracle.relu_fp(xv))), x, 1e-3)
    assert_close(
        oracle.relu_bp(r, oracle.relu_fp(x)),
        numerical,
        "relu_bp vs dL/dx",
        LINEAR_RTOL,
        LINEAR_ATOL,
    )

"""The Trainer with the oracle backend: bit for bit against a hand-written exact-mode step,
within a derived bound of an independent float64 implementation of the network, learning
on a tiny problem, weights in and out, freezing, statistics and input errors."""

from __future__ import annotations

import math
from functools import partial

import numpy as np
import pytest

from eftrain import FC, Conv, HwConfig, MaxPool, Network, Trainer, fp32, oracle

HW4 = HwConfig(tm=4, tn=4)


def example_net() -> Network:
    return Network(input_shape=(1, 8, 8), layers=[
        Conv(8, k=3, stride=1, pad=1, relu=True), MaxPool(),
        Conv(16, k=3, stride=1, pad=1, relu=True), MaxPool(),
        FC(10)])


def mixed_net() -> Network:
    """Stride 2, a conv feeding a conv through a ReLU, a pool after a conv without ReLU, an
    FC on a 1x1 map, an FC after an FC."""
    return Network(input_shape=(3, 6, 6), layers=[
        Conv(4, k=3, pad=1, relu=True), Conv(5, k=3, stride=2, pad=1), MaxPool(),
        FC(6, relu=True), FC(3)])


def relu_logits_net() -> Network:
    """A vector input and a ReLU on the logits (the host masks dlogits)."""
    return Network(input_shape=(6,), layers=[FC(5, relu=True)])


def batch_of(net: Network, batch: int, rng) -> tuple[np.ndarray, np.ndarray]:
    x = rng.standard_normal((batch, *net.input_shape)).astype(np.float32)
    return x, rng.integers(0, net.num_classes, batch)


def same_bits(a, b) -> bool:
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    return a.shape == b.shape and np.array_equal(fp32.bits(a), fp32.bits(b))


# --------------------------------------------------------------------------------------
# Bit for bit: the oracle backend is the op list, executed with the exact mode.
# --------------------------------------------------------------------------------------


def hand_written_step(x, labels, w, lr, hw):
    """One training step of the example network, written out with eftrain.oracle calls in
    the order the lowering's rules give (FC as a 2x2 convolution)."""
    conv1 = oracle.relu_fp(oracle.conv_fp(x, w["conv1"], 1, 1, hw))
    pool1, idx1 = oracle.maxpool_fp(conv1)
    conv2 = oracle.relu_fp(oracle.conv_fp(pool1, w["conv2"], 1, 1, hw))
    pool2, idx2 = oracle.maxpool_fp(conv2)
    w_fc = w["fc1"].reshape(10, 16, 2, 2)
    logits = oracle.conv_fp(pool2, w_fc, 1, 0, hw)[:, :, 0, 0]
    loss, dlogits = oracle.softmax_xent(logits, labels)
    d4 = dlogits[:, :, None, None]
    g_pool2 = oracle.conv_bp(d4, w_fc, (2, 2), 1, 0, hw)          # with the old fc1 weights
    new_fc = oracle.sgd(w_fc, oracle.conv_wu(pool2, d4, 2, 1, 0, hw), lr, hw)
    g_conv2 = oracle.relu_bp(oracle.maxpool_bp(g_pool2, idx2, (4, 4)), conv2)
    g_pool1 = oracle.conv_bp(g_conv2, w["conv2"], (4, 4), 1, 1, hw)
    new_conv2 = oracle.sgd(w["conv2"], oracle.conv_wu(pool1, g_conv2, 3, 1, 1, hw), lr, hw)
    g_conv1 = oracle.relu_bp(oracle.maxpool_bp(g_pool1, idx1, (8, 8)), conv1)
    new_conv1 = oracle.sgd(w["conv1"], oracle.conv_wu(x, g_conv1, 3, 1, 1, hw), lr, hw)
    return loss, logits, {"conv1": new_conv1, "conv2": new_conv2, "fc1": new_fc.reshape(10, 64)}


def test_oracle_backend_is_the_hand_written_exact_step(rng) -> None:
    net = example_net()
    tr = Trainer(net, batch=4, backend="oracle", hw=HW4, seed=int(rng.integers(1 << 30)))
    weights = tr.get_weights()
    for step, lr in enumerate((0.05, 0.2)):
        x, labels = batch_of(net, 4, rng)
        loss, logits, weights = hand_written_step(x, labels, weights, lr, HW4)
        assert tr.step(x, labels, lr) == loss, f"step {step}"
        assert same_bits(tr.last_logits, logits), f"step {step}: logits"
        got = tr.get_weights()
        for name in weights:
            assert same_bits(got[name], weights[name]), f"step {step}: {name}"


# --------------------------------------------------------------------------------------
# Against float64: an independent implementation of the network with a derived bound.
#
# The float64 reference below implements the network's semantics directly (conv by
# per-tap einsum, FC as a matrix product on the C,H,W-flattened map, max-pool by argmax,
# softmax cross-entropy, SGD), never through the lowering. Alongside every value it
# carries E, a bound on |exact - reference| for each word, built from docs/numerics.md
# section 7 and the propagation of earlier errors:
#
# * conv/FC (FP, BP, WU) of operands a (error Ea) and b (error Eb):
#     E = gamma(L) * S(|a| + Ea, |b| + Eb) + S(|a| + Ea, Eb) + S(Ea, |b|) + 2 * n_ops * 2^-126,
#   S(.,.) the same layer applied to magnitudes (so S bounds the sum of |products| of
#   the exact operands), L the section-7 rounding count (FP 1 + log2 TN + ceil(N/TN) K^2,
#   BP with M, WU 1 + B Ho Wo; FC is the conv with K = the map size);
# * ReLU is 1-Lipschitz, and exact where z <= -E (both outputs are +0);
# * max-pool values: the window's largest E; the backward routes dy to the argmax, which
#   may differ only if another position could reach the maximum (a + E >= top - Etop,
#   unless both are exact): those positions get |dy| + Edy, else the argmax gets Edy;
# * the ReLU mask (z > 0) is certain where |z| > E; elsewhere the word gets |g| + Eg;
# * softmax: with D = max_j E(logit_j) per image, each probability is within a factor
#   exp(+-2D), so E(dlogits) = p (exp(2D) - 1) / B, plus the fp32 rounding of dlogits and
#   a possible flush of a subnormal; E(loss) = mean(2D);
# * SGD: E = lr * E(dW) + gamma(2) * (|w| + lr * (|dW| + E(dW))).
# Every bound is widened by 1e-6 relative to cover the float64 rounding of the reference
# and of the bound itself (under 2^-50 relative, far below gamma).
# --------------------------------------------------------------------------------------

U = 2.0**-24
TINY = 2.0**-126
F64 = np.float64


def gamma(roundings: float) -> float:
    return roundings * U / (1 - roundings * U)


def conv_ref(x, w, stride, pad):
    """y[b,m,oy,ox] = sum_{n,i,j} xp[b,n,oy*s+i,ox*s+j] w[m,n,i,j], float64."""
    k = w.shape[2]
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    ho, wo = (xp.shape[2] - k) // stride + 1, (xp.shape[3] - k) // stride + 1
    y = np.zeros((x.shape[0], w.shape[0], ho, wo))
    for i in range(k):
        for j in range(k):
            patch = xp[:, :, i:i + stride * (ho - 1) + 1:stride, j:j + stride * (wo - 1) + 1:stride]
            y += np.einsum("bnhw,mn->bmhw", patch, w[:, :, i, j])
    return y


def conv_input_grad_ref(dy, w, in_hw, stride, pad):
    """dL/dx of conv_ref: every dy word scattered back to the inputs it read."""
    k = w.shape[2]
    h, wd = in_hw
    ho, wo = dy.shape[2:]
    dxp = np.zeros((dy.shape[0], w.shape[1], h + 2 * pad, wd + 2 * pad))
    for i in range(k):
        for j in range(k):
            dxp[:, :, i:i + stride * (ho - 1) + 1:stride, j:j + stride * (wo - 1) + 1:stride] += \
                np.einsum("bmhw,mn->bnhw", dy, w[:, :, i, j])
    return dxp[:, :, pad:pad + h, pad:pad + wd]


def conv_weight_grad_ref(x, dy, k, stride, pad):
    """dL/dw of conv_ref."""
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    ho, wo = dy.shape[2:]
    dw = np.zeros((dy.shape[1], x.shape[1], k, k))
    for i in range(k):
        for j in range(k):
            patch = xp[:, :, i:i + stride * (ho - 1) + 1:stride, j:j + stride * (wo - 1) + 1:stride]
            dw[:, :, i, j] = np.einsum("bmhw,bnhw->mn", dy, patch)
    return dw


def pool_windows(x):
    """The four positions of every 2x2 stride-2 window, scan order (0,0),(0,1),(1,0),(1,1),
    on a last axis: [B,C,H//2,W//2,4]."""
    ho, wo = x.shape[2] // 2, x.shape[3] // 2
    return np.stack([x[:, :, di:2 * ho:2, dj:2 * wo:2] for di in (0, 1) for dj in (0, 1)], axis=-1)


def pool_scatter(values, in_hw):
    """Inverse of pool_windows: [B,C,Ho,Wo,4] -> [B,C,H,W], zeros outside the windows."""
    out = np.zeros((*values.shape[:2], *in_hw))
    ho, wo = values.shape[2:4]
    for pos, (di, dj) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
        out[:, :, di:2 * ho:2, dj:2 * wo:2] = values[..., pos]
    return out


class Bounded:
    """A float64 value and E, the bound on |exact - value| of each word."""

    def __init__(self, value, err):
        self.value = np.asarray(value, F64)
        self.err = np.broadcast_to(np.asarray(err, F64), self.value.shape)

    @property
    def upper(self):
        """Bound on the exact operand's magnitude."""
        return np.abs(self.value) + self.err


def product_bound(op, a: Bounded, b: Bounded, roundings: float, n_ops: int) -> Bounded:
    """``op`` (bilinear) of the two operands with the section-7 bound and propagation."""
    err = (gamma(roundings) * op(a.upper, b.upper) + op(a.upper, b.err) + op(a.err, np.abs(b.value))
           + 2 * n_ops * TINY)
    return Bounded(op(a.value, b.value), err)


def relu_forward(z: Bounded) -> Bounded:
    return Bounded(np.maximum(z.value, 0), np.where(z.value <= -z.err, 0.0, z.err))


def relu_mask(g: Bounded, z: Bounded) -> Bounded:
    on, off = z.value > z.err, z.value <= -z.err
    return Bounded(np.where(z.value > 0, g.value, 0.0),
                   np.where(on, g.err, np.where(off, 0.0, np.abs(g.value) + g.err)))


def pool_forward(a: Bounded) -> Bounded:
    win, err = pool_windows(a.value), pool_windows(a.err)
    return Bounded(win.max(axis=-1), err.max(axis=-1))


def pool_backward(g: Bounded, a: Bounded) -> Bounded:
    win, err = pool_windows(a.value), pool_windows(a.err)
    top = win.argmax(axis=-1)[..., None]  # the first maximum, as the core's tie rule
    top_val = np.take_along_axis(win, top, -1)
    top_err = np.take_along_axis(err, top, -1)
    is_top = np.arange(4) == top
    could_win = is_top | ((win + err >= top_val - top_err) & ~((err == 0) & (top_err == 0)))
    ambiguous = could_win.sum(axis=-1, keepdims=True) > 1
    gv, ge = g.value[..., None], g.err[..., None]
    value = np.where(is_top, gv, 0.0)
    bound = np.where(ambiguous, np.where(could_win, np.abs(gv) + ge, 0.0), np.where(is_top, ge, 0.0))
    return Bounded(pool_scatter(value, a.value.shape[2:]), pool_scatter(bound, a.value.shape[2:]))


def softmax_xent_bounded(logits: Bounded, labels) -> tuple[float, float, Bounded]:
    z = logits.value
    batch = z.shape[0]
    rows = np.arange(batch)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    loss = float(np.mean(-np.log(p[rows, labels])))
    g = p.copy()
    g[rows, labels] -= 1
    g /= batch
    spread = logits.err.max(axis=1)
    loss_err = float(np.mean(2 * spread)) + 1e-12 * (1 + abs(loss))
    p_err = p * np.expm1(2 * spread)[:, None]
    g_err = p_err / batch * (1 + U) + U * np.abs(g) + TINY + 1e-12 * (np.abs(g) + 1 / batch)
    return loss, loss_err, Bounded(g, g_err)


def reference_step(net: Network, weights: dict, x, labels, lr: float, tn: int, trainable):
    """One float64 training step of ``net`` with bounds: (loss, loss bound, logits,
    {layer: new weights (Bounded)})."""
    batch = x.shape[0]
    w = {name: Bounded(v.astype(F64), 0.0) for name, v in weights.items()}
    a = Bounded(x.astype(F64), 0.0)
    saved = []  # per layer: its input, and its pre-ReLU output when it has a ReLU
    for info in net.info:
        layer, record = info.layer, {"in": a}
        if isinstance(layer, MaxPool):
            out = pool_forward(a)
        elif isinstance(layer, Conv):
            steps = math.ceil(a.value.shape[1] / tn) * layer.k ** 2
            out = product_bound(partial(conv_ref, stride=layer.stride, pad=layer.pad), a, w[info.name],
                                1 + math.log2(tn) + steps, 2 * tn * steps)
        else:
            flat = Bounded(a.value.reshape(batch, -1), a.err.reshape(batch, -1))
            steps = math.ceil(info.hw_in[0] / tn) * info.k ** 2
            out = product_bound(lambda u, v: u @ v.T, flat, w[info.name], 1 + math.log2(tn) + steps,
                                2 * tn * steps)
        if layer.relu:
            record["z"] = out
            out = relu_forward(out)
        saved.append(record)
        a = out
    logits = a
    loss, loss_err, g = softmax_xent_bounded(logits, labels)
    lowest = min(net.layer(name).index for name in trainable)
    new = {}
    for info, record in zip(reversed(net.info[lowest:]), reversed(saved[lowest:]), strict=True):
        layer, x_in = info.layer, record["in"]
        if layer.relu:
            g = relu_mask(g, record["z"])
        if isinstance(layer, MaxPool):
            g = pool_backward(g, x_in)
            continue
        if isinstance(layer, Conv):
            ho, wo = info.out_shape[1:]
            wu = partial(conv_weight_grad_ref, k=layer.k, stride=layer.stride, pad=layer.pad)
            dw = product_bound(wu, x_in, g, 1 + batch * ho * wo, 2 * batch * ho * wo)
            if info.index > lowest:
                steps = math.ceil(layer.m / tn) * layer.k ** 2
                in_hw = x_in.value.shape[2:]
                bp = partial(conv_input_grad_ref, in_hw=in_hw, stride=layer.stride, pad=layer.pad)
                g = product_bound(bp, g, w[info.name], 1 + math.log2(tn) + steps, 2 * tn * steps)
        else:
            flat = Bounded(x_in.value.reshape(batch, -1), x_in.err.reshape(batch, -1))
            dw = product_bound(lambda u, v: u.T @ v, g, flat, 1 + batch, 2 * batch)
            if info.index > lowest:
                steps = math.ceil(layer.m / tn) * info.k ** 2
                g_flat = product_bound(lambda u, v: u @ v, g, w[info.name], 1 + math.log2(tn) + steps,
                                       2 * tn * steps)
                shape = x_in.value.shape
                g = Bounded(g_flat.value.reshape(shape), g_flat.err.reshape(shape))
        if info.name in trainable:
            old = w[info.name].value
            err = (lr * dw.err + gamma(2) * (np.abs(old) + lr * dw.upper)) + 4 * TINY
            new[info.name] = Bounded(old - lr * dw.value, err)
    return loss, loss_err, logits, new


def assert_within(name: str, exact, ref: Bounded, scale: float) -> None:
    """|exact - reference| <= E for every word, and E says something: for 99 % of the
    words it is under 5 % of ``scale`` (the size of what the step computes: the logits, or
    a layer's update), so an error of that size in the step would be caught. E is a
    worst-case bound (errors compound through the layers as if aligned): on these shapes
    it is up to ~1 % of a first layer's update, while the actual differences are ~1e-5."""
    exact = np.asarray(exact, F64)
    assert exact.shape == ref.value.shape, name
    bound = ref.err * (1 + 1e-6)
    diff = np.abs(exact - ref.value)
    worst = np.unravel_index(np.argmax(diff - bound), diff.shape)
    assert (diff <= bound).all(), (
        f"{name}: |exact - float64| = {diff[worst]:.3e} > bound {bound[worst]:.3e} at {worst}")
    assert np.quantile(bound, 0.99) < 0.05 * scale, f"{name}: the bound is not informative"


CASES = {
    "example": (example_net, HW4, None),
    "example, last two trainable": (example_net, HW4, ["conv2", "fc1"]),
    "example, conv2 frozen in between": (example_net, HwConfig(tm=8, tn=8), ["conv1", "fc1"]),
    "mixed": (mixed_net, HW4, None),
    "mixed, tn 8": (mixed_net, HwConfig(tm=8, tn=8), ["conv2", "fc2"]),
    "relu on the logits": (relu_logits_net, HW4, None),
}


@pytest.mark.parametrize("case", CASES)
def test_oracle_backend_within_bound_of_float64(case: str, rng) -> None:
    make, hw, trainable = CASES[case]
    net = make()
    tr = Trainer(net, batch=4, hw=hw, seed=int(rng.integers(1 << 30)), trainable=trainable)
    before = tr.get_weights()
    x, labels = batch_of(net, 4, rng)
    lr = float(np.float32(0.05))
    loss = tr.step(x, labels, lr)
    ref_loss, loss_bound, logits, new = reference_step(net, before, x, labels, lr, hw.tn,
                                                       tr.trainable)
    assert abs(loss - ref_loss) <= loss_bound, f"loss {loss} vs float64 {ref_loss} (bound {loss_bound:.3e})"
    assert_within("logits", tr.last_logits, logits, np.abs(logits.value).max())
    after = tr.get_weights()
    assert set(new) == set(tr.trainable)
    for name in net.weight_layers:
        if name in new:
            update = np.abs(new[name].value - before[name]).max()  # the scale: lr * |dL/dw|
            assert_within(name, after[name], new[name], update)
            assert not same_bits(after[name], before[name]), f"{name} was not updated"
        else:
            assert same_bits(after[name], before[name]), f"{name} is frozen but changed"


# --------------------------------------------------------------------------------------
# It learns.
# --------------------------------------------------------------------------------------


def banded_digits(rng, count: int) -> tuple[np.ndarray, np.ndarray]:
    """6x6 images of noise with one bright horizontal band of two rows; the label is the
    band (0 top, 1 middle, 2 bottom)."""
    labels = rng.integers(0, 3, count)
    x = 0.3 * rng.standard_normal((count, 1, 6, 6))
    for i, label in enumerate(labels):
        x[i, 0, 2 * label:2 * label + 2] += 1.0
    return x.astype(np.float32), labels


def test_loss_decreases_on_a_learnable_problem(rng) -> None:
    net = Network(input_shape=(1, 6, 6), layers=[Conv(4, k=3, pad=1, relu=True), MaxPool(), FC(3)])
    tr = Trainer(net, batch=8, hw=HW4, seed=int(rng.integers(1 << 30)))
    x_eval, y_eval = banded_digits(rng, 64)
    loss_before = oracle.softmax_xent(tr.predict(x_eval), y_eval)[0]
    for _ in range(40):
        tr.step(*banded_digits(rng, 8), lr=0.1)
    logits = tr.predict(x_eval)
    loss_after = oracle.softmax_xent(logits, y_eval)[0]
    accuracy = float(np.mean(logits.argmax(axis=1) == y_eval))
    assert loss_after < 0.5 * loss_before, (loss_before, loss_after)
    assert accuracy >= 0.9, accuracy


# --------------------------------------------------------------------------------------
# Weights, predict, freezing, statistics.
# --------------------------------------------------------------------------------------


def test_weights_round_trip_bit_for_bit(rng) -> None:
    net = example_net()
    tr = Trainer(net, batch=2, hw=HW4, seed=3)
    assert {n: w.shape for n, w in tr.get_weights().items()} == net.weight_shapes
    assert all(w.dtype == np.float32 for w in tr.get_weights().values())
    # Any bit pattern: NaN payloads, infinities, subnormals, -0.
    patterns = {n: rng.integers(0, 1 << 32, s, dtype=np.uint32).view(np.float32)
                for n, s in net.weight_shapes.items()}
    tr.set_weights(patterns)
    got = tr.get_weights()
    assert all(same_bits(got[n], patterns[n]) for n in patterns)
    got["fc1"][...] = 0  # get_weights returns copies
    patterns["conv1"][...] = 0  # set_weights copies too
    assert same_bits(tr.get_weights()["fc1"], patterns["fc1"])
    assert not same_bits(tr.get_weights()["conv1"], patterns["conv1"])
    # A subset leaves the others alone.
    fresh = net.init_weights(9)
    tr.set_weights({"conv2": fresh["conv2"]})
    got = tr.get_weights()
    assert same_bits(got["conv2"], fresh["conv2"]) and same_bits(got["fc1"], patterns["fc1"])


def test_same_seed_same_weights_and_losses(rng) -> None:
    net = mixed_net()
    a, b = (Trainer(net, batch=4, hw=HW4, seed=11) for _ in range(2))
    c = Trainer(net, batch=4, hw=HW4, seed=12)
    assert all(same_bits(a.get_weights()[n], w) for n, w in net.init_weights(11).items())
    assert not same_bits(a.get_weights()["conv1"], c.get_weights()["conv1"])
    for _ in range(2):
        x, labels = batch_of(net, 4, rng)
        assert a.step(x, labels, 0.1) == b.step(x, labels, 0.1)
    assert all(same_bits(a.get_weights()[n], b.get_weights()[n]) for n in net.weight_layers)


def test_predict(rng) -> None:
    net = example_net()
    tr = Trainer(net, batch=4, hw=HW4, seed=5)
    x, labels = batch_of(net, 4, rng)
    predicted = tr.predict(x)
    assert predicted.dtype == np.float32 and predicted.shape == (4, 10)
    tr.step(x, labels, 0.05)
    assert same_bits(tr.last_logits, predicted)  # the step's forward, before its update
    # Any number of images; each image's logits do not depend on the others.
    many, _ = batch_of(net, 9, rng)
    logits = tr.predict(many)
    assert logits.shape == (9, 10)
    for i in (0, 4, 8):
        assert same_bits(logits[i], tr.predict(many[i:i + 1])[0])


def test_frozen_layers_keep_their_bits(rng) -> None:
    net = example_net()
    tr = Trainer(net, batch=4, hw=HW4, seed=2, trainable=["fc1"])
    before = tr.get_weights()
    for _ in range(2):
        tr.step(*batch_of(net, 4, rng), lr=0.1)
    after = tr.get_weights()
    assert same_bits(after["conv1"], before["conv1"]) and same_bits(after["conv2"], before["conv2"])
    assert not same_bits(after["fc1"], before["fc1"])
    assert tr.trainable == ("fc1",)


def test_oracle_stats(rng) -> None:
    net = example_net()
    tr = Trainer(net, batch=8, hw=HW4, seed=1)
    assert tr.stats is None
    tr.step(*batch_of(net, 8, rng), lr=0.05)
    conv1, conv2, fc1 = 8 * 1 * 9 * 64, 16 * 8 * 9 * 16, 10 * 16 * 4  # MACs per image
    assert tr.stats["backend"] == "oracle"
    assert tr.stats["forward"]["macs"] == 8 * (conv1 + conv2 + fc1)
    assert tr.stats["backward"]["macs"] == 8 * (2 * fc1 + 2 * conv2 + conv1)
    assert tr.stats["total"]["macs"] == 8 * (3 * fc1 + 3 * conv2 + 2 * conv1)
    assert tr.stats["total"]["busy_cycles"] is None and tr.stats["forward"]["mac_utilisation"] is None


# --------------------------------------------------------------------------------------
# Input errors.
# --------------------------------------------------------------------------------------

X = np.zeros((4, 1, 8, 8), np.float32)
LABELS = np.arange(4)

STEP_ERRORS = {
    "x dtype": ({"x": X.astype(np.float64)}, r"step: x must be float32, got float64"),
    "x shape": ({"x": X[:, :, :7]}, r"step: x\.shape \(4, 1, 7, 8\) is not \[B, 1, 8, 8\]"),
    "x batch": ({"x": X[:3]}, r"step: x has 3 images, the trainer's batch is 4"),
    "labels range": ({"labels": np.array([0, 1, 2, 10])},
                     r"step: labels must be in 0\.\.9 \(the outputs of fc1\), got 0\.\.10"),
    "labels negative": ({"labels": np.array([0, -1, 2, 3])}, r"labels must be in 0\.\.9"),
    "labels dtype": ({"labels": LABELS.astype(float)}, r"step: labels must be integers"),
    "labels shape": ({"labels": LABELS[:3]}, r"step: labels\.shape \(3,\) != \(4,\)"),
    "lr zero": ({"lr": 0.0}, r"step: lr must be positive and finite"),
    "lr nan": ({"lr": float("nan")}, r"step: lr must be positive and finite"),
    "lr underflows": ({"lr": 1e-50}, r"step: lr must be positive and finite as an fp32 value"),
    "lr text": ({"lr": "0.1"}, r"step: lr must be a real number"),
}


@pytest.mark.parametrize("case", STEP_ERRORS)
def test_step_errors(case: str) -> None:
    tr = Trainer(example_net(), batch=4, hw=HW4)
    before = tr.get_weights()
    changes, message = STEP_ERRORS[case]
    args = {"x": X, "labels": LABELS, "lr": 0.1, **changes}
    with pytest.raises(ValueError, match=message):
        tr.step(**args)
    assert all(same_bits(tr.get_weights()[n], before[n]) for n in before)


def test_trainer_errors() -> None:
    net = example_net()
    with pytest.raises(ValueError, match=r"backend must be one of oracle, rtl, got 'fpga'"):
        Trainer(net, batch=4, backend="fpga")
    with pytest.raises(ValueError, match=r"net must be an eftrain\.Network"):
        Trainer([Conv(2)], batch=4)
    with pytest.raises(ValueError, match=r"seed must be an int"):
        Trainer(net, batch=4, seed=0.5)
    with pytest.raises(ValueError, match=r"fc1: its input map is 8x8.*add pooling"):
        Trainer(Network((1, 8, 8), [Conv(2, pad=1), FC(2)]), batch=4, backend="oracle")
    with pytest.raises(ValueError, match=r"trainable: pool1 has no weights"):
        Trainer(net, batch=4, trainable=["pool1"])
    tr = Trainer(net, batch=4, hw=HW4)
    with pytest.raises(ValueError, match=r"predict: x must be float32"):
        tr.predict(X.astype(np.float16))
    with pytest.raises(ValueError, match=r"conv1: weights must be float32"):
        tr.set_weights({"conv1": np.zeros((8, 1, 3, 3))})

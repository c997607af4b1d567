"""Network description (eftrain.network): layer names, shapes, validation errors, initial
weights, and the lowering to the core's ops written out by hand from its rules."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from eftrain import FC, Conv, HwConfig, MaxPool, Network
from eftrain.descriptor import Flag, Opcode, largest_tile_rows

HW = HwConfig(tm=4, tn=4)
RELU, RELU_MASK, SGD = 1 << Flag.RELU, 1 << Flag.RELU_MASK, 1 << Flag.SGD


def example_net() -> Network:
    """The network of the issue."""
    return Network(input_shape=(1, 8, 8), layers=[
        Conv(8, k=3, stride=1, pad=1, relu=True), MaxPool(),
        Conv(16, k=3, stride=1, pad=1, relu=True), MaxPool(),
        FC(10)])


def mixed_net() -> Network:
    """A conv feeding a conv through a ReLU, a stride-2 conv without ReLU into a pool,
    an FC on a 1x1 map, an FC after an FC, a ReLU on the logits."""
    return Network(input_shape=(3, 6, 6), layers=[
        Conv(4, k=3, pad=1, relu=True), Conv(5, k=3, stride=2, pad=1), MaxPool(),
        FC(6, relu=True), FC(3, relu=True)])


# --------------------------------------------------------------------------------------
# Names, shapes, weights.
# --------------------------------------------------------------------------------------


def test_example_names_and_shapes() -> None:
    net = example_net()
    assert net.names == ("conv1", "pool1", "conv2", "pool2", "fc1")
    assert [i.in_shape for i in net.info] == [(1, 8, 8), (8, 8, 8), (8, 4, 4), (16, 4, 4), (16, 2, 2)]
    assert [i.out_shape for i in net.info] == [(8, 8, 8), (8, 4, 4), (16, 4, 4), (16, 2, 2), (10,)]
    assert net.weight_shapes == {"conv1": (8, 1, 3, 3), "conv2": (16, 8, 3, 3), "fc1": (10, 64)}
    assert net.layer("fc1").hw_weight_shape == (10, 16, 2, 2)
    assert net.weight_layers == ("conv1", "conv2", "fc1")
    assert net.num_classes == 10
    assert "fc1" in net.summary() and "[10,64]" in net.summary()


def test_mixed_names_and_shapes() -> None:
    net = mixed_net()
    assert net.names == ("conv1", "conv2", "pool1", "fc1", "fc2")
    assert [i.out_shape for i in net.info] == [(4, 6, 6), (5, 3, 3), (5, 1, 1), (6,), (3,)]
    assert net.weight_shapes == {"conv1": (4, 3, 3, 3), "conv2": (5, 4, 3, 3), "fc1": (6, 5),
                                 "fc2": (3, 6)}
    assert net.layer("fc1").hw_weight_shape == (6, 5, 1, 1)
    assert net.layer("fc2").hw_in == (6, 1, 1) and net.layer("fc2").k == 1


def test_vector_input() -> None:
    net = Network(input_shape=(20,), layers=[FC(8, relu=True), FC(3)])
    assert net.names == ("fc1", "fc2")
    assert net.weight_shapes == {"fc1": (8, 20), "fc2": (3, 8)}
    assert net.layer("fc1").hw_in == (20, 1, 1)
    x = np.arange(40, dtype=np.float32).reshape(2, 20)
    assert net.input_to_hw(x).shape == (2, 20, 1, 1)


def test_fc_weight_is_the_reshape_of_the_conv_weight() -> None:
    """An FC after a map is the convolution whose [M,C,H,W] weight is the reshape of the
    [M, C*H*W] matrix: the dot products agree for the C,H,W flatten order."""
    net = example_net()
    rng = np.random.default_rng(3)
    w = rng.standard_normal((10, 64))
    x = rng.standard_normal((2, 16, 2, 2))
    w4 = net.to_hw_weight("fc1", w)
    assert w4.shape == (10, 16, 2, 2)
    np.testing.assert_allclose(np.einsum("mchw,bchw->bm", w4, x), x.reshape(2, -1) @ w.T, rtol=1e-12)
    assert np.array_equal(net.from_hw_weight("fc1", w4), w)


def test_init_weights_seeded_he_normal() -> None:
    net = example_net()
    a, b, c = net.init_weights(7), net.init_weights(7), net.init_weights(8)
    assert set(a) == {"conv1", "conv2", "fc1"}
    for name, shape in net.weight_shapes.items():
        assert a[name].dtype == np.float32 and a[name].shape == shape
        assert np.array_equal(a[name], b[name])
        assert not np.array_equal(a[name], c[name])
    # conv2: 1152 draws of N(0, 2/72); the sample std is within 10 % with overwhelming odds.
    assert abs(a["conv2"].std() / math.sqrt(2 / 72) - 1) < 0.1
    assert abs(a["fc1"].std() / math.sqrt(2 / 64) - 1) < 0.25


# --------------------------------------------------------------------------------------
# Errors.
# --------------------------------------------------------------------------------------

ERRORS = {
    "conv m": (lambda: Conv(0), r"Conv\.m must be in 1\.\.4095, got 0"),
    "conv pad": (lambda: Conv(4, k=3, pad=3), r"Conv\.pad \(k=3\) must be in 0\.\.2"),
    "conv stride": (lambda: Conv(4, stride=3), r"Conv\.stride must be in 1\.\.2, got 3"),
    "conv k": (lambda: Conv(4, k=1.5), r"Conv\.k must be an int"),
    "conv relu": (lambda: Conv(4, relu=1), r"Conv\.relu must be True or False"),
    "fc m": (lambda: FC(-1), r"FC\.m must be in"),
    "input rank": (lambda: Network((1, 8), [FC(2)]), r"Network\.input_shape must be \(C, H, W\)"),
    "input zero": (lambda: Network((1, 0, 8), [FC(2)]), r"Network\.input_shape\[1\] must be in"),
    "no layers": (lambda: Network((1, 8, 8), []), r"Network\.layers must be a non-empty list"),
    "not a layer": (lambda: Network((1, 8, 8), [Conv(2), "relu"]), r"Network\.layers\[1\] must be"),
    "last not fc": (lambda: Network((1, 8, 8), [Conv(2)]), r"conv1: the last layer must be an FC"),
    "conv on vector": (lambda: Network((10,), [Conv(4), FC(2)]),
                       r"conv1: a Conv needs a \[C,H,W\] map as input, but the input gives a vector \[10\]"),
    "conv after fc": (lambda: Network((1, 4, 4), [FC(4), Conv(2), FC(2)]),
                      r"conv1: a Conv needs a \[C,H,W\] map .* fc1 gives a vector \[4\]"),
    "pool after fc": (lambda: Network((1, 4, 4), [FC(4), MaxPool(), FC(2)]),
                      r"pool1: a MaxPool needs a \[C,H,W\] map"),
    "conv too big": (lambda: Network((1, 2, 2), [Conv(4, k=3), FC(2)]),
                     r"conv1: k=3 with pad=0 does not fit its 2x2 input \(from the input\)"),
    "pool too small": (lambda: Network((1, 3, 3), [MaxPool(), MaxPool(), FC(2)]),
                       r"pool2: a 2x2 max-pool needs an input of at least 2x2, but pool1 gives 1x1"),
    "fc not square": (lambda: Network((1, 8, 6), [FC(2)]), r"fc1: .*needs a square map.* 8x6"),
}


@pytest.mark.parametrize("case", ERRORS)
def test_description_errors(case: str) -> None:
    make, message = ERRORS[case]
    with pytest.raises(ValueError, match=message):
        make()


LOWERING_ERRORS = {
    "k > kmax": (Network((1, 9, 9), [Conv(2, k=7), FC(2)]), {},
                 r"conv1: k = 7 exceeds the core's KMAX \(5\)"),
    "fc kernel > kmax": (Network((1, 8, 8), [Conv(2, pad=1), FC(2)]), {},
                         r"fc1: its input map is 8x8, so this FC runs as a 8x8 convolution, but the "
                         r"core's KMAX is 5: add pooling before fc1"),
    "no tiling": (Network((1, 64, 64), [Conv(2, pad=1), MaxPool(), MaxPool(), MaxPool(), MaxPool(),
                                         FC(2)]),
                  {"hw": HwConfig(tm=4, tn=4, ib_depth=100, ob_depth=100)},
                  r"conv1 \(CONV_FP\): no tiling fits the core's buffers.*IB: 3 rows x 64 pixels"),
    "pool row": (Network((1, 4, 1100), [MaxPool(), Conv(1, k=2, stride=2),
                                        *[Conv(1, k=1, stride=2)] * 10, FC(2)]),
                 {"hw": HwConfig(tm=4, tn=4, ib_depth=4096, ob_depth=4096)},
                 r"pool1 \(POOL_FP\): no tiling fits.*POOL_MAX_WO"),
    "batch": (example_net(), {"batch": 0}, r"batch must be in 1\.\.4095, got 0"),
    "trainable unknown": (example_net(), {"trainable": ["conv3"]},
                          r"trainable: 'conv3' is not a layer of the network \(layers with "
                          r"weights: conv1, conv2, fc1\)"),
    "trainable pool": (example_net(), {"trainable": ["pool1"]}, r"trainable: pool1 has no weights"),
    "trainable empty": (example_net(), {"trainable": []}, r"trainable must name at least one"),
    "trainable string": (example_net(), {"trainable": "fc1"}, r"trainable must be a list"),
}


@pytest.mark.parametrize("case", LOWERING_ERRORS)
def test_lowering_errors(case: str) -> None:
    net, kwargs, message = LOWERING_ERRORS[case]
    args = {"batch": 2, "hw": HW, **kwargs}
    with pytest.raises(ValueError, match=message):
        net.lower(**args)


def test_check_weights_errors() -> None:
    net = example_net()
    good = net.init_weights(0)
    with pytest.raises(ValueError, match=r"fc1: weights must be float32, got float64"):
        net.check_weights({"fc1": good["fc1"].astype(np.float64)}, complete=False)
    with pytest.raises(ValueError, match=re.escape("conv1: weights shape (8, 1, 9) != (8, 1, 3, 3)")):
        net.check_weights({"conv1": good["conv1"].reshape(8, 1, 9)}, complete=False)
    with pytest.raises(ValueError, match=r"weights: 'pool1' has no weights"):
        net.check_weights({"pool1": good["fc1"]}, complete=False)
    with pytest.raises(ValueError, match=r"weights: 'fc2' is not a layer"):
        net.check_weights({"fc2": good["fc1"]}, complete=False)
    with pytest.raises(ValueError, match=r"weights: missing conv2"):
        net.check_weights({"conv1": good["conv1"], "fc1": good["fc1"]}, complete=True)


# --------------------------------------------------------------------------------------
# The lowering, written out by hand from the rules of eftrain.network.
# --------------------------------------------------------------------------------------

#: (layer, opcode, flags, in, wgt, out, aux, k, stride, pad, n, m, h, w); None = unused.
EXAMPLE_FORWARD = [
    ("conv1", Opcode.CONV_FP, RELU, "input", "w:conv1", "act:conv1", None, 3, 1, 1, 1, 8, 8, 8),
    ("pool1", Opcode.POOL_FP, 0, "act:conv1", None, "act:pool1", None, 2, 2, 0, 8, 8, 8, 8),
    ("conv2", Opcode.CONV_FP, RELU, "act:pool1", "w:conv2", "act:conv2", None, 3, 1, 1, 8, 16, 4, 4),
    ("pool2", Opcode.POOL_FP, 0, "act:conv2", None, "act:pool2", None, 2, 2, 0, 16, 16, 4, 4),
    ("fc1", Opcode.CONV_FP, 0, "act:pool2", "w:fc1", "act:fc1", None, 2, 1, 0, 16, 10, 2, 2),
]
FC1_BACK = [
    ("fc1", Opcode.CONV_BP, 0, "grad:fc1", "w:fc1", "grad:pool2", None, 2, 1, 0, 16, 10, 2, 2),
    ("fc1", Opcode.CONV_WU, SGD, "act:pool2", "w:fc1", "w:fc1", "grad:fc1", 2, 1, 0, 16, 10, 2, 2),
    ("pool2", Opcode.POOL_BP, RELU_MASK, "grad:pool2", None, "grad:conv2", "act:conv2", 2, 2, 0,
     16, 16, 4, 4),
]
CONV2_BP = ("conv2", Opcode.CONV_BP, 0, "grad:conv2", "w:conv2", "grad:pool1", None, 3, 1, 1, 8, 16, 4, 4)
CONV2_WU = ("conv2", Opcode.CONV_WU, SGD, "act:pool1", "w:conv2", "w:conv2", "grad:conv2", 3, 1, 1,
            8, 16, 4, 4)
POOL1_BP = ("pool1", Opcode.POOL_BP, RELU_MASK, "grad:pool1", None, "grad:conv1", "act:conv1", 2, 2, 0,
            8, 8, 8, 8)
CONV1_WU = ("conv1", Opcode.CONV_WU, SGD, "input", "w:conv1", "w:conv1", "grad:conv1", 3, 1, 1, 1, 8, 8, 8)

EXAMPLE_BACKWARD = {
    None: FC1_BACK + [CONV2_BP, CONV2_WU, POOL1_BP, CONV1_WU],
    ("conv2", "fc1"): FC1_BACK + [CONV2_WU],
    ("fc1",): FC1_BACK[1:2],  # fc1 is the lowest trainable layer: no BP at all
    ("conv1",): FC1_BACK[:1] + FC1_BACK[2:] + [CONV2_BP, POOL1_BP, CONV1_WU],
    ("conv1", "fc1"): FC1_BACK + [CONV2_BP, POOL1_BP, CONV1_WU],
}


def as_rows(ops) -> list[tuple]:
    return [(op.layer, op.opcode, op.flags, op.tensors.get("in_addr"), op.tensors.get("wgt_addr"),
             op.tensors.get("out_addr"), op.tensors.get("aux_addr"), op.k, op.stride, op.pad, op.n,
             op.m, op.h, op.w) for op in ops]


@pytest.mark.parametrize("trainable", list(EXAMPLE_BACKWARD), ids=str)
def test_example_lowering(trainable) -> None:
    lowering = example_net().lower(batch=8, hw=HW, trainable=trainable)
    assert as_rows(lowering.forward) == EXAMPLE_FORWARD
    assert as_rows(lowering.backward) == EXAMPLE_BACKWARD[trainable]
    assert lowering.trainable == (trainable or ("conv1", "conv2", "fc1"))
    assert (lowering.input, lowering.logits, lowering.dlogits) == ("input", "act:fc1", "grad:fc1")
    assert lowering.tensors["act:fc1"].shape == (8, 10, 1, 1)
    assert lowering.tensors["w:fc1"].shape == (10, 16, 2, 2) and lowering.tensors["w:fc1"].weights
    assert not lowering.logits_relu
    for op in (*lowering.forward, *lowering.backward):
        assert op.batch == 8
        assert op.tile_rows == largest_tile_rows(op.opcode, op.k, op.stride, op.pad, op.n, op.m,
                                                 op.h, op.w, HW) > 0


def test_mixed_lowering() -> None:
    """A ReLU conv feeding a conv (RELU_MASK on CONV_BP), a pool after a conv without ReLU
    (no mask), FC after a 1x1 map and after an FC, ReLU on the logits."""
    lowering = mixed_net().lower(batch=2, hw=HW)
    assert as_rows(lowering.forward) == [
        ("conv1", Opcode.CONV_FP, RELU, "input", "w:conv1", "act:conv1", None, 3, 1, 1, 3, 4, 6, 6),
        ("conv2", Opcode.CONV_FP, 0, "act:conv1", "w:conv2", "act:conv2", None, 3, 2, 1, 4, 5, 6, 6),
        ("pool1", Opcode.POOL_FP, 0, "act:conv2", None, "act:pool1", None, 2, 2, 0, 5, 5, 3, 3),
        ("fc1", Opcode.CONV_FP, RELU, "act:pool1", "w:fc1", "act:fc1", None, 1, 1, 0, 5, 6, 1, 1),
        ("fc2", Opcode.CONV_FP, RELU, "act:fc1", "w:fc2", "act:fc2", None, 1, 1, 0, 6, 3, 1, 1),
    ]
    assert as_rows(lowering.backward) == [
        ("fc2", Opcode.CONV_BP, RELU_MASK, "grad:fc2", "w:fc2", "grad:fc1", "act:fc1", 1, 1, 0, 6, 3, 1, 1),
        ("fc2", Opcode.CONV_WU, SGD, "act:fc1", "w:fc2", "w:fc2", "grad:fc2", 1, 1, 0, 6, 3, 1, 1),
        ("fc1", Opcode.CONV_BP, 0, "grad:fc1", "w:fc1", "grad:pool1", None, 1, 1, 0, 5, 6, 1, 1),
        ("fc1", Opcode.CONV_WU, SGD, "act:pool1", "w:fc1", "w:fc1", "grad:fc1", 1, 1, 0, 5, 6, 1, 1),
        ("pool1", Opcode.POOL_BP, 0, "grad:pool1", None, "grad:conv2", "act:conv2", 2, 2, 0, 5, 5, 3, 3),
        ("conv2", Opcode.CONV_BP, RELU_MASK, "grad:conv2", "w:conv2", "grad:conv1", "act:conv1", 3, 2, 1,
         4, 5, 6, 6),
        ("conv2", Opcode.CONV_WU, SGD, "act:conv1", "w:conv2", "w:conv2", "grad:conv2", 3, 2, 1, 4, 5, 6, 6),
        ("conv1", Opcode.CONV_WU, SGD, "input", "w:conv1", "w:conv1", "grad:conv1", 3, 1, 1, 3, 4, 6, 6),
    ]
    assert lowering.logits_relu


def test_macs_of_the_example() -> None:
    """MACs per op: B*M*N*K*K*Ho*Wo for the conv opcodes, 0 for pools (hand-computed)."""
    lowering = example_net().lower(batch=8, hw=HW)
    conv1, conv2, fc1 = 8 * 1 * 9 * 64, 16 * 8 * 9 * 16, 10 * 16 * 4
    assert sum(op.macs for op in lowering.forward) == 8 * (conv1 + conv2 + fc1)
    assert sum(op.macs for op in lowering.backward) == 8 * (2 * fc1 + 2 * conv2 + conv1)

"""A small CNN described in Python, and its lowering to the core's layer operations.

    from eftrain import Network, Conv, MaxPool, FC
    net = Network(input_shape=(1, 8, 8), layers=[
        Conv(8, k=3, stride=1, pad=1, relu=True), MaxPool(),
        Conv(16, k=3, stride=1, pad=1, relu=True), MaxPool(),
        FC(10)])
    lowering = net.lower(batch=8, hw=HwConfig(tm=4, tn=4))   # the ops both backends run

Semantics (what a step computes, so any framework can reproduce it): Conv and FC have no
bias; an FC after a [C,H,W] map flattens it in C, H, W order (numpy ``reshape(B, -1)``);
layers are named ``conv1, conv2, ..., pool1, ..., fc1, ...`` in network order (each kind
counted on its own); the last layer is an FC whose outputs are the logits.

The lowering (:meth:`Network.lower`) is the single definition of what the hardware runs
for a training step, shared by the oracle backend (which executes it with
``eftrain.oracle``'s exact mode) and the compiler (:mod:`eftrain.netcompile`, which turns
it into descriptor chains):

* forward, per layer: Conv -> CONV_FP (flag RELU if ``relu``); MaxPool -> POOL_FP;
  FC -> CONV_FP as a convolution: after a [C,H,W] map (H == W) with ``k = H``, pad 0,
  stride 1, so its [M, C*H*W] weight is the reshape of an [M,C,H,W] conv weight; after
  an FC (or on a vector input [N]) a 1x1 convolution of a 1x1 image. Every layer's
  output (post-ReLU) is kept for the backward.
* the loss runs on the host: ``dlogits`` (softmax cross-entropy gradients, masked by the
  ReLU when the last FC has one) is the dy of the last layer.
* backward, from the last layer down to the lowest trainable layer L: a Conv/FC layer i
  first runs CONV_BP if i > L (with the OLD weights; flag RELU_MASK with aux = its input
  when that input is the output of a Conv/FC with ``relu``), then, if trainable, CONV_WU
  with flag SGD, writing the new weights in place. A MaxPool i > L runs POOL_BP (aux =
  its input; RELU_MASK when that input is a ReLU output). Layers below L run nothing.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from eftrain import descriptor as dsc
from eftrain.config import HwConfig
from eftrain.descriptor import Descriptor, ErrorCode, Flag, Opcode

__all__ = [
    "Layer",
    "Conv",
    "MaxPool",
    "FC",
    "LayerInfo",
    "Network",
    "TensorSpec",
    "HwOp",
    "Lowering",
    "INPUT",
]

#: Tensor name of the network input.
INPUT = "input"


def _act(layer: str) -> str:
    """Tensor name of a layer's output activation (post-ReLU)."""
    return f"act:{layer}"


def _grad(layer: str) -> str:
    """Tensor name of the gradient of the loss with respect to a layer's output (after
    the ReLU mask when the layer has a ReLU: the dy its own BP and WU read)."""
    return f"grad:{layer}"


def _wgt(layer: str) -> str:
    """Tensor name of a layer's weights ([M,N,K,K], as the core stores them)."""
    return f"w:{layer}"


def _check_int(where: str, value, low: int, high: int = dsc.MAX_DIM) -> int:
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{where} must be an int, got {value!r}")
    try:
        value = operator.index(value)
    except TypeError:
        raise ValueError(f"{where} must be an int, got {value!r}") from None
    if not low <= value <= high:
        raise ValueError(f"{where} must be in {low}..{high}, got {value}")
    return value


def _check_bool(where: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{where} must be True or False, got {value!r}")
    return bool(value)


# --------------------------------------------------------------------------------------
# Layers.
# --------------------------------------------------------------------------------------


class Layer:
    """Base of the layer kinds. ``kind`` names the layer family (``conv``, ``pool``,
    ``fc``): layers are named ``<kind><count>``."""

    kind: str = ""
    has_weights: bool = False
    relu: bool = False


@dataclass(frozen=True)
class Conv(Layer):
    """Convolution without bias: ``m`` output channels, ``k`` x ``k`` kernel, ``stride``
    1 or 2, ``pad`` zeros on every side (0..k-1), then a ReLU if ``relu``."""

    m: int
    k: int = 3
    stride: int = 1
    pad: int = 0
    relu: bool = False

    kind = "conv"
    has_weights = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "m", _check_int("Conv.m", self.m, 1))
        object.__setattr__(self, "k", _check_int("Conv.k", self.k, 1, 15))
        object.__setattr__(self, "stride", _check_int("Conv.stride", self.stride, 1, 2))
        object.__setattr__(self, "pad", _check_int(f"Conv.pad (k={self.k})", self.pad, 0, self.k - 1))
        object.__setattr__(self, "relu", _check_bool("Conv.relu", self.relu))


@dataclass(frozen=True)
class MaxPool(Layer):
    """2x2 max-pool with stride 2 (odd trailing rows and columns are dropped)."""

    kind = "pool"


@dataclass(frozen=True)
class FC(Layer):
    """Fully connected layer without bias: ``m`` outputs, then a ReLU if ``relu``. After
    a [C,H,W] map it flattens the map in C, H, W order."""

    m: int
    relu: bool = False

    kind = "fc"
    has_weights = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "m", _check_int("FC.m", self.m, 1))
        object.__setattr__(self, "relu", _check_bool("FC.relu", self.relu))


def _shape_str(shape: tuple[int, ...]) -> str:
    return "[" + ",".join(str(v) for v in shape) + "]"


@dataclass(frozen=True)
class LayerInfo:
    """One layer in its network: name, position and shapes.

    ``in_shape``/``out_shape`` are per image: ``(C, H, W)`` for a map, ``(N,)`` for a
    vector (an FC output, or a vector network input). ``hw_in``/``hw_out`` are the
    same as the core holds them, always ``(C, H, W)`` (a vector is ``(N, 1, 1)``).
    ``weight_shape`` is the user-facing weight shape (``[M,N,K,K]`` for Conv, ``[M, C*H*W]``
    or ``[M, N]`` for FC, None for MaxPool) and ``hw_weight_shape`` the ``[M,N,K,K]``
    convolution weight the core runs (its numpy reshape)."""

    name: str
    index: int
    layer: Layer
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    hw_in: tuple[int, int, int]
    hw_out: tuple[int, int, int]
    k: int
    stride: int
    pad: int
    weight_shape: tuple[int, int] | tuple[int, int, int, int] | None
    hw_weight_shape: tuple[int, int, int, int] | None


# --------------------------------------------------------------------------------------
# Hardware operations.
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TensorSpec:
    """A tensor the ops use: ``shape`` ``[B,C,H,W]`` (activation/gradient layout) or
    ``[M,N,K,K]`` (weights layout, ``weights`` True); ``role`` is ``input``,
    ``activation``, ``gradient`` or ``weights``."""

    name: str
    shape: tuple[int, int, int, int]
    weights: bool
    role: str


@dataclass(frozen=True)
class HwOp:
    """One layer operation of the core: the descriptor fields except the addresses and
    ``lr``, and the tensors (by name) behind each address field the opcode uses
    (``in_addr``, ``wgt_addr``, ``out_addr``, ``aux_addr``)."""

    layer: str
    opcode: Opcode
    flags: int
    k: int
    stride: int
    pad: int
    batch: int
    n: int
    m: int
    h: int
    w: int
    tile_rows: int
    tensors: Mapping[str, str] = field(default_factory=dict)

    def has(self, flag: Flag) -> bool:
        return bool(self.flags >> flag & 1)

    @property
    def label(self) -> str:
        """``layer OPCODE`` (with its flags), for messages."""
        names = [f.name for f in Flag if self.has(f)]
        return f"{self.layer} {self.opcode.name}" + (f"+{'+'.join(names)}" if names else "")

    @property
    def macs(self) -> int:
        """Multiply-accumulates of the layer's mathematics (B*M*N*K*K*Ho*Wo for every conv
        opcode; 0 for pools)."""
        if self.opcode in (Opcode.POOL_FP, Opcode.POOL_BP):
            return 0
        ho, wo = dsc.out_hw(self.h, self.w, self.k, self.stride, self.pad)
        return self.batch * self.m * self.n * self.k * self.k * ho * wo

    def descriptor(self, addrs: Mapping[str, int] | None = None, lr: float = 0.0,
                   next: int = 0) -> Descriptor:
        """The descriptor of this op, with each tensor at ``addrs[tensor name]`` (0 for
        every tensor when ``addrs`` is None)."""
        where = {f: (addrs[t] if addrs is not None else 0) for f, t in self.tensors.items()}
        return Descriptor(opcode=self.opcode, flags=self.flags, k=self.k, stride=self.stride,
                          pad=self.pad, batch=self.batch, tile_rows=self.tile_rows, n=self.n,
                          m=self.m, h=self.h, w=self.w, lr=lr, next=next, **where)


@dataclass(frozen=True)
class Lowering:
    """A network lowered for one batch size and hardware configuration.

    ``forward`` runs from ``input`` to ``logits`` ([B,M,1,1]); the host computes the loss
    and writes ``dlogits`` ([B,M,1,1]; masked by the ReLU first when ``logits_relu``);
    ``backward`` runs the backward and the fused SGD updates. ``weights`` maps each
    Conv/FC layer to its weight tensor; ``tensors`` lists every tensor the ops use, in
    network order."""

    batch: int
    hw: HwConfig
    trainable: tuple[str, ...]
    tensors: Mapping[str, TensorSpec]
    forward: tuple[HwOp, ...]
    backward: tuple[HwOp, ...]
    input: str
    logits: str
    dlogits: str
    logits_relu: bool
    weights: Mapping[str, str]


# --------------------------------------------------------------------------------------
# The network.
# --------------------------------------------------------------------------------------


class Network:
    """A sequence of :class:`Conv`, :class:`MaxPool` and :class:`FC` layers on inputs of
    ``input_shape`` (``(C, H, W)``, or ``(N,)`` for a vector). Raises ValueError naming
    the layer and field when the shapes do not chain."""

    def __init__(self, input_shape: Sequence[int], layers: Sequence[Layer]):
        if isinstance(input_shape, (str, bytes)) or not isinstance(input_shape, Sequence):
            raise ValueError(f"Network.input_shape must be (C, H, W) or (N,), got {input_shape!r}")
        if len(input_shape) not in (1, 3):
            raise ValueError(
                f"Network.input_shape must be (C, H, W) or (N,), got {tuple(input_shape)!r}")
        self.input_shape = tuple(
            _check_int(f"Network.input_shape[{i}]", v, 1) for i, v in enumerate(input_shape))
        if isinstance(layers, Layer) or not isinstance(layers, Sequence) or not layers:
            raise ValueError("Network.layers must be a non-empty list of Conv, MaxPool and FC layers")
        for i, layer in enumerate(layers):
            if not isinstance(layer, (Conv, MaxPool, FC)):
                raise ValueError(
                    f"Network.layers[{i}] must be a Conv, MaxPool or FC, got {layer!r}")
        self.layers: tuple[Layer, ...] = tuple(layers)
        self.info: tuple[LayerInfo, ...] = self._chain_shapes()
        if not isinstance(self.layers[-1], FC):
            raise ValueError(
                f"{self.info[-1].name}: the last layer must be an FC layer (its outputs are "
                f"the logits of the softmax cross-entropy loss)")
        self._by_name = {info.name: info for info in self.info}

    # ---- shapes and names -------------------------------------------------------------
    def _chain_shapes(self) -> tuple[LayerInfo, ...]:
        counts: dict[str, int] = {}
        shape = self.input_shape
        previous = "the input"
        infos = []
        for index, layer in enumerate(self.layers):
            counts[layer.kind] = counts.get(layer.kind, 0) + 1
            name = f"{layer.kind}{counts[layer.kind]}"
            infos.append(self._layer_info(name, index, layer, shape, previous))
            shape, previous = infos[-1].out_shape, name
        return tuple(infos)

    @staticmethod
    def _layer_info(name: str, index: int, layer: Layer, shape: tuple[int, ...],
                    previous: str) -> LayerInfo:
        is_map = len(shape) == 3
        if isinstance(layer, (Conv, MaxPool)) and not is_map:
            raise ValueError(
                f"{name}: a {type(layer).__name__} needs a [C,H,W] map as input, but "
                f"{previous} gives a vector {_shape_str(shape)}")
        if isinstance(layer, Conv):
            c, h, w = shape
            ho, wo = dsc.out_hw(h, w, layer.k, layer.stride, layer.pad)
            if ho < 1 or wo < 1:
                raise ValueError(
                    f"{name}: k={layer.k} with pad={layer.pad} does not fit its {h}x{w} input "
                    f"(from {previous}): the output would have no pixel")
            out = (layer.m, ho, wo)
            wshape = (layer.m, c, layer.k, layer.k)
            return LayerInfo(name, index, layer, shape, out, shape, out, layer.k, layer.stride,
                             layer.pad, wshape, wshape)
        if isinstance(layer, MaxPool):
            c, h, w = shape
            if h < 2 or w < 2:
                raise ValueError(
                    f"{name}: a 2x2 max-pool needs an input of at least 2x2, but {previous} "
                    f"gives {h}x{w}")
            out = (c, h // 2, w // 2)
            return LayerInfo(name, index, layer, shape, out, shape, out, 2, 2, 0, None, None)
        assert isinstance(layer, FC)
        if is_map:
            c, h, w = shape
            if h != w:
                raise ValueError(
                    f"{name}: an FC after a [C,H,W] map runs as an HxW convolution and needs "
                    f"a square map, but {previous} gives {h}x{w} (pool or crop it to a square)")
            hw_in, k = shape, h
        else:
            hw_in, k = (shape[0], 1, 1), 1
        features = int(np.prod(shape))
        return LayerInfo(name, index, layer, shape, (layer.m,), hw_in, (layer.m, 1, 1), k, 1, 0,
                         (layer.m, features), (layer.m, *hw_in))

    @property
    def names(self) -> tuple[str, ...]:
        """Layer names in network order."""
        return tuple(info.name for info in self.info)

    @property
    def weight_layers(self) -> tuple[str, ...]:
        """Names of the Conv and FC layers, in network order."""
        return tuple(info.name for info in self.info if info.layer.has_weights)

    @property
    def num_classes(self) -> int:
        """Outputs of the last FC layer (the logits)."""
        return self.info[-1].out_shape[0]

    def layer(self, name: str) -> LayerInfo:
        """The layer called ``name``; ValueError naming the layers otherwise."""
        try:
            return self._by_name[name]
        except KeyError:
            raise ValueError(
                f"{name!r} is not a layer of the network (layers: {', '.join(self.names)})"
            ) from None

    @property
    def weight_shapes(self) -> dict[str, tuple[int, ...]]:
        """User-facing weight shape of every Conv/FC layer."""
        return {info.name: info.weight_shape for info in self.info if info.layer.has_weights}

    def summary(self) -> str:
        """One line per layer: name, kind, input and output shape, weight shape."""
        lines = [f"input {_shape_str(self.input_shape)}"]
        for info in self.info:
            wshape = _shape_str(info.weight_shape) if info.weight_shape else "-"
            relu = " relu" if info.layer.relu else ""
            lines.append(f"{info.name:8s} {_shape_str(info.in_shape):>14s} -> "
                         f"{_shape_str(info.out_shape):<14s} weights {wshape}{relu}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"Network(input_shape={self.input_shape}, layers={list(self.layers)!r})"

    # ---- weights ------------------------------------------------------------------------
    def init_weights(self, seed: int) -> dict[str, np.ndarray]:
        """He-style initial weights: float32 normal with standard deviation
        sqrt(2 / fan_in) (fan_in = N*K*K, the inputs of one output), drawn layer by layer in
        network order from ``numpy.random.default_rng(seed)``."""
        rng = np.random.default_rng(seed)
        weights = {}
        for name, shape in self.weight_shapes.items():
            fan_in = int(np.prod(shape[1:]))
            weights[name] = (rng.standard_normal(shape) * math.sqrt(2.0 / fan_in)).astype(np.float32)
        return weights

    def check_weights(self, weights: Mapping[str, np.ndarray], complete: bool) -> dict[str, np.ndarray]:
        """``weights`` ({layer name: float32 array of its user-facing shape}) checked and
        copied; ``complete`` requires every Conv/FC layer."""
        if not isinstance(weights, Mapping):
            raise ValueError(f"weights must be a dict {{layer name: array}}, got {type(weights).__name__}")
        shapes = self.weight_shapes
        for name in weights:
            if name not in shapes:
                what = "has no weights" if name in self._by_name else "is not a layer of the network"
                raise ValueError(f"weights: {name!r} {what} (layers with weights: {', '.join(shapes)})")
        if complete and set(weights) != set(shapes):
            missing = [n for n in shapes if n not in weights]
            raise ValueError(f"weights: missing {', '.join(missing)}")
        out = {}
        for name, value in weights.items():
            arr = np.asarray(value)
            if arr.dtype != np.float32:
                raise ValueError(f"{name}: weights must be float32, got {arr.dtype} "
                                 f"(convert with .astype(np.float32))")
            if arr.shape != shapes[name]:
                raise ValueError(f"{name}: weights shape {arr.shape} != {shapes[name]}")
            out[name] = arr.copy()
        return out

    def to_hw_weight(self, name: str, w: np.ndarray) -> np.ndarray:
        """A user-facing weight as the [M,N,K,K] convolution weight the core runs."""
        return np.ascontiguousarray(w).reshape(self.layer(name).hw_weight_shape)

    def from_hw_weight(self, name: str, w: np.ndarray) -> np.ndarray:
        """An [M,N,K,K] core weight in its user-facing shape."""
        return np.ascontiguousarray(w).reshape(self.layer(name).weight_shape)

    def input_to_hw(self, x: np.ndarray) -> np.ndarray:
        """A batch of network inputs ``[B, *input_shape]`` as the core's [B,C,H,W]."""
        return x.reshape(x.shape[0], *self.info[0].hw_in)

    # ---- lowering -----------------------------------------------------------------------
    def check_trainable(self, trainable: Sequence[str] | None) -> tuple[str, ...]:
        """The trainable layers (every Conv/FC when None), in network order."""
        all_layers = self.weight_layers
        if trainable is None:
            return all_layers
        if isinstance(trainable, str) or not isinstance(trainable, Sequence):
            raise ValueError(f"trainable must be a list of layer names, got {trainable!r}")
        for name in trainable:
            if not isinstance(name, str) or name not in self._by_name:
                raise ValueError(
                    f"trainable: {name!r} is not a layer of the network (layers with weights: "
                    f"{', '.join(all_layers)})")
            if name not in all_layers:
                raise ValueError(f"trainable: {name} has no weights (a max-pool cannot be trained)")
        if not trainable:
            raise ValueError(f"trainable must name at least one of {', '.join(all_layers)}")
        return tuple(n for n in all_layers if n in trainable)

    def lower(self, batch: int, hw: HwConfig, trainable: Sequence[str] | None = None) -> Lowering:
        """The ops of one training step for ``batch`` images on a core ``hw``; ValueError
        naming the layer when the core cannot run one of them."""
        batch = _check_int("batch", batch, 1)
        if not isinstance(hw, HwConfig):
            raise ValueError(f"hw must be an eftrain.HwConfig, got {type(hw).__name__}")
        trainable = self.check_trainable(trainable)
        for info in self.info:
            self._check_kernel(info, hw)

        tensors: dict[str, TensorSpec] = {}

        def act_tensor(name: str, chw: tuple[int, int, int], role: str) -> str:
            tensors[name] = TensorSpec(name, (batch, *chw), False, role)
            return name

        x_name = act_tensor(INPUT, self.info[0].hw_in, "input")
        weights = {}
        for info in self.info:
            if info.layer.has_weights:
                weights[info.name] = _wgt(info.name)
                tensors[_wgt(info.name)] = TensorSpec(_wgt(info.name), info.hw_weight_shape, True,
                                                      "weights")
        inputs = [x_name]  # inputs[i]: the tensor layer i reads
        forward = []
        for info in self.info:
            out = act_tensor(_act(info.name), info.hw_out, "activation")
            if isinstance(info.layer, MaxPool):
                forward.append(self._op(info, Opcode.POOL_FP, 0, batch, hw,
                                        in_addr=inputs[-1], out_addr=out))
            else:
                flags = (1 << Flag.RELU) if info.layer.relu else 0
                forward.append(self._op(info, Opcode.CONV_FP, flags, batch, hw, in_addr=inputs[-1],
                                        wgt_addr=weights[info.name], out_addr=out))
            inputs.append(out)

        lowest = min(self._by_name[n].index for n in trainable)
        last = self.info[-1]
        dlogits = act_tensor(_grad(last.name), last.hw_out, "gradient")
        backward = []
        for info in reversed(self.info[lowest:]):
            i = info.index
            dy = _grad(info.name)
            below = self.info[i - 1] if i > 0 else None
            # The input of this layer is a ReLU output: its gradient is masked on the way
            # down, so that it becomes the dy of the layer below.
            mask = (1 << Flag.RELU_MASK) if below is not None and below.layer.relu else 0
            if isinstance(info.layer, MaxPool):
                backward.append(self._op(info, Opcode.POOL_BP, mask, batch, hw, in_addr=dy,
                                         aux_addr=inputs[i],
                                         out_addr=act_tensor(_grad(below.name), below.hw_out,
                                                             "gradient")))
                continue
            if i > lowest:
                aux = {"aux_addr": inputs[i]} if mask else {}
                backward.append(self._op(info, Opcode.CONV_BP, mask, batch, hw, in_addr=dy,
                                         wgt_addr=weights[info.name],
                                         out_addr=act_tensor(_grad(below.name), below.hw_out,
                                                             "gradient"), **aux))
            if info.name in trainable:
                backward.append(self._op(info, Opcode.CONV_WU, 1 << Flag.SGD, batch, hw,
                                         in_addr=inputs[i], aux_addr=dy,
                                         wgt_addr=weights[info.name], out_addr=weights[info.name]))
        for op in (*forward, *backward):
            _check_roles(op, tensors)
        return Lowering(batch=batch, hw=hw, trainable=trainable, tensors=tensors,
                        forward=tuple(forward), backward=tuple(backward), input=x_name,
                        logits=_act(last.name), dlogits=dlogits, logits_relu=last.layer.relu,
                        weights=weights)

    @staticmethod
    def _check_kernel(info: LayerInfo, hw: HwConfig) -> None:
        if isinstance(info.layer, Conv) and info.k > hw.kmax:
            raise ValueError(f"{info.name}: k = {info.k} exceeds the core's KMAX ({hw.kmax})")
        if isinstance(info.layer, FC) and info.k > hw.kmax:
            c, h, w = info.hw_in
            raise ValueError(
                f"{info.name}: its input map is {h}x{w}, so this FC runs as a {h}x{w} convolution, "
                f"but the core's KMAX is {hw.kmax}: add pooling before {info.name} to shrink the "
                f"map to at most {hw.kmax}x{hw.kmax}")

    @staticmethod
    def _op(info: LayerInfo, opcode: Opcode, flags: int, batch: int, hw: HwConfig,
            **tensors: str) -> HwOp:
        n, h, w = info.hw_in
        m = info.hw_out[0]
        where = f"{info.name} ({opcode.name})"
        tile_rows = dsc.largest_tile_rows(opcode, info.k, info.stride, info.pad, n, m, h, w, hw)
        if tile_rows == 0:
            reason = dsc.tile_misfit(opcode, info.k, info.stride, info.pad, n, m, h, w, 1, hw)
            raise ValueError(f"{where}: no tiling fits the core's buffers, even one row per tile "
                             f"({reason})")
        op = HwOp(layer=info.name, opcode=opcode, flags=flags, k=info.k, stride=info.stride,
                  pad=info.pad, batch=batch, n=n, m=m, h=h, w=w, tile_rows=tile_rows,
                  tensors=dict(tensors))
        # Every address 64 bytes apart is a valid placement: this checks the geometry,
        # flags and tiling with the hardware's own rules.
        code = dsc.validate(op.descriptor({t: dsc.ADDR_ALIGN for t in tensors.values()}), hw)
        if code != ErrorCode.NONE:
            raise ValueError(f"{where}: the core rejects this layer: {code.name} "
                             f"({code.__doc__})")
        return op


def _check_roles(op: HwOp, tensors: Mapping[str, TensorSpec]) -> None:
    """The tensors the lowering gives an op are the ones its descriptor uses, with the
    shapes and layouts eftrain.descriptor defines for each address field (an internal
    consistency check: the oracle backend and the compiled chains read the same roles)."""
    uses = op.descriptor().tensors()
    if {u.field for u in uses} != set(op.tensors):
        raise AssertionError(f"{op.label}: tensors {sorted(op.tensors)} but the descriptor "
                             f"uses {sorted(u.field for u in uses)}")
    for use in uses:
        spec = tensors[op.tensors[use.field]]
        if spec.shape != use.shape or spec.weights != use.weights:
            raise AssertionError(f"{op.label}: {use.field} is {spec.name} {spec.shape}, the "
                                 f"descriptor reads {use.name} {use.shape}")

"""Random small CNNs for the top-level environment, compiled into descriptor chains, and
the network-level oracle training step they must reproduce (pure Python, no cocotb).

A network is conv blocks (conv with or without ReLU, then sometimes a 2x2 max-pool)
ending in fully connected layers, which run as convolutions (an FC after a [C,H,H]
activation is a conv with k = H; an FC after an FC is a 1x1 conv on a 1x1 image). One
training step on the core is two chains around the host:

* forward: CONV_FP (RELU where the layer has ReLU), POOL_FP;
* host: softmax cross-entropy of the logits read from DRAM, dlogits written back;
* backward, from the last layer down: for a conv/FC layer CONV_BP (except the first
  layer; RELU_MASK with the layer's stored input when that input came out of a ReLU)
  then CONV_WU with SGD writing the new weights in place; for a pool POOL_BP (RELU_MASK
  when its input came out of a ReLU). BP reads the weights before WU replaces them.

:func:`reference_step` is the same step written directly with the oracle's layer
functions, on numpy arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eftrain import HwConfig, oracle
from eftrain import descriptor as dsc
from eftrain.descriptor import Descriptor, Flag, Opcode


@dataclass(frozen=True)
class NetLayer:
    """One layer: ``kind`` "conv", "pool" or "fc"; input and output [C, H, W]."""

    name: str
    kind: str
    in_shape: tuple[int, int, int]
    out_shape: tuple[int, int, int]
    k: int = 2
    stride: int = 2
    pad: int = 0
    relu: bool = False

    @property
    def weight_shape(self) -> tuple[int, int, int, int] | None:
        if self.kind == "pool":
            return None
        return (self.out_shape[0], self.in_shape[0], self.k, self.k)


def _tiles(rng, cfg: HwConfig, op: Opcode, layer: NetLayer) -> int | None:
    """A random tile_rows that fits ``op`` on ``layer`` (0 for pools), None if none fits."""
    if layer.kind == "pool":
        return 0
    c, h, w = layer.in_shape
    fits = [r for r in range(1, max(h, layer.out_shape[1]) + 1)
            if dsc.tile_fits(op, layer.k, layer.stride, layer.pad, c, layer.out_shape[0], h, w, r, cfg)]
    return int(rng.choice(fits)) if fits else None


def random_network(rng: np.random.Generator, cfg: HwConfig, max_c: int, classes: int) -> list[NetLayer]:
    """A random small CNN on a square image: 1-2 conv blocks (kernel 1..KMAX, stride 1
    or 2, any padding, ReLU in most), pools while the image is larger than KMAX, then
    one or two FC layers, the last one giving ``classes`` logits without ReLU."""
    c, h = int(rng.integers(1, max_c + 1)), int(rng.integers(6, 11))
    layers: list[NetLayer] = []
    count = {"conv": 0, "pool": 0, "fc": 0}

    def add(kind, out_shape, **kw):
        count[kind] += 1
        layers.append(NetLayer(f"{kind}{count[kind]}", kind, shape(), out_shape, **kw))

    def shape():
        return layers[-1].out_shape if layers else (c, h, h)

    for _ in range(int(rng.integers(1, 3))):  # conv blocks
        cin, hin, _ = shape()
        k = int(rng.integers(1, min(cfg.kmax, hin) + 1))
        pad = int(rng.integers(0, k))
        stride = 2 if rng.random() < 0.3 else 1
        ho = (hin + 2 * pad - k) // stride + 1
        add("conv", (int(rng.integers(1, max_c + 1)), ho, ho), k=k, stride=stride, pad=pad,
            relu=bool(rng.random() < 0.8))
        if ho >= 2 and (rng.random() < 0.6 or ho > cfg.kmax):
            add("pool", (shape()[0], ho // 2, ho // 2))
    while shape()[1] > cfg.kmax:
        add("pool", (shape()[0], shape()[1] // 2, shape()[1] // 2))
    two_fc = rng.random() < 0.5
    hidden = int(rng.integers(1, max_c + 1))
    add("fc", (hidden if two_fc else classes, 1, 1), k=shape()[1], stride=1, pad=0, relu=two_fc)
    if two_fc:
        add("fc", (classes, 1, 1), k=1, stride=1, pad=0, relu=False)
    return layers


def runnable(layers: list[NetLayer], cfg: HwConfig) -> bool:
    """Every descriptor of a training step has a tile that fits."""
    for i, lay in enumerate(layers):
        if lay.kind == "pool":
            continue
        c, h, w = lay.in_shape
        for op in (Opcode.CONV_FP, Opcode.CONV_WU) + ((Opcode.CONV_BP,) if i else ()):
            if not dsc.largest_tile_rows(op, lay.k, lay.stride, lay.pad, c, lay.out_shape[0], h, w, cfg):
                return False
    return True


def input_came_out_of_relu(layers: list[NetLayer], i: int) -> bool:
    return i > 0 and layers[i - 1].kind != "pool" and layers[i - 1].relu


def layer_descriptor(rng, cfg: HwConfig, lay: NetLayer, op: Opcode, batch: int, flags: int = 0,
                     lr: float = 0.0, **addrs) -> Descriptor:
    c, h, w = lay.in_shape
    return Descriptor(opcode=op, flags=flags, k=lay.k, stride=lay.stride, pad=lay.pad, batch=batch,
                      tile_rows=_tiles(rng, cfg, op, lay), n=c, m=lay.out_shape[0], h=h, w=w, lr=lr, **addrs)


def forward_chain(rng, cfg: HwConfig, layers: list[NetLayer], batch: int, act: list[int],
                  wgt: dict[str, int]) -> list[Descriptor]:
    """``act[i]`` is the address of layer i's input (``act[-1]`` the logits), ``wgt``
    the weights by layer name."""
    out = []
    for i, lay in enumerate(layers):
        if lay.kind == "pool":
            out.append(layer_descriptor(rng, cfg, lay, Opcode.POOL_FP, batch, in_addr=act[i], out_addr=act[i + 1]))
        else:
            out.append(layer_descriptor(rng, cfg, lay, Opcode.CONV_FP, batch, (1 << Flag.RELU) * lay.relu,
                                        in_addr=act[i], wgt_addr=wgt[lay.name], out_addr=act[i + 1]))
    return out


def backward_chain(rng, cfg: HwConfig, layers: list[NetLayer], batch: int, act: list[int], grad: list[int],
                   wgt: dict[str, int], lr: float) -> list[Descriptor]:
    """``grad[i]`` is the address of the gradient of layer i's input (``grad[-1]``
    dlogits; ``grad[0]`` unused)."""
    out = []
    for i in reversed(range(len(layers))):
        lay = layers[i]
        mask = (1 << Flag.RELU_MASK) * input_came_out_of_relu(layers, i)
        if lay.kind == "pool":
            out.append(layer_descriptor(rng, cfg, lay, Opcode.POOL_BP, batch, mask, in_addr=grad[i + 1],
                                        aux_addr=act[i], out_addr=grad[i]))
            continue
        if i > 0:
            out.append(layer_descriptor(rng, cfg, lay, Opcode.CONV_BP, batch, mask, in_addr=grad[i + 1],
                                        wgt_addr=wgt[lay.name], out_addr=grad[i],
                                        aux_addr=act[i] if mask else 0))
        out.append(layer_descriptor(rng, cfg, lay, Opcode.CONV_WU, batch, 1 << Flag.SGD, lr, in_addr=act[i],
                                    aux_addr=grad[i + 1], wgt_addr=wgt[lay.name], out_addr=wgt[lay.name]))
    return out


def reference_forward(layers: list[NetLayer], x: np.ndarray, weights: dict[str, np.ndarray],
                      cfg: HwConfig) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
    """Every layer's input (and the logits last) and the pools' argmax."""
    acts, idxs = [x], []
    for lay in layers:
        a = acts[-1]
        if lay.kind == "pool":
            y, idx = oracle.maxpool_fp(a)
        else:
            y, idx = oracle.conv_fp(a, weights[lay.name], lay.stride, lay.pad, cfg), None
            y = oracle.relu_fp(y) if lay.relu else y
        acts.append(y)
        idxs.append(idx)
    return acts, idxs


def reference_step(layers: list[NetLayer], x: np.ndarray, labels: np.ndarray, weights: dict[str, np.ndarray],
                   lr: float, cfg: HwConfig) -> tuple[np.ndarray, float, dict[str, np.ndarray]]:
    """One SGD step with the oracle's layer functions: (logits [B, classes], loss, the
    new weights)."""
    acts, idxs = reference_forward(layers, x, weights, cfg)
    logits = acts[-1][:, :, 0, 0]
    loss, dlogits = oracle.softmax_xent(logits, labels)
    g = dlogits[:, :, None, None]
    new = dict(weights)
    for i in reversed(range(len(layers))):
        lay, a_in = layers[i], acts[i]
        if lay.kind == "pool":
            dx = oracle.maxpool_bp(g, idxs[i], a_in.shape[2:])
        else:
            w = weights[lay.name]
            dx = oracle.conv_bp(g, w, a_in.shape[2:], lay.stride, lay.pad, cfg) if i else None
            dw = oracle.conv_wu(a_in, g, lay.k, lay.stride, lay.pad, cfg)
            new[lay.name] = oracle.sgd(w, dw, np.float32(lr), cfg)
        if dx is not None and input_came_out_of_relu(layers, i):
            dx = oracle.relu_bp(dx, a_in)
        g = dx
    return logits, loss, new

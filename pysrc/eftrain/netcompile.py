"""A network compiled for the core: a DRAM memory map and two descriptor chains.

    compiled = compile_network(net, batch=8, hw=HwConfig(tm=4, tn=4))
    memory = {**compiled.chain_image(lr=0.05), **compiled.weights_image(weights),
              **compiled.input_image(x)}                   # {address: bytes}
    # run compiled.forward_chain, read the logits region, compute the loss on the host,
    # write compiled.dlogits_image(dlogits), run compiled.backward_chain

The ops are :meth:`eftrain.network.Network.lower`'s, unchanged: the forward chain runs
the network from the input to the logits ([B,M,1,1]); the backward chain starts from
``dlogits`` (written by the host) and ends with every trainable layer's weights updated
in place by the fused SGD of CONV_WU (``lr`` is the descriptors' fp32 field, so changing
it rewrites the backward chain's descriptors only).

Memory map, from ``base`` upwards, every region 64-byte aligned (the descriptors'
address rule) and disjoint: the forward chain's descriptors, the backward chain's, then
every tensor of the lowering in its order (input, weights, activations, gradients), each
in its :mod:`eftrain.layout` DRAM layout with G = TN channels per group. Every tensor has
its own region (no reuse), so any intermediate value can be read back after a step.
Every descriptor passes :func:`eftrain.descriptor.validate` with its real addresses, or
compiling raises ValueError naming the layer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from eftrain import descriptor as dsc
from eftrain import layout
from eftrain.config import HwConfig
from eftrain.descriptor import Descriptor, ErrorCode
from eftrain.network import HwOp, Lowering, Network

__all__ = ["Region", "CompiledNetwork", "compile_network", "DEFAULT_BASE"]

#: Default address of the first region: low DRAM is left to the host.
DEFAULT_BASE: int = 0x10000

#: Region names of the two descriptor chains.
FORWARD_CHAIN = "chain:forward"
BACKWARD_CHAIN = "chain:backward"


def _align(addr: int) -> int:
    return -(-addr // dsc.ADDR_ALIGN) * dsc.ADDR_ALIGN


@dataclass(frozen=True)
class Region:
    """A DRAM region: ``nbytes`` from ``addr``. ``shape`` is the tensor's ([B,C,H,W] or,
    with ``weights``, [M,N,K,K]); None for a descriptor chain."""

    name: str
    addr: int
    nbytes: int
    shape: tuple[int, int, int, int] | None
    weights: bool

    @property
    def end(self) -> int:
        return self.addr + self.nbytes


@dataclass(frozen=True)
class CompiledNetwork:
    """The memory map and descriptor chains of one network, batch size and core."""

    net: Network
    lowering: Lowering
    regions: Mapping[str, Region]
    forward_chain: int
    backward_chain: int

    @property
    def hw(self) -> HwConfig:
        return self.lowering.hw

    @property
    def batch(self) -> int:
        return self.lowering.batch

    @property
    def end(self) -> int:
        """First address past the last region."""
        return max(r.end for r in self.regions.values())

    def region(self, name: str) -> Region:
        """The region of a tensor (``input``, ``w:conv1``, ``act:pool1``, ``grad:fc1``, ...)
        or a chain (``chain:forward``, ``chain:backward``)."""
        try:
            return self.regions[name]
        except KeyError:
            raise ValueError(f"no region {name!r} (regions: {', '.join(self.regions)})") from None

    # ---- descriptors ----------------------------------------------------------------------
    def _chain(self, ops: Sequence[HwOp], start: int, lr: float) -> list[tuple[int, Descriptor]]:
        addrs = {name: r.addr for name, r in self.regions.items()}
        out = []
        for i, op in enumerate(ops):
            addr = start + i * dsc.DESC_BYTES
            nxt = addr + dsc.DESC_BYTES if i + 1 < len(ops) else 0
            out.append((addr, op.descriptor(addrs, lr=lr, next=nxt)))
        return out

    def forward_descriptors(self) -> list[tuple[int, Descriptor]]:
        """``(address, descriptor)`` of the forward chain, in order."""
        return self._chain(self.lowering.forward, self.forward_chain, 0.0)

    def backward_descriptors(self, lr: float) -> list[tuple[int, Descriptor]]:
        """``(address, descriptor)`` of the backward chain with learning rate ``lr``
        (stored as fp32 in every CONV_WU)."""
        return self._chain(self.lowering.backward, self.backward_chain, lr)

    def op_at(self, chain: str, index: int) -> HwOp:
        """The op of descriptor ``index`` of the ``forward`` or ``backward`` chain."""
        return (self.lowering.forward if chain == "forward" else self.lowering.backward)[index]

    @staticmethod
    def _image(descs: Sequence[tuple[int, Descriptor]]) -> dict[int, bytes]:
        return {descs[0][0]: b"".join(d.pack() for _, d in descs)}

    def forward_chain_image(self) -> dict[int, bytes]:
        """The forward chain as ``{address: bytes}``."""
        return self._image(self.forward_descriptors())

    def backward_chain_image(self, lr: float) -> dict[int, bytes]:
        """The backward chain with learning rate ``lr`` as ``{address: bytes}``."""
        return self._image(self.backward_descriptors(lr))

    def chain_image(self, lr: float) -> dict[int, bytes]:
        """Both chains as ``{address: bytes}``."""
        return {**self.forward_chain_image(), **self.backward_chain_image(lr)}

    # ---- tensors in and out of the memory image ------------------------------------------------
    def tensor_image(self, name: str, t: np.ndarray) -> dict[int, bytes]:
        """Tensor ``name`` in the core's shape ([B,C,H,W], or [M,N,K,K] for weights) as
        ``{address: bytes}`` in its DRAM layout."""
        region = self.region(name)
        t = np.asarray(t)
        if region.shape is None or t.shape != region.shape:
            raise ValueError(f"{name}: shape {t.shape} != {region.shape}")
        to_dram = layout.weights_to_dram if region.weights else layout.act_to_dram
        return {region.addr: to_dram(t, self.hw.tn).tobytes()}

    def tensor_from(self, name: str, data) -> np.ndarray:
        """Tensor ``name`` (float32, the core's shape) from the bytes of its region."""
        region = self.region(name)
        if region.shape is None:
            raise ValueError(f"{name}: is a descriptor chain, not a tensor")
        from_dram = layout.weights_from_dram if region.weights else layout.act_from_dram
        return from_dram(data, region.shape, self.hw.tn)

    def input_image(self, x: np.ndarray) -> dict[int, bytes]:
        """The network input ``x`` ``[B, *input_shape]`` (float32) as ``{address: bytes}``."""
        x = np.asarray(x)
        expected = (self.batch, *self.net.input_shape)
        if x.shape != expected:
            raise ValueError(f"input: x.shape {x.shape} != {expected}")
        return self.tensor_image(self.lowering.input, self.net.input_to_hw(x))

    def dlogits_image(self, dlogits: np.ndarray) -> dict[int, bytes]:
        """The loss gradient ``[B, M]`` (float32), the dy of the last layer."""
        d = np.asarray(dlogits)
        expected = (self.batch, self.net.num_classes)
        if d.shape != expected:
            raise ValueError(f"dlogits: shape {d.shape} != {expected}")
        return self.tensor_image(self.lowering.dlogits, d.reshape(*expected, 1, 1))

    def weights_image(self, weights: Mapping[str, np.ndarray]) -> dict[int, bytes]:
        """User-facing weights (``{layer: float32 [M,N,K,K] or [M,N]}``, any subset of the
        Conv/FC layers) as ``{address: bytes}`` in the core's weight layout."""
        out = {}
        for name, w in self.net.check_weights(weights, complete=False).items():
            out.update(self.tensor_image(self.lowering.weights[name], self.net.to_hw_weight(name, w)))
        return out

    def logits_from(self, data) -> np.ndarray:
        """The logits ``[B, M]`` (float32) from the bytes of the logits region."""
        return self.tensor_from(self.lowering.logits, data).reshape(self.batch, self.net.num_classes)

    def weights_from(self, layer: str, data) -> np.ndarray:
        """Layer ``layer``'s user-facing weights (float32) from the bytes of its region."""
        if layer not in self.lowering.weights:
            raise ValueError(f"{layer!r} is not a layer with weights "
                             f"(layers with weights: {', '.join(self.lowering.weights)})")
        return self.net.from_hw_weight(layer, self.tensor_from(self.lowering.weights[layer], data))


def compile_network(net: Network, batch: int, hw: HwConfig, trainable: Sequence[str] | None = None,
                    base: int = DEFAULT_BASE) -> CompiledNetwork:
    """Lower ``net`` (see :meth:`Network.lower`) and place it in DRAM from ``base``."""
    lowering = net.lower(batch, hw, trainable)
    if not isinstance(base, int) or base <= 0 or base % dsc.ADDR_ALIGN:
        raise ValueError(f"base must be a positive multiple of {dsc.ADDR_ALIGN}, got {base!r}")
    regions: dict[str, Region] = {}
    cursor = base

    def place(name: str, nbytes: int, shape, weights: bool) -> int:
        nonlocal cursor
        regions[name] = Region(name, cursor, nbytes, shape, weights)
        cursor = _align(cursor + nbytes)
        return regions[name].addr

    forward_chain = place(FORWARD_CHAIN, len(lowering.forward) * dsc.DESC_BYTES, None, False)
    backward_chain = place(BACKWARD_CHAIN, len(lowering.backward) * dsc.DESC_BYTES, None, False)
    for spec in lowering.tensors.values():
        nbytes = (layout.weights_bytes if spec.weights else layout.act_bytes)(spec.shape, hw.tn)
        place(spec.name, nbytes, spec.shape, spec.weights)
    compiled = CompiledNetwork(net=net, lowering=lowering, regions=regions,
                               forward_chain=forward_chain, backward_chain=backward_chain)
    for chain, descs, ops in (("forward", compiled.forward_descriptors(), lowering.forward),
                              ("backward", compiled.backward_descriptors(0.0), lowering.backward)):
        for (_, desc), op in zip(descs, ops, strict=True):
            _check_descriptor(chain, desc, op, regions, hw)
    return compiled


def _check_descriptor(chain: str, desc: Descriptor, op: HwOp, regions: Mapping[str, Region],
                      hw: HwConfig) -> None:
    """The hardware accepts ``desc`` and every tensor it touches lies in its own region."""
    code = dsc.validate(desc, hw)
    if code != ErrorCode.NONE:
        raise ValueError(f"{op.label} ({chain} chain): the core rejects the descriptor: "
                         f"{code.name} ({code.__doc__})")
    for use in desc.tensors():
        region = regions[op.tensors[use.field]]
        if use.addr != region.addr or use.nbytes(hw.tn) > region.nbytes:
            raise AssertionError(f"{op.label}: {use.field} ({use.name}, {use.nbytes(hw.tn)} bytes "
                                 f"at {use.addr:#x}) is not inside region {region}")

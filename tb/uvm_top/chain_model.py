"""Reference model of the core at the level of a descriptor chain (pure Python, no
cocotb): from the DRAM contents at the doorbell and CHAIN, what the core must do.

:func:`predict_chain` follows the chain through a copy of DRAM the way the layer
controller does (docs/architecture.md): check the descriptor address
(:func:`eftrain.descriptor.descriptor_address_ok`), fetch, validate
(:func:`eftrain.descriptor.validate`, the first failing rule is STATUS.code), then run
the layer with :mod:`eftrain.oracle` in its exact mode on the tensors read from the
model DRAM (:mod:`eftrain.layout`) and write its output back into the model, so that a
later descriptor reads what an earlier one wrote. The result holds the expected STATUS
and DESC_DONE, the expected DRAM after the chain, every output written, and the AXI
bursts of :func:`eftrain.layout.chain_transfers` (:func:`eftrain.layout.bursts_of`), each
labelled with its descriptor and tensor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eftrain import HwConfig, layout, oracle
from eftrain import descriptor as dsc
from eftrain.descriptor import DESC_BYTES, Descriptor, ErrorCode, Flag, Opcode

#: Longest chain the model follows (a chain whose ``next`` pointers loop never ends).
MAX_CHAIN = 1024


@dataclass(frozen=True)
class OutputWrite:
    """The output of descriptor ``index``: ``data`` (bytes of its DRAM image) at ``addr``."""

    index: int
    tensor: str
    addr: int
    data: bytes

    @property
    def end(self) -> int:
        return self.addr + len(self.data)


@dataclass(frozen=True)
class ExpectedBurst:
    """One AXI burst the core must issue: side ("read"/"write"), address, beats, and the
    descriptor (chain index) and tensor it belongs to."""

    kind: str
    addr: int
    beats: int
    index: int
    tensor: str


@dataclass
class ChainPrediction:
    cfg: HwConfig
    head: int
    descs: list[Descriptor]          # every descriptor fetched, in chain order
    addrs: list[int]                 # their addresses
    code: ErrorCode                  # STATUS.code (NONE: the chain completes)
    index: int                       # STATUS.index when code != NONE
    desc_done: int
    before: np.ndarray               # DRAM at the doorbell (uint8)
    after: np.ndarray                # DRAM after the chain (uint8)
    writes: list[OutputWrite]
    bursts: list[ExpectedBurst]

    @property
    def done(self) -> bool:
        return self.code == ErrorCode.NONE

    def state(self, upto: int, addr: int, nbytes: int) -> bytes:
        """DRAM bytes ``addr .. addr+nbytes-1`` once descriptors ``0 .. upto-1`` have
        run: what a read of descriptor ``upto`` returns (its fetch included)."""
        out = bytearray(self.before[addr:addr + nbytes].tobytes())
        for wr in self.writes:
            if wr.index >= upto:
                break
            lo, hi = max(addr, wr.addr), min(addr + nbytes, wr.end)
            if lo < hi:
                out[lo - addr:hi - addr] = wr.data[lo - wr.addr:hi - wr.addr]
        return bytes(out)

    def describe(self, addr: int) -> str:
        """Which region of the chain holds ``addr`` (for error messages)."""
        for wr in self.writes:
            if wr.addr <= addr < wr.end:
                return f"{wr.tensor} of descriptor {wr.index} + {addr - wr.addr:#x}"
        for i, a in enumerate(self.addrs):
            if a <= addr < a + DESC_BYTES:
                return f"descriptor {i} + {addr - a}"
        for i, d in enumerate(self.descs[:self.desc_done]):
            for u in d.tensors():
                if u.addr <= addr < u.addr + u.nbytes(self.cfg.tn):
                    return f"{u.name} ({u.access}) of descriptor {i} + {addr - u.addr:#x}"
        return "outside every tensor of the chain"


class UnsupportedChain(Exception):
    """The chain touches memory the model does not hold (outside the DRAM model)."""


def _read(mem: np.ndarray, use: dsc.TensorUse, g: int) -> np.ndarray:
    raw = mem[use.addr:use.addr + use.nbytes(g)]
    if use.weights:
        return layout.weights_from_dram(raw, use.shape, g)
    return layout.act_from_dram(raw, use.shape, g)


def run_layer(desc: Descriptor, mem: np.ndarray, cfg: HwConfig) -> tuple[dsc.TensorUse, np.ndarray]:
    """The output tensor use and its value (exact mode) for a valid ``desc``, its inputs
    read from ``mem`` (docs/numerics.md; the opcode and flag semantics of
    eftrain.descriptor)."""
    g = cfg.tn
    uses = desc.tensors()
    for u in uses:
        if u.addr + u.nbytes(g) > len(mem):
            raise UnsupportedChain(f"{u.name} at {u.addr:#x} ends past the DRAM model ({len(mem):#x} bytes)")
    t = {u.field: _read(mem, u, g) for u in uses if u.access == "read"}
    out = next(u for u in uses if u.access == "write")
    op = Opcode(desc.opcode)
    flag = lambda f: bool(desc.flags >> f & 1)  # noqa: E731
    if op == Opcode.CONV_FP:
        y = oracle.conv_fp(t["in_addr"], t["wgt_addr"], desc.stride, desc.pad, cfg)
        value = oracle.relu_fp(y) if flag(Flag.RELU) else y
    elif op == Opcode.CONV_BP:
        dx = oracle.conv_bp(t["in_addr"], t["wgt_addr"], (desc.h, desc.w), desc.stride, desc.pad, cfg)
        value = oracle.relu_bp(dx, t["aux_addr"]) if flag(Flag.RELU_MASK) else dx
    elif op == Opcode.CONV_WU:
        dw = oracle.conv_wu(t["in_addr"], t["aux_addr"], desc.k, desc.stride, desc.pad, cfg)
        value = oracle.sgd(t["wgt_addr"], dw, np.float32(desc.lr), cfg) if flag(Flag.SGD) else dw
    elif op == Opcode.POOL_FP:
        value, _ = oracle.maxpool_fp(t["in_addr"])
    else:
        x = t["aux_addr"]
        _, idx = oracle.maxpool_fp(x)
        dx = oracle.maxpool_bp(t["in_addr"], idx, (desc.h, desc.w))
        value = oracle.relu_bp(dx, x) if flag(Flag.RELU_MASK) else dx
    return out, np.asarray(value, np.float32)


def predict_chain(dram, head: int, cfg: HwConfig, addr_width: int = 40,
                  beat_bytes: int = 16) -> ChainPrediction:
    """What the core must do with the chain at ``head`` given the DRAM contents ``dram``
    (bytes-like) at the doorbell."""
    before = np.frombuffer(bytes(dram), np.uint8)
    mem = before.copy()
    g = cfg.tn
    descs: list[Descriptor] = []
    addrs: list[int] = []
    writes: list[OutputWrite] = []
    code, index = ErrorCode.NONE, 0
    addr = head
    for i in range(MAX_CHAIN + 1):
        if i == MAX_CHAIN:
            raise UnsupportedChain(f"chain at {head:#x} longer than {MAX_CHAIN} descriptors")
        if not dsc.descriptor_address_ok(addr):
            # never fetched; chain_transfers stops at it, it only needs a placeholder
            descs.append(Descriptor())
            addrs.append(addr)
            code, index = ErrorCode.UNALIGNED_ADDRESS, i
            break
        if addr + DESC_BYTES > len(mem):
            raise UnsupportedChain(f"descriptor {i} at {addr:#x} is outside the DRAM model")
        d = Descriptor.unpack(mem[addr:addr + DESC_BYTES].tobytes())
        descs.append(d)
        addrs.append(addr)
        check = dsc.validate(d, cfg, addr_width)
        if check != ErrorCode.NONE:
            code, index = check, i
            break
        use, value = run_layer(d, mem, cfg)
        image = layout.weights_to_dram(value, g) if use.weights else layout.act_to_dram(value, g)
        data = image.view(np.uint8)
        mem[use.addr:use.addr + data.size] = data
        writes.append(OutputWrite(i, use.name, use.addr, data.tobytes()))
        if d.next == 0:
            break
        addr = d.next
    desc_done = len(writes)

    bursts: list[ExpectedBurst] = []
    current = -1
    for t in layout.chain_transfers(descs, addrs, cfg, addr_width):
        if t.tensor == "desc":
            current += 1
        bursts += [ExpectedBurst(b.kind, b.addr, b.beats, current, t.tensor)
                   for b in layout.bursts_of([t], beat_bytes)]
    return ChainPrediction(cfg, head, descs, addrs, code, index, desc_done, before, mem, writes, bursts)

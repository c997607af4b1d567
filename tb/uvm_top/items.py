"""Sequence items and monitored transactions of the top-level environment."""

from __future__ import annotations

from dataclasses import dataclass

from pyuvm import uvm_sequence_item

from eftrain.descriptor import Descriptor, ErrorCode


class CsrItem(uvm_sequence_item):
    """One request to the control agent's driver: ``kind`` "read" or "write" of the
    32-bit register at ``offset``, or "wait_irq" (wait until irq is high, at most
    ``cycles`` clock cycles). The driver fills ``data`` (read), ``resp`` and
    ``timed_out`` (wait_irq)."""

    def __init__(self, name: str, kind: str, offset: int = 0, data: int = 0, cycles: int = 0):
        super().__init__(name)
        if kind not in ("read", "write", "wait_irq"):
            raise ValueError(f"CsrItem.kind must be read, write or wait_irq, got {kind!r}")
        self.kind, self.offset, self.data, self.cycles = kind, offset, data, cycles
        self.resp = 0
        self.timed_out = False

    def __str__(self) -> str:
        if self.kind == "wait_irq":
            return f"wait_irq({self.cycles} cycles){' timed out' if self.timed_out else ''}"
        return f"{self.kind} {self.offset:#04x} = {self.data:#010x} resp {self.resp}"


@dataclass(frozen=True)
class CsrAccess:
    """An AXI-Lite access seen on the s_axil ports: ``kind`` "read"/"write", byte
    address, data, write strobes (0xF for reads), the read response (None for a write:
    see CsrWriteResponse) and the cycle it took effect (a write: both its AW and W
    accepted, which is when the core acts on it, before its B response; a read: its R
    beat)."""

    kind: str
    addr: int
    data: int
    strb: int
    resp: int | None
    cycle: float


@dataclass(frozen=True)
class CsrWriteResponse:
    """The B response of the oldest AXI-Lite write still waiting for one."""

    addr: int
    resp: int
    cycle: float


@dataclass(frozen=True)
class IrqEdge:
    """A rising edge of irq at ``cycle``."""

    cycle: float


@dataclass(frozen=True)
class AxiBurst:
    """One burst seen on the m_axi ports: ``kind`` "read"/"write", ``seq`` its order of
    issue on its side (AR or AW handshake), address, beats asked (len + 1), AxSIZE,
    AxBURST, ID, the data of every beat (bytes), the write strobes (one int per beat; ()
    for reads), the responses (one per read beat; the single B response for writes),
    the beats counted up to xLAST and the cycle it ended."""

    kind: str
    seq: int
    addr: int
    beats: int
    size: int
    burst: int
    id: int
    data: tuple[bytes, ...]
    strb: tuple[int, ...]
    resp: tuple[int, ...]
    beats_to_last: int
    cycle: float


@dataclass(frozen=True)
class CheckedDescriptor:
    """A descriptor of a chain the scoreboard checked: ``outcome`` NONE if it ran and
    its output was bit-exact, else the error code the core reported for it."""

    desc: Descriptor
    outcome: ErrorCode

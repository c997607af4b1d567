"""Sleeping through idle bus time in a monitor that samples at clock edges.

A monitor that wakes at every clock edge costs a Python wake-up per cycle even when
nothing moves (long compute phases, gaps between register accesses). Such a monitor
samples valid and ready at each rising edge (cocotbext-axi's convention) and, when it
saw every valid low, awaits :func:`until_a_valid_rises` before its next edge: the
handshakes it sees are exactly those of sampling every edge.
"""

from __future__ import annotations

from collections.abc import Sequence

from cocotb.triggers import First, ReadOnly, RisingEdge


async def until_a_valid_rises(valids: Sequence) -> None:
    """Return once one of ``valids`` is high after the current clock edge (at once if
    this edge raised one), so that the caller's next rising edge can see a handshake."""
    await ReadOnly()
    if any(v.value for v in valids):
        return
    await First(*(RisingEdge(v) for v in valids))

"""The cocotb side of `eftrain.ipsim`: inside the simulator, connects to the session's
socket, resets eftrain_top (AxiRam as DRAM, AxiLiteMaster on the CSRs) and answers the
parent's requests one at a time until "close", until the parent's end of the socket closes,
or until a request fails (the failure is sent back first). Not imported by user code;
cocotb loads it inside the simulator process.

Requests and replies (tuples, framed by `eftrain.ipsim.send_message`):

* ``("write", addr, data)`` -> ``("ok", None)``: bytes straight into the AxiRam;
* ``("read", addr, nbytes)`` -> ``("ok", bytes)``;
* ``("run", chain_addr, timeout_cycles)`` -> ``("ok", {"status", "desc_done", "counters"})``;
* ``("close",)``: no reply, the test ends and so does the simulator;
* any failure -> ``("error", message)``, then the test ends.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import sys
import traceback

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge, SimTimeoutError, with_timeout
from cocotbext.axi import AxiBus, AxiLiteBus, AxiLiteMaster, AxiRam

from eftrain import descriptor as dsc
from eftrain.ipsim import ENV_DRAM_BYTES, ENV_PARENT_PID, ENV_SOCKET, recv_message, send_message

CLOCK_NS = 10
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Ask Linux to kill this simulator when the process that started it dies, so that a
    parent killed in the middle of a long chain leaves no simulator behind (the socket's
    end-of-file only reaches us between requests)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    try:  # the parent may have died before the request took effect
        os.kill(int(os.environ[ENV_PARENT_PID]), 0)
    except ProcessLookupError:
        os._exit(1)


async def _counters(axil: AxiLiteMaster) -> dict[str, int]:
    values = {}
    for name, _ in dsc.COUNTERS:
        lo, hi = dsc.counter_offsets(name)
        values[name.lower()] = await axil.read_dword(lo) | (await axil.read_dword(hi)) << 32
    return values


class _Core:
    """eftrain_top out of reset with its bus models, serving one request at a time."""

    def __init__(self, dut, dram_bytes: int):
        self.dut = dut
        self.ram = AxiRam(AxiBus.from_prefix(dut, "m_axi"), dut.clk, dut.rst_n, reset_active_level=False,
                          size=dram_bytes)
        self.axil = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil"), dut.clk, dut.rst_n,
                                  reset_active_level=False)
        # A log line per burst would dominate the run time.
        for model in (self.ram, self.axil):
            for channel in (model.write_if, model.read_if):
                channel.log.setLevel(logging.WARNING)

    async def reset(self) -> None:
        cocotb.start_soon(Clock(self.dut.clk, CLOCK_NS, unit="ns").start())
        self.dut.rst_n.value = 0
        await ClockCycles(self.dut.clk, 5)
        self.dut.rst_n.value = 1
        await ClockCycles(self.dut.clk, 5)

    async def run(self, chain_addr: int, timeout_cycles: int) -> dict:
        axil, dut = self.axil, self.dut
        before = await _counters(axil)
        await axil.write_dword(dsc.CSR_CHAIN_LO, chain_addr & 0xFFFFFFFF)
        await axil.write_dword(dsc.CSR_CHAIN_HI, chain_addr >> 32)
        await axil.write_dword(dsc.CSR_CTRL, (1 << dsc.CTRL_START) | (1 << dsc.CTRL_IRQ_ENABLE))
        try:
            # The level, not only an edge: a chain rejected at once may raise the interrupt
            # before the START write's response has come back.
            if not int(dut.irq.value):
                await with_timeout(RisingEdge(dut.irq), timeout_cycles * CLOCK_NS, "ns")
        except SimTimeoutError:
            status = dsc.decode_status(await axil.read_dword(dsc.CSR_STATUS))
            done = await axil.read_dword(dsc.CSR_DESC_DONE)
            raise TimeoutError(f"no interrupt within {timeout_cycles} cycles of the doorbell of the chain at "
                               f"{chain_addr:#x} (STATUS {status}, DESC_DONE {done})") from None
        after = await _counters(axil)
        result = {
            "status": await axil.read_dword(dsc.CSR_STATUS),
            "desc_done": await axil.read_dword(dsc.CSR_DESC_DONE),
            "counters": {name: after[name] - before[name] for name in after},
        }
        await axil.write_dword(dsc.CSR_IRQ, 1 << dsc.IRQ_PENDING)
        return result

    async def serve(self, request: tuple):
        kind = request[0]
        if kind == "write":
            self.ram.write(request[1], request[2])
            return None
        if kind == "read":
            return bytes(self.ram.read(request[1], request[2]))
        if kind == "run":
            return await self.run(request[1], request[2])
        raise ValueError(f"unknown request {kind!r}")


@cocotb.test()
async def serve_session(dut):
    _die_with_parent()
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(os.environ[ENV_SOCKET])
    send_message(conn, ("hello", os.getpid()))
    core = _Core(dut, int(os.environ[ENV_DRAM_BYTES]))
    await core.reset()
    try:
        while True:
            # Blocking here stops the simulation: no simulated time passes between requests.
            request = recv_message(conn)
            if request is None or request[0] == "close":
                return
            try:
                reply = ("ok", await core.serve(request))
            except TimeoutError as exc:
                send_message(conn, ("error", str(exc)))
                return
            except Exception as exc:  # noqa: BLE001 - every failure goes back to the caller
                send_message(conn, ("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))
                return
            send_message(conn, reply)
    except BrokenPipeError:
        return  # the parent went away; nothing to report to
    finally:
        conn.close()

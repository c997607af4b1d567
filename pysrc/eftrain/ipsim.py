"""Run layers on the simulated IP: `eftrain_top` under Verilator, with cocotbext-axi's
AxiRam as the DRAM and AxiLiteMaster on the control registers.

    from eftrain import HwConfig, ipsim
    ip = ipsim.SimulatedIP(HwConfig(tm=8, tn=8))
    y = ip.conv_fp(x, w, stride=1, pad=1)        # float32, bit-exact with oracle.conv_fp
    print(ip.last_run.status, ip.last_run.counters["mac"])

    with ip.session() as s:                       # one simulator serving many chains
        s.write(addr, image)                      # straight into the DRAM model
        run = s.run_chain(chain_addr)             # doorbell, interrupt, counter deltas
        data = s.read(addr, nbytes)

Every layer helper writes the tensors in their DRAM layouts (`eftrain.layout`), one
descriptor (`eftrain.descriptor`), rings the doorbell and reads the output back;
``run_chain`` runs any memory image and descriptor chain. Both start a simulator process
per call (a second or two of start-up). A :class:`Session` keeps one simulator running and
serves requests (write, run a chain, read) until it is closed, which is what training (hundreds
of chains) needs; its DRAM keeps its contents from one chain to the next. The Verilator
model is built once per hardware configuration under ``build/ipsim``. Needs the
repository checkout (RTL sources) and the project's virtual environment (``make setup``).

``SimulatedIP(..., waves=True)``, or ``WAVES=1`` in the environment (the regression's
convention), builds a tracing model (its own build directory) and dumps every session to
``build/ipsim/<config>-waves/session/dump.fst`` (``.vcd`` without the FST libraries).

How a session works: the parent listens on a Unix socket in a private temporary directory
and starts the cocotb module `eftrain.ipsim_job` in the simulator (from a background thread,
through cocotb's runner); the module connects, resets the core and answers length-prefixed
pickled requests one at a time. Simulated time stands still while it waits for the next
request. The simulator ends on ``close``, when the parent's end of the socket closes, or at
once when the parent process dies (Linux parent-death signal), so no simulator outlives its
parent; an error inside the simulator (a chain that does not raise the interrupt in time, an
exception) comes back as a RuntimeError and ends the session.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import pickle
import shutil
import signal
import socket
import struct
import sys
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from eftrain import descriptor as dsc
from eftrain import layout
from eftrain.config import HwConfig
from eftrain.rtl_sources import REPO, build_lock, filelist

AXI_DATA_WIDTH = 128
ADDR_ALIGN = dsc.ADDR_ALIGN
DRAM_BYTES = 1 << 26
#: Default budget of one chain, in clock cycles, before the session gives up on the interrupt.
DEFAULT_TIMEOUT_CYCLES = 50_000_000

# Environment of the simulator process: where to connect, and whose death ends it.
ENV_SOCKET = "EFTRAIN_IPSIM_SOCKET"
ENV_PARENT_PID = "EFTRAIN_IPSIM_PARENT_PID"
ENV_DRAM_BYTES = "EFTRAIN_IPSIM_DRAM_BYTES"

# Seconds a simulator may take to start (build excluded) and to end after ``close``;
# generous because the machine is shared.
START_TIMEOUT_S = 300.0
END_TIMEOUT_S = 30.0

# Cocotb's vocabulary for boolean environment variables (cocotb_tools' WAVES handling).
_TRUE_WORDS = {"1", "yes", "y", "on", "true", "enable"}

_LENGTH = struct.Struct("<Q")
# A session's private directory (socket, results): <tmp>/eftrain-ipsim-<parent pid>-<random>.
_TMP_PREFIX = "eftrain-ipsim-"


# ---- the wire format, shared with eftrain.ipsim_job ------------------------------------------
def send_message(sock: socket.socket, message: tuple) -> None:
    """One request or reply: an 8-byte length, then the pickled tuple."""
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    sock.sendall(_LENGTH.pack(len(payload)) + payload)


def recv_message(sock: socket.socket) -> tuple | None:
    """The next message, or None when the other end closed the connection."""
    head = _recv_exactly(sock, _LENGTH.size)
    if head is None:
        return None
    payload = _recv_exactly(sock, _LENGTH.unpack(head)[0])
    return None if payload is None else pickle.loads(payload)


def _recv_exactly(sock: socket.socket, nbytes: int) -> bytes | None:
    chunks = bytearray()
    while len(chunks) < nbytes:
        chunk = sock.recv(min(nbytes - len(chunks), 1 << 20))
        if not chunk:
            return None
        chunks += chunk
    return bytes(chunks)


@dataclass
class RunResult:
    """What one doorbell produced: the final STATUS, DESC_DONE, the counters' increase
    over the run, and the bytes read back (empty for :meth:`Session.run_chain`, which
    leaves the reading to :meth:`Session.read`)."""

    status: dsc.Status
    desc_done: int
    counters: dict[str, int]
    regions: dict[int, bytes] = field(default_factory=dict, repr=False)


def _waves_requested(waves: bool) -> bool:
    """``WAVES`` in the environment overrides the argument, as cocotb's runner does (it
    reads the variable too, so both must agree or it runs a model without tracing)."""
    value = os.environ.get("WAVES", "").strip().lower()
    return waves if value == "" else value in _TRUE_WORDS


def _trace_format() -> str:
    """'fst' or 'vcd': what ``make setup`` found the headers for (scripts/setup_env.py
    records it next to the venv)."""
    marker = Path(sys.prefix) / "eftrain-trace-format"
    return marker.read_text().strip() if marker.exists() else "vcd"


@dataclass
class _SessionState:
    in_request: bool = False  # a request was sent and its reply not yet received
    sim_error: BaseException | None = None  # how the simulator thread's run ended, if it raised


class Session:
    """One running simulator of :class:`SimulatedIP`'s configuration that serves requests
    until :meth:`close` (or the end of a ``with`` block). Made by :meth:`SimulatedIP.session`.

    The DRAM (an AxiRam of ``DRAM_BYTES``) starts zeroed and keeps its contents across
    chains. Requests are served in order, one at a time; a Session is not thread-safe.
    """

    def __init__(self, ip: SimulatedIP):
        self.ip = ip
        self.simulator_pid: int | None = None
        self.waves_file: Path | None = None
        self.chains_run = 0
        self._closed = False
        # What the simulator thread and the finalizer share with the session, kept outside
        # it so that neither holds the session alive (an abandoned session is collected,
        # and its finalizer ends the simulator).
        self._shared = _SessionState()
        self._conn: socket.socket | None = None
        _sweep_stale_dirs()
        self._tmp = Path(tempfile.mkdtemp(prefix=f"{_TMP_PREFIX}{os.getpid()}-"))
        self._finalizer = weakref.finalize(self, Session._cleanup_tmp, self._tmp)
        try:
            self._start()
        except BaseException:
            self._shutdown(kill=True)
            raise

    # ---- start and stop --------------------------------------------------------------------
    def _start(self) -> None:
        ip = self.ip
        runner = ip._build()
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock_path = self._tmp / "sim.sock"
        listener.bind(str(sock_path))
        listener.listen(1)
        if ip.waves:
            test_dir = ip.build_dir / "session"
            self.waves_file = test_dir / f"dump.{_trace_format()}"
        else:
            test_dir = self._tmp
        env = {
            ENV_SOCKET: str(sock_path),
            ENV_PARENT_PID: str(os.getpid()),
            ENV_DRAM_BYTES: str(DRAM_BYTES),
            "COCOTB_LOG_LEVEL": os.environ.get("COCOTB_LOG_LEVEL", "WARNING"),
        }

        shared, results_xml, seed, waves, build_dir = self._shared, str(self._tmp / "results.xml"), ip.seed, \
            ip.waves, ip.build_dir

        def simulate() -> None:
            try:
                runner.test(test_module="eftrain.ipsim_job", hdl_toplevel="eftrain_top", build_dir=build_dir,
                            test_dir=test_dir, seed=seed, results_xml=results_xml, waves=waves, extra_env=env)
            except BaseException as exc:  # the runner calls sys.exit on a failed run: keep it in this thread
                shared.sim_error = exc

        # A daemon thread: an interpreter that exits without close() does not wait for it,
        # and the simulator then sees its socket close (or gets the parent-death signal).
        self._thread = threading.Thread(target=simulate, name="eftrain-ipsim-session", daemon=True)
        self._thread.start()
        listener.settimeout(0.2)
        deadline = time.monotonic() + START_TIMEOUT_S
        try:
            while True:
                try:
                    self._conn, _ = listener.accept()
                    break
                except socket.timeout:
                    if not self._thread.is_alive():
                        raise RuntimeError(f"the simulator ended before it connected ({self._shared.sim_error!r}); "
                                           "its log is above") from None
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"the simulator did not connect within {START_TIMEOUT_S:.0f} s") from None
        finally:
            listener.close()
        self._conn.settimeout(None)
        hello = recv_message(self._conn)
        if not hello or hello[0] != "hello":
            raise RuntimeError(f"the simulator did not greet the session (got {hello!r}); its log is above")
        self.simulator_pid = hello[1]
        # Even a parent that never calls close() ends its simulator when it is collected or exits.
        self._finalizer.detach()
        self._finalizer = weakref.finalize(self, Session._finalize, self._conn, self._thread,
                                           self.simulator_pid, self._tmp, self._shared)

    @staticmethod
    def _cleanup_tmp(tmp: Path) -> None:
        shutil.rmtree(tmp, ignore_errors=True)

    @staticmethod
    def _finalize(conn: socket.socket, thread: threading.Thread, pid: int, tmp: Path,
                  shared: _SessionState) -> None:
        if shared.in_request:  # the simulator is busy with a chain nobody will collect
            _kill(pid)
        else:
            try:
                send_message(conn, ("close",))
            except OSError:
                pass
        conn.close()
        thread.join(END_TIMEOUT_S)
        if thread.is_alive():
            _kill(pid)
        Session._cleanup_tmp(tmp)

    def close(self) -> None:
        """End the simulator (waits for it). Idempotent."""
        self._shutdown(kill=self._shared.in_request)

    def _shutdown(self, kill: bool) -> None:
        """Close politely, or, when a request was cut short (the simulator may be deep in
        a chain and not listening), kill the simulator at once."""
        if self._closed:
            return
        self._closed = True
        self._finalizer.detach()
        if self._conn is not None:
            if not kill:
                try:
                    send_message(self._conn, ("close",))
                except OSError:
                    pass
            self._conn.close()
        if kill and self.simulator_pid is not None:
            _kill(self.simulator_pid)
        thread = getattr(self, "_thread", None)
        if thread is not None:
            thread.join(END_TIMEOUT_S)
            if thread.is_alive() and self.simulator_pid is not None:
                _kill(self.simulator_pid)
                thread.join(END_TIMEOUT_S)
        Session._cleanup_tmp(self._tmp)
        if self.waves_file is not None:
            print(f"waves: {self.waves_file}")

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> Session:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()

    # ---- requests --------------------------------------------------------------------------
    def _request(self, *message):
        if self._closed:
            raise RuntimeError("the simulator session is closed")
        self._shared.in_request = True
        try:
            send_message(self._conn, message)
            reply = recv_message(self._conn)
        except OSError as exc:
            reply = ("error", f"lost the connection to the simulator: {exc}")
        self._shared.in_request = False
        if reply is None:
            reply = ("error", "the simulator ended without answering; its log is above")
        if reply[0] != "ok":
            self._shutdown(kill=False)
            raise RuntimeError(f"simulated IP, {message[0]} request: {reply[1]}")
        return reply[1]

    @staticmethod
    def _check_range(what: str, addr, nbytes: int) -> int:
        if isinstance(addr, bool) or not isinstance(addr, (int, np.integer)):
            raise ValueError(f"{what}: addr must be an integer, got {addr!r}")
        addr = int(addr)
        if addr < 0 or addr + nbytes > DRAM_BYTES:
            raise ValueError(f"{what}: addr {addr:#x} + {nbytes} bytes is outside the simulated DRAM "
                             f"(0..{DRAM_BYTES:#x})")
        return addr

    def write(self, addr: int, data) -> None:
        """Put ``data`` (bytes, or any buffer such as a numpy array) into DRAM at ``addr``,
        directly in the memory model (as if loaded before the core runs)."""
        data = bytes(memoryview(data).cast("B"))
        addr = self._check_range("Session.write", addr, len(data))
        self._request("write", addr, data)

    def read(self, addr: int, nbytes: int) -> bytes:
        """``nbytes`` of DRAM from ``addr``."""
        if isinstance(nbytes, bool) or not isinstance(nbytes, (int, np.integer)) or nbytes < 0:
            raise ValueError(f"Session.read: nbytes must be a non-negative integer, got {nbytes!r}")
        addr = self._check_range("Session.read", addr, int(nbytes))
        return self._request("read", addr, int(nbytes))

    def run_chain(self, chain_addr: int, timeout_cycles: int = DEFAULT_TIMEOUT_CYCLES) -> RunResult:
        """Write CHAIN, ring the doorbell (START with IRQ_ENABLE), wait for the interrupt,
        read STATUS, DESC_DONE and the counters, clear the interrupt. A chain the core
        rejects is a result (``status.error``, ``status.code``), not an exception; no
        interrupt within ``timeout_cycles`` raises RuntimeError and ends the session."""
        if isinstance(chain_addr, bool) or not isinstance(chain_addr, (int, np.integer)) \
                or not 0 <= chain_addr < 1 << 64:
            raise ValueError(f"Session.run_chain: chain_addr must be a 64-bit address, got {chain_addr!r}")
        if isinstance(timeout_cycles, bool) or not isinstance(timeout_cycles, (int, np.integer)) \
                or timeout_cycles < 1:
            raise ValueError(f"Session.run_chain: timeout_cycles must be a positive integer, got {timeout_cycles!r}")
        reply = self._request("run", int(chain_addr), int(timeout_cycles))
        self.chains_run += 1
        run = RunResult(status=dsc.decode_status(reply["status"]), desc_done=reply["desc_done"],
                        counters=reply["counters"])
        self.ip.last_run = run
        return run


def _sweep_stale_dirs() -> None:
    """Remove the temporary directories of sessions whose parent was killed (it could not
    clean up); the owner's pid is in the name."""
    for stale in Path(tempfile.gettempdir()).glob(f"{_TMP_PREFIX}*-*"):
        owner = stale.name[len(_TMP_PREFIX):].split("-", 1)[0]
        if owner.isdigit() and not Path(f"/proc/{owner}").exists() and sys.platform.startswith("linux"):
            shutil.rmtree(stale, ignore_errors=True)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class SimulatedIP:
    """One hardware configuration of the core, simulated."""

    def __init__(self, hw: HwConfig | None = None, seed: int = 1, waves: bool = False):
        self.hw = hw or HwConfig()
        self.seed = seed
        self.waves = _waves_requested(waves)
        self.last_run: RunResult | None = None
        tag = f"tn{self.hw.tn}_ib{self.hw.ib_depth}_ob{self.hw.ob_depth}_wb{self.hw.wb_depth}_k{self.hw.kmax}"
        self.build_dir = REPO / "build" / "ipsim" / (tag + ("-waves" if self.waves else ""))
        self._runner = None

    def _build(self):
        """A runner for one simulation: a copy of the runner that built the model (its
        test() needs the build's settings; a copy per session keeps concurrent sessions
        apart). The build happens once per instance."""
        if self._runner is None:
            from cocotb_tools.runner import get_runner

            # The venv's bin holds the `verilator` wrapper that `make setup` installs.
            os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
            hw = self.hw
            build_args = ["-O3", "--x-assign", "fast", "--x-initial", "fast", "-Wno-fatal"]
            if self.waves:
                build_args += ["--trace-structs"] + (["--trace-fst"] if _trace_format() == "fst" else [])
            runner = get_runner("verilator")
            with build_lock(self.build_dir):
                runner.build(
                    sources=filelist("eftrain_top"), hdl_toplevel="eftrain_top", build_dir=self.build_dir,
                    parameters={"TM": hw.tm, "TN": hw.tn, "KMAX": hw.kmax, "IB_DEPTH": hw.ib_depth,
                                "OB_DEPTH": hw.ob_depth, "WB_DEPTH": hw.wb_depth},
                    build_args=build_args, waves=self.waves,
                    timescale=("1ns", "1ps"), log_file=self.build_dir / "build.log",
                )
            self._runner = runner
        return copy.copy(self._runner)

    def session(self) -> Session:
        """Start a simulator that serves requests until closed (use it in a ``with``)."""
        return Session(self)

    # ---- low level: any memory image and chain ---------------------------------------
    def run_chain(self, memory: dict[int, bytes], chain_addr: int, read_back: list[tuple[int, int]],
                  timeout_cycles: int = DEFAULT_TIMEOUT_CYCLES) -> RunResult:
        """Write ``memory`` ({address: bytes}) to DRAM, run the chain at ``chain_addr``,
        and read back the ``(address, nbytes)`` regions: a session of one chain."""
        with self.session() as s:
            for addr, data in memory.items():
                s.write(addr, data)
            run = s.run_chain(chain_addr, timeout_cycles)
            regions = {addr: s.read(addr, nbytes) for addr, nbytes in read_back}
        self.last_run = dataclasses.replace(run, regions=regions)
        return self.last_run

    # ---- one conv layer per doorbell ----------------------------------------------------
    def _run_layer(self, opcode: dsc.Opcode, *, tensors: dict[str, np.ndarray], out_shape, out_is_weights: bool,
                   k: int, stride: int, pad: int, batch: int, n: int, m: int, h: int, w: int,
                   tile_rows: int | None) -> np.ndarray:
        g = self.hw.tn
        memory: dict[int, bytes] = {}
        addrs: dict[str, int] = {}
        cursor = 0x10000
        for name, (tensor, is_weights) in tensors.items():
            image = (layout.weights_to_dram if is_weights else layout.act_to_dram)(tensor, g).tobytes()
            addrs[name] = cursor
            memory[cursor] = image
            cursor += -(-len(image) // ADDR_ALIGN) * ADDR_ALIGN + ADDR_ALIGN
        out_bytes = (layout.weights_bytes if out_is_weights else layout.act_bytes)(out_shape, g)
        out_addr = cursor
        if tile_rows is None:
            tile_rows = dsc.largest_tile_rows(opcode, k, stride, pad, n, m, h, w, self.hw)
        desc = dsc.Descriptor(opcode=opcode, k=k, stride=stride, pad=pad, batch=batch, tile_rows=tile_rows,
                              n=n, m=m, h=h, w=w, out_addr=out_addr, in_addr=addrs.get("in", 0),
                              wgt_addr=addrs.get("wgt", 0), aux_addr=addrs.get("aux", 0))
        code = dsc.validate(desc, self.hw)
        if code != dsc.ErrorCode.NONE:
            raise ValueError(f"{opcode.name}: the core rejects this layer: {code.name} "
                             f"(tile_rows={tile_rows}; see eftrain.descriptor.tile_misfit)")
        if out_addr + out_bytes + ADDR_ALIGN > DRAM_BYTES:
            raise ValueError(f"{opcode.name}: the tensors need more than the simulated DRAM ({DRAM_BYTES} bytes)")
        desc_addr = ADDR_ALIGN
        memory[desc_addr] = desc.pack()
        run = self.run_chain(memory, desc_addr, [(out_addr, out_bytes)])
        if not run.status.done or run.status.error:
            raise RuntimeError(f"{opcode.name}: the core stopped with {run.status}")
        data = run.regions[out_addr]
        return (layout.weights_from_dram if out_is_weights else layout.act_from_dram)(data, out_shape, g)

    def conv_fp(self, x, w, stride: int = 1, pad: int = 0, tile_rows: int | None = None) -> np.ndarray:
        """y = conv(x [B,N,H,W], w [M,N,K,K]) on the IP."""
        x, w = np.asarray(x, np.float32), np.asarray(w, np.float32)
        b, n, h, wd = x.shape
        m, _, k, _ = w.shape
        ho, wo = dsc.out_hw(h, wd, k, stride, pad)
        return self._run_layer(dsc.Opcode.CONV_FP, tensors={"in": (x, False), "wgt": (w, True)},
                               out_shape=(b, m, ho, wo), out_is_weights=False, k=k, stride=stride, pad=pad,
                               batch=b, n=n, m=m, h=h, w=wd, tile_rows=tile_rows)

    def conv_bp(self, dy, w, in_hw, stride: int = 1, pad: int = 0, tile_rows: int | None = None) -> np.ndarray:
        """dx [B,N,H,W] from dy [B,M,Ho,Wo] and w [M,N,K,K] on the IP."""
        dy, w = np.asarray(dy, np.float32), np.asarray(w, np.float32)
        b, m = dy.shape[:2]
        _, n, k, _ = w.shape
        h, wd = in_hw
        return self._run_layer(dsc.Opcode.CONV_BP, tensors={"in": (dy, False), "wgt": (w, True)},
                               out_shape=(b, n, h, wd), out_is_weights=False, k=k, stride=stride, pad=pad,
                               batch=b, n=n, m=m, h=h, w=wd, tile_rows=tile_rows)

    def conv_wu(self, x, dy, k: int, stride: int = 1, pad: int = 0, tile_rows: int | None = None) -> np.ndarray:
        """dw [M,N,K,K] from x [B,N,H,W] and dy [B,M,Ho,Wo] on the IP."""
        x, dy = np.asarray(x, np.float32), np.asarray(dy, np.float32)
        b, n, h, wd = x.shape
        m = dy.shape[1]
        return self._run_layer(dsc.Opcode.CONV_WU, tensors={"in": (x, False), "aux": (dy, False)},
                               out_shape=(m, n, k, k), out_is_weights=True, k=k, stride=stride, pad=pad,
                               batch=b, n=n, m=m, h=h, w=wd, tile_rows=tile_rows)


def _main() -> int:
    """`python -m eftrain.ipsim`: one small FP layer on the simulated IP, checked."""
    from eftrain import fp32, oracle

    hw = HwConfig(tm=4, tn=4, ib_depth=512, ob_depth=512, wb_depth=256)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 5, 8, 8)).astype(np.float32)
    w = rng.standard_normal((6, 5, 3, 3)).astype(np.float32)
    ip = SimulatedIP(hw)
    y = ip.conv_fp(x, w, stride=1, pad=1)
    same = np.array_equal(fp32.bits(y), fp32.bits(oracle.conv_fp(x, w, 1, 1, hw)))
    print(json.dumps({"shape": list(y.shape), "bit_exact": same, "status": ip.last_run.status._asdict(),
                      "counters": ip.last_run.counters}, indent=1))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(_main())

"""The scoreboard: predicts every chain from the monitors and checks it bit for bit.

It sees only what the monitors report (register accesses, irq edges, AXI bursts) and
the DRAM model's contents:

* a write of CTRL.START (with CHAIN mirrored from the CHAIN_LO/HI writes), at the
  cycle its AW and W are accepted, starts a chain: the DRAM at that moment and
  chain_model.predict_chain give the expected STATUS, DESC_DONE, DRAM after the chain
  and AXI bursts;
* the first STATUS read after the chain's irq checks the chain: STATUS (busy, done,
  error, code, and index on an error), exactly one irq edge so far, the whole DRAM
  against the prediction (every output word of the completed descriptors, padded
  channels included, and no other byte changed: inputs, guards, descriptors, the
  outputs of descriptors that did not run), and every AXI burst against the prediction
  in issue order on each side (address, beats, INCR, full-width beats, LAST on the last
  beat, OKAY responses, all strobes set, read data = the DRAM the model holds when that
  descriptor runs, write data = the oracle's output);
* the next DESC_DONE and IRQ reads are checked against the prediction.

A mismatch raises AssertionError at once (the run stops there, with the seed in the
log); check_phase verifies that every chain was checked and saw one irq edge.
Checked descriptors go out on ``checked_ap`` (the coverage collector).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from pyuvm import ConfigDB, uvm_analysis_port, uvm_component, uvm_subscriber

from chain_model import ChainPrediction, ExpectedBurst, predict_chain
from eftrain import descriptor as dsc
from eftrain.descriptor import ErrorCode
from items import AxiBurst, CheckedDescriptor, CsrAccess, CsrWriteResponse, IrqEdge
from top_tb import ADDR_WIDTH, BEAT_BYTES

AXI_BURST_INCR = 1
AXI_OKAY = 0


@dataclass
class RunningChain:
    prediction: ChainPrediction
    start_cycle: float
    bursts: list[AxiBurst] = field(default_factory=list)
    irq_edges: int = 0
    checked: bool = False            # STATUS, DRAM and bursts checked
    desc_done_checked: bool = False
    irq_reg_checked: bool = False


class Scoreboard(uvm_component):
    def build_phase(self):
        self.csr_export = uvm_subscriber.uvm_AnalysisImp("csr_export", self, self.write_csr)
        self.axi_export = uvm_subscriber.uvm_AnalysisImp("axi_export", self, self.write_axi)
        self.checked_ap = uvm_analysis_port("checked_ap", self)
        self.cfg = ConfigDB().get(self, "", "HW_CONFIG")
        self.mem: bytearray | None = None          # the DRAM model, set by the env
        self.chain_reg = [0, 0]                    # mirror of CHAIN_LO, CHAIN_HI
        self.current: RunningChain | None = None
        self.chains = self.descriptors = self.bursts = self.bytes_compared = 0

    # ---- failures --------------------------------------------------------------------
    def fail(self, msg: str) -> None:
        self.logger.error(msg)
        raise AssertionError(msg)

    # ---- register side ---------------------------------------------------------------
    def write_csr(self, tt) -> None:
        if isinstance(tt, IrqEdge):
            if self.current is None:
                self.fail(f"irq rose at cycle {tt.cycle:.0f} with no chain started")
            self.current.irq_edges += 1
            return
        if isinstance(tt, CsrWriteResponse):
            if tt.resp != AXI_OKAY:
                self.fail(f"AXI-Lite write of {tt.addr:#04x} answered resp {tt.resp}")
            return
        assert isinstance(tt, CsrAccess)
        if tt.kind == "read" and tt.resp != AXI_OKAY:
            self.fail(f"AXI-Lite read of {tt.addr:#04x} answered resp {tt.resp}")
        if tt.kind == "write":
            self._csr_write(tt)
        else:
            self._csr_read(tt)

    def _csr_write(self, tt: CsrAccess) -> None:
        for i, offset in enumerate((dsc.CSR_CHAIN_LO, dsc.CSR_CHAIN_HI)):
            if tt.addr == offset:
                mask = sum(0xFF << 8 * b for b in range(4) if tt.strb >> b & 1)
                self.chain_reg[i] = (self.chain_reg[i] & ~mask) | (tt.data & mask)
        if tt.addr == dsc.CSR_CTRL and tt.data >> dsc.CTRL_START & 1 and tt.strb & 1:
            self._start(tt.cycle)

    def _start(self, cycle: float) -> None:
        self._finish_previous()
        head = self.chain_reg[0] | self.chain_reg[1] << 32
        pred = predict_chain(self.mem, head, self.cfg, ADDR_WIDTH, BEAT_BYTES)
        self.current = RunningChain(pred, cycle)
        outcome = "completes" if pred.done else f"stops with {pred.code.name} at index {pred.index}"
        self.logger.debug("chain at %#x: %d descriptors fetched, %s, %d bursts expected", head,
                          len(pred.descs), outcome, len(pred.bursts))

    def _finish_previous(self) -> None:
        """The previous chain was checked completely and raised irq exactly once."""
        cur = self.current
        if cur is None:
            return
        if not cur.checked:
            self.fail(f"the chain started at cycle {cur.start_cycle:.0f} was never checked (no STATUS read "
                      f"after its irq); {len(cur.bursts)} bursts seen, {cur.irq_edges} irq edges")
        if cur.irq_edges != 1:
            self.fail(f"the chain started at cycle {cur.start_cycle:.0f} raised irq {cur.irq_edges} times")
        if not cur.desc_done_checked:
            self.fail(f"the chain started at cycle {cur.start_cycle:.0f}: DESC_DONE was never read")

    def _csr_read(self, tt: CsrAccess) -> None:
        cur = self.current
        if cur is None or cur.irq_edges == 0:
            return                         # a read while idle or busy: nothing predicted
        pred = cur.prediction
        if tt.addr == dsc.CSR_STATUS and not cur.checked:
            self._check_status(tt.data, pred)
            self._check_dram(pred)
            self._check_bursts(pred, cur.bursts)
            cur.checked = True
            self._publish(pred)
        elif tt.addr == dsc.CSR_DESC_DONE and cur.checked and not cur.desc_done_checked:
            if tt.data != pred.desc_done:
                self.fail(f"DESC_DONE {tt.data}, expected {pred.desc_done}")
            cur.desc_done_checked = True
        elif tt.addr == dsc.CSR_IRQ and cur.checked and not cur.irq_reg_checked:
            if tt.data != 1 << dsc.IRQ_PENDING:
                self.fail(f"IRQ reads {tt.data:#x} after the chain's interrupt, expected PENDING")
            cur.irq_reg_checked = True

    # ---- bus side --------------------------------------------------------------------
    def write_axi(self, burst: AxiBurst) -> None:
        cur = self.current
        if cur is None or cur.checked:
            self.fail(f"AXI {burst.kind} burst at {burst.addr:#x} ({burst.beats} beats) at cycle "
                      f"{burst.cycle:.0f} while no chain runs")
        cur.bursts.append(burst)

    # ---- checks ----------------------------------------------------------------------
    def _check_status(self, word: int, pred: ChainPrediction) -> None:
        st = dsc.decode_status(word)
        if pred.done:
            ok = st.done and not st.error and not st.busy and st.code == ErrorCode.NONE
            want = "done, code NONE"
        else:
            ok = st.error and not st.done and not st.busy and st.code == pred.code and st.index == pred.index
            want = f"error {pred.code.name} at index {pred.index}"
        if not ok:
            self.fail(f"STATUS {st}, expected {want} (chain at {pred.head:#x}, {len(pred.descs)} descriptors "
                      f"fetched)")
        if self.current.irq_edges != 1:
            self.fail(f"{self.current.irq_edges} irq edges for one chain")

    def _check_dram(self, pred: ChainPrediction) -> None:
        got = np.frombuffer(bytes(self.mem), np.uint8)
        self.bytes_compared += got.size
        diff = np.flatnonzero(got != pred.after)
        if not diff.size:
            return
        in_output = np.zeros(diff.size, bool)
        for wr in pred.writes:
            in_output |= (diff >= wr.addr) & (diff < wr.end)
        lines = []
        if in_output.any():
            a = int(diff[in_output][0])
            word = a & ~3
            lines.append(f"{int(in_output.sum())} output bytes differ from the oracle; first in "
                         f"{pred.describe(a)} (word at {word:#x}): RTL "
                         f"{int.from_bytes(got[word:word + 4].tobytes(), 'little'):08x}, oracle "
                         f"{int.from_bytes(pred.after[word:word + 4].tobytes(), 'little'):08x}")
        if (~in_output).any():
            stray = diff[~in_output]
            lines.append(f"{stray.size} bytes changed outside the expected outputs; first at {int(stray[0]):#x} "
                         f"({pred.describe(int(stray[0]))}), last at {int(stray[-1]):#x}")
        self.fail(f"DRAM after the chain at {pred.head:#x}: " + "; ".join(lines))

    def _check_bursts(self, pred: ChainPrediction, seen: list[AxiBurst]) -> None:
        size = BEAT_BYTES.bit_length() - 1
        for kind in ("read", "write"):
            want = [b for b in pred.bursts if b.kind == kind]
            got = sorted((b for b in seen if b.kind == kind), key=lambda b: b.seq)
            for i, (g, w) in enumerate(zip(got, want, strict=False)):  # counts checked below
                self._check_burst(pred, i, g, w, size)
            if len(got) != len(want):
                extra = got[len(want):] or want[len(got):]
                e = extra[0]
                self.fail(f"{kind} bursts: {len(got)} seen, {len(want)} expected (eftrain.layout); the first "
                          f"{'unexpected' if len(got) > len(want) else 'missing'} one is at {e.addr:#x}, "
                          f"{e.beats} beats")
            self.bursts += len(got)

    def _check_burst(self, pred: ChainPrediction, i: int, g: AxiBurst, w: ExpectedBurst, size: int) -> None:
        where = f"{g.kind} burst {i} ({w.tensor} of descriptor {w.index})"
        if (g.addr, g.beats) != (w.addr, w.beats):
            self.fail(f"{where}: address {g.addr:#x}, {g.beats} beats; eftrain.layout expects {w.addr:#x}, "
                      f"{w.beats} beats")
        if g.size != size or g.burst != AXI_BURST_INCR:
            self.fail(f"{where}: AxSIZE {g.size}, AxBURST {g.burst}; expected {size}, INCR")
        if g.beats_to_last != g.beats:
            self.fail(f"{where}: LAST after {g.beats_to_last} beats of {g.beats}")
        if any(r != AXI_OKAY for r in g.resp):
            self.fail(f"{where}: response {g.resp}")
        full = (1 << BEAT_BYTES) - 1
        if g.kind == "write" and any(s != full for s in g.strb):
            self.fail(f"{where}: partial strobes {[hex(s) for s in g.strb if s != full][:4]}")
        # Reads see DRAM as the descriptors before this one left it; writes carry the output.
        upto = w.index if g.kind == "read" else w.index + 1
        want = pred.state(upto, w.addr, w.beats * BEAT_BYTES)
        data = b"".join(g.data)
        if data != want:
            j = next(k for k in range(len(want)) if data[k] != want[k]) & ~3
            self.fail(f"{where}: data differs from the model DRAM at {w.addr + j:#x}: bus "
                      f"{int.from_bytes(data[j:j + 4], 'little'):08x}, model "
                      f"{int.from_bytes(want[j:j + 4], 'little'):08x}")

    def _publish(self, pred: ChainPrediction) -> None:
        self.chains += 1
        for i in range(pred.desc_done):
            self.checked_ap.write(CheckedDescriptor(pred.descs[i], ErrorCode.NONE))
        if not pred.done:
            self.checked_ap.write(CheckedDescriptor(pred.descs[pred.index], pred.code))
        self.descriptors += pred.desc_done

    # ---- end of test -----------------------------------------------------------------
    def check_phase(self):
        self._finish_previous()
        if self.chains == 0:
            self.fail("no chain was checked")

    def report_phase(self):
        self.logger.info("scoreboard: %d chains, %d descriptors bit-exact, %d AXI bursts matched eftrain.layout "
                         "(addresses, lengths, data), %.1f MB of DRAM compared", self.chains, self.descriptors,
                         self.bursts, self.bytes_compared / 2**20)

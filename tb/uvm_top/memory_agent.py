"""The memory agent: the DRAM as cocotbext-axi's AxiRam on the m_axi ports (a plain
bytearray, so the environment can read and write it directly), a DramMap allocator over
it, and a monitor that records every AXI burst from the ports themselves.

ConfigDB: "DUT", "SEED", "RNG" (the DRAM's random background).
"""

from __future__ import annotations

import logging
from collections import defaultdict, deque

from cocotb.triggers import RisingEdge
from cocotbext.axi import AxiBus, AxiRam
from pyuvm import ConfigDB, uvm_agent, uvm_analysis_port, uvm_monitor

from control_agent import now_cycles
from edge_sampler import until_a_valid_rises
from items import AxiBurst
from top_tb import DRAM_BYTES, DramMap, Stress


class MemoryMonitor(uvm_monitor):
    """Publishes an AxiBurst on ``ap`` when a read burst's last beat is accepted (RLAST,
    or the beat count it asked for) and when a write burst's B response is accepted.
    Bursts are matched to their AR/AW by ID in issue order; W beats to AWs in order."""

    def build_phase(self):
        self.ap = uvm_analysis_port("ap", self)
        self.dut = ConfigDB().get(self, "", "DUT")

    async def run_phase(self):
        d = self.dut
        beat_bytes = len(d.m_axi_rdata) // 8
        # Handles bound once: this loop runs at every active clock edge.
        arvalid, arready, araddr, arlen, arsize, arburst, arid = (
            d.m_axi_arvalid, d.m_axi_arready, d.m_axi_araddr, d.m_axi_arlen, d.m_axi_arsize, d.m_axi_arburst,
            d.m_axi_arid)
        rvalid, rready, rdata, rresp, rlast, rid_ = (
            d.m_axi_rvalid, d.m_axi_rready, d.m_axi_rdata, d.m_axi_rresp, d.m_axi_rlast, d.m_axi_rid)
        awvalid, awready, awaddr, awlen, awsize, awburst, awid = (
            d.m_axi_awvalid, d.m_axi_awready, d.m_axi_awaddr, d.m_axi_awlen, d.m_axi_awsize, d.m_axi_awburst,
            d.m_axi_awid)
        wvalid, wready, wdata, wstrb, wlast = (
            d.m_axi_wvalid, d.m_axi_wready, d.m_axi_wdata, d.m_axi_wstrb, d.m_axi_wlast)
        bvalid, bready, bresp, bid_ = d.m_axi_bvalid, d.m_axi_bready, d.m_axi_bresp, d.m_axi_bid
        valids = [arvalid, rvalid, awvalid, wvalid, bvalid]
        ar_seq = aw_seq = 0
        reads: dict[int, deque] = defaultdict(deque)        # id -> open read bursts
        w_bursts: deque = deque()                           # finished W bursts, in order
        w_data, w_strb = [], []
        aws: deque = deque()                                # AWs waiting for their W burst
        writes: dict[int, deque] = defaultdict(deque)       # id -> writes waiting for B
        edge = RisingEdge(d.clk)
        while True:
            await edge
            ar, r, aw, w, b = arvalid.value, rvalid.value, awvalid.value, wvalid.value, bvalid.value
            if not (ar or r or aw or w or b):
                await until_a_valid_rises(valids)
                continue
            if ar and arready.value:
                reads[int(arid.value)].append(dict(
                    seq=ar_seq, addr=int(araddr.value), beats=int(arlen.value) + 1, size=int(arsize.value),
                    burst=int(arburst.value), data=[], resp=[]))
                ar_seq += 1
            if r and rready.value:
                rid = int(rid_.value)
                if not reads[rid]:
                    raise AssertionError(f"AXI R beat with ID {rid} and no read burst outstanding")
                rd = reads[rid][0]
                rd["data"].append(int(rdata.value).to_bytes(beat_bytes, "little"))
                rd["resp"].append(int(rresp.value))
                last = bool(rlast.value)
                if last or len(rd["data"]) == rd["beats"]:
                    reads[rid].popleft()
                    self.ap.write(AxiBurst("read", rd["seq"], rd["addr"], rd["beats"], rd["size"], rd["burst"], rid,
                                           tuple(rd["data"]), (), tuple(rd["resp"]),
                                           len(rd["data"]) if last else -1, now_cycles()))
            if aw and awready.value:
                aws.append(dict(seq=aw_seq, addr=int(awaddr.value), beats=int(awlen.value) + 1,
                                size=int(awsize.value), burst=int(awburst.value), id=int(awid.value)))
                aw_seq += 1
            if w and wready.value:
                w_data.append(int(wdata.value).to_bytes(beat_bytes, "little"))
                w_strb.append(int(wstrb.value))
                if wlast.value:
                    w_bursts.append((tuple(w_data), tuple(w_strb)))
                    w_data, w_strb = [], []
            while aws and w_bursts:
                a = aws.popleft()
                a["data"], a["strb"] = w_bursts.popleft()
                writes[a["id"]].append(a)
            if b and bready.value:
                bid = int(bid_.value)
                if not writes[bid]:
                    raise AssertionError(f"AXI B response with ID {bid} and no complete write burst outstanding")
                a = writes[bid].popleft()
                self.ap.write(AxiBurst("write", a["seq"], a["addr"], a["beats"], a["size"], a["burst"], bid,
                                       a["data"], a["strb"], (int(bresp.value),), len(a["data"]), now_cycles()))


class MemoryAgent(uvm_agent):
    """The DRAM: ``mem`` (DRAM_BYTES, random background), ``ram`` the AxiRam serving the
    core from it, ``dmap`` the allocator the sequences place tensors with, ``monitor``
    the burst recorder, ``stress`` random pauses on the AxiRam's five channels."""

    def build_phase(self):
        self.dut = ConfigDB().get(self, "", "DUT")
        self.mem = bytearray(DRAM_BYTES)
        self.ram = AxiRam(AxiBus.from_prefix(self.dut, "m_axi"), self.dut.clk, self.dut.rst_n,
                          reset_active_level=False, mem=self.mem)
        logging.getLogger(f"cocotb.{self.dut._name}.m_axi").setLevel(logging.WARNING)
        self.dmap = DramMap(self.mem, ConfigDB().get(self, "", "RNG"))
        self.monitor = MemoryMonitor("monitor", self)
        rd, wr = self.ram.read_if, self.ram.write_if
        self.stress = Stress([wr.aw_channel, wr.w_channel, wr.b_channel, rd.ar_channel, rd.r_channel],
                             ConfigDB().get(self, "", "SEED") ^ 0xD7A3)

    def ensure_room(self, nbytes: int) -> None:
        """Start a fresh random DRAM when fewer than ``nbytes`` are left."""
        if self.dmap.room() < nbytes:
            self.dmap.reset()

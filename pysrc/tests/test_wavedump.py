"""eftrain.wavedump (signal names of FST/VCD dumps) and eftrain.gtkwave (the save file
built from them), on hand-made inputs; tb/fpga/test_fpga_wrapper.py checks both on the
FST of a real run."""

from __future__ import annotations

import struct

import pytest

from eftrain import gtkwave
from eftrain.wavedump import Signal, lz4_block_decompress, read_fst_signals, read_signals


def test_lz4_block_literals_matches_and_overlap():
    # "abc", then a 9-byte match at offset 3 (overlapping: it repeats "abc"), then "xyz".
    block = bytes([0x35]) + b"abc" + bytes([3, 0]) + bytes([0x30]) + b"xyz"
    assert lz4_block_decompress(block, 15) == b"abcabcabcabcxyz"
    # 280 literals: 15 in the token, then 255 + 10 in extension bytes; then a match of
    # 4 + 15 + 1 = 20 bytes at offset 1 (run-length).
    literals = bytes(range(256)) + bytes(24)
    block = bytes([0xFF, 255, 10]) + literals + bytes([1, 0, 1]) + bytes([0x10]) + b"!"
    assert lz4_block_decompress(block, 301) == literals + bytes(20) + b"!"
    with pytest.raises(ValueError, match="offset"):
        lz4_block_decompress(bytes([0x14]) + b"a" + bytes([5, 0]) + bytes([0x10]) + b"b", 10)
    with pytest.raises(ValueError, match="expected"):
        lz4_block_decompress(bytes([0x30]) + b"abc", 4)


def test_vcd_header(tmp_path):
    vcd = """$date today $end
$timescale 1ps $end
$scope module TOP $end
 $var wire 1 ! clk $end
 $scope module dut $end
  $var wire 40 " m_axi_araddr [39:0] $end
  $var wire 8 # mem[3] [7:0] $end
  $scope struct desc_q $end
   $var logic 4 $ k [3:0] $end
  $upscope $end
 $upscope $end
$upscope $end
$enddefinitions $end
#0
0!
"""
    path = tmp_path / "dump.vcd"
    path.write_text(vcd)
    signals = read_signals(path)
    assert signals == {
        "TOP.clk": Signal("TOP.clk", 1, ""),
        "TOP.dut.m_axi_araddr": Signal("TOP.dut.m_axi_araddr", 40, "[39:0]"),
        "TOP.dut.mem[3]": Signal("TOP.dut.mem[3]", 8, "[7:0]"),
        "TOP.dut.desc_q.k": Signal("TOP.dut.desc_q.k", 4, "[3:0]"),
    }


def _fst(hierarchy: bytes) -> bytes:
    """A minimal FST file: a header block and an LZ4 hierarchy block holding `hierarchy`
    as literals only (a valid LZ4 block)."""
    n = len(hierarchy)
    lz4 = bytes([0xF0]) + bytes([255] * ((n - 15) // 255)) + bytes([(n - 15) % 255]) + hierarchy
    header = bytes([0]) + struct.pack(">Q", 8 + 4) + bytes(4)
    payload = struct.pack(">Q", n) + lz4
    return header + bytes([6]) + struct.pack(">Q", 8 + len(payload)) + payload


def test_fst_hierarchy(tmp_path):
    h = (bytes([254, 0]) + b"eftrain_top\x00eftrain_top\x00"
         + bytes([16, 1]) + b"clk\x00" + bytes([1, 0])
         + bytes([252, 0, 0]) + b"enum\x00" + bytes([0])        # an attribute: skipped
         + bytes([16, 2]) + b"m_axi_araddr [39:0]\x00" + bytes([40, 0])
         + bytes([254, 0]) + b"u_ctrl\x00layer_ctrl\x00"
         + bytes([17, 0]) + b"state_q [4:0]\x00" + bytes([5, 0])
         + bytes([255, 255]))
    path = tmp_path / "dump.fst"
    path.write_bytes(_fst(h))
    assert read_fst_signals(path) == {
        "eftrain_top.clk": Signal("eftrain_top.clk", 1, ""),
        "eftrain_top.m_axi_araddr": Signal("eftrain_top.m_axi_araddr", 40, "[39:0]"),
        "eftrain_top.u_ctrl.state_q": Signal("eftrain_top.u_ctrl.state_q", 5, "[4:0]"),
    }
    path.write_bytes(_fst(h)[:-10])
    with pytest.raises(ValueError):
        read_fst_signals(path)


def _all_signals(scope: str, top: str) -> dict[str, Signal]:
    paths = [f"{scope}.{t.path}" for g in gtkwave.VIEWS[top] for t in g.traces]
    return {p: Signal(p, 1 if p.endswith("valid") else 8, "" if p.endswith("valid") else "[7:0]") for p in paths}


def test_view_finds_the_instance_and_tolerates_missing_signals(tmp_path):
    signals = _all_signals("tb.dut.u_core", "eftrain_top")
    view = gtkwave.build_view(signals)
    assert (view.top, view.scope, view.missing) == ("eftrain_top", "tb.dut.u_core", [])
    assert sum(len(g.traces) for g in view.groups) == len(signals)

    gone = ["tb.dut.u_core.u_ctrl.state_q", "tb.dut.u_core.m_axi_arvalid"]
    for path in gone:
        del signals[path]
    view = gtkwave.build_view(signals)
    assert view.scope == "tb.dut.u_core"
    assert sorted(view.missing) == sorted(p.removeprefix("tb.dut.u_core.") for p in gone)
    text = gtkwave.save_file_text(tmp_path / "d.fst", tmp_path / "d.gtkw", view, signals)
    assert "state_q" not in text and "tb.dut.u_core.m_axi_araddr[7:0]" in text
    flags = [int(line[1:], 16) for line in text.splitlines() if line.startswith("@")]
    assert sum(bool(f & 0x800000) for f in flags) == len(view.groups)  # a group begins...
    assert sum(bool(f & 0x1000000) for f in flags) == len(view.groups)  # ...and ends, per group


def test_view_of_an_unknown_top_shows_its_ports():
    signals = {p: Signal(p, 1) for p in ("$rootio.clk_i", "$rootio.req_valid_i", "axi_dma_wr.clk_i",
                                         "axi_dma_wr.u_split.clk_i")}
    view = gtkwave.build_view(signals)
    assert (view.top, view.scope) == ("", "$rootio")
    assert [t.path for t in view.groups[0].traces] == ["$rootio.clk_i", "$rootio.req_valid_i"]

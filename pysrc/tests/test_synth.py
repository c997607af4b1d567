"""The synthesis estimate (`make synth`): the real Yosys flow on a small top, its parsers
and options, and the resource model calibrated on it."""

from __future__ import annotations

import subprocess

import pytest

from eftrain import HwConfig, boards, integration, resources, synth
from eftrain.rtl_sources import REPO, filelist


def test_yosys_maps_the_fp32_multiplier():
    # The 24 x 24 significand product goes to DSP slices, the rest to LUTs and flops:
    # the 2 pipeline stages hold at least the 32-bit result and its valid flag.
    # (Under build/, not /tmp: Yosys in WebAssembly sees its own /tmp.)
    lines: list[str] = []
    result = synth.synthesize("fp32_mul", {}, synth.BUILD / "test-fp32_mul", log=lines.append)
    assert result.dsp >= 1
    assert result.lut > 50
    assert result.ff >= 33
    assert result.bram36 == 0
    assert result.logic_levels > 1
    # Counted with a level per CARRY8 a path is never longer than ltp's (a level per cell).
    assert 1 <= result.levels <= result.logic_levels
    assert sum(result.cells.get(f"LUT{k}", 0) for k in range(1, 7)) == result.lut
    assert "fp32_mul" in result.modules
    # One progress line per stage: the SystemVerilog front end, then synth_xilinx's steps.
    assert any("SLANG" in line for line in lines) and any("ABC9" in line for line in lines)
    text = synth.report(result, boards.ZCU102)
    assert "DSP48E2" in text and "logic levels" in text


STAT = """
=== sub$top.u_a ===

        +----------Local Count, excluding submodules.
        |
       12 wires
        5 cells
        3   LUT2
        2   FDRE

=== top ===

        +----------Local Count, excluding submodules.
        |
        9 cells
        1   DSP48E2
        4   LUT6
        2   RAM32M16
        1   RAMB18E2
        1   RAMB36E2
        1 submodules
        1   sub$top.u_a

=== design hierarchy ===

        +----------Count including submodules.
        |
       14 cells
        1   DSP48E2
        2   FDRE
        3   LUT2
        4   LUT6
        2   RAM32M16
        1   RAMB18E2
        1   RAMB36E2
        1 submodules
        1   sub$top.u_a
"""


def test_parsers():
    cells, modules = synth.parse_stat(STAT)
    assert cells == {"DSP48E2": 1, "FDRE": 2, "LUT2": 3, "LUT6": 4, "RAM32M16": 2, "RAMB18E2": 1, "RAMB36E2": 1}
    assert modules == {"top.u_a": {"LUT2": 3, "FDRE": 2},
                       "top": {"DSP48E2": 1, "LUT6": 4, "RAM32M16": 2, "RAMB18E2": 1, "RAMB36E2": 1}}
    c = synth.counts(cells)
    assert (c["lut"], c["lut_memory"], c["ff"], c["dsp"], c["bram36"]) == (7, 16, 2, 1, 1.5)
    flat = "=== m ===\n\n  3 wires\n  2 cells\n    2   LUT3\n\n"
    assert synth.parse_stat(flat) == ({"LUT3": 2}, {"m": {"LUT3": 2}})
    ltp = ("Longest topological path in a (length=7):\n    0: \\x [1]\n"
           "Longest topological path in b (length=12):\n    0: \\q_q [3]\n    1: y\n")
    assert synth.parse_ltp(ltp) == (12, "\\q_q [3]")
    with pytest.raises(RuntimeError, match="longest path"):
        synth.parse_ltp("nothing")
    with pytest.raises(RuntimeError, match="no statistics"):
        synth.parse_stat("nothing")


def _cell(kind: str, ins: list[int], outs: list[int]) -> dict:
    ports = {f"I{i}": [b] for i, b in enumerate(ins)} | {f"O{i}": [b] for i, b in enumerate(outs)}
    return {"type": kind, "connections": ports,
            "port_directions": {p: "input" if p.startswith("I") else "output" for p in ports}}


def test_carry8_levels():
    # A LUT, a chain of four CARRY4 (two CARRY8), a LUT: 4 levels as Vivado counts them
    # (ltp would say 6); a shorter side path of three LUTs does not win.
    cells = {"a": _cell("LUT2", [1, 2], [3]), "c0": _cell("CARRY4", [3], [4]), "c1": _cell("CARRY4", [4], [5]),
             "c2": _cell("CARRY4", [5], [6]), "c3": _cell("CARRY4", [6], [7]), "z": _cell("LUT3", [7, 2, 8], [9]),
             "s0": _cell("LUT1", [1], [10]), "s1": _cell("LUT1", [10], [11]), "s2": _cell("LUT1", [11], [12]),
             "k": _cell("GND", [], [8])}
    netlist = {"modules": {"LUT2": {"attributes": {}, "cells": {}},
                           "top": {"attributes": {"top": "1"}, "cells": cells}}}
    assert synth.carry8_levels(netlist) == (4, ["a", "c0", "c1", "c2", "c3", "z"])
    # One CARRY4 alone still counts a whole level (rounded up).
    single = {"modules": {"top": {"attributes": {"top": "1"},
                                  "cells": {"a": _cell("LUT2", [1], [2]), "c": _cell("CARRY4", [2], [3])}}}}
    assert synth.carry8_levels(single)[0] == 2


def test_levels_by_module():
    # Eleven LUTs from u_a into u_b (one over the target), and a three-LUT path inside
    # u_c: only the first is listed, under its end instance, with where it starts.
    chain = {f"$flatten\\u_a.$abc$lut{i}" if i < 5 else f"$flatten\\u_b.$abc$lut{i}":
             _cell("LUT2", [100 + i], [101 + i]) for i in range(11)}
    short = {f"$flatten\\u_c.$abc$lut{i}": _cell("LUT1", [200 + i], [201 + i]) for i in range(3)}
    netlist = {"modules": {"top": {"attributes": {"top": "1"}, "cells": {**chain, **short}}}}
    assert synth.levels_by_module(netlist) == {"u_a -> u_b": 11}
    # Lower, u_a is listed too: its own cells end a path of five.
    assert synth.levels_by_module(netlist, above=2) == {"u_a -> u_b": 11, "u_a -> u_a": 5, "u_c -> u_c": 3}


def test_parameters_and_names():
    p = synth.top_parameters("eftrain_top")
    # The block designs' core: a 256-bit master carries one HP port's peak at 200 MHz.
    assert p == {"TM": 16, "TN": 16, "IB_DEPTH": 2048, "OB_DEPTH": 2048, "WB_DEPTH": 1024, "AXI_DATA_WIDTH": 256}
    assert synth.run_name("eftrain_top", p) == "eftrain_top-tn16-ib2048-ob2048-wb1024-axi256"
    assert synth.top_parameters("eftrain_top", tn=4)["AXI_DATA_WIDTH"] == 128
    assert "AXI_DATA_WIDTH" not in synth.top_parameters("conv_engine", tn=8)
    assert synth.top_parameters("fp32_add") == {}
    assert synth.run_name("fp32_add", {}) == "fp32_add"
    u = synth.top_parameters("eftrain_top", tn=4, buffer_uram=True)
    assert u["BUFFER_URAM"] == 1 and synth.run_name("eftrain_top", u).endswith("-axi128-uram")
    assert synth.top_parameters("conv_engine", tn=4, buffer_uram=True)["BUFFER_URAM"] == 1
    assert synth.counts({"URAM288": 3, "RAMB18E2": 1})["uram"] == 3


@pytest.mark.parametrize("argv, message", [
    (["--top", "nope"], "unknown top"),
    (["--tn", "6"], "power of two"),
    (["--tn", "1"], "power of two"),
    (["--tn", "8", "--axi-data-width", "512"], "at most TN * 32"),
    (["--axi-bits", "96"], "power of two from 32"),
    (["--ib-depth", "0"], "ib_depth"),
    (["--board", "kc705"], "unknown board"),
    (["--fit", "--limit", "1.5"], "--limit"),
    (["--fit", "--net", "resnet"], "--net"),
    (["--fit", "--batch", "0"], "--batch"),
    (["--board", "zcu102", "--buffer-uram"], "no UltraRAM"),
    (["--fit", "--board", "zcu102", "--buffer-uram"], "no UltraRAM"),
])
def test_bad_input_exits_2(argv, message, capsys):
    assert synth.main(argv) == 2
    assert message in capsys.readouterr().err


def test_bad_input_raises_value_error():
    with pytest.raises(ValueError, match="unknown top"):
        synth.synthesize("nope", {}, synth.BUILD / "nope")
    with pytest.raises(ValueError, match="power of two"):
        synth.top_parameters("conv_engine", tn=12)
    with pytest.raises(ValueError, match="axi_bits"):
        resources.estimate(HwConfig(tm=4, tn=4), axi_bits=256)
    with pytest.raises(ValueError, match="limit"):
        resources.largest_fit(boards.ZCU102, limit=0)
    with pytest.raises(ValueError, match="width and depth"):
        resources.ram_bram36(0, 512)


# ---- the resource model -----------------------------------------------------------------

def test_block_ram_shapes_match_yosys():
    # What Yosys mapped one sdp_ram of these shapes to (RAMB36 equivalents; the
    # RAMB18_SHAPES comment lists the cells).
    probed = {(64, 512): 1, (128, 256): 2, (512, 2048): 28.5, (512, 1024): 14.5, (256, 2048): 14.5,
              (32, 2048): 2, (96, 512): 1.5, (32, 256): 0.5, (512, 512): 7.5, (36, 512): 0.5, (72, 1024): 2,
              (20, 512): 0.5}
    for (width, depth), blocks in probed.items():
        assert resources.ram_bram36(width, depth) == blocks, (width, depth)


def test_calibration_runs_are_reproduced():
    # Block RAM is counted from the RAM shapes, so exactly; LUT, FF and DSP are fitted.
    runs = resources.calibration()
    assert sorted(r["tn"] for r in runs) == list(synth.CALIBRATION_TNS)
    for r in runs:
        cfg = HwConfig(tm=r["tn"], tn=r["tn"], ib_depth=r["ib_depth"], ob_depth=r["ob_depth"], wb_depth=r["wb_depth"])
        est, total = resources.estimate(cfg, axi_bits=r["axi_bits"]), r["total"]
        assert est.bram36 == total["bram36"], r["tn"]
        # (The layer controller's products take a few more DSPs at small TN than at 16:
        # the constant the model fits for control is within 3 % of every run.)
        assert abs(est.dsp - total["dsp"]) <= 0.03 * total["dsp"], (r["tn"], est.dsp, total["dsp"])
        assert abs(est.lut - total["lut"]) <= 0.03 * total["lut"], (r["tn"], est.lut, total["lut"])
        assert abs(est.ff - total["ff"]) <= 0.03 * total["ff"], (r["tn"], est.ff, total["ff"])
        # The groups add up to the whole design.
        assert [sum(g[i] for g in r["groups"].values()) for i in range(3)] == [total["lut"], total["ff"], total["dsp"]]


def test_dsps_are_structural():
    # 4 DSP48E2 per multiplier-adder pair: 2 for the multiplier's significand product, 2
    # for the adder's alignment and normalisation shifts; one pair per processing element
    # and one per AXI lane (the store merge's SGD step).
    c = resources.coefficients()["dsp"]
    assert c.pe == pytest.approx(4, abs=0.05) and c.lane == pytest.approx(4, abs=0.05)


def test_model_grows_with_the_array():
    previous = None
    for tn in (2, 4, 8, 16, 32):
        r = resources.estimate(HwConfig(tm=tn, tn=tn))
        if previous:
            assert r.lut > previous.lut and r.ff > previous.ff and r.dsp > previous.dsp
            assert r.bram36 > previous.bram36
        previous = r
    # The default 16 x 16 core: IB and OB 2 x 28.5 (512 x 2048 bits: 57 RAMB18 of 9 x
    # 2048), WB 16 lanes x 2 halves x 7.5 (512 x 512: 15 RAMB18 of 36 x 512), the pool
    # unit's line buffers 7.5 + 1.
    assert resources.estimate(HwConfig(tm=16, tn=16)).bram36 == 57 + 57 + 240 + 8.5


def test_largest_fit_on_the_boards(capsys):
    for board in boards.BOARDS.values():
        fit = resources.largest_fit(board)
        use = fit.resources.use(board)
        assert use["lut"] < 0.8 and use["dsp"] < 0.8 and use["bram36"] <= 1
        nxt = fit.next_up.use(board)
        assert nxt["lut"] >= 0.8 or nxt["dsp"] >= 0.8 or nxt["bram36"] > 1
        assert fit.tn & (fit.tn - 1) == 0 and fit.tn <= fit.tn_any < 2 * fit.tn
    # (LeNet for the GFLOPS line: VGG-16 at 224 x 224, the default, plans for a minute.)
    assert synth.main(["--fit", "--net", "lenet"]) == 0
    out = capsys.readouterr().out
    assert "beyond the current RTL" in out and "zcu102" in out and "lenet training step" in out
    fit = resources.largest_fit(boards.ZCU102)
    peak = 2 * fit.tn * fit.tn * 0.1
    gflops = float(out.split("MAC utilisation: ")[1].split(" GFLOPS")[0])
    assert 0 < gflops <= peak


def test_groups_split_the_instances():
    # The calibration figures come from a run's per-instance counts; every instance
    # lands in exactly one group.
    modules = {"eftrain_top": {"LUT6": 2}, "eftrain_top.u_ctrl": {"LUT6": 5, "DSP48E2": 3},
               "eftrain_top.u_engine": {"FDRE": 4},
               "eftrain_top.u_engine.u_compute.u_array.g_lane[0].g_pe[0].u_mul": {"DSP48E2": 2},
               "eftrain_top.u_merge.g_lane[0].u_add": {"LUT3": 7}}
    assert resources.groups(modules) == {"array": {"DSP48E2": 2}, "engine": {"FDRE": 4}, "axi": {"LUT3": 7},
                                         "control": {"LUT6": 7, "DSP48E2": 3}}


# ---- the input and output buffers in UltraRAM (BUFFER_URAM) ------------------------------

def _yosys(script: str, name: str) -> str:
    """Run a Yosys script (paths relative to the repository: Yosys runs in WebAssembly
    there) under build/synth/<name>/; its log."""
    out = synth.BUILD / name
    out.mkdir(parents=True, exist_ok=True)
    (out / "run.ys").write_text(script)
    run = subprocess.run([synth._yosys(), "-s", str((out / "run.ys").relative_to(REPO))], cwd=REPO,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr
    return run.stdout


@pytest.mark.parametrize("buffer_uram", [0, 1])
def test_buffer_uram_reaches_the_buffers(buffer_uram):
    """The Vivado top's BUFFER_URAM reaches the ram_style attribute of the four IB and
    OB RAMs and of no other (the front end only, at a tiny size: seconds)."""
    files = " ".join(str(p.relative_to(REPO)) for p in filelist("eftrain_top"))
    params = {"TN": 2, "IB_DEPTH": 64, "OB_DEPTH": 64, "WB_DEPTH": 16, "AXI_DATA_WIDTH": 64,
              "BUFFER_URAM": buffer_uram}
    name = f"test-buffer-uram{buffer_uram}"
    _yosys(f"read_slang -j 1 -D SYNTHESIS {' '.join(f'-G {k}={v}' for k, v in params.items())} "
           f"--top eftrain_top_wrapper {files} fpga/eftrain_top_wrapper.v\n"
           "hierarchy -top eftrain_top_wrapper\n"
           "proc\nflatten\nmemory_collect\n"
           f"tee -q -o build/synth/{name}/all.txt select -list t:$mem_v2\n"
           f"tee -q -o build/synth/{name}/ultra.txt select -list t:$mem_v2 a:ram_style=ultra %i\n", name)
    memories = (synth.BUILD / name / "all.txt").read_text().split()
    ultra = (synth.BUILD / name / "ultra.txt").read_text().split()
    # IB, OB and WB (2 x TM) at least, whatever the setting.
    assert sum(".u_ram." in m for m in memories) >= 4 + 2 * 2, memories
    if buffer_uram:
        assert len(ultra) == 4, ultra
        assert sum(".g_ib[" in m for m in ultra) == 2 and sum(".g_ob[" in m for m in ultra) == 2, ultra
    else:
        assert ultra == [], ultra


def test_yosys_maps_the_uram_ram_without_extra_logic():
    """sdp_ram with URAM = 1 becomes URAM288s (the read-first port pair of a URAM288: the
    read on port A, which acts before port B's write), as many as the resource model
    counts, and nothing else: no LUT or flop emulates the read enable, the output
    register or the read-during-write behaviour. With URAM = 0 no URAM288."""
    for uram, width, depth in ((1, 144, 512), (1, 64, 64), (0, 144, 512)):
        log = _yosys(f"read_slang -j 1 -G WIDTH={width} -G DEPTH={depth} -G URAM={uram} --top sdp_ram "
                     "rtl/sdp_ram.sv\n"
                     "synth_xilinx -family xcup -top sdp_ram\n"
                     "tee -o build/synth/test-sdp-uram/stat.txt stat\n", "test-sdp-uram")
        cells, _ = synth.parse_stat((synth.BUILD / "test-sdp-uram" / "stat.txt").read_text())
        logic = {c: n for c, n in cells.items() if not c.endswith("BUF") and c not in ("BUFG", "URAM288", "RAMB18E2",
                                                                                      "RAMB36E2", "GND", "VCC")}
        if uram:
            assert "forced mapping to huge RAM" in log
            assert cells.get("URAM288") == resources.ram_uram288(width, depth), cells
            assert logic == {}, logic
        else:
            assert "URAM288" not in cells and cells.get("RAMB36E2", 0) + cells.get("RAMB18E2", 0) > 0, cells


def test_resource_model_counts_the_buffers_in_uram(capsys):
    # 16 x 16: IB and OB leave block RAM (4 x 28.5 BRAM36) for 4 x 8 URAM288 (512 bits
    # over 72-bit columns; 2048 words in one 4096-deep URAM288).
    cfg = HwConfig(tm=16, tn=16)
    bram, uram = resources.estimate(cfg), resources.estimate(cfg, buffer_uram=True)
    assert (bram.bram36, bram.uram) == (362.5, 0)
    assert (uram.bram36, uram.uram) == (362.5 - 4 * 28.5, 32)
    assert (uram.lut, uram.ff, uram.dsp) == (bram.lut, bram.ff, bram.dsp)
    assert uram.use(boards.ZCU104)["bram36"] <= 0.8 < bram.use(boards.ZCU104)["bram36"]
    assert uram.use(boards.ZCU104)["uram"] == pytest.approx(32 / 96)
    assert uram.use(boards.ZCU102)["uram"] == float("inf") and bram.use(boards.ZCU102)["uram"] == 0
    assert [resources.ram_uram288(w, d) for w, d in ((72, 4096), (73, 4096), (512, 2048), (256, 8192))] == [1, 2, 8, 8]
    with pytest.raises(ValueError, match="no UltraRAM"):
        resources.largest_fit(boards.ZCU102, buffer_uram=True)
    # The ZCU104's block design puts them in UltraRAM, the ZCU102's in block RAM; on the
    # ZCU104 only that lets a 16 x 16 core's block RAMs fit.
    assert integration.buffer_uram(boards.ZCU104) and not integration.buffer_uram(boards.ZCU102)
    fit = resources.largest_fit(boards.ZCU104, buffer_uram=True)
    assert fit.buffer_uram and fit.resources.uram > 0
    assert fit.tn >= resources.largest_fit(boards.ZCU104).tn
    big = resources.estimate(HwConfig(tm=16, tn=16), axi_bits=integration.axi_bits(16, boards.ZCU104),
                             buffer_uram=True).use(boards.ZCU104)
    assert big["bram36"] <= 0.8 and big["uram"] <= 0.8
    zcu104 = integration.TCL_PATH.read_text().split("zcu104 {", 1)[1].splitlines()[0]
    assert "buffer_uram 1}" in zcu104 and f"tn {integration.array_size(boards.ZCU104)} " in zcu104
    # --fit follows the board's block design (or the option), and says what the next size
    # lacks.
    assert synth.main(["--fit", "--board", "zcu104", "--net", "lenet"]) == 0
    out = capsys.readouterr().out
    assert "BUFFER_URAM = 1" in out and "URAM" in out.splitlines()[1]
    assert "it would fit with" in out
    assert synth.main(["--fit", "--board", "zcu104", "--no-buffer-uram", "--net", "lenet"]) == 0
    assert "BUFFER_URAM = 0" in capsys.readouterr().out


def test_report_lists_uram():
    result = synth.SynthResult(top="eftrain_top", parameters={"TN": 16, "BUFFER_URAM": 1}, lut=1, lut_memory=0, ff=1,
                               dsp=1, bram36=248.5, carry=0, logic_levels=1, path_start="x", seconds=1.0, uram=32)
    text = synth.report(result, boards.ZCU104)
    assert "URAM288" in text and "33.3%" in text
    assert "has no UltraRAM" in synth.report(result, boards.ZCU102)
    # A URAM288 ends a path like a block RAM: the logic-level cut deletes it too.
    cut = synth.script("eftrain_top", {}, synth.BUILD / "x").split("\ndelete ", 1)[1].split("\n", 1)[0].split()
    assert {"t:RAMB*", "t:URAM288", "t:DSP48E2"} <= set(cut)

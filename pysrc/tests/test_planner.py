"""The performance model, the tiling planner and `eftrain plan` (no simulator; the model
against the RTL is tb/bench/test_bench.py and `make bench`)."""

from __future__ import annotations

import json
import math

import pytest

from eftrain import HwConfig, boards, cli, integration, planner
from eftrain import descriptor as dsc
from eftrain.descriptor import Descriptor, Opcode
from eftrain.perfmodel import Dram, predict

CFG = HwConfig(tm=16, tn=16, kmax=3, ib_depth=2048, ob_depth=2048, wb_depth=1024)


def conv(opcode, n, m, size, tile_rows, batch=2):
    return Descriptor(opcode=opcode, k=3, stride=1, pad=1, batch=batch, tile_rows=tile_rows,
                      n=n, m=m, h=size, w=size)


@pytest.mark.parametrize("opcode", [Opcode.CONV_FP, Opcode.CONV_BP, Opcode.CONV_WU])
def test_compute_bound_layer_is_its_issue_cycles_plus_overheads(opcode):
    # With a memory far faster than the array, a layer takes its issue cycles (one kernel
    # position of one output pixel per cycle) plus per-command overheads only.
    desc = conv(opcode, 64, 64, 16, 16)
    fast = Dram(latency=0, bytes_per_cycle=1e9)
    p = predict(desc, CFG, fast, axi_data_bytes=1 << 20)
    issue = 2 * 4 * 4 * 9 * 16 * 16          # batch x M/TN x N/TN x K*K x pixels
    assert p.mac_cycles == p.compute_cycles == issue
    assert issue < p.cycles < issue * 1.02


def test_memory_bound_layer_follows_the_bandwidth():
    # Halving the bandwidth of a weight-dominated layer nearly doubles its cycles.
    desc = conv(Opcode.CONV_FP, 512, 512, 2, 2)
    slow = predict(desc, CFG, Dram(bytes_per_cycle=20.0), 64)
    slower = predict(desc, CFG, Dram(bytes_per_cycle=10.0), 64)
    assert slow.read_bytes >= 512 * 512 * 9 * 4
    assert 1.8 < slower.cycles / slow.cycles <= 2.0
    assert slow.cycles >= slow.memory_cycles >= slow.tensor_cycles


@pytest.mark.parametrize("n,m,size", [(3, 64, 32), (64, 128, 16), (256, 512, 4), (512, 512, 2)])
def test_prediction_is_bounded_by_its_roofline(n, m, size):
    for opcode in (Opcode.CONV_FP, Opcode.CONV_BP, Opcode.CONV_WU):
        rows = dsc.largest_tile_rows(opcode, 3, 1, 1, n, m, size, size, CFG)
        p = predict(conv(opcode, n, m, size, rows), CFG, Dram(), 64)
        assert p.cycles >= p.roofline_cycles
        assert 0 < p.mac_utilisation <= 1


def test_tile_options_are_distinct_fitting_tilings():
    opts = planner.tile_options(Opcode.CONV_FP, 3, 1, 1, 64, 64, 224, 224, CFG)
    assert opts == sorted(set(opts), reverse=True)
    assert opts[0] == dsc.largest_tile_rows(Opcode.CONV_FP, 3, 1, 1, 64, 64, 224, 224, CFG)
    assert all(dsc.tile_fits(Opcode.CONV_FP, 3, 1, 1, 64, 64, 224, 224, r, CFG) for r in opts)
    assert len({math.ceil(224 / r) for r in opts}) == len(opts)


def test_planner_picks_the_fastest_fitting_tiling():
    desc = conv(Opcode.CONV_WU, 128, 128, 16, 1)
    chosen, p = planner.plan_descriptor(desc, CFG, Dram(), 64)
    options = planner.tile_options(Opcode.CONV_WU, 3, 1, 1, 128, 128, 16, 16, CFG)
    assert chosen.tile_rows in options
    assert p.cycles == min(predict(conv(Opcode.CONV_WU, 128, 128, 16, r), CFG, Dram(), 64).cycles
                           for r in options)


def test_planner_reports_layers_that_do_not_fit():
    plan = planner.plan_network("vgg16", planner.vgg16(), 1, HwConfig(tm=16, tn=16, kmax=5),
                                boards.ZCU102, Dram(), 100.0, 64)
    misfits = {(op.layer, op.phase): op.misfit for op in plan.ops if op.prediction is None}
    # 4096 outputs: over the descriptor's 12-bit channel count.
    assert {layer for layer, _ in misfits} == {"fc1", "fc2", "fc3"}
    assert "split" in misfits[("fc2", "FP")]
    assert "fc1 FP" in planner.report(plan)
    lenet = planner.plan_network("lenet", planner.lenet(), 1, CFG, boards.ZCU102, Dram(), 100.0, 64)
    assert "KMAX" in next(op.misfit for op in lenet.ops if op.layer == "conv1")


@pytest.mark.parametrize("net", sorted(planner.NETS))
def test_every_net_plans(net, capsys):
    assert cli.main(["plan", "--net", net, "--batch", "2", "--kmax", "7", "--wb-depth", "4096", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    ops = [op for op in out["ops"] if "cycles" in op]
    assert ops and out["totals"]["total"]["cycles"] == sum(op["cycles"] for op in ops)
    assert 0 < out["totals"]["total"]["mac_utilisation"] <= 1
    # GFLOPS never exceed the array's peak at the clock.
    assert all(op["gflops"] <= 2 * 16 * 16 * out["clock_mhz"] * 1e6 / 1e9 for op in ops)


def test_plan_table_has_totals(capsys):
    assert cli.main(["plan", "--net", "lenet", "--board", "zcu104", "--batch", "4"]) == 0
    out = capsys.readouterr().out
    assert "zcu104" in out and "total" in out and "GFLOPS" in out


@pytest.mark.parametrize("args, message", [
    (["--tn", "12"], "power of two"),
    (["--axi-bits", "1024"], "--axi-bits"),
    (["--board", "zcu999"], "invalid choice"),
    (["--dram-bytes-per-cycle", "0"], "positive"),
])
def test_plan_rejects_bad_options(args, message, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["plan", *args])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_boards():
    assert boards.board("ZCU102").dsp == 2520 and boards.board("zcu104").uram == 96
    # One HP port: 128 bits at 333 MHz, 80 % sustained, per 100 MHz core cycle.
    assert boards.ZCU102.dram_bytes_per_cycle(100.0) == pytest.approx(16 * 333e6 * 0.8 / 100e6)
    # The narrowest master that carries the port's peak (16 B x 333 MHz): 64 bytes a
    # cycle at 100 MHz, 32 at 200 MHz (26.6 needed), 16 at 400 MHz (13.3).
    assert [boards.ZCU102.axi_bits_for(mhz) for mhz in (100.0, 200.0, 333.0, 400.0)] == [512, 256, 128, 128]
    with pytest.raises(ValueError, match="known: zcu102, zcu104"):
        boards.board("kc705")


def test_dram_rejects_bad_values():
    with pytest.raises(ValueError, match="latency"):
        Dram(latency=-1)
    with pytest.raises(ValueError, match="bytes_per_cycle"):
        Dram(bytes_per_cycle=0)


@pytest.mark.parametrize("tn, fits, buildable", [(4, True, True), (32, False, False)])
def test_plan_says_whether_the_array_fits_the_board(tn, fits, buildable, capsys):
    """The resource model's verdict is in the table, in the JSON and, when the array cannot
    be built, loudly on stderr (a 32x32 array is over the ZCU102's LUTs and DSPs)."""
    assert cli.main(["plan", "--net", "lenet", "--batch", "2", "--tn", str(tn), "--axi-bits", "128"]) == 0
    captured = capsys.readouterr()
    assert ("DOES NOT FIT" in captured.out) == (not fits)
    assert ("WARNING" in captured.err) == (not buildable)
    assert "46.99" in captured.out
    assert cli.main(["plan", "--net", "lenet", "--batch", "2", "--tn", str(tn), "--axi-bits", "128", "--json"]) == 0
    resources = json.loads(capsys.readouterr().out)["resources"]
    assert (resources["fits"], resources["buildable"]) == (fits, buildable)
    assert (max(resources["use"].values()) <= 1.0) == fits


def test_plan_warns_over_the_routing_limit():
    """Under 100 % but over the integration's limit is not buildable either."""
    fit = {"use": {"lut": 0.9, "ff": 0.2, "dsp": 0.3, "bram36": 0.4}, "limit": 0.8, "fits": True, "buildable": False}
    assert "over the 80%" in planner.fit_verdict(fit) and "lut 90%" in planner.fit_verdict(fit)
    assert planner.fit_verdict({**fit, "buildable": True}) is None


def test_plan_defaults_are_the_block_design_core(capsys):
    """Without --tn, --axi-bits and --clock-mhz the plan is for the core that the board's
    block design builds (fpga/common/integration.tcl), which the resource model says fits."""
    assert cli.main(["plan", "--net", "lenet", "--batch", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    tn = integration.array_size(boards.ZCU102)
    assert out["config"]["tn"] == tn and out["clock_mhz"] == integration.CORE_CLOCK_MHZ
    assert out["resources"]["buildable"]
    assert integration.main(["--check"]) == 0, "fpga/common/integration.tcl is stale: python -m eftrain.integration"
    assert f"zcu102 {{tn {tn} axi_data_width {integration.axi_bits(tn)} " in integration.TCL_PATH.read_text()

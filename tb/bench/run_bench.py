"""`make bench`: measured performance of the core against the performance model.

Runs convolution layers FP, BP and WU on ``eftrain_top`` under Verilator with the DRAM
model of tb/bench/axi_dram_model.sv (latency and bandwidth configurable; the defaults are
one ZCU102 HP port, :mod:`eftrain.boards`), every result checked bit for bit against the
oracle, with the tiling the planner chooses. Prints per layer and phase: measured and
predicted cycles and the model's error, MAC utilisation, roofline efficiency, average
burst length, DRAM bytes and the simulator's speed; writes JSON and a PNG chart.

Layer sets (``--set``):
* ``vgg16-cifar``: every distinct convolution shape of VGG-16 on 32x32 inputs;
* ``vgg16-224``: two VGG-16 layers at 224x224 resolution on a band of rows (the full
  layer repeats the same row tiles: its cycles are the band's times rows / band rows);
* ``smoke``: one small layer on a small array (the regression runs it).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))   # the cocotb module, imported by the simulator

from eftrain import HwConfig, boards, integration  # noqa: E402
from eftrain.integration import CORE_CLOCK_MHZ  # noqa: E402
from eftrain.descriptor import Descriptor, Opcode  # noqa: E402
from eftrain.perfmodel import Dram, predict  # noqa: E402
from eftrain.planner import plan_descriptor  # noqa: E402
from eftrain_tb import sim  # noqa: E402
from eftrain_tb.rtl import BUILD  # noqa: E402

PHASE_OPCODE = {"FP": Opcode.CONV_FP, "BP": Opcode.CONV_BP, "WU": Opcode.CONV_WU}

# name, n, m, h (= w), rows actually run (None: all)
LAYER_SETS = {
    "vgg16-cifar": [("c32_3_64", 3, 64, 32, None), ("c32_64_64", 64, 64, 32, None),
                    ("c16_64_128", 64, 128, 16, None), ("c16_128_128", 128, 128, 16, None),
                    ("c8_128_256", 128, 256, 8, None), ("c8_256_256", 256, 256, 8, None),
                    ("c4_256_512", 256, 512, 4, None), ("c4_512_512", 512, 512, 4, None),
                    ("c2_512_512", 512, 512, 2, None)],
    "vgg16-224": [("c224_64_64", 64, 64, 224, 16), ("c112_128_128", 128, 128, 112, 16)],
    "smoke": [("smoke_16_16", 16, 16, 8, None)],
}


def make_jobs(args) -> dict:
    cfg = HwConfig(tm=args.tn, tn=args.tn, kmax=3, ib_depth=args.ib_depth, ob_depth=args.ob_depth,
                   wb_depth=args.wb_depth)
    dram = Dram(latency=args.dram_latency, bytes_per_cycle=args.dram_bytes_per_cycle)
    layers = []
    for set_name in args.set:
        for name, n, m, size, band in LAYER_SETS[set_name]:
            h = band or size
            tile_rows = {}
            for phase, opcode in PHASE_OPCODE.items():
                desc = Descriptor(opcode=opcode, k=3, stride=1, pad=1, batch=args.batch, tile_rows=1,
                                  n=n, m=m, h=h, w=size)
                tile_rows[phase] = plan_descriptor(desc, cfg, dram, args.axi_bits // 8)[0].tile_rows
            layers.append({"name": name, "batch": args.batch, "n": n, "m": m, "h": h, "w": size, "k": 3,
                           "stride": 1, "pad": 1, "phases": list(PHASE_OPCODE), "tile_rows": tile_rows,
                           "full_h": size})
    return {"config": {"tn": args.tn, "kmax": 3, "ib_depth": args.ib_depth, "ob_depth": args.ob_depth,
                       "wb_depth": args.wb_depth, "axi_data_width": args.axi_bits},
            "dram": {"latency": args.dram_latency, "bytes_per_cycle": args.dram_bytes_per_cycle},
            "layers": layers}, cfg, dram


def evaluate(jobs: dict, measured: list[dict], cfg: HwConfig, dram: Dram, axi_bytes: int) -> list[dict]:
    """Each measured run next to the model's prediction."""
    by_name = {layer["name"]: layer for layer in jobs["layers"]}
    rows = []
    for run in measured:
        layer = by_name[run["layer"]]
        desc = Descriptor(opcode=PHASE_OPCODE[run["phase"]], k=3, stride=1, pad=1, batch=layer["batch"],
                          tile_rows=layer["tile_rows"][run["phase"]], n=layer["n"], m=layer["m"],
                          h=layer["h"], w=layer["w"])
        p = predict(desc, cfg, dram, axi_bytes)
        cycles = run["busy"]
        bursts = run["axi_rd_bursts"] + run["axi_wr_bursts"]
        rows.append({
            "layer": run["layer"], "phase": run["phase"], "tile_rows": desc.tile_rows,
            "shape": f"{layer['n']}->{layer['m']} {layer['h']}x{layer['w']}",
            "measured_cycles": cycles, "predicted_cycles": p.cycles, "mac_cycles": run["mac"],
            "full_use_cycles": p.mac_cycles,
            "model_error": (p.cycles - cycles) / cycles,
            # Useful MACs only (a layer with channels not a multiple of TN keeps the array
            # busy on padding); the array's own busy count is array_busy.
            "mac_utilisation": p.mac_cycles / cycles,
            "array_busy": run["mac"] / cycles,
            "predicted_mac_utilisation": p.mac_utilisation,
            "roofline_cycles": p.roofline_cycles, "roofline_efficiency": p.roofline_cycles / cycles,
            "avg_burst_beats": (run["axi_rd_beats"] + run["axi_wr_beats"]) / bursts if bursts else 0.0,
            "dram_bytes": (run["axi_rd_beats"] + run["axi_wr_beats"]) * axi_bytes,
            "sim_cycles_per_second": cycles / run["wall_seconds"],
            "rows_run": layer["h"], "rows_full": layer["full_h"],
        })
    return rows


def print_table(rows: list[dict]) -> None:
    print(f"\n{'layer':13s} {'ph':2s} {'shape':16s} {'rows':>4s} {'measured':>10s} {'predicted':>10s} "
          f"{'error':>6s} {'MAC use':>7s} {'roofline':>8s} {'burst':>6s} {'DRAM MB':>8s} {'cyc/s':>7s}")
    for r in rows:
        print(f"{r['layer']:13s} {r['phase']:2s} {r['shape']:16s} {r['tile_rows']:4d} {r['measured_cycles']:10,d} "
              f"{r['predicted_cycles']:10,d} {100 * r['model_error']:+5.1f}% {100 * r['mac_utilisation']:6.1f}% "
              f"{100 * r['roofline_efficiency']:7.1f}% {r['avg_burst_beats']:6.1f} {r['dram_bytes'] / 1e6:8.2f} "
              f"{r['sim_cycles_per_second']:7,.0f}")
    band = [r for r in rows if r["rows_run"] != r["rows_full"]]
    for r in band:
        print(f"{r['layer']} {r['phase']}: ran {r['rows_run']} of {r['rows_full']} rows; the full layer is "
              f"about {r['measured_cycles'] * r['rows_full'] / r['rows_run']:,.0f} cycles (rows scale linearly)")


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r['layer']} {r['phase']}" for r in rows]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.35 * len(rows)), 4.0))
    xs = range(len(rows))
    ax.bar([x - 0.2 for x in xs], [100 * r["mac_utilisation"] for r in rows], 0.4, label="measured MAC use")
    ax.bar([x + 0.2 for x in xs], [100 * r["predicted_mac_utilisation"] for r in rows], 0.4,
           label="model")
    ax.axhline(95, color="grey", linestyle="--", linewidth=0.8)
    ax.set_xticks(list(xs))
    ax.set_xticklabels(labels, rotation=90, fontsize=7)
    ax.set_ylabel("MAC utilisation (%)")
    ax.set_ylim(0, 105)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def simulate(args, jobs_path: Path, measured_path: Path) -> None:
    """Run the jobs on bench_top; the cocotb module writes the measurements."""
    sim.run(top="bench_top", test_module="top_bench", module_dir=HERE, test_name="bench", seed=args.seed,
            rtl_tops=["eftrain_top"],
            extra_sources=[HERE / "bench_public.vlt", HERE / "axi_dram_model.sv", HERE / "bench_top.sv"],
            parameters={"TN": args.tn, "KMAX": 3, "IB_DEPTH": args.ib_depth, "OB_DEPTH": args.ob_depth,
                        "WB_DEPTH": args.wb_depth, "AXI_DATA_WIDTH": args.axi_bits},
            extra_env={"BENCH_JOBS": str(jobs_path), "BENCH_RESULTS": str(measured_path)},
            # Only the ports and the DRAM model's memory are reached from Python
            # (bench_public.vlt): every other signal stays private, which lets the simulator
            # optimise across the hierarchy (7x faster at 16x16), and the model is compiled
            # with -O2 instead of -Os (1.4x; the first build takes minutes longer).
            extra_build_args=["--no-public-flat-rw", "-CFLAGS", "-O2"],
            # The fp32 units' simulation-only double-arithmetic model (bit-identical to
            # their datapath, checked by tb/fp32 on every vector): the array's 2 x TM x TN
            # units dominate the simulator's time. --rtl-fp32 simulates the datapath.
            defines=[] if args.rtl_fp32 else ["EFTRAIN_FAST_FP32"])


def main(argv: list[str] | None = None) -> int:
    zcu102 = boards.ZCU102
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", nargs="+", choices=sorted(LAYER_SETS), default=["vgg16-cifar", "vgg16-224"],
                        help="layer sets to run")
    parser.add_argument("--tn", type=int, default=16, help="TM = TN of the array")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--ib-depth", type=int, default=2048)
    parser.add_argument("--ob-depth", type=int, default=2048)
    parser.add_argument("--wb-depth", type=int, default=1024)
    parser.add_argument("--axi-bits", type=int, default=None,
                        help="AXI data width of the core (default: the block design's, eftrain.integration)")
    parser.add_argument("--dram-latency", type=int, default=30, help="cycles from address to first data")
    parser.add_argument("--dram-bytes-per-cycle", type=float, default=round(zcu102.dram_bytes_per_cycle(CORE_CLOCK_MHZ), 1),
                        help=f"bytes per cycle each way (default: one ZCU102 HP port at {CORE_CLOCK_MHZ:g} MHz)")
    parser.add_argument("--out", type=Path, default=BUILD / "bench", help="output directory")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rtl-fp32", action="store_true",
                        help="simulate the fp32 units' RTL datapath instead of their fast model (slower)")
    parser.add_argument("--report-only", action="store_true",
                        help="no simulation: compare the measurements of the last run in --out with the "
                             "model again (same options as that run)")
    args = parser.parse_args(argv)
    if args.axi_bits is None:
        args.axi_bits = integration.axi_bits(args.tn)
    args.out = args.out.resolve()   # the simulator runs in its own directory
    args.out.mkdir(parents=True, exist_ok=True)
    jobs, cfg, dram = make_jobs(args)
    jobs_path, measured_path = args.out / "jobs.json", args.out / "measured.json"
    start = time.monotonic()
    if args.report_only:
        if not measured_path.exists():
            parser.error(f"--report-only: no measurements in {args.out}")
        jobs = json.loads(jobs_path.read_text())
    else:
        jobs_path.write_text(json.dumps(jobs, indent=1))
        measured_path.unlink(missing_ok=True)
        runs = sum(len(layer["phases"]) for layer in jobs["layers"])
        print(f"benchmark: eftrain_top {args.tn}x{args.tn}, AXI {args.axi_bits} bits, DRAM latency "
              f"{args.dram_latency} cycles, {args.dram_bytes_per_cycle} B/cycle, fp32 units: "
              f"{'RTL datapath' if args.rtl_fp32 else 'fast model (EFTRAIN_FAST_FP32)'}; {runs} runs "
              f"(a line per run; minutes)", flush=True)
        simulate(args, jobs_path, measured_path)
    measured = json.loads(measured_path.read_text())
    rows = evaluate(jobs, measured, cfg, dram, args.axi_bits // 8)
    print_table(rows)
    total = sum(r["measured_cycles"] for r in rows)
    wall = sum(m["wall_seconds"] for m in measured)
    print(f"\nsimulated {total:,} cycles in {wall:.0f} s of run time: {total / wall:,.0f} cycles/s "
          f"({time.monotonic() - start:.0f} s in all)")
    (args.out / "bench.json").write_text(json.dumps({"jobs": jobs, "results": rows,
                                                     "fp32_units": "rtl" if args.rtl_fp32 else "fast"}, indent=1))
    plot(rows, args.out / "bench.png")
    print(f"JSON: {args.out / 'bench.json'}; chart: {args.out / 'bench.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`make bench`: the top-level benchmark (tb/bench/top_bench.py) on one configuration.

Prints a table of cycles, MAC utilisation and burst lengths per phase and the simulator's
speed, and writes build/bench/bench_top.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from eftrain_tb import sim  # noqa: E402
from eftrain_tb.rtl import BUILD  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tn", type=int, default=8, help="TM = TN of the array (default 8)")
    parser.add_argument("--layer", default="2,64,64,32,3,1",
                        help="batch,n,m,size,k,pad of the conv layer (default 2,64,64,32,3,1)")
    parser.add_argument("--depths", default="2048,2048,1024", help="IB_DEPTH,OB_DEPTH,WB_DEPTH")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    ib, ob, wb = (int(v) for v in args.depths.split(","))
    print(f"benchmark: eftrain_top {args.tn}x{args.tn}, layer batch,n,m,size,k,pad = {args.layer} "
          f"(FP, BP, WU; takes a few minutes)", flush=True)
    start = time.monotonic()
    test_dir = sim.run(
        top="eftrain_top", test_module="top_bench", module_dir=HERE, test_name="bench", seed=args.seed,
        rtl_tops=["eftrain_top"],
        parameters={"TM": args.tn, "TN": args.tn, "IB_DEPTH": ib, "OB_DEPTH": ob, "WB_DEPTH": wb},
        extra_env={"BENCH_TN": str(args.tn), "BENCH_IB_DEPTH": str(ib), "BENCH_OB_DEPTH": str(ob),
                   "BENCH_WB_DEPTH": str(wb), "BENCH_LAYER": args.layer},
    )
    seconds = time.monotonic() - start
    results = json.loads((test_dir / "bench_top.json").read_text())
    out = BUILD / "bench" / "bench_top.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(test_dir / "bench_top.json", out)
    total_cycles = sum(p["busy_cycles"] for p in results["phases"].values())
    print(f"\n{'phase':6s} {'tile rows':>9s} {'cycles':>10s} {'MAC util':>9s} {'avg burst':>10s} "
          f"{'rd beats':>9s} {'wr beats':>9s} {'stall ld':>9s} {'stall haz':>9s}")
    for name, p in results["phases"].items():
        print(f"{name:6s} {p['tile_rows']:9d} {p['busy_cycles']:10d} {100 * p['mac_utilisation']:8.1f}% "
              f"{p['avg_burst_beats']:10.1f} {p['axi_read_beats']:9d} {p['axi_write_beats']:9d} "
              f"{p['stall_load']:9d} {p['stall_hazard']:9d}")
    print(f"\nsimulated {total_cycles} busy cycles in {seconds:.0f} s of wall time "
          f"(build included): {total_cycles / seconds:.0f} cycles/s; JSON in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

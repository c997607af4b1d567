"""Oracle speed benchmark: one 64->64 channel 3x3 conv layer (pad 1, stride 1, 32x32
inputs, batch 4), each phase (FP, BP, WU) in each mode, median of ``--repeat`` runs.

Modes timed:

* ``reference``: float64 (``cfg=None``);
* ``exact``: the bit-exact fp32 model on ordinary data, where the oracle proves that no
  result can be subnormal and skips the flushes (see ``oracle._flush_needed``);
* ``exact-flush``: the same data with one tiny activation (2^-100), which makes
  subnormal products possible, so every operation is flushed: the worst case.

Prints a table, then one JSON line (``{"benchmark": "oracle", ...}``) for scripts.
Run: ``python -m eftrain.bench_oracle [--repeat N] [--tn TN]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import numpy as np

from eftrain import HwConfig, oracle

BATCH, CHANNELS_IN, CHANNELS_OUT, SIZE, KERNEL, PAD, STRIDE = 4, 64, 64, 32, 3, 1, 1
PHASES = ("fp", "bp", "wu")
# What a phase must stay under in exact mode on a 2-core machine (the oracle's brief).
EXACT_LIMIT_S = 2.0


def median_seconds(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def layer_operands(tiny_activation: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, CHANNELS_IN, SIZE, SIZE)).astype(np.float32)
    w = (rng.standard_normal((CHANNELS_OUT, CHANNELS_IN, KERNEL, KERNEL)) * 0.05).astype(np.float32)
    dy = rng.standard_normal((BATCH, CHANNELS_OUT, SIZE, SIZE)).astype(np.float32)
    if tiny_activation:
        x[0, 0, 0, 0] = dy[0, 0, 0, 0] = np.float32(2.0**-100)
    return x, w, dy


def time_phases(cfg: HwConfig | None, tiny_activation: bool, repeat: int) -> dict[str, float]:
    x, w, dy = layer_operands(tiny_activation)
    runs = {
        "fp": lambda: oracle.conv_fp(x, w, STRIDE, PAD, cfg),
        "bp": lambda: oracle.conv_bp(dy, w, (SIZE, SIZE), STRIDE, PAD, cfg),
        "wu": lambda: oracle.conv_wu(x, dy, KERNEL, STRIDE, PAD, cfg),
    }
    return {phase: round(median_seconds(runs[phase], repeat), 6) for phase in PHASES}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per measurement (median), default 3"
    )
    parser.add_argument(
        "--tn", type=int, default=8, help="HwConfig.tn of the exact mode, default 8"
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")
    try:
        cfg = HwConfig(tm=args.tn, tn=args.tn)
    except ValueError as err:
        parser.error(str(err))
    seconds = {
        "reference": time_phases(None, False, args.repeat),
        "exact": time_phases(cfg, False, args.repeat),
        "exact-flush": time_phases(cfg, True, args.repeat),
    }
    print(
        f"oracle: conv {CHANNELS_IN}->{CHANNELS_OUT} {KERNEL}x{KERNEL} pad {PAD} "
        f"stride {STRIDE}, {SIZE}x{SIZE} inputs, batch {BATCH}, TN={args.tn}; "
        f"median of {args.repeat} run(s), seconds"
    )
    print(f"{'mode':<12}" + "".join(f"{phase.upper():>9}" for phase in PHASES))
    for mode, by_phase in seconds.items():
        print(f"{mode:<12}" + "".join(f"{by_phase[phase]:>9.3f}" for phase in PHASES))
    slowest_exact = max(max(seconds[mode].values()) for mode in ("exact", "exact-flush"))
    print(f"slowest exact-mode phase {slowest_exact:.3f} s (limit {EXACT_LIMIT_S} s)")
    record = {
        "benchmark": "oracle",
        "layer": {
            "batch": BATCH,
            "n_in": CHANNELS_IN,
            "n_out": CHANNELS_OUT,
            "size": SIZE,
            "k": KERNEL,
            "pad": PAD,
            "stride": STRIDE,
        },
        "tn": args.tn,
        "repeat": args.repeat,
        "seconds": seconds,
        "exact_limit_s": EXACT_LIMIT_S,
    }
    print(json.dumps(record))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

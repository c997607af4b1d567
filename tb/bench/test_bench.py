"""Smoke test of `make bench` (tb/bench/run_bench.py) on a small array: the benchmark runs
end to end (the cocotb module checks every result bit for bit), its counters agree with
the layer's arithmetic, and the performance model predicts the measured cycles."""

from __future__ import annotations

import json

import run_bench

from eftrain_tb.rtl import BUILD


def test_bench_smoke():
    out = BUILD / "bench-smoke"
    assert run_bench.main(["--set", "smoke", "--tn", "4", "--axi-bits", "128", "--ib-depth", "256",
                           "--ob-depth", "256", "--wb-depth", "64", "--out", str(out)]) == 0
    rows = json.loads((out / "bench.json").read_text())["results"]
    assert [r["phase"] for r in rows] == ["FP", "BP", "WU"]
    for r in rows:
        # 16 -> 16 channels on a 4x4 array, 3x3, 8x8 pixels, batch 2: every MAC cycle of
        # the array does TM x TN products of the layer, none wasted on padding channels.
        assert r["mac_cycles"] == r["full_use_cycles"] == 2 * 16 * 16 * 9 * 8 * 8 // 16, r
        assert abs(r["model_error"]) <= 0.05, r
    assert (out / "bench.png").stat().st_size > 0

"""cocotb tests of the fp32 multiplier and adder (run by test_fp32.py).

Every result is compared bit for bit with ``eftrain.fp32`` (the bit-level model of the
RTL) and with numpy float32 arithmetic with flush-to-zero and NaN canonicalisation
around it (docs/numerics.md, section 1).
"""

from __future__ import annotations

import os
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, ReadOnly, RisingEdge

from eftrain import fp32
from eftrain_tb import fp32_vectors
from eftrain_tb.rtl import package_constants

STREAM_DEPTH = 1 << 19  # fp32_stream_tb's DEPTH default
LATENCY = {"mul": package_constants()["FP32_MUL_LATENCY"], "add": package_constants()["FP32_ADD_LATENCY"]}
MODELS = {"mul": fp32.mul, "add": fp32.add}


async def reset(dut) -> None:
    cocotb.start_soon(Clock(dut.clk_i, 10, unit="ns").start())
    dut.rst_ni.value = 0
    dut.valid_i.value = 0
    dut.a_i.value = 0
    dut.b_i.value = 0
    dut.stream_i.value = 0
    dut.bubbles_i.value = 0
    dut.count_i.value = 0
    await ClockCycles(dut.clk_i, 3)
    dut.rst_ni.value = 1
    await RisingEdge(dut.clk_i)


def read_memh(path: Path) -> np.ndarray:
    words = [int(line, 16) for line in path.read_text().split() if not line.startswith(("//", "@"))]
    return np.array(words, dtype=np.uint32)


async def stream(dut, a: np.ndarray, b: np.ndarray, bubbles: bool) -> dict[str, np.ndarray]:
    """Run one batch of pairs through both units at one pair per cycle."""
    Path("fp32_vectors.hex").write_text(
        "\n".join(f"{x:08x}{y:08x}" for x, y in zip(a.tolist(), b.tolist())) + "\n"
    )
    dut.count_i.value = len(a)
    dut.bubbles_i.value = int(bubbles)
    dut.stream_i.value = 1
    cycles = 0
    while True:
        await ClockCycles(dut.clk_i, 1024)
        cycles += 1024
        if dut.done_o.value == 1:
            break
        assert cycles < 8 * len(a) + 10_000, "fp32_stream_tb never finished"
    dut.stream_i.value = 0
    await ClockCycles(dut.clk_i, 2)
    return {op: read_memh(Path(f"fp32_{op}_results.hex")) for op in ("mul", "add")}


def compare(op: str, category: str, a, b, got) -> list[str]:
    """Mismatch descriptions (empty when every word agrees with both references)."""
    model = fp32.bits(MODELS[op](a.view(np.float32), b.view(np.float32)))
    numpy_ref = fp32_vectors.numpy_expected(op, a, b)
    problems = []
    for name, expected in (("eftrain.fp32", model), ("numpy float32", numpy_ref)):
        bad = np.nonzero(got != expected)[0]
        for i in bad[:8]:
            problems.append(
                f"{op} [{category}] {a[i]:08x} , {b[i]:08x}: RTL {got[i]:08x}, {name} {expected[i]:08x}"
            )
        if len(bad) > 8:
            problems.append(f"... {len(bad) - 8} more {op} [{category}] mismatches against {name}")
    return problems


@cocotb.test()
async def fp32_vectors_bit_exact(dut):
    """Directed corner cases plus seeded random pairs through both units."""
    n_random = int(os.environ.get("FP32_RANDOM", "200000"))
    rng = np.random.default_rng(cocotb.RANDOM_SEED)
    categories = fp32_vectors.all_vectors(rng, n_random)
    await reset(dut)

    problems: list[str] = []
    checked = 0
    for category, (a, b) in categories.items():
        for start in range(0, len(a), STREAM_DEPTH):
            chunk_a, chunk_b = a[start:start + STREAM_DEPTH], b[start:start + STREAM_DEPTH]
            results = await stream(dut, chunk_a, chunk_b, bubbles=bool(rng.integers(0, 2)))
            for op in ("mul", "add"):
                assert len(results[op]) == len(chunk_a), f"{op}: {len(results[op])} results for {len(chunk_a)} pairs"
                problems += compare(op, category, chunk_a, chunk_b, results[op])
            checked += len(chunk_a)
        dut._log.info("%-28s %7d pairs per unit", category, len(a))
    dut._log.info("fp32 vectors checked: %d pairs per unit, %d results in all", checked, 2 * checked)
    assert not problems, "\n".join(problems[:40])


@cocotb.test()
async def fp32_ports_latency(dut):
    """Drive the units' ports cycle by cycle with random bubbles: every result appears
    exactly the documented latency after its operands, in order, and bit-exact."""
    rng = np.random.default_rng(cocotb.RANDOM_SEED + 1)
    a, b = fp32_vectors.specials()
    await reset(dut)
    await FallingEdge(dut.clk_i)
    issue_edges: list[int] = []  # the clock edge that captured each pair
    seen: dict[str, list[tuple[int, int]]] = {"mul": [], "add": []}  # (edge, result)
    for edge in range(4 * len(a) + 16):
        drive = len(issue_edges) < len(a) and rng.random() < 0.7
        dut.valid_i.value = int(drive)
        if drive:
            dut.a_i.value = int(a[len(issue_edges)])
            dut.b_i.value = int(b[len(issue_edges)])
            issue_edges.append(edge)
        await RisingEdge(dut.clk_i)
        await ReadOnly()
        for op in ("mul", "add"):
            if getattr(dut, f"{op}_valid_o").value == 1:
                seen[op].append((edge, int(getattr(dut, f"{op}_y_o").value)))
        await FallingEdge(dut.clk_i)
    for op in ("mul", "add"):
        assert len(seen[op]) == len(issue_edges), f"{op}: {len(seen[op])} results for {len(issue_edges)} pairs"
        # A pair captured at edge e is registered LATENCY times: its result is visible
        # after edge e + LATENCY - 1.
        latencies = {out - issued + 1 for issued, (out, _) in zip(issue_edges, seen[op])}
        assert latencies == {LATENCY[op]}, f"{op}: observed latencies {sorted(latencies)}, documented {LATENCY[op]}"
        expected = fp32.bits(MODELS[op](a.view(np.float32), b.view(np.float32)))
        got = np.array([value for _, value in seen[op]], dtype=np.uint32)
        assert np.array_equal(got, expected), f"{op}: port-driven results differ from eftrain.fp32"
    dut._log.info("port drive: %d pairs per unit, latency mul %d, add %d", len(a), LATENCY["mul"], LATENCY["add"])

"""The long regression (``make regress SEEDS=<n>``): the whole test suite once per
combination of

* SEED: ``n`` seeds, ``FIRST_SEED`` .. ``FIRST_SEED + n - 1`` (default 1..n);
* TIMING_STRESS: 0 (no pauses) and 1 (random pauses on every AXI and AXI-Lite channel);
* XSEED: off (the fast model, un-reset state reads 0) and on (``XSEED=<seed>``: the model
  built with ``--x-assign unique --x-initial unique``, un-reset state random), see
  tb/eftrain_tb/sim.py.

Each run writes JUnit XML to ``build/reports/regress/seed<s>-stress<t>-x<x>.xml`` and its
output to the ``.log`` beside it. At the end: a table of every run (passed, failed,
minutes) and, for every failing test, the command that reproduces it with its knobs.
Exit status 1 if any test failed.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shlex
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
REPORTS = REPO / "build" / "reports" / "regress"
SWEPT = ("SEED", "TIMING_STRESS", "XSEED")

sys.path.insert(0, str(REPO))
from conftest import STIMULUS_KNOBS  # noqa: E402  (the knobs a reproduction repeats)


def _outcomes(junit: Path) -> tuple[int, list[str]] | None:
    """(tests run, node ids of the failing ones) of a pytest JUnit XML file; None if
    pytest wrote none (it did not finish)."""
    if not junit.exists():
        return None
    cases = list(ET.parse(junit).getroot().iter("testcase"))
    failed = [_node_id(case.get("classname", ""), case.get("name", "")) for case in cases
              if case.find("failure") is not None or case.find("error") is not None]
    return len(cases), failed


def _node_id(classname: str, name: str) -> str:
    """The pytest node id of a JUnit test case (``classname`` is the dotted module path,
    then any test class)."""
    parts = classname.split(".")
    for k in range(len(parts), 0, -1):
        path = "/".join(parts[:k]) + ".py"
        if (REPO / path).exists():
            return "::".join([path, *parts[k:], name])
    return f"{classname}::{name}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="number of seeds (SEEDS)")
    parser.add_argument("--first-seed", type=int, default=1, help="first seed (FIRST_SEED)")
    parser.add_argument("--jobs", type=int, default=2, help="pytest workers per run (JOBS)")
    parser.add_argument("tests", nargs="*", default=["pysrc/tests", "tb"], help="pytest paths or node ids (TEST)")
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.first_seed < 1:
        parser.error(f"SEEDS ({args.seeds}) and FIRST_SEED ({args.first_seed}) must be at least 1")
    REPORTS.mkdir(parents=True, exist_ok=True)
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    runs = list(itertools.product(seeds, ("0", "1"), (False, True)))
    rows, repro = [], []
    # Other knobs set for the whole sweep go into every reproduction command.
    fixed = "".join(f"{k}={shlex.quote(os.environ[k])} " for k in STIMULUS_KNOBS
                    if k in os.environ and k not in SWEPT)
    if fixed:
        print(f"every run also with {fixed.strip()}")
    for i, (seed, stress, xunique) in enumerate(runs):
        knobs = {"SEED": str(seed), "TIMING_STRESS": stress}
        if xunique:
            knobs["XSEED"] = str(seed)
        tag = f"seed{seed}-stress{stress}-x{'seed' if xunique else 'off'}"
        junit, log = REPORTS / f"{tag}.xml", REPORTS / f"{tag}.log"
        junit.unlink(missing_ok=True)
        knob_text = " ".join(f"{k}={v}" for k, v in knobs.items())
        print(f"[{i + 1}/{len(runs)}] {knob_text}: pytest -n {args.jobs} {' '.join(args.tests)} "
              f"(log {log.relative_to(REPO)})", flush=True)
        env = {k: v for k, v in os.environ.items() if k not in SWEPT}
        t0 = time.monotonic()
        with open(log, "w") as out:
            subprocess.run([sys.executable, "-m", "pytest", "-n", str(args.jobs), f"--junitxml={junit}",
                            *args.tests], cwd=REPO, env={**env, **knobs}, stdout=out, stderr=subprocess.STDOUT,
                           check=False)
        minutes = (time.monotonic() - t0) / 60
        outcome = _outcomes(junit)
        if outcome is None:
            rows.append((knob_text, 0, 1, minutes))
            print(f"    pytest did not finish ({minutes:.1f} min): see {log.relative_to(REPO)}", flush=True)
            repro.append(f"{fixed}{knob_text} make test TEST={shlex.quote(' '.join(args.tests))}   (did not finish)")
            continue
        n_tests, failed = outcome
        rows.append((knob_text, n_tests - len(failed), len(failed), minutes))
        print(f"    {n_tests - len(failed)} passed, {len(failed)} failed in {minutes:.1f} min", flush=True)
        for node in failed:
            repro.append(f"{fixed}{knob_text} make test TEST={shlex.quote(node)}")
    print("\nregression summary")
    print(f"{'knobs':<34} {'passed':>7} {'failed':>7} {'minutes':>8}")
    for knob_text, passed, n_failed, minutes in rows:
        print(f"{knob_text:<34} {passed:>7} {n_failed:>7} {minutes:>8.1f}")
    total = sum(r[3] for r in rows)
    print(f"{len(rows)} runs, {sum(r[1] for r in rows)} passed, {sum(r[2] for r in rows)} failed, "
          f"{total:.1f} min; JUnit XML and logs in {REPORTS.relative_to(REPO)}/")
    if repro:
        print("\nreproduce each failure with:")
        for line in repro:
            print(f"  {line}")
    return 1 if repro else 0


if __name__ == "__main__":
    sys.exit(main())

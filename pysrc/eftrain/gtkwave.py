"""A ready-made GTKWave view of a simulation dump: the save file (``.gtkw``) that
``make waves`` writes next to the dump, with the signals that matter grouped (AXI
channels, controller state and current descriptor, engine mode and tile counters, buffer
ping-pong state, store path, performance counters).

The view is built from a table of hierarchical names relative to a module instance
(:data:`VIEWS`), checked against the signals the dump really holds
(:mod:`eftrain.wavedump`): the instance is found wherever it sits (``eftrain_top`` under
cocotb, ``eftrain_top_wrapper.u_core`` under the Vivado wrapper), and a name the dump
lacks (an RTL block renamed or not yet there) is left out with a warning instead of
breaking the view. A dump of a top the table does not know gets its ports.

``python -m eftrain.gtkwave build/sim/.../dump.fst`` writes ``dump.gtkw`` beside the dump
and prints the command that opens it (``gtkwave dump.fst dump.gtkw``; Surfer opens the
FST too).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from eftrain.descriptor import COUNTERS, DESC_FIELDS, _RESERVED
from eftrain.wavedump import Signal, read_signals

__all__ = ["Trace", "Group", "VIEWS", "View", "build_view", "save_file_text", "write_save_file", "main"]

# GTKWave trace flags (gtkwave's analyzer.h): display format, and the group markers.
# ENUM shows the names of an SV enum from the table Verilator writes into the FST.
_HEX, _DEC, _BIN, _RJUSTIFY, _BLANK = 0x2, 0x4, 0x8, 0x20, 0x200
_CLOSED, _GROUP_BEGIN, _GROUP_END, _COLLAPSED = 0x400000, 0x800000, 0x1000000, 0x1000
_ENUM = 0x100000000
_FORMATS = {"hex": _HEX | _RJUSTIFY, "dec": _DEC | _RJUSTIFY, "bin": _BIN | _RJUSTIFY,
            "enum": _ENUM | _BIN | _RJUSTIFY}


class Trace(NamedTuple):
    """One signal of a view: its path below the view's instance, display format (hex,
    dec, bin, or enum for the names of an SV enum; one-bit signals show as waveforms
    whatever it is) and an optional alias."""

    path: str
    fmt: str = "hex"
    alias: str = ""


@dataclass(frozen=True)
class Group:
    """A named, foldable group of traces. ``closed`` groups start folded."""

    name: str
    traces: tuple[Trace, ...]
    closed: bool = False


def _traces(prefix: str, names: str, fmt: str = "hex") -> tuple[Trace, ...]:
    return tuple(Trace(f"{prefix}{name}", fmt) for name in names.split())


def _axi_read(prefix: str) -> tuple[Trace, ...]:
    return _traces(prefix, "arvalid arready araddr arlen arsize arburst arid rvalid rready rlast rresp rid rdata")


def _axi_write(prefix: str) -> tuple[Trace, ...]:
    return _traces(prefix, "awvalid awready awaddr awlen awsize awburst awid wvalid wready wlast wstrb wdata "
                           "bvalid bready bresp bid")


def _engine_groups(at: str) -> tuple[Group, ...]:
    """The conv engine's groups, for an engine instance at ``at`` (``""`` or ``"u_engine."``)."""
    return (
        Group("Engine: mode and tile counters", (
            *_traces(at, "cmd_valid_i cmd_ready_o"),
            Trace(f"{at}u_compute.cmd_i.mode", "enum", "mode of the command at the head"),
            Trace(f"{at}u_compute.outer_q", "bin", "outer (WU) mode in the pipeline"),
            *_traces(f"{at}u_compute.u_agu.", "walking_q closing_q inflight_q"),
            *_traces(f"{at}u_compute.u_agu.", "ti_q tj_q qy_q qx_q ph_q", "dec"),
            *_traces(at, "mac_o stall_load_o stall_store_o stall_hazard_o stall_drain_o idle_o"),
        )),
        Group("Engine: units and queues", (
            *_traces(at, "load_count compute_count store_count", "dec"),
            *_traces(f"{at}u_load.", "active_q"), Trace(f"{at}u_load.beat_q", "dec"),
            *_traces(f"{at}u_store.", "active_q"), Trace(f"{at}u_store.beat_q", "dec"),
            *_traces(at, "ld_valid_i ld_ready_o st_valid_o st_ready_i"),
        )),
        Group("Buffers: ping-pong halves", (
            *_traces(at, "ib_full_q ob_full_q", "bin"),
            Trace(f"{at}u_compute.ob_owned_q", "bin"),
            *_traces(f"{at}u_dispatch.ob_claim_q.", "ob_claim_q[0] ob_claim_q[1]", "dec"),
            *_traces(at, "ld_ib_half ld_ob_half cp_ib_half cp_ob_rhalf cp_ob_whalf st_ob_half"),
        )),
    )


#: Descriptor members of the controller's ``desc_q`` (the SV names of DESC_FIELDS).
_DESC_MEMBERS = tuple(f.sv_name for f in DESC_FIELDS if f.name not in _RESERVED)

_TOP_GROUPS = (
    Group("Clock, reset, interrupt", _traces("", "clk rst_n dp_rst_n irq")),
    Group("AXI4-Lite: control and status registers", _traces(
        "s_axil_", "awvalid awready awaddr wvalid wready wdata wstrb bvalid bready bresp "
                   "arvalid arready araddr rvalid rready rdata rresp")),
    Group("AXI4 read: AR and R", _axi_read("m_axi_")),
    Group("AXI4 write: AW, W and B", _axi_write("m_axi_")),
    Group("Controller", (
        Trace("u_ctrl.state_q", "enum", "state"),
        *_traces("", "busy done error code"),
        Trace("index", "dec", "STATUS.index"), Trace("desc_done", "dec", "DESC_DONE"),
        *_traces("", "start abort soft_reset dma_drop dma_clear dp_reset"),
    )),
    Group("Current descriptor", tuple(
        Trace(f"u_ctrl.desc_q.{m}", "hex" if m.endswith("addr") or m in ("magic", "lr", "flags") else "dec")
        for m in _DESC_MEMBERS)),
    Group("Tile loop and engine commands", (
        *_traces("u_ctrl.", "outer_q inner_q b_q r0_q tile_rows_q lo_q ib_rows_q", "dec"),
        *_traces("u_ctrl.", "ib_half_q ob_half_q"),
        *_traces("", "cmd_valid cmd_ready"),
        Trace("cmd.op", "enum"), Trace("cmd.mode", "enum"),
        *_traces("cmd.", "half ib_half ob_half acc_init ob_done ib_release"),
        *_traces("cmd.", "count wb_addr out_rows out_w in_w", "dec"),
    )),
    Group("DMA requests", (
        *_traces("", "rd_req_valid rd_req_ready rd_req_addr"), Trace("rd_req_beats", "dec"),
        *_traces("", "rd_req_dest fetch rd_error rd_idle"),
        *_traces("", "wr_req_valid wr_req_ready wr_req_addr"), Trace("wr_req_beats", "dec"),
        *_traces("", "wr_error wr_idle"),
    )),
    *_engine_groups("u_engine."),
    Group("Store path: pool unit and store merge", (
        *_traces("", "pool pool_bp pool_mask store_op"),
        *_traces("u_pool.", "in_valid_i in_ready_o out_valid_o out_ready_i"),
        *_traces("u_merge.", "op_i a_valid_i a_ready_o b_valid_i b_ready_o out_valid_o out_ready_i"),
    ), closed=True),
    Group("Performance counters", tuple(
        Trace(f"counters.counters[{i}]", "dec", f"CNT {name}") for i, (name, _doc) in enumerate(COUNTERS)
    ), closed=True),
)

#: The views, by the module name of the instance they describe; paths are relative to it.
VIEWS: dict[str, tuple[Group, ...]] = {
    "eftrain_top": _TOP_GROUPS,
    "conv_engine": (Group("Clock and reset", _traces("", "clk_i rst_ni")), *_engine_groups("")),
}


@dataclass
class View:
    """A view resolved against a dump: the table it came from (``top``, or ``""`` for the
    fallback ports view), the scope of the instance, the groups with full paths, and the
    table entries the dump does not hold."""

    top: str
    scope: str
    groups: list[Group] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def _scopes(signals: dict[str, Signal]) -> set[str]:
    scopes = set()
    for path in signals:
        parts = path.split(".")
        scopes.update(".".join(parts[:i]) for i in range(1, len(parts)))
    return scopes


def _resolve(groups, scope: str, signals) -> tuple[list[Group], list[str]]:
    resolved, missing = [], []
    for group in groups:
        found = []
        for trace in group.traces:
            path = f"{scope}.{trace.path}"
            if path in signals:
                found.append(trace._replace(path=path))
            else:
                missing.append(trace.path)
        if found:
            resolved.append(Group(group.name, tuple(found), group.closed))
    return resolved, missing


#: A scope is taken for an instance of a view's module when it holds at least this share
#: of the view's signals (a renamed signal or two must not lose the whole view; a module
#: that merely shares port names such as clk_i must not be taken for it).
MATCH_SHARE = 0.5


def build_view(signals: dict[str, Signal]) -> View:
    """The best view of ``signals``: the (table, instance scope) pair that finds the most
    table entries, at least :data:`MATCH_SHARE` of them; without one, the ports of the top
    (``$rootio``, or the shallowest scope)."""
    best: View | None = None
    best_found = 0
    for top, groups in VIEWS.items():
        total = sum(len(g.traces) for g in groups)
        for scope in _scopes(signals) - {"$rootio"}:
            if f"{scope}.{groups[0].traces[0].path}" not in signals:
                continue  # not even the first signal: not an instance of this module
            resolved, missing = _resolve(groups, scope, signals)
            found = sum(len(g.traces) for g in resolved)
            if found >= MATCH_SHARE * total and found > best_found:
                best, best_found = View(top, scope, resolved, missing), found
    if best is not None:
        return best
    scopes = sorted(_scopes(signals), key=lambda s: (s != "$rootio", s.count("."), s))
    if not scopes:
        return View("", "")
    scope = scopes[0]
    ports = tuple(Trace(path) for path in signals if path.rsplit(".", 1)[0] == scope)
    return View("", scope, [Group(f"Ports of {scope}", ports)])


def _flags(*bits: int) -> str:
    value = 0
    for b in bits:
        value |= b
    return f"@{value:x}"


def save_file_text(dump: Path, save: Path, view: View, signals: dict[str, Signal]) -> str:
    """The text of a GTKWave save file showing ``view`` of ``dump``."""
    lines = [
        f"[*] EF-Train waveform view ({view.top or 'ports'} at {view.scope or 'top'}), "
        "written by python -m eftrain.gtkwave",
        f'[dumpfile] "{dump.resolve()}"',
        f'[savefile] "{save.resolve()}"',
        "[timestart] 0",
        "[size] 1600 1000",
        "[pos] -1 -1",
        "[sst_width] 280",
        "[signals_width] 340",
        "[sst_expanded] 1",
        "[sst_vpaned_height] 300",
    ]
    for group in view.groups:
        closed = (_CLOSED,) if group.closed else ()
        lines += [_flags(_GROUP_BEGIN, _BLANK, *closed), f"-{group.name}"]
        for trace in group.traces:
            signal = signals[trace.path]
            lines.append(_flags(_FORMATS["bin"] if signal.width == 1 else _FORMATS[trace.fmt]))
            name = trace.path + signal.range
            lines.append(f"+{{{trace.alias}}} {name}" if trace.alias else name)
        lines += [_flags(_GROUP_END, _BLANK, *((_CLOSED, _COLLAPSED) if group.closed else ())),
                  f"-{group.name}"]
    lines.append("")
    return "\n".join(lines)


def write_save_file(dump: str | Path, view: View | None = None, save: str | Path | None = None) -> Path:
    """Write the save file of ``dump`` (default: same name, ``.gtkw``) and return its path."""
    dump = Path(dump)
    signals = read_signals(dump)
    view = build_view(signals) if view is None else view
    save = dump.with_suffix(".gtkw") if save is None else Path(save)
    save.write_text(save_file_text(dump, save, view, signals))
    return save


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eftrain.gtkwave",
                                     description="Write a GTKWave save file (grouped signals) for a dump.")
    parser.add_argument("dump", type=Path, help="the .fst or .vcd dump")
    parser.add_argument("-o", "--output", type=Path, help="the save file (default: <dump>.gtkw)")
    args = parser.parse_args(argv)
    if not args.dump.exists():
        print(f"eftrain.gtkwave: no dump {args.dump}", file=sys.stderr)
        return 1
    signals = read_signals(args.dump)
    view = build_view(signals)
    for path in view.missing:
        print(f"eftrain.gtkwave: warning: {view.top} view: no signal {path} under {view.scope} "
              f"(renamed or not in this RTL?): left out", file=sys.stderr)
    save = write_save_file(args.dump, view, args.output)
    shown = sum(len(g.traces) for g in view.groups)
    print(f"view: {save} ({shown} signals in {len(view.groups)} groups, "
          f"{view.top or 'ports'} at {view.scope or 'top'})")
    print(f"open with: gtkwave {args.dump} {save}   (Surfer: surfer {args.dump})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

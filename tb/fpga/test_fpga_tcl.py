"""The Vivado flow, checked without Vivado: every Tcl script under fpga/ parses (a static
syntax check under tclsh that executes nothing, tcl_syntax_check.tcl), and the plain-Tcl
parts the Vivado scripts compute with run under tclsh and agree with the Python side:
the file list Vivado reads, the board settings, the option parser, and the CSR map the
IP-XACT memory map is built from."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from eftrain import descriptor as dsc
from eftrain.csr_tcl import IPXACT_ACCESS
from eftrain.rtl_sources import REPO, filelist, rtl_tops

HERE = Path(__file__).resolve().parent
CHECKER = HERE / "tcl_syntax_check.tcl"
FPGA = REPO / "fpga"
TCLSH = shutil.which("tclsh") or "tclsh"  # Debian's tcl package; scripts/setup_env.py installs it
BOARDS = {"zcu102": "xczu9eg-ffvb1156-2-e", "zcu104": "xczu7ev-ffvc1156-2-e"}


def tcl_scripts() -> list[Path]:
    return sorted(FPGA.rglob("*.tcl"))


def tclsh(script: str) -> subprocess.CompletedProcess:
    """Run a Tcl script (sourcing fpga/common/util.tcl first) under tclsh, from a file:
    an error then ends it with exit code 1 (on standard input tclsh would carry on)."""
    with tempfile.NamedTemporaryFile("w", suffix=".tcl") as f:
        f.write(f"source {{{FPGA / 'common' / 'util.tcl'}}}\n{script}\n")
        f.flush()
        return subprocess.run([TCLSH, f.name], capture_output=True, text=True, timeout=60)


def test_every_vivado_script_parses():
    scripts = tcl_scripts()
    names = {p.relative_to(FPGA).as_posix() for p in scripts}
    assert {"package_ip.tcl", "common/util.tcl", "common/block_design.tcl", "common/create_project.tcl",
            "common/build.tcl", "common/csr_map.tcl"} <= names
    for board in BOARDS:
        assert {f"{board}/board.tcl", f"{board}/create_project.tcl", f"{board}/build.tcl"} <= names
    run = subprocess.run([TCLSH, str(CHECKER), *map(str, scripts), str(CHECKER)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr


BAD_SCRIPTS = {
    "missing close-brace": ("proc p {} {\n  puts a\n", 1),
    "extra characters after close-brace": ("proc p {} {\n  if {1} {puts a}x\n}\n", 2),
    "extra characters after close-quote": ('set a 1\nputs "a"b\n', 2),
    "missing close-bracket": ("set a 1\nset b [list a\nputs c\n", 2),
    "'else' starts a command": ("if {1} {\n  puts a\n}\nelse {\n  puts b\n}\n", 4),
    "proc takes a name": ("proc p {a b} {\n}\nproc q {\n  puts x\n}\n", 3),
    "switch: patterns and bodies": ("switch -- $x {\n  a {puts 1}\n  b\n}\n", 1),
    "missing close-quote": ('namespace eval x {\n  set y "abc\n}\n', 2),
}


@pytest.mark.parametrize("error", list(BAD_SCRIPTS))
def test_syntax_check_reports_errors_with_their_line(error, tmp_path):
    text, line = BAD_SCRIPTS[error]
    script = tmp_path / "bad.tcl"
    script.write_text(text)
    run = subprocess.run([TCLSH, str(CHECKER), str(script)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert f"{script}:{line}: {error}" in run.stdout, run.stdout


def test_vivado_reads_the_simulation_file_lists():
    for top in rtl_tops():
        run = tclsh(f"puts [join [eftrain::read_filelist {{{REPO / 'rtl' / (top + '.f')}}}] \\n]")
        assert run.returncode == 0, run.stderr
        assert [Path(line) for line in run.stdout.splitlines()] == filelist(top), top
    run = tclsh("puts $eftrain::ip_filelist; puts $eftrain::ip_wrapper; puts [eftrain::ip_vlnv]")
    assert run.stdout.split() == [str(REPO / "rtl" / "eftrain_top.f"), str(FPGA / "eftrain_top_wrapper.v"),
                                  "eftrain:ip:eftrain:1.0"]
    run = tclsh("eftrain::read_filelist /nonexistent.f")
    assert run.returncode != 0 and "does not exist" in run.stderr


def test_board_settings():
    for board, part in BOARDS.items():
        run = tclsh(f"set s [eftrain::board_settings {board}]\n"
                    "puts [dict get $s name]; puts [dict get $s part]; puts [dict get $s board_part]\n"
                    f"puts [eftrain::project_dir {board}]")
        assert run.returncode == 0, run.stderr
        assert run.stdout.splitlines() == [board, part, f"xilinx.com:{board}:part0:*",
                                           str(REPO / "build" / "vivado" / board)]
    run = tclsh("eftrain::board_settings zcu106")
    assert run.returncode != 0 and "unknown board `zcu106` (known: zcu102, zcu104)" in run.stderr


def test_options():
    run = tclsh("puts [eftrain::parse_options {--pl-clk-mhz 150} {pl-clk-mhz 100 jobs 4}]\n"
                "puts [eftrain::pl_clock_mhz 150]")
    assert run.stdout.splitlines() == ["pl-clk-mhz 150 jobs 4", "150"]
    for bad, message in [("eftrain::parse_options {--pl-clk 1} {pl-clk-mhz 100}", "unknown option `--pl-clk`"),
                         ("eftrain::parse_options {--pl-clk-mhz} {pl-clk-mhz 100}", "options come in pairs"),
                         ("eftrain::pl_clock_mhz 1000", "--pl-clk-mhz must be a frequency in MHz in 10..400"),
                         ("eftrain::pl_clock_mhz fast", "--pl-clk-mhz must be")]:
        run = tclsh(bad)
        assert run.returncode != 0 and message in run.stderr, (bad, run.stderr)


def test_ipxact_memory_map_is_the_descriptor_csr_map():
    run = tclsh(f"source {{{FPGA / 'common' / 'csr_map.tcl'}}}\n"
                "puts $eftrain::csr_block_bytes\n"
                "foreach r $eftrain::csr_registers {\n"
                "  lassign $r name offset access doc fields\n"
                "  puts \"R $name [expr {$offset}] $access [llength $fields]\"\n"
                "  foreach f $fields { lassign $f n o w a m d; puts \"F $n $o $w $a <$m> <$d>\" }\n"
                "}")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "256"
    expected = []
    for reg in dsc.CSR_REGISTERS:
        access, modified = IPXACT_ACCESS[reg.access]
        expected.append(f"R {reg.name} {reg.offset} {access} {len(reg.fields)}")
        expected += [f"F {f.name} {f.lsb} {f.width} {access} <{modified}> <{f.doc}>" for f in reg.fields]
    assert lines[1:] == expected


def test_ip_parameters_are_the_wrappers_and_the_block_design_sets_the_integration():
    """Every parameter of the Vivado top is a user parameter of the IP with its legal
    values and a GUI page (fpga/package_ip.tcl), BUFFER_URAM as {0 1}; and every core
    setting of fpga/common/integration.tcl (each board's tn, axi_data_width, buffer_uram)
    is one the block design sets on the core, for both boards."""
    wrapper = (FPGA / "eftrain_top_wrapper.v").read_text()
    declared = re.findall(r"^\s*parameter\s+integer\s+(\w+)", wrapper, re.M)
    assert "BUFFER_URAM" in declared and ".BUFFER_URAM    (BUFFER_URAM != 0)" in wrapper
    package = (FPGA / "package_ip.tcl").read_text()
    table = package.split("set parameters {", 1)[1].split("\n}\n", 1)[0]
    rows = {m.group(1): m.group(2) for m in re.finditer(r'^\s*\{(\w+) ".*\{(list [^}]*|range [^}]*)\}\}$', table, re.M)}
    assert sorted(rows) == sorted(declared), (rows, declared)
    assert rows["BUFFER_URAM"] == "list 0 1"
    pages = package.split("set page_of {", 1)[1].split("}", 1)[0].split()
    assert sorted(pages[0::2]) == sorted(declared)
    run = tclsh(f"source {{{FPGA / 'common' / 'integration.tcl'}}}\n"
                "dict for {board cfg} $eftrain::board_cores { puts \"$board $cfg\" }")
    assert run.returncode == 0, run.stderr
    cores = {line.split()[0]: dict(zip(line.split()[1::2], line.split()[2::2])) for line in run.stdout.splitlines()}
    assert sorted(cores) == sorted(BOARDS)
    assert cores["zcu104"]["buffer_uram"] == "1" and cores["zcu102"]["buffer_uram"] == "0"
    design = (FPGA / "common" / "block_design.tcl").read_text()
    for cfg in cores.values():
        for key in set(cfg) - {"hp_clock_mhz"}:   # the PS's clock, not the core's
            assert f"CONFIG.{key.upper()} [dict get $core_cfg {key}]" in design, key

"""pytest wrapper: builds fpga/eftrain_top_wrapper.v (the top Vivado packages) around the
core's file list, with a waveform dump, and runs fpga_wrapper_tests.py; then builds the
GTKWave view of that dump (eftrain.gtkwave) and checks that every signal of its table
exists in the dump, under the core instance the view finds by itself."""

from __future__ import annotations

import subprocess
from pathlib import Path

from eftrain import gtkwave, wavedump
from eftrain.rtl_sources import REPO
from eftrain_tb import sim

WRAPPER = REPO / "fpga" / "eftrain_top_wrapper.v"

HERE = Path(__file__).resolve().parent

# A small core, quick to build: TN = 4 (one 128-bit beat per pixel), small buffers. Every
# value but the data width differs from the wrapper's default, so a parameter the wrapper
# fails to pass on shows in the constant registers; BUFFER_URAM, which no register
# reports, runs the UltraRAM branch of the buffers (the same behaviour: the layer is
# bit-exact either way; test_synth checks that it reaches the RAMs' attribute).
PARAMETERS = {"TN": 4, "KMAX": 4, "IB_DEPTH": 256, "OB_DEPTH": 256, "WB_DEPTH": 128, "BUFFER_URAM": 1,
              "AXI_ADDR_WIDTH": 36, "AXI_ID_WIDTH": 6}


def test_fpga_wrapper(request, seed, monkeypatch):
    # Always traced: the dump is what the waveform-view check below reads.
    monkeypatch.setenv("WAVES", "1")
    test_dir = sim.run(
        top="eftrain_top_wrapper",
        test_module="fpga_wrapper_tests",
        module_dir=HERE,
        test_name=request.node.name,
        seed=seed,
        rtl_tops=["eftrain_top"],
        extra_sources=[WRAPPER],
        parameters=PARAMETERS,
        extra_env={f"WRAPPER_{k}": str(v) for k, v in PARAMETERS.items()},
    )
    dump = test_dir / f"dump.{sim.trace_format()}"
    signals = wavedump.read_signals(dump)

    view = gtkwave.build_view(signals)
    assert view.top == "eftrain_top" and view.scope == "eftrain_top_wrapper.u_core", view
    assert view.missing == [], f"signals of the eftrain_top view not in the dump: {view.missing}"
    save = gtkwave.write_save_file(dump, view)
    # Signal lines of the save file: `name[msb:lsb]`, or `+{alias} name[msb:lsb]`.
    named = [line.split("} ", 1)[-1] for line in save.read_text().splitlines() if line and line[0] not in "[@-*"]
    assert len(named) == sum(len(group.traces) for group in view.groups) > 60
    for name in named:
        cut = name.rfind("[")
        base = name[:cut] if name.endswith("]") and ":" in name[cut:] else name  # drop [msb:lsb]
        assert base in signals, f"{save.name} names {name}, which {dump.name} does not hold"
        assert name == base + signals[base].range


def test_fpga_wrapper_is_clean_verilog_2001():
    """Verilator lint, -Wall, with .v files read as Verilog-2001 (what Vivado's packager
    needs at the top): no error anywhere, no warning about the wrapper."""
    run = subprocess.run(["verilator", "--lint-only", "-Wall", "-Wno-fatal", "--quiet-stats", "+1364-2001ext+v",
                          "-f", str(REPO / "rtl" / "eftrain_top.f"), str(WRAPPER),
                          "--top-module", "eftrain_top_wrapper"],
                         capture_output=True, text=True, cwd=REPO, timeout=300)
    messages = run.stdout + run.stderr
    assert "%Error" not in messages, messages
    assert WRAPPER.name not in messages, messages

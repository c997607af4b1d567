"""The RTL file lists: ``rtl/<top>.f``, one per RTL top, paths relative to the repository
root, ``-f <list>`` to include another list, ``//`` comments. The single source of what a
top is made of for simulation, lint, the synthesis estimate and the Vivado scripts."""

from __future__ import annotations

import fcntl
import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RTL = REPO / "rtl"


@contextmanager
def build_lock(build_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on a simulator build directory while building into it: two
    processes building one model at the same time (pytest workers, a session started by
    a test's child process, two regressions) would corrupt it."""
    build_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(build_dir.parent / f"{build_dir.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def rtl_tops() -> list[str]:
    """Every RTL top, one per file list."""
    return sorted(f.stem for f in RTL.glob("*.f"))


def filelist(top: str) -> list[Path]:
    """Absolute paths of the sources of ``top``, in compile order, each once."""
    return _read(RTL / f"{top}.f", [])


def _read(listing: Path, paths: list[Path]) -> list[Path]:
    if not listing.exists():
        raise FileNotFoundError(f"no file list {listing} (the RTL of a repository checkout is needed)")
    for line in listing.read_text().splitlines():
        line = line.split("//")[0].strip()
        if line.startswith("-f "):
            _read(REPO / line[3:].strip(), paths)
        elif line and REPO / line not in paths:
            paths.append(REPO / line)
    return paths


@cache
def package_constants() -> dict[str, int]:
    """Integer ``localparam``s of ``rtl/eftrain_pkg.sv`` (``name -> value``): the fp32
    latencies the testbenches and the performance model follow."""
    text = (RTL / "eftrain_pkg.sv").read_text()
    return {name: int(value.replace("_", "")) for name, value in
            re.findall(r"localparam\s+(?:int\s+unsigned|int)\s+(\w+)\s*=\s*([0-9_]+)\s*;", text)}

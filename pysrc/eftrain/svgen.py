"""Shared pieces of the SystemVerilog generators (``python -m eftrain.engine``,
``python -m eftrain.descriptor``): doc-comment wrapping and the write / ``--check``
command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

RTL = Path(__file__).resolve().parents[2] / "rtl"


def sv_comment(text: str, indent: str, width: int = 92) -> list[str]:
    """``text`` as ``///`` lines of at most ``width`` characters."""
    lines, line = [], ""
    for word in text.split():
        if line and len(indent) + 4 + len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    if line:
        lines.append(line)
    return [f"{indent}/// {line}" for line in lines]


def generator_main(module: str, path: Path, generate: Callable[[], str], what: str,
                   argv: list[str] | None = None) -> int:
    """Write ``generate()`` to ``path``, or with ``--check`` exit 1 if it is stale."""
    parser = argparse.ArgumentParser(prog=f"python -m {module}",
                                     description=f"Generate {path.name} from {what}.")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if the file differs from what would be generated (write nothing)")
    parser.add_argument("--output", type=Path, default=path, help=f"default: {path}")
    args = parser.parse_args(argv)
    text = generate()
    if args.check:
        current = args.output.read_text() if args.output.exists() else None
        if current != text:
            print(f"{args.output} is out of date: run `python -m {module}`", file=sys.stderr)
            return 1
        print(f"{args.output} is up to date")
        return 0
    args.output.write_text(text)
    print(f"wrote {args.output}")
    return 0

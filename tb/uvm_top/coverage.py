"""Functional coverage of the descriptors the scoreboard checked: opcode x flags x
kernel size x stride x padding for the ones that ran, and the error codes of the ones
the core rejected. Printed as a table at the end of the test and checked against the
test's goals (ConfigDB "COVERAGE_GOALS", a :class:`CoverageGoals`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from pyuvm import ConfigDB, uvm_subscriber

from eftrain.descriptor import ErrorCode
from items import CheckedDescriptor
from stimulus import Variant, legal_bins, variant_of


@dataclass(frozen=True)
class CoverageGoals:
    """What a test must have covered: every variant in ``variants`` ran, every kernel
    size, stride and padding in ``kernels``/``strides``/``pads`` ran (on some conv
    variant), at least ``min_cross`` distinct (variant, k, stride, pad) bins, and every
    error code in ``errors`` was reported for a rejected descriptor."""

    variants: tuple[Variant, ...] = ()
    kernels: frozenset[int] = frozenset()
    strides: frozenset[int] = frozenset()
    pads: frozenset[int] = frozenset()
    min_cross: int = 1
    errors: frozenset[ErrorCode] = field(default_factory=frozenset)


class Coverage(uvm_subscriber):
    def build_phase(self):
        self.cfg = ConfigDB().get(self, "", "HW_CONFIG")
        self.goals: CoverageGoals = ConfigDB().get(self, "", "COVERAGE_GOALS")
        self.hits: Counter = Counter()          # (variant, k, stride, pad) -> descriptors run
        self.errors: Counter = Counter()        # ErrorCode -> descriptors rejected

    def write(self, tt: CheckedDescriptor) -> None:
        if tt.outcome == ErrorCode.NONE:
            d = tt.desc
            self.hits[(variant_of(d), d.k, d.stride, d.pad)] += 1
        else:
            self.errors[tt.outcome] += 1

    # ---- the table -------------------------------------------------------------------
    def table(self) -> str:
        kmax = self.cfg.kmax
        cols = [(k, s) for k in range(1, kmax + 1) for s in (1, 2)]
        rows = sorted({v for v, *_ in self.hits} | set(self.goals.variants), key=lambda v: (v.op, v.flags))
        width = max([len(v.name) for v in rows] + [16])
        head = f"{'opcode+flags':<{width}} |" + "".join(f" k{k} s{s}  |" for k, s in cols) + " layers"
        out = ["coverage: pads run per (kernel, stride), e.g. '0,2' = pad 0 and pad 2; '.' = none",
               head, "-" * len(head)]
        for v in rows:
            cells = []
            for k, s in cols:
                pads = sorted(p for (vv, kk, ss, p) in self.hits if vv == v and kk == k and ss == s)
                cells.append(f" {','.join(map(str, pads)) or '.':<6}|")
            total = sum(n for (vv, *_), n in self.hits.items() if vv == v)
            out.append(f"{v.name:<{width}} |" + "".join(cells) + f" {total}")
        legal = legal_bins(self.cfg, tuple(rows))
        hit = sum(1 for b in legal if b in self.hits)
        out.append(f"cross bins hit: {hit} of {len(legal)} legal (variant, k, stride, pad) bins of these "
                   f"variants; descriptors run: {sum(self.hits.values())}")
        if self.errors or self.goals.errors:
            out.append("error codes reported: " + ", ".join(
                f"{c.name} x{self.errors[c]}" for c in sorted(set(self.errors) | self.goals.errors)))
        return "\n".join(out)

    def missing(self) -> list[str]:
        g = self.goals
        ran = {v for v, *_ in self.hits}
        conv = [(k, s, p) for (v, k, s, p) in self.hits if not v.is_pool]
        out = [f"variant {v.name}" for v in g.variants if v not in ran]
        out += [f"kernel {k}" for k in sorted(g.kernels - {k for k, _, _ in conv})]
        out += [f"stride {s}" for s in sorted(g.strides - {s for _, s, _ in conv})]
        out += [f"pad {p}" for p in sorted(g.pads - {p for _, _, p in conv})]
        if len(self.hits) < g.min_cross:
            out.append(f"only {len(self.hits)} cross bins (goal {g.min_cross})")
        out += [f"error code {c.name}" for c in sorted(g.errors - set(self.errors))]
        return out

    def check_phase(self):
        self.logger.info("\n" + self.table())
        missing = self.missing()
        if missing:
            msg = "coverage goals not met: " + "; ".join(missing)
            self.logger.error(msg)
            raise AssertionError(msg)

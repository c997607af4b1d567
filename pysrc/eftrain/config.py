"""Hardware configuration of the core: the RTL parameters software must know about."""

from __future__ import annotations

from dataclasses import dataclass


def _is_power_of_two(v: int) -> bool:
    return v >= 1 and (v & (v - 1)) == 0


@dataclass(frozen=True)
class HwConfig:
    """Build parameters of one core instance.

    tm, tn: the conv engine's output lanes and reduction width. The core requires
        ``tm == tn``, a power of two (docs/numerics.md, section 2).
    kmax: largest kernel size the engine supports.
    ib_depth, ob_depth: pixels per half of the conv engine's input and output buffers
        (RTL ``IB_DEPTH``, ``OB_DEPTH``).
    wb_depth: kernel-position entries (TM x TN words each) of the weight buffer
        (RTL ``WB_DEPTH``).
    """

    tm: int = 8
    tn: int = 8
    kmax: int = 5
    ib_depth: int = 2048
    ob_depth: int = 2048
    wb_depth: int = 1024

    def __post_init__(self) -> None:
        for name in ("tm", "tn", "kmax", "ib_depth", "ob_depth", "wb_depth"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"HwConfig.{name} must be an int, got {value!r}")
        if not _is_power_of_two(self.tn) or self.tn < 2:
            raise ValueError(f"HwConfig.tn must be a power of two >= 2, got {self.tn}")
        if self.tm != self.tn:
            raise ValueError(f"HwConfig.tm must equal tn ({self.tn}), got {self.tm}")
        if self.kmax < 3:
            raise ValueError(f"HwConfig.kmax must be at least 3, got {self.kmax}")
        for name in ("ib_depth", "ob_depth", "wb_depth"):
            if not 0 < getattr(self, name) <= 65535:
                raise ValueError(f"HwConfig.{name} must be in 1..65535, got {getattr(self, name)}")

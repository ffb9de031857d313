"""Ranges of the config's numbers, declared next to each field and checked by the loader.

Every `int` and `float` field of a config section is declared with `bounded(default, lo, hi)`;
`tests/unit/test_config_bounds.py` fails on a numeric field without one. A float must also be
finite: NaN compares false with everything, so `poll_interval_seconds: .nan` would pass `> 0`
and then busy-poll, and `inf` overflows the first `time.sleep` of the poll thread.

    poll_interval_seconds: float = bounded(15.0, 0.1, 86_400)
    # 0 → "must be at least 0.1 and at most 86400, got 0"
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from collector.errors import ConfigError

RANGE = "eventscope.range"


@dataclass(frozen=True)
class Range:
    lo: float
    hi: float
    lo_open: bool = False  # True: the value must be greater than `lo`, not equal to it

    def limits(self) -> str:
        if self.lo_open:
            low = f"greater than {_num(self.lo)}"
        elif self.lo == 0:
            low = "0 or more"
        else:
            low = f"at least {_num(self.lo)}"
        return f"{low} and at most {_num(self.hi)}"

    def check(self, value: int | float, key: str) -> None:
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(key, f"must be a finite number ({self.limits()}), got {value}")
        low_ok = value > self.lo if self.lo_open else value >= self.lo
        if not (low_ok and value <= self.hi):
            raise ConfigError(key, f"must be {self.limits()}, got {_num(value)}")


def bounded(default: Any, lo: float, hi: float, *, lo_open: bool = False) -> Any:
    """A dataclass field with a default and its range (None as default: the key is optional)."""
    return field(default=default, metadata={RANGE: Range(lo, hi, lo_open)})


def _num(value: float) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:g}" if isinstance(value, float) else str(value)

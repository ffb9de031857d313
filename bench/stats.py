"""Summaries and the results table: pure functions over measured numbers (no clock, no I/O).

Every benchmark figure is reported as the median of its samples with the min and max, next to a
floor measured in the same run, and the ratio of the two medians:

    summarize([1.2, 1.0, 3.0]) == Summary(median=1.2, low=1.0, high=3.0, n=3)
    ratio(Summary(2.0, ...), Summary(0.5, ...)) == 4.0     # "4.0x the floor"
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Summary:
    median: float
    low: float
    high: float
    n: int


@dataclass(frozen=True)
class Row:
    """One line of the results table: a measured figure, its floor, and the goal if any."""

    bench: str
    case: str
    metric: str
    unit: str
    value: Summary
    floor: Summary | None = None
    goal: str = ""
    met: bool | None = None  # None: no goal for this figure

    def ratio(self) -> float | None:
        return None if self.floor is None else ratio(self.value, self.floor)

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["ratio"] = self.ratio()
        return out


def summarize(samples: Iterable[float]) -> Summary:
    """Median, min and max of the samples; raises ValueError when there are none."""
    values = sorted(samples)
    if not values:
        raise ValueError("no samples to summarize")
    return Summary(statistics.median(values), values[0], values[-1], len(values))


def ratio(value: Summary, floor: Summary) -> float | None:
    """value.median / floor.median; None when the floor is zero (no meaningful ratio)."""
    if floor.median == 0:
        return None
    return value.median / floor.median


def format_number(x: float) -> str:
    """Three significant figures, plain notation: 0.00123, 1.23, 123, 12300."""
    if x == 0:
        return "0"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.3g}"


def format_summary(s: Summary) -> str:
    if s.low == s.high:
        return format_number(s.median)
    return f"{format_number(s.median)} [{format_number(s.low)}-{format_number(s.high)}]"


def render_table(rows: Sequence[Row]) -> str:
    """A Markdown table: one line per row, value as `median [min-max]`."""
    header = ("bench", "case", "metric", "median [min-max]", "floor", "ratio", "goal")
    lines = [header]
    for r in rows:
        rat = r.ratio()
        goal = r.goal if r.met is None else f"{r.goal} {'met' if r.met else 'MISSED'}"
        lines.append(
            (
                r.bench,
                r.case,
                f"{r.metric} ({r.unit})",
                format_summary(r.value),
                "" if r.floor is None else format_summary(r.floor),
                "" if rat is None else f"{rat:.2f}x",
                goal,
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for i, line in enumerate(lines):
        out.append("| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + " |")
        if i == 0:
            out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out)

"""Lag in seconds: the age of the oldest unconsumed message.

Two methods (the `method` label says which ran):

* **exact** — the timestamp of the record at the committed offset (read by the adapter; on a
  transactional topic the first record past the markers there): `age = now - timestamp`.
* **interpolated** — kafka-lag-exporter's method, from a bounded table of (end offset, time
  first seen) points per partition. The record at committed offset `c` was written between the
  two polls whose end offsets bracket it, so its time is interpolated linearly:

      points (100, t=0) and (200, t=10), committed c = 150
      → written at 0 + (150 - 100) * (10 - 0) / (200 - 100) = 5 → age = now - 5

  Error: at most one poll interval when the producer rate changes within it.
  When `c` is older than every point, the age is extrapolated with the table's average rate; with
  a single point (an idle producer) it is the lower bound `now - t_first`, which keeps growing,
  so a quiet topic never hides a stuck consumer.

A caught-up partition (lag 0) has age 0 either way.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from collector.model import LagMethod


@dataclass(frozen=True)
class TimeLag:
    seconds: float
    method: LagMethod


def exact_time_lag(now: float, record_timestamp: float) -> TimeLag:
    return TimeLag(max(0.0, now - record_timestamp), LagMethod.EXACT)


def interpolated_time_lag(
    now: float, points: Sequence[tuple[int, float]], committed: int
) -> TimeLag | None:
    """Age of the record at `committed` from (end offset, time) points, oldest first.

    Returns None when there is no point at all ("not enough data" is a value, not an error).
    """
    if not points:
        return None
    written = interpolate_write_time(points, committed)
    return TimeLag(max(0.0, now - written), LagMethod.INTERPOLATED)


def interpolate_write_time(points: Sequence[tuple[int, float]], offset: int) -> float:
    first_off, first_t = points[0]
    last_off, last_t = points[-1]
    if offset < first_off:
        if last_off > first_off and last_t > first_t:
            rate = (last_off - first_off) / (last_t - first_t)  # messages per second
            return first_t - (first_off - offset) / rate
        return first_t  # one point or no movement: a lower bound on the age
    for (lo_off, lo_t), (hi_off, hi_t) in itertools.pairwise(points):
        if lo_off <= offset < hi_off:
            return lo_t + (offset - lo_off) * (hi_t - lo_t) / (hi_off - lo_off)
    return last_t


def add_end_point(
    points: Sequence[tuple[int, float]], end: int, now: float, limit: int
) -> tuple[tuple[int, float], ...]:
    """Append (end, now) when the end offset grew; keep at most `limit` points.

    An unchanged end offset adds nothing: the table keeps the time each offset was *first* seen.
    An end offset below the last point (topic recreated) starts a new table.
    """
    if points and end == points[-1][0]:
        return tuple(points)
    if points and end < points[-1][0]:
        return ((end, now),)
    kept = (*points, (end, now))
    return kept[-limit:] if limit > 0 else kept

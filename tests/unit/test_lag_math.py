"""Lag in messages, lag in seconds (exact and interpolated) and counters, with explicit times."""

from __future__ import annotations

import pytest

from collector.compute.counters import positive_only, reset_aware, start_counter
from collector.compute.lag import partition_lag
from collector.compute.timelag import (
    add_end_point,
    exact_time_lag,
    interpolate_write_time,
    interpolated_time_lag,
)
from collector.model import LagMethod


@pytest.mark.parametrize(
    ("committed", "end", "lag"),
    [(0, 0, 0), (0, 10, 10), (90, 100, 10), (100, 100, 0), (105, 100, 0)],
)
def test_partition_lag_is_clipped_at_zero(committed, end, lag):
    assert partition_lag(committed, end) == lag


def test_exact_time_lag_is_age_of_record():
    tl = exact_time_lag(now=1000.0, record_timestamp=940.0)
    assert tl.seconds == 60.0 and tl.method is LagMethod.EXACT
    assert exact_time_lag(now=1000.0, record_timestamp=1002.0).seconds == 0.0  # clock skew


POINTS = ((100, 0.0), (200, 10.0), (400, 20.0))


@pytest.mark.parametrize(
    ("offset", "written"),
    [
        (100, 0.0),
        (150, 5.0),  # the docstring's worked example
        (300, 15.0),
        (399, 19.95),
        (50, -50 / (300 / 20.0)),  # older than the table: extrapolated at 300 msg / 20 s
        (400, 20.0),
    ],
)
def test_interpolate_write_time(offset, written):
    assert interpolate_write_time(POINTS, offset) == pytest.approx(written)


def test_idle_producer_age_keeps_growing():
    # one point: the end offset has not moved since t=0, the group is stuck at 80
    points = ((100, 0.0),)
    first = interpolated_time_lag(now=60.0, points=points, committed=80)
    later = interpolated_time_lag(now=600.0, points=points, committed=80)
    assert first is not None and later is not None
    assert first.seconds == 60.0 and later.seconds == 600.0
    assert later.method is LagMethod.INTERPOLATED


def test_not_enough_data_is_a_value():
    assert interpolated_time_lag(now=10.0, points=(), committed=5) is None


def test_end_point_table_keeps_first_seen_time_and_is_bounded():
    pts: tuple[tuple[int, float], ...] = ()
    pts = add_end_point(pts, 100, 0.0, limit=3)
    pts = add_end_point(pts, 100, 15.0, limit=3)  # unchanged end: no new point
    assert pts == ((100, 0.0),)
    for i, t in enumerate((30.0, 45.0, 60.0), start=1):
        pts = add_end_point(pts, 100 + i * 10, t, limit=3)
    assert pts == ((110, 30.0), (120, 45.0), (130, 60.0))
    assert add_end_point(pts, 5, 75.0, limit=3) == ((5, 75.0),)  # topic recreated


def test_counters_reset_and_rewind_rules():
    c = start_counter(100)
    assert c.total == 100
    c = reset_aware(c, 130)
    assert c.total == 130
    c = reset_aware(c, 7)  # the source restarted from zero
    assert c.total == 137
    k = start_counter(100)
    k = positive_only(k, 40)  # rewind: not negative consumption
    assert k.total == 100 and k.last == 40
    k = positive_only(k, 50)
    assert k.total == 110

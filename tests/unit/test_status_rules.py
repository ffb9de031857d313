"""Burrow's evaluation rules, one numbered case per row (times in seconds, explicit)."""

from __future__ import annotations

import pytest

from collector.compute.status import Observation, evaluate_partition, worst
from collector.model import Status


def window(*points: tuple[int, int], step: float = 15.0) -> list[Observation]:
    """(offset, lag) pairs observed every `step` seconds from t=1000."""
    return [Observation(1000 + i * step, off, lag) for i, (off, lag) in enumerate(points)]


CASES = [
    # no, window, members, expected status, words in reason
    (1, window((10, 5), (10, 5)), 1, Status.OK, "not enough"),
    (2, window((10, 0), (20, 0), (30, 0)), 1, Status.OK, "caught up"),
    (3, window((10, 0), (10, 0), (10, 0)), 0, Status.OK, "caught up"),  # idle topic, no members
    (4, window((10, 5), (10, 8), (10, 12)), 2, Status.STALL, "unchanged"),
    (5, window((10, 5), (10, 8), (10, 12)), 0, Status.STOP, "no members"),
    (6, window((10, 5), (10, 5), (10, 5)), None, Status.STALL, "unchanged"),  # members unknown
    (7, window((50, 5), (40, 15), (45, 10)), 1, Status.REWIND, "backwards"),
    (8, window((10, 5), (12, 8), (14, 11)), 1, Status.WARN, "grew from 5 to 11"),
    (9, window((10, 5), (20, 3), (30, 4)), 1, Status.OK, "consuming"),
    (10, window((10, 5), (12, 5), (14, 5)), 1, Status.OK, "consuming"),  # steady lag, moving
    (11, window((10, 9), (12, 7), (14, 9)), 1, Status.OK, "consuming"),  # lag dipped: not WARN
    (12, window((50, 0), (40, 10), (40, 10)), 1, Status.REWIND, "backwards"),  # rewind beats stall
]

# rule 2: retention deleted messages the group had not read (lost = log start − committed > 0)
LOST_CASES = [
    # no, window, members, lost, expected status, words in reason
    (13, window((10, 70)), 1, 120, Status.ERR, "deleted 120 unread"),  # at once, no window
    (14, window((10, 70), (10, 70), (10, 70)), 0, 120, Status.ERR, "deleted 120"),  # beats STOP
    (15, window((50, 0), (40, 10), (40, 10)), 1, 5, Status.ERR, "deleted 5"),  # beats REWIND
    (16, window((10, 0), (20, 0), (30, 0)), 1, 0, Status.OK, "caught up"),  # nothing lost
]


@pytest.mark.parametrize(("no", "obs", "members", "expected", "words"), CASES)
def test_rule_table(no, obs, members, expected, words):
    verdict = evaluate_partition(obs, members, min_observations=3)
    assert verdict.status is expected, f"case {no}: {verdict}"
    assert words in verdict.reason, f"case {no}: {verdict.reason}"


def test_group_status_is_worst_partition_with_its_location():
    ok = evaluate_partition(window((10, 0), (20, 0), (30, 0)), 1, 3)
    stall = evaluate_partition(window((10, 5), (10, 8), (10, 12)), 1, 3)
    verdict = worst([("orders/0", ok), ("orders/1", stall)])
    assert verdict.status is Status.STALL
    assert verdict.reason.startswith("orders/1: ")


def test_stall_reason_reports_window_span():
    verdict = evaluate_partition(window((10, 5), (10, 8), (10, 12), step=20), 1, 3)
    assert "40 s" in verdict.reason and "lag is 12" in verdict.reason


@pytest.mark.parametrize(("no", "obs", "members", "lost", "expected", "words"), LOST_CASES)
def test_lost_rule_table(no, obs, members, lost, expected, words):
    verdict = evaluate_partition(obs, members, min_observations=3, lost=lost)
    assert verdict.status is expected, f"case {no}: {verdict}"
    assert words in verdict.reason, f"case {no}: {verdict.reason}"

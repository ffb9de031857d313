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
    (8, window((10, 5), (12, 8), (14, 11), (16, 14), (18, 17)), 1, Status.WARN, "from 8 to 17"),
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


# Burrow's evaluator cases (linkedin/Burrow core/internal/evaluator/caching_test.go, `tests`, 0-11)
# as a poller sees them: one poll at each commit (Burrow's Timestamp, ms → s) showing that
# commit's lag, then the last commit repeated at every 100 s until Burrow's timeNow showing its
# currentLag; the status window keeps the last 10 polls (the default `status_window.commits`).
# Commits Burrow stores without a lag (case 11's nil entries) are polls the poller never made.


def burrow_polls(
    commits: list[tuple[int, float, int | None]], current_lag: int, now: float, step: float = 100
) -> list[Observation]:
    polls = [Observation(t, off, lag) for off, t, lag in commits if lag is not None]
    last_offset, t = commits[-1][0], commits[-1][1]
    while t + step <= now:
        t += step
        polls.append(Observation(t, last_offset, current_lag))
    return polls[-10:]


def ramp(offsets: list[int], lags: list[int | None], start: float = 100, step: float = 100):
    return [
        (o, start + i * step, lag) for i, (o, lag) in enumerate(zip(offsets, lags, strict=True))
    ]


STEADY = [1000, 2000, 3000, 4000, 5000]
FROZEN = [1000] * 5
HIGH = list(range(792748079, 792748094))  # cases 9, 10: one commit per second, lag 0 each
HIGH_T0 = 1512224618.356

NO_MEMBERS = "no members: nobody consumes, whatever the commit history (Burrow has no members)"
MEMBERS_WAIT = "members present: STALL only once a whole window is frozen (a batch consumer)"

BURROW_CASES = [
    # Burrow case, polls, members, Burrow's status, eventscope's status, why they differ
    (0, burrow_polls(ramp(STEADY, [0, 50, 100, 150, 200]), 200, 600), 1, Status.OK, Status.OK, ""),
    # members present: lag 0 inside the window (Burrow's guard) for both
    (1, burrow_polls(ramp(STEADY, [0, 50, 100, 150, 200]), 200, 900), 1, Status.OK, Status.OK, ""),
    # no members: Burrow waits until the time since the last commit (400 s) exceeds the commits'
    # span (400 s); eventscope calls it STOP after min_observations standing polls with lag
    (1, burrow_polls(ramp(STEADY, [0, 50, 100, 150, 200]), 200, 900), 0, Status.OK, Status.STOP,
     NO_MEMBERS),
    (2, burrow_polls(ramp(STEADY, [0, 50, 100, 150, 200]), 200, 1000), 0, Status.STOP, Status.STOP,
     ""),
    # members present, lag 0 at the window's start: OK by the guard; STALL a window later
    (2, burrow_polls(ramp(STEADY, [0, 50, 100, 150, 200]), 200, 1000), 1, Status.STOP, Status.OK,
     MEMBERS_WAIT),
    (3, burrow_polls(ramp(STEADY, [50, 100, 150, 200, 250]), 250, 1000), 0, Status.STOP,
     Status.STOP, ""),
    # members present: the lag at its commits rose (100 → 250), so WARN until the window is frozen
    (3, burrow_polls(ramp(STEADY, [50, 100, 150, 200, 250]), 250, 1000), 1, Status.STOP,
     Status.WARN, MEMBERS_WAIT),
    (4, burrow_polls(ramp(FROZEN, [0, 50, 100, 150, 200]), 200, 600), 1, Status.OK, Status.OK, ""),
    (5, burrow_polls(ramp(FROZEN, [100, 150, 200, 250, 300]), 300, 600), 1, Status.STALL,
     Status.STALL, ""),
    (6, burrow_polls(ramp(FROZEN, [100] * 5), 100, 600), 1, Status.STALL, Status.STALL, ""),
    (7, burrow_polls([(1000, 100, 100), (2000, 200, 150), (3000, 300, 200), (2000, 400, 1250),
                      (4000, 500, 300)], 300, 600), 1, Status.REWIND, Status.REWIND, ""),
    (8, burrow_polls(ramp(STEADY, [50, 100, 150, 200, 250]), 0, 1000), 0, Status.OK, Status.OK, ""),
    # 9: lag 0 at every commit, then 931 new messages while the offset stands for 18 s
    (9, burrow_polls(ramp(HIGH, [0] * 15, HIGH_T0, 1.0), 931, 1512224650, 1.0), 0, Status.STOP,
     Status.STOP, ""),
    # 10: the polls before the last still saw lag 0 at the last commit (Burrow's recent lag zero)
    (10, [*burrow_polls(ramp(HIGH, [0] * 15, HIGH_T0, 1.0), 0, 1512224649, 1.0)[1:],
          Observation(1512224650, HIGH[-1], 1)], 0, Status.OK, Status.OK, ""),
    (11, burrow_polls(ramp([1000, 1500, 2000, 2500, 3000, 3500, 4000, 4500, 5000, 5500],
                           [0, None, 50, None, 100, None, 150, None, 200, None], 100, 50),
                      200, 600), 1, Status.OK, Status.OK, ""),
]  # fmt: skip


@pytest.mark.parametrize(("case", "polls", "members", "burrow", "expected", "why"), BURROW_CASES)
def test_burrow_cases(case, polls, members, burrow, expected, why):
    verdict = evaluate_partition(polls, members, min_observations=3)
    assert verdict.status is expected, f"Burrow case {case}: {verdict}"
    assert (expected is burrow) == (not why), f"Burrow case {case}: a difference needs a reason"


def test_a_healthy_sawtooth_is_not_falling_behind():
    # lag between commits rises, each commit drops it: troughs never climb above earlier peaks
    sawtooth = window((10, 3), (20, 9), (30, 2), (40, 8), (50, 4), (60, 9), (70, 3), (80, 8))
    assert evaluate_partition(sawtooth, 1, 3).status is Status.OK
    # commits every third poll: the lag rises between them, never at them
    bursty = window((10, 2), (10, 5), (10, 8), (20, 2), (20, 5), (20, 8), (30, 3), (30, 6), (30, 9),
                    (40, 2))  # fmt: skip
    assert evaluate_partition(bursty, 1, 3).status is Status.OK
    growing = window((10, 5), (20, 8), (30, 12), (40, 15), (50, 21), (60, 24))
    assert evaluate_partition(growing, 1, 3).status is Status.WARN

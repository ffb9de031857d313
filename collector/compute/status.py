"""Burrow's consumer evaluation, per partition, over a window of recent observations.

Each poll records one `Observation` (time, committed offset, lag) per group partition. Kafka's
OffsetFetch gives no commit timestamps, so "commits frozen" means the committed offset did not
move across the window; whether anyone is still there to commit comes from the group's members.

Rules, checked in this order (the first that applies wins):

1. ERR    — the partition could not be read (reported by the caller): its end offset failed
            this poll, or the whole group's offsets did (`evaluate_group`). ERR outranks every
            other status, so a failure never reads OK.
2. ERR    — retention deleted messages the group had not read: its committed offset is below the
            partition's log start offset (`lost` > 0, see compute/loss.py). Judged at once, with
            no window: the loss has happened, and the group cannot resume where it committed.
3. OK     — not enough observations yet to judge (fewer than `min_observations`).
4. REWIND — the committed offset went backwards inside the window.
5. OK     — the latest lag is 0: caught up (an idle topic with a caught-up consumer is healthy).
6. STOP   — the offset is frozen across the window, lag > 0, and the group has no members
            (nobody is consuming).
7. STALL  — the offset is frozen across the window, lag > 0, and members are present (consumers
            are there but not advancing).
8. WARN   — offsets move but lag never decreased across the window and ended higher than it
            started (falling behind).
9. OK     — otherwise.

A group's status is the worst of its partitions (`Status` orders them).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from collector.model import Status


@dataclass(frozen=True)
class Observation:
    time: float
    offset: int
    lag: int


@dataclass(frozen=True)
class Verdict:
    status: Status
    reason: str


def rewound(window: Sequence[Observation]) -> bool:
    """Rule 4: the committed offset went backwards between two observations."""
    return any(b.offset < a.offset for a, b in itertools.pairwise(window))


def caught_up(window: Sequence[Observation]) -> bool:
    """Rule 5: the latest lag is zero."""
    return window[-1].lag == 0


def frozen(window: Sequence[Observation]) -> bool:
    """Rules 6/7: one committed offset across the whole window."""
    return len({o.offset for o in window}) == 1


def deleted_unread(lost: int) -> bool:
    """Rule 2: retention moved the log start past the committed offset."""
    return lost > 0


def falling_behind(window: Sequence[Observation]) -> bool:
    """Rule 8: lag never decreased and ended higher than it started."""
    lags = [o.lag for o in window]
    return all(b >= a for a, b in itertools.pairwise(lags)) and lags[-1] > lags[0]


def evaluate_partition(
    window: Sequence[Observation], members: int | None, min_observations: int, lost: int = 0
) -> Verdict:
    """Status of one partition from its window (oldest first) and the messages retention
    deleted unread right now (`lost`); see the module rules."""
    if deleted_unread(lost):
        return Verdict(Status.ERR, f"retention deleted {lost} unread messages")
    if len(window) < max(1, min_observations):
        return Verdict(Status.OK, "not enough observations yet")
    span = window[-1].time - window[0].time
    last = window[-1]
    if rewound(window):
        return Verdict(Status.REWIND, f"committed offset went backwards (now {last.offset})")
    if caught_up(window):
        return Verdict(Status.OK, "caught up")
    if frozen(window):
        if members == 0:
            return Verdict(
                Status.STOP,
                f"no members and offset {last.offset} unchanged for {span:.0f} s, lag {last.lag}",
            )
        return Verdict(
            Status.STALL, f"offset {last.offset} unchanged for {span:.0f} s while lag is {last.lag}"
        )
    if falling_behind(window):
        return Verdict(
            Status.WARN, f"lag grew from {window[0].lag} to {last.lag} over {span:.0f} s"
        )
    return Verdict(Status.OK, "consuming")


def worst(verdicts: Iterable[tuple[str, Verdict]]) -> Verdict:
    """Group status: the worst partition, its reason prefixed with where it is."""
    chosen: tuple[str, Verdict] | None = None
    for where, verdict in verdicts:
        if chosen is None or verdict.status > chosen[1].status:
            chosen = (where, verdict)
    if chosen is None:
        return Verdict(Status.OK, "no partitions")
    where, verdict = chosen
    if verdict.status is Status.OK:
        return verdict
    return Verdict(verdict.status, f"{where}: {verdict.reason}")


def evaluate_group(read_error: str, verdicts: Iterable[tuple[str, Verdict]]) -> Verdict:
    """Rule 1 for a whole group: when its offsets could not be read (`read_error` says why, e.g.
    "OffsetFetch denied: GROUP_AUTHORIZATION_FAILED") it is ERR with that reason, whatever
    partitions remain; otherwise the worst partition (`worst`)."""
    if read_error:
        return Verdict(Status.ERR, read_error)
    return worst(verdicts)

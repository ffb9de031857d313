"""Burrow's consumer evaluation, per partition, over a window of recent observations.

Each poll records one `Observation` (time, committed offset, lag) per group partition. Kafka's
OffsetFetch gives no commit timestamps, so the window is one observation per poll, the last commit
repeated until the offset moves again; whether anyone is still there to commit comes from the
group's members.

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
6. STOP   — the group has no members, and its offset stood still with lag > 0 over the last
            `min_observations` polls: nobody is consuming and messages wait.
7. OK     — the lag was 0 somewhere in the window: the consumer reached the end of the log within
            the window, so it keeps up (Burrow's guard against noise).
8. STALL  — the offset is frozen across the whole window, lag > 0, and members are present or
            unknown (consumers are there but not advancing).
9. WARN   — at the polls where the offset had moved (Burrow's commits; at least
            `MIN_COMMITS_FOR_TREND`), the lag rises beyond its own swing: the lowest of the newer
            half is above the highest of the older half (falling behind).
10. OK    — otherwise.

Rule 9 replaces Burrow's "lag never decreased" over every poll: between two commits a poller sees
the lag rise (the offset stands still, the log grows), so a healthy consumer committing in bursts
draws a sawtooth. Read where the offset moved, and compared half against half, a sawtooth's
troughs never climb above its earlier peaks, while a consumer that falls behind lifts them.
Example: lags at commits 3, 9, 2, 8, 4, 9 → older half max 9, newer half min 4 → not WARN;
5, 8, 12, 15, 21, 24 → older max 12 < newer min 15 → WARN.

Rule 6 uses the members Burrow does not have: Burrow calls a partition STOP once the time since
its last commit exceeds the window's span; here no members plus a standing offset with waiting
messages is STOP after `min_observations` polls, sooner. With members present, a frozen offset
waits for a whole window (rule 8): the window must span more than the slowest healthy consumer's
commit cycle, or a batch consumer reads STALL while it sleeps.

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


def since_last_move(window: Sequence[Observation]) -> Sequence[Observation]:
    """The observations that already show the latest committed offset (the whole window when it
    never moved)."""
    last = window[-1].offset
    start = len(window) - 1
    while start > 0 and window[start - 1].offset == last:
        start -= 1
    return window[start:]


def standing_with_lag(window: Sequence[Observation], polls: int) -> bool:
    """Rule 6 (with no members): the last `polls` observations show the latest offset, lag > 0."""
    recent = since_last_move(window)[-polls:]
    return len(recent) >= polls and all(o.lag > 0 for o in recent)


def lag_touched_zero(window: Sequence[Observation]) -> bool:
    """Rule 7: the lag was zero in at least one observation of the window."""
    return any(o.lag == 0 for o in window)


def frozen(window: Sequence[Observation]) -> bool:
    """Rule 8: one committed offset across the whole window."""
    return len({o.offset for o in window}) == 1


def deleted_unread(lost: int) -> bool:
    """Rule 2: retention moved the log start past the committed offset."""
    return lost > 0


def rising_beyond_swing(values: Sequence[int]) -> bool:
    """Rule 9: the newer half's lowest value is above the older half's highest (the middle value
    of an odd count belongs to neither half)."""
    half = len(values) // 2
    if half == 0:
        return False
    return min(values[-half:]) > max(values[:half])


MIN_COMMITS_FOR_TREND = 4  # two per half: one odd commit cannot make a trend


def commits(window: Sequence[Observation]) -> list[Observation]:
    """The observations whose offset differs from the one before (the first is not known to)."""
    return [b for a, b in itertools.pairwise(window) if b.offset != a.offset]


def falling_behind(window: Sequence[Observation]) -> bool:
    """Rule 9: the lag at commits rises beyond its own swing."""
    lags = [o.lag for o in commits(window)]
    return len(lags) >= MIN_COMMITS_FOR_TREND and rising_beyond_swing(lags)


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
    if members == 0 and standing_with_lag(window, max(1, min_observations)):
        unmoved = last.time - since_last_move(window)[0].time
        return Verdict(
            Status.STOP,
            f"no members and offset {last.offset} unchanged for {unmoved:.0f} s, lag {last.lag}",
        )
    if lag_touched_zero(window):
        return Verdict(Status.OK, "lag reached 0 inside the window")
    if frozen(window):
        return Verdict(
            Status.STALL, f"offset {last.offset} unchanged for {span:.0f} s while lag is {last.lag}"
        )
    if falling_behind(window):
        moved = commits(window)
        first, latest = moved[0], moved[-1]
        return Verdict(
            Status.WARN,
            f"lag at commits grew from {first.lag} to {latest.lag}"
            f" over {latest.time - first.time:.0f} s",
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

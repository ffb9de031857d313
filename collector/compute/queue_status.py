"""Burrow-style status for queues whose broker reports the backlog itself (RabbitMQ, SQS).

A queue has no committed offset; what moves when consumers work is the broker's cumulative
count of consumed messages (`acked_total`), and what piles up is the backlog (ready + unacked).
Each poll appends one `(time, QueueSample)` to the queue's window (oldest first).

Rules, checked in this order (the first that applies wins):

1. OK    — not enough observations yet to judge (fewer than `min_observations`).
2. OK    — the latest backlog is 0: caught up (an idle queue with no consumers is healthy).
3. STOP  — the latest sample has no consumers while the backlog is > 0: nobody is consuming.
4. STALL — consumers are present, the backlog was > 0 in every sample of the window, and the
           consumed count did not move across it: consumers are attached but not acking
           (a stuck handler holding its prefetch, a poison message redelivered forever).
5. OK    — the backlog was 0 in some sample of the window: consumers reached the end of the
           queue within the window, so they keep up (Burrow's guard against noise).
6. WARN  — the backlog rises beyond its own swing: the smallest backlog of the window's newer
           half is above the largest of its older half (`status.rising_beyond_swing`); consumers
           are falling behind the producers. A healthy queue's backlog is a sawtooth whose
           troughs do not climb.
7. OK    — the latest consumed count is unknown (the broker reports no ack statistics): said in
           the reason, since "consuming" and "stalled" cannot be told apart.
8. OK    — otherwise.

A consumed count that went *down* (a broker restart resets it) counts as movement, not as
frozen: after a restart nothing is known yet, so STALL waits for a full window again.
Unknown consumers (None) never give STOP, unknown consumed counts never give STALL.

Example: window (t=0, backlog 5, acked 10, 2 consumers), (t=15, 5, 10, 2), (t=30, 7, 10, 2)
with min_observations=3 → rule 4, STALL "2 consumers acked nothing for 30 s while backlog is 7".
"""

from __future__ import annotations

from collections.abc import Sequence

from collector.compute.status import Verdict, rising_beyond_swing
from collector.model import QueueSample, Status

QueueWindow = Sequence[tuple[float, QueueSample]]


def backlog(sample: QueueSample) -> int:
    return sample.ready + sample.unacked


def caught_up(window: QueueWindow) -> bool:
    """Rule 2: the latest backlog is zero."""
    return backlog(window[-1][1]) == 0


def stopped(window: QueueWindow) -> bool:
    """Rule 3: no consumers in the latest sample while messages wait."""
    last = window[-1][1]
    return last.consumers == 0 and backlog(last) > 0


def stalled(window: QueueWindow) -> bool:
    """Rule 4: consumers present, backlog > 0 throughout, consumed count frozen."""
    last = window[-1][1]
    acked = [s.acked_total for _, s in window]
    return (
        bool(last.consumers)
        and all(backlog(s) > 0 for _, s in window)
        and None not in acked
        and len(set(acked)) == 1
    )


def backlog_touched_zero(window: QueueWindow) -> bool:
    """Rule 5: the backlog was zero in at least one sample of the window."""
    return any(backlog(s) == 0 for _, s in window)


def falling_behind(window: QueueWindow) -> bool:
    """Rule 6: the newer half's smallest backlog is above the older half's largest."""
    return rising_beyond_swing([backlog(s) for _, s in window])


def evaluate_queue(window: QueueWindow, min_observations: int) -> Verdict:
    """Status of one queue from its window of (time, sample), oldest first; see module rules."""
    if len(window) < max(1, min_observations):
        return Verdict(Status.OK, "not enough observations yet")
    span = window[-1][0] - window[0][0]
    last = window[-1][1]
    size = backlog(last)
    if caught_up(window):
        return Verdict(Status.OK, "caught up")
    if stopped(window):
        return Verdict(Status.STOP, f"no consumers while backlog is {size}")
    if stalled(window):
        who = f"{last.consumers} consumer" + ("s" if last.consumers != 1 else "")
        return Verdict(
            Status.STALL, f"{who} acked nothing for {span:.0f} s while backlog is {size}"
        )
    if backlog_touched_zero(window):
        return Verdict(Status.OK, f"backlog reached 0 inside the window, now {size}")
    if falling_behind(window):
        first = backlog(window[0][1])
        return Verdict(Status.WARN, f"backlog grew from {first} to {size} over {span:.0f} s")
    if last.acked_total is None:
        return Verdict(Status.OK, f"no ack statistics, backlog {size}")
    return Verdict(Status.OK, f"consuming, backlog {size}")

"""Messages deleted unread: retention (or DeleteRecords) overtaking a consumer group.

Kafka deletes by retention whether or not a group has read the messages. When a partition's log
start offset passes a group's committed offset, the offsets in between are gone for that group:

    lost now       = max(0, log_start − committed)
    readable lag   = max(0, end − max(committed, log_start))   (what the group can still read)

The counter `eventscope_consumer_messages_lost_total` counts each lost offset once per process
life, however many polls see it. Per (group, partition) a *mark* remembers the offset below
which loss was already counted; a poll adds only the offsets between max(committed, mark) and
the log start. Worked example (one partition, committed frozen at 10):

    poll  committed  log_start  mark before  counted now       total  mark after
    1     10         130        —            130 − 10  = 120   120    130
    2     10         130        130          130 − 130 = 0     120    130   seen already
    3     10         200        130          200 − 130 = 70    190    200   start advanced
    4     200        200        200          c ≥ start:  0     190    200   reset to earliest
    5     250        300        200          300 − 250 = 50    240    300   behind again
    6     0          300        300          300 − 300 = 0     240    300   rewound: not twice

A log start below the mark means the topic was deleted and recreated (its offsets now name other
records), so the mark is forgotten. The first poll that sees a group partition counts the loss it
finds: those offsets were deleted unread even if it happened before the collector started; a
collector restart therefore counts a standing loss again, from a counter that starts at 0
(Prometheus reads that as a counter reset, which `increase()` handles).

Committed offsets are read before log start offsets, so a commit that lands between the two
reads could overstate the loss by what was committed in between; retention deletes whole old
segments, so a group that close to the log start is at the edge anyway.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LossStep:
    """What one poll adds for one group partition, and the mark to keep for the next poll."""

    counted: int
    mark: int | None


def lost_unread(committed: int, log_start: int) -> int:
    """Offsets deleted before the group read them, as of now.

    >>> lost_unread(committed=10, log_start=130)
    120
    >>> lost_unread(committed=150, log_start=130)
    0
    """
    return max(0, log_start - committed)


def readable_from(committed: int, log_start: int | None) -> int:
    """Where the group will actually resume: the committed offset, or the log start past it."""
    return committed if log_start is None else max(committed, log_start)


def count_lost(mark: int | None, committed: int, log_start: int) -> LossStep:
    """Advance one group partition's loss count by one poll (see the module's worked example)."""
    if mark is not None and log_start < mark:
        mark = None  # the topic was recreated: old marks name other records
    if committed >= log_start:
        return LossStep(0, mark)
    floor = committed if mark is None else max(committed, mark)
    return LossStep(max(0, log_start - floor), log_start if mark is None else max(mark, log_start))

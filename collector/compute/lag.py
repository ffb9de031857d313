"""Lag in messages."""

from __future__ import annotations


def partition_lag(committed: int, end: int, first_readable: int | None = None) -> int:
    """Backlog of one partition: end offset minus committed offset, clipped at 0.

    Committed offsets are read before end offsets, so a negative difference can only come from a
    broker that lost data or a stale end offset; it is reported as 0, never as negative lag.

    `first_readable` is the first offset a reader receives from `committed` on, when the adapter
    found it further on (a transaction's commit marker or aborted records at the committed
    offset, which no reader receives): the backlog starts there. A reader that reached the
    partition end without a record has `first_readable >= end`: caught up.

    >>> partition_lag(committed=90, end=100)
    10
    >>> partition_lag(committed=105, end=100)
    0
    >>> partition_lag(committed=17, end=18, first_readable=18)  # only a commit marker left
    0
    >>> partition_lag(committed=17, end=26, first_readable=23)  # 17-22: marker, aborted, marker
    3
    """
    start = committed if first_readable is None else max(committed, first_readable)
    return max(0, end - start)

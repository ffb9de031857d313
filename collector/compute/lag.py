"""Lag in messages."""

from __future__ import annotations


def partition_lag(committed: int, end: int) -> int:
    """Backlog of one partition: end offset minus committed offset, clipped at 0.

    Committed offsets are read before end offsets, so a negative difference can only come from a
    broker that lost data or a stale end offset; it is reported as 0, never as negative lag.

    >>> partition_lag(committed=90, end=100)
    10
    >>> partition_lag(committed=105, end=100)
    0
    """
    return max(0, end - committed)

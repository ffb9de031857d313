"""Counters built from broker values that are not counters themselves.

Two rules:

* `reset_aware` (end offsets, broker publish counts): a value below the last one means the
  source restarted from zero (a recreated topic, a restarted RabbitMQ), so the new value itself
  is the growth. `last=100, total=100, value=7 → total=107`.
* `positive_only` (committed offsets): a value below the last one is a rewind, not consumption:
  the total stays and the new value becomes the baseline. `last=100, total=100, value=40 → 100`,
  then `value=50 → 110`.

A counter starts at the first value seen (the end offset is how many messages were ever
produced), so a collector restart continues the series without a false jump.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Counter:
    last: int
    total: int


def start_counter(value: int) -> Counter:
    return Counter(last=value, total=max(0, value))


def reset_aware(counter: Counter, value: int) -> Counter:
    growth = value - counter.last if value >= counter.last else value
    return Counter(last=value, total=counter.total + max(0, growth))


def positive_only(counter: Counter, value: int) -> Counter:
    growth = max(0, value - counter.last)
    return Counter(last=value, total=counter.total + growth)

"""Exact lag seconds: read the timestamp of the record at each lagging group's committed offset.

One consumer, `assign()` only (it never joins a group or commits), one batched fetch per round
for all lagging partitions; a partition read by several groups at different offsets needs one
round per distinct offset, capped at `MAX_ROUNDS` (the rest fall back to interpolation).

`StampCache` keeps what was read: the record at an offset does not change, so a group whose
committed offset has not moved since the last poll (a stopped consumer, the one a lag alert is
about) costs no fetch at all.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Mapping

from confluent_kafka import Consumer, KafkaError
from confluent_kafka import TopicPartition as KTopicPartition

from collector.model import TopicPartition

MAX_ROUNDS = 4

GroupPartition = tuple[str, TopicPartition]


class StampCache:
    """Timestamps already read, by (partition, committed offset).

    It holds only what the last poll asked for, so it is bounded by the lagging partitions.
    A partition whose end offset went back (the topic was deleted and recreated) is forgotten:
    its offsets now name other records. A record that retention deleted keeps the timestamp it
    was read with, which is what the group's committed position still points at.
    """

    def __init__(self) -> None:
        self._stamps: dict[tuple[TopicPartition, int], float] = {}
        self._ends: dict[TopicPartition, int] = {}

    def split(
        self, wanted: Mapping[GroupPartition, int], end: Mapping[TopicPartition, int]
    ) -> tuple[dict[GroupPartition, float], dict[GroupPartition, int]]:
        """(the stamps known already, the (group, tp) → offset still to read)."""
        gone = {tp for tp, offset in end.items() if offset < self._ends.get(tp, 0)}
        self._ends = dict(end)
        known: dict[GroupPartition, float] = {}
        missing: dict[GroupPartition, int] = {}
        for key, offset in wanted.items():
            stamp = None if key[1] in gone else self._stamps.get((key[1], offset))
            if stamp is None:
                missing[key] = offset
            else:
                known[key] = stamp
        return known, missing

    def keep(
        self, wanted: Mapping[GroupPartition, int], stamps: Mapping[GroupPartition, float]
    ) -> None:
        """Remember this poll's stamps (and forget those no longer asked for)."""
        self._stamps = {(key[1], offset): stamps[key] for key, offset in wanted.items()
                        if key in stamps}  # fmt: skip


def fetch_commit_timestamps(
    consumer: Consumer, wanted: Mapping[tuple[str, TopicPartition], int], timeout: float
) -> dict[tuple[str, TopicPartition], float]:
    """(group, tp) → Unix time of the record at that group's committed offset, where readable."""
    by_tp: dict[TopicPartition, dict[int, list[str]]] = defaultdict(lambda: defaultdict(list))
    for (group, tp), offset in wanted.items():
        by_tp[tp][offset].append(group)
    rounds: list[dict[TopicPartition, int]] = []
    for tp, offsets in by_tp.items():
        for i, offset in enumerate(sorted(offsets)[:MAX_ROUNDS]):
            while len(rounds) <= i:
                rounds.append({})
            rounds[i][tp] = offset
    found: dict[tuple[str, TopicPartition], float] = {}
    deadline = time.monotonic() + timeout
    for assignment in rounds:
        stamps = _read_round(consumer, assignment, deadline)
        for tp, ts in stamps.items():
            for group in by_tp[tp][assignment[tp]]:
                found[(group, tp)] = ts
    consumer.unassign()
    return found


def _read_round(
    consumer: Consumer, assignment: Mapping[TopicPartition, int], deadline: float
) -> dict[TopicPartition, float]:
    parts = [KTopicPartition(tp.topic, tp.partition, off) for tp, off in assignment.items()]
    consumer.assign(parts)
    # librdkafka keeps a partition paused across unassign/assign: without this, every poll after
    # the first (and every later round) read nothing and waited out the whole timeout
    consumer.resume(parts)
    stamps: dict[TopicPartition, float] = {}
    remaining = set(assignment)
    while remaining and time.monotonic() < deadline:
        for msg in consumer.consume(num_messages=max(1, len(remaining)), timeout=0.1):
            tp = TopicPartition(msg.topic() or "", msg.partition() or 0)
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    remaining.discard(tp)  # nothing at the committed offset (yet): no stamp
                continue
            if tp in remaining:
                _kind, ms = msg.timestamp()
                if ms > 0:
                    stamps[tp] = ms / 1000.0
                remaining.discard(tp)
                consumer.pause([KTopicPartition(tp.topic, tp.partition)])
    return stamps

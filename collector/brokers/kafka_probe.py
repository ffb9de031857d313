"""Exact lag seconds: read the timestamp of the record at each lagging group's committed offset.

One consumer, `assign()` only (it never joins a group or commits), one batched fetch per round
for all lagging partitions; a partition read by several groups at different offsets needs one
round per distinct offset, capped at `MAX_ROUNDS` (the rest fall back to interpolation).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Mapping

from confluent_kafka import Consumer, KafkaError
from confluent_kafka import TopicPartition as KTopicPartition

from collector.model import TopicPartition

MAX_ROUNDS = 4


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

"""Exact lag seconds: read the first record a reader gets from each lagging group's committed
offset.

One consumer, `assign()` only (it never joins a group or commits), `read_committed` (as
librdkafka's consumers are by default), one batched fetch per round for all lagging partitions;
a partition read by several groups at different offsets needs one round per distinct offset,
capped at `MAX_ROUNDS` (the rest fall back to interpolation).

The same fetch tells which offsets no reader will ever receive. On a transactional topic every
commit or abort writes a marker that occupies an offset, and an aborted transaction's records
are skipped by read_committed readers: a consumer that read everything may have committed the
marker's offset (`commit(message)` commits `last offset + 1`). What the probe gets first from
committed offset `c` is a `FirstRecord`:

    c = 17, offset 17 a commit marker, end 18 → reaches the end at 18: caught up, lag 0
    c = 17, 18-21 aborted, 22 abort marker, 23 data → first record 23: lag = end - 23

`FirstRecordCache` keeps what was read: the records from an offset on do not change, so a group
whose committed offset has not moved since the last poll (a stopped consumer, the one a lag
alert is about) costs no fetch at all.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaError
from confluent_kafka import TopicPartition as KTopicPartition

from collector.model import TopicPartition

MAX_ROUNDS = 4

GroupPartition = tuple[str, TopicPartition]


@dataclass(frozen=True)
class FirstRecord:
    """What a read_committed reader fetching from a committed offset gets first.

    `offset` is the first data record's offset, or, when the reader reached the partition's end
    without one (`at_end`), the end it reached. Offsets between the committed one and `offset`
    are markers or aborted records: no reader receives them, so they are not lag.
    """

    offset: int
    timestamp: float | None = None  # the record's time; None at the end or when it has none
    at_end: bool = False

    def holds_at(self, end: int) -> bool:
        """A record read stays read; "nothing readable up to the end" holds until the end grows."""
        return not self.at_end or end <= self.offset


class FirstRecordCache:
    """First records already read, by (partition, committed offset).

    It holds only what the last poll asked for, so it is bounded by the lagging partitions.
    A partition whose end offset went back (the topic was deleted and recreated) is forgotten:
    its offsets now name other records. A record that retention deleted keeps the timestamp it
    was read with, which is what the group's committed position still points at.
    """

    def __init__(self) -> None:
        self._found: dict[tuple[TopicPartition, int], FirstRecord] = {}
        self._ends: dict[TopicPartition, int] = {}

    def split(
        self, wanted: Mapping[GroupPartition, int], end: Mapping[TopicPartition, int]
    ) -> tuple[dict[GroupPartition, FirstRecord], dict[GroupPartition, int]]:
        """(the first records known already, the (group, tp) → offset still to read)."""
        gone = {tp for tp, offset in end.items() if offset < self._ends.get(tp, 0)}
        self._ends = dict(end)
        known: dict[GroupPartition, FirstRecord] = {}
        missing: dict[GroupPartition, int] = {}
        for key, offset in wanted.items():
            tp = key[1]
            found = None if tp in gone else self._found.get((tp, offset))
            if found is None or not found.holds_at(end.get(tp, 0)):
                missing[key] = offset
            else:
                known[key] = found
        return known, missing

    def keep(
        self, wanted: Mapping[GroupPartition, int], found: Mapping[GroupPartition, FirstRecord]
    ) -> None:
        """Remember this poll's first records (and forget those no longer asked for)."""
        self._found = {(key[1], offset): found[key] for key, offset in wanted.items()
                       if key in found}  # fmt: skip


def snapshot_fields(
    wanted: Mapping[GroupPartition, int], found: Mapping[GroupPartition, FirstRecord]
) -> tuple[dict[GroupPartition, float], dict[GroupPartition, int]]:
    """(commit timestamps, readable offsets) as `ClusterSnapshot` carries them: the time of the
    first record a group will read, and its first readable offset where that is past the
    committed one (markers or aborted records at the committed offset)."""
    stamps = {
        key: rec.timestamp
        for key, rec in found.items()
        if rec.timestamp is not None and not rec.at_end
    }
    readable = {key: rec.offset for key, rec in found.items() if rec.offset > wanted[key]}
    return stamps, readable


def fetch_first_records(
    consumer: Consumer, wanted: Mapping[GroupPartition, int], timeout: float
) -> dict[GroupPartition, FirstRecord]:
    """(group, tp) → the first record readable from that group's committed offset, where read."""
    by_tp: dict[TopicPartition, dict[int, list[str]]] = defaultdict(lambda: defaultdict(list))
    for (group, tp), offset in wanted.items():
        by_tp[tp][offset].append(group)
    rounds: list[dict[TopicPartition, int]] = []
    for tp, offsets in by_tp.items():
        for i, offset in enumerate(sorted(offsets)[:MAX_ROUNDS]):
            while len(rounds) <= i:
                rounds.append({})
            rounds[i][tp] = offset
    found: dict[GroupPartition, FirstRecord] = {}
    deadline = time.monotonic() + timeout
    for assignment in rounds:
        records = _read_round(consumer, assignment, deadline)
        for tp, record in records.items():
            for group in by_tp[tp][assignment[tp]]:
                found[(group, tp)] = record
    consumer.unassign()
    return found


def _read_round(
    consumer: Consumer, assignment: Mapping[TopicPartition, int], deadline: float
) -> dict[TopicPartition, FirstRecord]:
    parts = [KTopicPartition(tp.topic, tp.partition, off) for tp, off in assignment.items()]
    consumer.assign(parts)
    # librdkafka keeps a partition paused across unassign/assign: without this, every poll after
    # the first (and every later round) read nothing and waited out the whole timeout
    consumer.resume(parts)
    records: dict[TopicPartition, FirstRecord] = {}
    remaining = set(assignment)
    while remaining and time.monotonic() < deadline:
        for msg in consumer.consume(num_messages=max(1, len(remaining)), timeout=0.1):
            tp = TopicPartition(msg.topic() or "", msg.partition() or 0)
            if tp not in remaining:
                continue
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    # nothing readable from the committed offset up to the end it reached
                    records[tp] = FirstRecord(msg.offset() or 0, at_end=True)
                    remaining.discard(tp)
                elif err.code() == KafkaError._AUTO_OFFSET_RESET:
                    remaining.discard(tp)  # retention removed the offset: nothing to say
                continue
            _kind, ms = msg.timestamp()
            records[tp] = FirstRecord(msg.offset() or 0, ms / 1000.0 if ms > 0 else None)
            remaining.discard(tp)
            consumer.pause([KTopicPartition(tp.topic, tp.partition)])
    return records

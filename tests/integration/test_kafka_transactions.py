"""Transactional topics on Apache Kafka: commit markers and aborted records are not lag.

Every committed or aborted transaction writes a marker that occupies one offset, and a
read_committed reader never receives it nor an aborted transaction's records. A reader that
read everything has committed either its position (past the last marker) or `last offset + 1`
(the marker itself): both are caught up and must show 0 messages and 0 s.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaError, Message, Producer
from confluent_kafka import TopicPartition as KTopicPartition
from confluent_kafka.admin import OffsetSpec

from tests.conftest import scrape, wait_until
from tests.integration.test_kafka_collector import kafka_cluster, start_collector, value
from tests.kafka_world import admin, create_topic, unique

pytestmark = pytest.mark.service


def write_transactions(
    bootstrap: str, topic: str, sizes: Sequence[int], aborted: Sequence[int] = ()
) -> None:
    """One transaction per entry of `sizes` to partition 0; those indexed in `aborted` abort
    (flushed first, so their records and the abort marker are in the log)."""
    producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": unique("txn")})
    producer.init_transactions(30)
    for i, n in enumerate(sizes):
        producer.begin_transaction()
        for _ in range(n):
            producer.produce(topic, value=b"x", partition=0)
        if i in aborted:
            assert producer.flush(10) == 0
            producer.abort_transaction(30)
        else:
            producer.commit_transaction(30)


def end_offset(bootstrap: str, topic: str) -> int:
    client = admin(bootstrap)
    futures = client.list_offsets({KTopicPartition(topic, 0): OffsetSpec.latest()})
    return next(iter(futures.values())).result(10).offset


def read_and_commit(bootstrap: str, group: str, topic: str, records: int, how: str) -> int:
    """Read `records` data records from the start as a read_committed `group` (assigned, not
    subscribed: no rebalance wait), commit, and return the committed offset. `how` is
    "position" (consumer.position(), after reading up to the end when everything was read) or
    "message" (commit(message): the last record's offset + 1)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    try:
        consumer.assign([KTopicPartition(topic, 0, 0)])
        got: list[Message] = []
        at_end = False

        def done() -> bool:
            nonlocal at_end
            for msg in consumer.consume(num_messages=100, timeout=0.2):
                err = msg.error()
                if err is None and len(got) < records:
                    got.append(msg)
                elif err is not None and err.code() == KafkaError._PARTITION_EOF:
                    at_end = True
            # a reader committing its position does so after it saw the end (past the marker)
            return len(got) == records and (how == "message" or at_end)

        wait_until(done, 30, f"{group} reading {records} records", every=0)
        if how == "position":
            consumer.commit(offsets=consumer.position([KTopicPartition(topic, 0)]),
                            asynchronous=False)  # fmt: skip
        else:
            consumer.commit(message=got[-1], asynchronous=False)
        return consumer.committed([KTopicPartition(topic, 0)], timeout=10)[0].offset
    finally:
        consumer.close()


def lag_of(url: str, group: str, topic: str) -> tuple[float, float, str] | None:
    """(messages, seconds, method) of partition 0, or None while a series is missing."""
    base = {"broker": "kafka", "cluster_name": "txn", "group": group, "topic": topic}
    metrics = scrape(url)
    messages = value(metrics, "eventscope_consumer_lag_messages", **base, partition="0")
    for method in ("exact", "interpolated"):
        seconds = value(
            metrics, "eventscope_consumer_lag_seconds", **base, partition="0", method=method
        )
        if messages is not None and seconds is not None:
            return messages, seconds, method
    return None


def wait_for_lag(url: str, group: str, topic: str, want: float) -> tuple[float, float, str]:
    return wait_until(
        lambda: (got := lag_of(url, group, topic)) and got[0] == want and got,
        60,
        f"{group}'s lag to be {want}",
    )


def test_caught_up_transactional_readers_show_zero(kafka, tmp_path: Path):
    """(a) X commits its position, Y commits last offset + 1: both read all 15 records."""
    topic, x, y = unique("txn-orders"), unique("x"), unique("y")
    create_topic(kafka, topic, 1)
    write_transactions(kafka, topic, [5, 5, 5])
    end = end_offset(kafka, topic)
    assert end == 18  # 15 records + 3 commit markers
    assert read_and_commit(kafka, x, topic, 15, "position") == end
    committed_y = read_and_commit(kafka, y, topic, 15, "message")
    assert end - committed_y >= 1  # the truth this test is about: naive lag never reaches 0
    service = start_collector(tmp_path, kafka_cluster("txn", kafka, timeout=5.0))
    try:
        url = f"http://127.0.0.1:{service.port}/metrics"
        for group in (x, y):
            messages, seconds, _method = wait_for_lag(url, group, topic, 0.0)
            assert (messages, seconds) == (0.0, 0.0)
    finally:
        service.stop()


def test_a_reader_halfway_shows_the_offsets_still_ahead_of_it(kafka, tmp_path: Path):
    """(b) A reader that read the first transaction and committed last offset + 1 (5, the
    marker) has 10 records ahead of it, and the 2 markers among them: 12 (naive: 13)."""
    topic, group = unique("txn-payments"), unique("halfway")
    create_topic(kafka, topic, 1)
    write_transactions(kafka, topic, [5, 5, 5])
    end = end_offset(kafka, topic)
    committed = read_and_commit(kafka, group, topic, 5, "message")
    assert (committed, end) == (5, 18)
    service = start_collector(tmp_path, kafka_cluster("txn", kafka, timeout=5.0))
    try:
        url = f"http://127.0.0.1:{service.port}/metrics"
        _messages, seconds, method = wait_for_lag(url, group, topic, 12.0)
        assert method == "exact" and seconds >= 0.0  # the age of record 6, the next one read
    finally:
        service.stop()


def test_an_aborted_transaction_behind_a_reader_is_not_lag(kafka, tmp_path: Path):
    """(c) 0-4 committed, 5 marker, 6-9 aborted, 10 marker, 11-12 committed, 13 marker.
    Z read all 7 records and committed 13: caught up. W read 5 and committed 5: the first
    record it will receive is 11, so its lag is 14 - 11 = 3 (naive: 9)."""
    topic, z, w = unique("txn-stock"), unique("z"), unique("w")
    create_topic(kafka, topic, 1)
    write_transactions(kafka, topic, [5, 4, 2], aborted=[1])
    assert end_offset(kafka, topic) == 14
    assert read_and_commit(kafka, z, topic, 7, "message") == 13
    assert read_and_commit(kafka, w, topic, 5, "message") == 5
    service = start_collector(tmp_path, kafka_cluster("txn", kafka, timeout=5.0))
    try:
        url = f"http://127.0.0.1:{service.port}/metrics"
        assert wait_for_lag(url, z, topic, 0.0)[:2] == (0.0, 0.0)
        assert wait_for_lag(url, w, topic, 3.0)[2] == "exact"
    finally:
        service.stop()

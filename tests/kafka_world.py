"""Ground truth on a real Kafka broker (Apache Kafka in the tests): topics, known counts, known
commits. Producers batch as real producers do (librdkafka's defaults: `linger.ms` 5, batches of
up to 10,000 records), so lag is checked against what users' producers write.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic


def admin(bootstrap: str) -> AdminClient:
    return AdminClient({"bootstrap.servers": bootstrap})


def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    client = admin(bootstrap)  # keep the handle alive until the futures resolve
    for fut in client.create_topics([NewTopic(topic, partitions, 1)]).values():
        fut.result(10)


def add_partitions(bootstrap: str, topic: str, total: int) -> None:
    client = admin(bootstrap)
    for fut in client.create_partitions([NewPartitions(topic, total)]).values():
        fut.result(10)


def produce(
    bootstrap: str,
    topic: str,
    counts: Sequence[int],
    timestamps: Sequence[float] | None = None,
    headers: Sequence[tuple[str, bytes]] | None = None,
) -> None:
    """Produce counts[p] records to partition p; record i of p gets timestamps[i] if given."""
    producer = Producer({"bootstrap.servers": bootstrap})
    for partition, n in enumerate(counts):
        for i in range(n):
            kwargs = {}
            if timestamps is not None:
                kwargs["timestamp"] = int(timestamps[i] * 1000)
            producer.produce(
                topic, value=b"x", partition=partition, headers=list(headers or []), **kwargs
            )
            producer.poll(0)
    assert producer.flush(10) == 0


# what a fresh broker answers while its group coordinator loads __consumer_offsets (seconds on a
# loaded machine): real clients retry these, and so does the test set-up
RETRIABLE = {
    KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
    KafkaError.COORDINATOR_NOT_AVAILABLE,
    KafkaError.NOT_COORDINATOR,
}


def commit(bootstrap: str, group: str, topic: str, offsets: Mapping[int, int]) -> None:
    """Commit offsets[p] for partition p as `group`, without joining (no rebalance wait)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "enable.auto.commit": False,
        }
    )
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                consumer.commit(
                    offsets=[TopicPartition(topic, p, o) for p, o in offsets.items()],
                    asynchronous=False,
                )
                return
            except KafkaException as exc:
                code = exc.args[0].code() if exc.args else None
                if code not in RETRIABLE or time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
    finally:
        consumer.close()


def unique(prefix: str) -> str:
    return f"{prefix}-{time.time_ns() % 10**10}"

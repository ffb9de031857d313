"""Kafka benchmark world: a broker behind the latency proxy, 100 topics x 10 partitions, N groups.

The broker is Apache Kafka (a single KRaft node, `demo/kafka_node.py`) or, with
`broker="tansu"`, Tansu. It listens on one port and *advertises the proxy's*, so after bootstrap
every client (set-up included) talks to it through the proxy, as to a broker a few milliseconds
away. On Tansu producers send one record per batch (its ListOffsets quirk, see ENVIRONMENT.md);
on Apache Kafka they batch. Groups commit with the admin API (OffsetCommit without joining: no
rebalance wait), so N groups cost N small requests.

Group g commits offset 1 + g % 3 on every partition of topic g % TOPICS (records per partition:
3), so a third of the groups are caught up and the rest lag by 1 or 2 messages per partition.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from bench.latency_proxy import LatencyProxy
from demo.kafka_node import KafkaNode, start_kafka
from demo.services import ManagedProcess, ServiceError, free_port, start_tansu

TOPICS = 100
PARTITIONS = 10
RECORDS_PER_PARTITION = 3
COMMITS_IN_FLIGHT = 200  # set-up only: bounded so the broker is not flooded
COMMIT_ATTEMPTS = 30


def topic_name(i: int) -> str:
    return f"bench-t{i:03d}"


def group_name(g: int) -> str:
    return f"bench-g{g:05d}"


def group_commit(g: int) -> tuple[str, dict[int, int]]:
    """Group g's topic and committed offsets: topic g % TOPICS, offset 1 + g % 3 everywhere."""
    return topic_name(g % TOPICS), {p: 1 + g % 3 for p in range(PARTITIONS)}


def start_broker_behind(
    broker: str, port: int, advertised_port: int, workdir: Path, name: str
) -> ManagedProcess | KafkaNode:
    """The broker on 127.0.0.1:port advertising 127.0.0.1:advertised_port (the proxy)."""
    if broker == "tansu":
        return start_tansu(port, workdir, name=name, advertised_port=advertised_port)
    return start_kafka(workdir, port=port, name=name, advertised_port=advertised_port)


def commit_groups(admin: AdminClient, numbers: Iterable[int], name: Callable[[int], str]) -> None:
    """Group `name(g)` commits `group_commit(g)` for each g in `numbers`, with the admin API
    (no join), at most COMMITS_IN_FLIGHT requests at a time.

    An OffsetCommit the coordinator refuses (a fresh Apache Kafka answers
    COORDINATOR_LOAD_IN_PROGRESS / NOT_COORDINATOR while it loads __consumer_offsets) does not
    fail the future: the error is on each partition of the result. Those groups are committed
    again; before this check a fresh broker silently lost 44 of 100 groups' commits."""
    todo = list(numbers)
    for _ in range(COMMIT_ATTEMPTS):
        failed: list[int] = []
        for start in range(0, len(todo), COMMITS_IN_FLIGHT):
            wave = todo[start : start + COMMITS_IN_FLIGHT]
            pending: list[tuple[int, Future[Any]]] = []
            for g in wave:
                topic, offsets = group_commit(g)
                req = ConsumerGroupTopicPartitions(
                    name(g), [TopicPartition(topic, p, o) for p, o in offsets.items()]
                )
                pending.extend((g, f) for f in admin.alter_consumer_group_offsets([req]).values())
            for g, fut in pending:
                try:
                    result = fut.result(60)
                except KafkaException:
                    failed.append(g)
                    continue
                if any(tp.error is not None for tp in result.topic_partitions):
                    failed.append(g)
        if not failed:
            return
        todo = failed
        time.sleep(1.0)
    raise ServiceError(f"{len(todo)} benchmark groups could not commit, e.g. {name(todo[0])}")


@dataclass
class KafkaWorld:
    """A running broker + proxy with the topics produced and `groups` groups committed."""

    workdir: Path
    delay_seconds: float
    broker_kind: str = "apache"  # or "tansu"
    groups: int = 0
    proxy: LatencyProxy | None = None
    broker: ManagedProcess | KafkaNode | None = None
    _admin: AdminClient | None = field(default=None, repr=False)

    @property
    def bootstrap(self) -> str:
        """The address clients under test use: the proxy."""
        assert self.proxy is not None
        return f"127.0.0.1:{self.proxy.port}"

    def start(self) -> KafkaWorld:
        port = free_port()
        self.proxy = LatencyProxy(port, self.delay_seconds).start()
        name = f"{self.broker_kind}-bench-{port}"
        self.broker = start_broker_behind(
            self.broker_kind, port, self.proxy.port, self.workdir, name
        )
        self._admin = AdminClient({"bootstrap.servers": self.bootstrap})
        self._create_topics()
        self._produce()
        return self

    def stop(self) -> None:
        self._admin = None
        if self.broker is not None:
            self.broker.stop()
        if self.proxy is not None:
            self.proxy.stop()

    def grow_to(self, groups: int) -> None:
        """Commit offsets for groups [self.groups, groups) so that `groups` groups exist."""
        assert self._admin is not None
        commit_groups(self._admin, range(self.groups, groups), group_name)
        self.groups = max(self.groups, groups)

    def _create_topics(self) -> None:
        assert self._admin is not None
        futures = self._admin.create_topics(
            [NewTopic(topic_name(i), PARTITIONS, 1) for i in range(TOPICS)]
        )
        for fut in futures.values():
            fut.result(60)

    def _produce(self) -> None:
        one_per_batch = {"batch.num.messages": 1, "linger.ms": 0}
        producer = Producer(
            {"bootstrap.servers": self.bootstrap}
            | (one_per_batch if self.broker_kind == "tansu" else {})
        )
        for i in range(TOPICS):
            for p in range(PARTITIONS):
                for _ in range(RECORDS_PER_PARTITION):
                    producer.produce(topic_name(i), b"x", partition=p)
                    producer.poll(0)
        left = producer.flush(120)
        if left:
            raise ServiceError(f"{left} benchmark records were not delivered")

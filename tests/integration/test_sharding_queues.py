"""Two shards over one real RabbitMQ snapshot export exactly what one collector exports.

Queues (and their DLQs) are owned by their display name: each appears in exactly one shard, so
`sum()` over shards does not multiply a backlog and an alert fires once.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterator

import pika
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from collector.brokers.rabbitmq import RabbitMQAdapter
from collector.compute.view import ViewSettings, build_view
from collector.config import RabbitMQCluster, Thresholds
from collector.exporters.prometheus import ViewCollector
from collector.history import ClusterHistory
from collector.model import ClusterSnapshot
from collector.sharding import ShardFilter, owner

pytestmark = pytest.mark.service

MANAGEMENT_URL = "http://127.0.0.1:15672"
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
PER_INSTANCE = ("eventscope_collector_",)  # every shard reports its own poll of the cluster
QUEUES = 8


def split_prefix() -> str:
    """A prefix whose 8 queues and 8 DLQs land on both shards (a real split, every run)."""
    while True:
        prefix = f"shardq-{uuid.uuid4().hex[:8]}-"
        names = [f"{prefix}q{i}" for i in range(QUEUES)]
        owners = {owner(n, 2) for n in names}
        dlq_owners = {owner(f"{n}.dlq", 2) for n in names}
        if owners == dlq_owners == {1, 2}:
            return prefix


@pytest.fixture
def queues() -> Iterator[list[str]]:
    prefix = split_prefix()
    names = [f"{prefix}q{i}" for i in range(QUEUES)]
    conn = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    ch = conn.channel()
    for i, name in enumerate(names):
        ch.queue_declare(f"{name}.dlq", auto_delete=False)
        ch.queue_declare(
            name,
            arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": f"{name}.dlq"},
        )
        for _ in range(i + 1):
            ch.basic_publish("", name, b"{}")
        method, _, _ = ch.basic_get(name)  # one dead-lettered message per queue
        assert method is not None
        ch.basic_reject(method.delivery_tag, requeue=False)
    try:
        yield names
    finally:
        for name in names:
            ch.queue_delete(name)
            ch.queue_delete(f"{name}.dlq")
        conn.close()


def settled_snapshot(names: list[str]) -> ClusterSnapshot:
    """One snapshot once the management API reports every queue's depth (stats lag ~5 s)."""
    prefix = names[0][: -len("q0")]
    cluster = RabbitMQCluster(
        name="shared", management_url=MANAGEMENT_URL, include_queues=(f"{prefix}*",)
    )
    adapter = RabbitMQAdapter(cluster)
    want = {n: i for i, n in enumerate(names)}  # backlog after one reject
    deadline = time.monotonic() + 30.0
    try:
        while True:
            snap = adapter.snapshot(time.time())
            depth = {q.name: q.ready for q in snap.queues}
            dlq = {d.dlq: d.depth for d in snap.dead_letters}
            # message_stats (publish/ack counters) can arrive a stats interval after the depths
            counted = {q.name for q in snap.queues if q.published_total is not None}
            if all(
                depth.get(n) == i and dlq.get(f"{n}.dlq") == 1 and n in counted
                for n, i in want.items()
            ):
                return snap
            assert time.monotonic() < deadline, f"stats never settled: {depth} {dlq}"
            time.sleep(0.5)
    finally:
        adapter.close()


def series(snap: ClusterSnapshot, shard: ShardFilter) -> list[tuple[str, frozenset]]:
    history = ClusterHistory()
    history.observe(snap)
    view = build_view(snap, history, ViewSettings(shard=shard))
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ViewCollector(lambda: [view], Thresholds(), 1.0))
    text = generate_latest(registry).decode()
    return [
        (s.name, frozenset(s.labels.items()))
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
        if not s.name.startswith(PER_INSTANCE)
    ]


def test_each_queue_appears_in_exactly_one_of_two_shards(queues: list[str]) -> None:
    snap = settled_snapshot(queues)
    single = series(snap, ShardFilter())
    shards = [series(snap, ShardFilter(i, 2)) for i in (1, 2)]
    union = [s for shard in shards for s in shard]

    assert [s for s, n in Counter(union).items() if n > 1] == []
    assert set(union) == set(single)
    for i, shard in enumerate(shards, start=1):
        lag = {dict(lbl)["group"] for name, lbl in shard if name.endswith("lag_messages")}
        assert lag == {q for q in queues if owner(q, 2) == i}
        dlq = {dict(lbl)["dlq"] for name, lbl in shard if name.endswith("dlq_depth_messages")}
        assert dlq == {f"{q}.dlq" for q in queues if owner(f"{q}.dlq", 2) == i}
    families = {name for name, _ in single}
    assert {
        "eventscope_consumer_lag_messages",
        "eventscope_consumer_group_status",
        "eventscope_produced_messages_total",
        "eventscope_consumed_messages_total",
        "eventscope_dlq_depth_messages",
        "eventscope_lag_threshold_messages",
    } <= families

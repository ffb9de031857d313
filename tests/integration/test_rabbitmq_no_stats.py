"""RabbitMQ queues whose ack statistics are missing: unknown stays unknown, never a false STALL.

Two real cases: a node with `management.rates_mode = none` (the management API then reports no
`message_stats` at all, even for a queue whose consumer holds messages), and a fresh queue on
the shared broker that was published to before any consumer (`message_stats` = `{publish}`).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator

import pika
import pytest

from collector.brokers.rabbitmq import RabbitMQAdapter
from collector.compute.view import ViewSettings
from collector.config import RabbitMQCluster
from collector.model import ClusterSnapshot, QueueSample, Status
from collector.poller import ClusterPoller
from demo.rabbitmq_node import RabbitMQNode, start_rabbitmq_node
from tests.conftest import wait_until

pytestmark = pytest.mark.service


@pytest.fixture(scope="module")
def stats_off_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RabbitMQNode]:
    workdir = tmp_path_factory.mktemp("rabbitmq-no-rates")
    node = start_rabbitmq_node(workdir, extra_config=("management.rates_mode = none",))
    yield node
    node.stop(graceful=False)


def queue_of(snap: ClusterSnapshot, name: str) -> QueueSample | None:
    return next((q for q in snap.queues if q.name == name), None)


def queue_once(
    adapter: RabbitMQAdapter, name: str, ok: Callable[[QueueSample], bool]
) -> QueueSample | None:
    """The queue's sample from a fresh snapshot when `ok` holds for it (for `wait_until`)."""
    q = queue_of(adapter.snapshot(0.0), name)
    return q if q is not None and ok(q) else None


def test_busy_queue_without_message_stats_is_not_stall(stats_off_node: RabbitMQNode) -> None:
    conn = pika.BlockingConnection(pika.URLParameters(stats_off_node.amqp_url))
    ch = conn.channel()
    ch.queue_declare("orders")
    for _ in range(5):
        ch.basic_publish("", "orders", b"{}")
    ch.basic_qos(prefetch_count=2)
    ch.basic_consume("orders", lambda *_: None, auto_ack=False)  # holds 2, never acks
    conn.process_data_events(time_limit=0.2)
    cluster = RabbitMQCluster(
        name="nostats", management_url=stats_off_node.management_url, request_timeout_seconds=3.0
    )
    clock = itertools.count(1_000.0, 15.0)
    poller = ClusterPoller(
        RabbitMQAdapter(cluster), 15.0, ViewSettings(min_observations=3), clock=lambda: next(clock)
    )
    try:
        # wait for depth and the consumer to reach the management API, then fill the window
        wanted = (3, 2, 1)  # ready, unacked, consumers
        wait_until(
            lambda: queue_once(
                poller.adapter, "orders", lambda q: (q.ready, q.unacked, q.consumers) == wanted
            ),
            30,
            "the depth and the consumer in the management API",
        )
        for _ in range(4):
            conn.process_data_events(time_limit=0)
            view = poller.poll_once()
    finally:
        poller.stop()
        conn.close()
    _, sample = poller.history.queue_windows["orders"][-1]
    assert (sample.published_total, sample.acked_total) == (None, None)  # before: 5 and 0
    (group,) = [g for g in view.groups if g.group == "orders"]
    # before: STALL "1 consumer acked nothing for 45 s while backlog is 5"
    assert (group.status, group.reason) == (Status.OK, "no ack statistics, backlog 5")
    assert ("orders", "orders") not in view.consumed_total  # no flat, false 0


def test_fresh_queue_published_to_has_unknown_acks_until_a_delivery() -> None:
    name = f"fresh-{uuid.uuid4().hex[:8]}"
    conn = pika.BlockingConnection(pika.URLParameters("amqp://guest:guest@127.0.0.1:5672/%2F"))
    ch = conn.channel()
    ch.queue_declare(name)
    cluster = RabbitMQCluster(
        name="shared", management_url="http://127.0.0.1:15672", include_queues=(name,)
    )
    adapter = RabbitMQAdapter(cluster)
    try:
        for _ in range(3):
            ch.basic_publish("", name, b"{}")
        fresh = wait_until(
            lambda: queue_once(adapter, name, lambda q: (q.published_total, q.ready) == (3, 3)),
            30,
            "three publishes counted",
        )
        assert fresh is not None and fresh.acked_total is None  # before: 0
        method, _, _ = ch.basic_get(name)
        assert method is not None
        ch.basic_ack(method.delivery_tag)
        acked = wait_until(
            lambda: queue_once(adapter, name, lambda q: q.acked_total is not None),
            30,
            "the first ack counted",
        )
        assert acked is not None and acked.acked_total == 1
    finally:
        adapter.close()
        ch.queue_delete(name)
        conn.close()

"""The RabbitMQ trace tap on the real local RabbitMQ, in a private vhost with the firehose on.

Topology as the demo pipeline's: topic exchange `events`, a queue per service dead-lettering
through the direct exchange `events.dlx` into `<service>.dlq` (x-death added by the broker).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pika
import pytest
import requests
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from collector.config import load_config
from collector.tracing.service import TraceService
from tests.conftest import wait_until

pytestmark = pytest.mark.service

MANAGEMENT = "http://127.0.0.1:15672"
AUTH = ("guest", "guest")
SERVICES = {
    "inventory-service": ("orders.placed",),
    "payment-service": ("inventory.reserved",),
    "order-service": ("payments.completed", "payments.failed", "inventory.shortage"),
    "notification-service": ("orders.confirmed", "orders.cancelled"),
}
PRODUCER = {
    "OrderPlaced": ("order-service", "orders.placed"),
    "InventoryReserved": ("inventory-service", "inventory.reserved"),
    "PaymentCompleted": ("payment-service", "payments.completed"),
    "PaymentFailed": ("payment-service", "payments.failed"),
    "InventoryReleased": ("inventory-service", "inventory.released"),
    "OrderCancelled": ("order-service", "orders.cancelled"),
    "OrderConfirmed": ("order-service", "orders.confirmed"),
}


@pytest.fixture
def vhost() -> Iterator[str]:
    """A private vhost with tracing (the firehose) on; deleted afterwards."""
    name = f"eventscope-trace-{uuid.uuid4().hex[:8]}"
    url = f"{MANAGEMENT}/api/vhosts/{quote(name, safe='')}"
    requests.put(url, json={"tracing": True}, auth=AUTH, timeout=10).raise_for_status()
    requests.put(
        f"{MANAGEMENT}/api/permissions/{quote(name, safe='')}/guest",
        json={"configure": ".*", "write": ".*", "read": ".*"},
        auth=AUTH,
        timeout=10,
    ).raise_for_status()
    yield name
    requests.delete(url, auth=AUTH, timeout=10)


def amqp_url(vhost: str) -> str:
    return f"amqp://guest:guest@127.0.0.1:5672/{quote(vhost, safe='')}"


def declare(channel) -> None:
    channel.exchange_declare("events", "topic", durable=True)
    channel.exchange_declare("events.dlx", "direct", durable=True)
    for service, keys in SERVICES.items():
        channel.queue_declare(f"{service}.dlq", durable=True)
        channel.queue_bind(f"{service}.dlq", "events.dlx", routing_key=f"{service}.dlq")
        channel.queue_declare(
            service,
            durable=True,
            arguments={
                "x-dead-letter-exchange": "events.dlx",
                "x-dead-letter-routing-key": f"{service}.dlq",
            },
        )
        for key in keys:
            channel.queue_bind(service, "events", routing_key=key)


def publish(channel, cid: str, event_type: str, ts_ms: int, **extra) -> None:
    service, key = PRODUCER[event_type]
    headers = {"correlation_id": cid, "event_type": event_type, "source": service}
    headers["timestamp_in_ms"] = ts_ms
    headers.update(extra)
    channel.basic_publish(
        "events",
        key,
        b'{"amount": 1}',
        pika.BasicProperties(message_id=uuid.uuid4().hex, timestamp=ts_ms // 1000, headers=headers),
    )


def take(channel, queue: str, ack: bool = True) -> None:
    """One message from `queue` as a consumer would: ack it, or reject it to the DLQ."""
    method = wait_until(lambda: channel.basic_get(queue)[0], 10, f"a message on {queue}")
    if ack:
        channel.basic_ack(method.delivery_tag)
    else:
        channel.basic_reject(method.delivery_tag, requeue=False)


def write_config(path: Path, vhost: str, mode: str, exchanges: str) -> Path:
    path.write_text(
        f"""
clusters:
  - {{name: rabbit, kind: rabbitmq, management_url: "{MANAGEMENT}"}}
tracing:
  enabled: true
  store_path: "{path.parent / "traces.db"}"
  rabbitmq:
    cluster: rabbit
    url: "{amqp_url(vhost)}"
    mode: {mode}
    exchanges: {exchanges}
"""
    )
    return path


def tap_bound_to(vhost: str) -> set[str]:
    url = f"{MANAGEMENT}/api/queues/{quote(vhost, safe='')}/eventscope.tap/bindings"
    return {b["source"] for b in requests.get(url, auth=AUTH, timeout=5).json()}


def skipped(svc: TraceService) -> dict[str, float]:
    registry = CollectorRegistry()
    registry.register(svc.collector())
    return {
        s.labels["reason"]: s.value
        for fam in text_string_to_metric_families(generate_latest(registry).decode())
        for s in fam.samples
        if s.name == "eventscope_trace_events_skipped_total"
    }


def test_firehose_journeys_deliveries_dead_letters_and_skips(vhost, tmp_path):
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url(vhost)))
    channel = connection.channel()
    channel.confirm_delivery()
    declare(channel)
    cfg = write_config(tmp_path / "eventscope.yml", vhost, "firehose", "[events.dlx]")
    svc = TraceService(load_config(cfg))
    svc.start()
    try:
        # the tap queue must be bound to the firehose and the DLX before anything is published
        wait_until(lambda: tap_bound_to(vhost) >= {"amq.rabbitmq.trace", "events.dlx"}, 15, "binds")
        t0 = int(time.time() * 1000)
        for i, etype in enumerate(
            ("OrderPlaced", "InventoryReserved", "PaymentCompleted", "OrderConfirmed")
        ):
            publish(channel, "ord-ok", etype, t0 + i * 100)
        take(channel, "inventory-service")  # consumes ord-ok's OrderPlaced
        take(channel, "payment-service")  # consumes ord-ok's InventoryReserved
        for i, etype in enumerate(
            ("OrderPlaced", "InventoryReserved", "PaymentFailed", "InventoryReleased")
        ):
            publish(channel, "ord-comp", etype, t0 + 1000 + i * 100)
        publish(channel, "ord-stuck", "OrderPlaced", t0 + 2000)
        publish(channel, "ord-stuck", "InventoryReserved", t0 + 2100)
        publish(channel, "ord-dlq", "OrderPlaced", t0 + 3000)
        for _ in range(2):  # ord-comp's and ord-stuck's OrderPlaced, acked
            take(channel, "inventory-service")
        take(channel, "inventory-service", ack=False)  # ord-dlq's: rejected → DLQ
        channel.basic_publish("events", "orders.placed", b"{}", pika.BasicProperties(headers={}))
        channel.basic_publish(
            "events", "orders.placed", b"{}",
            pika.BasicProperties(headers={"correlation_id": "bad id!"}),
        )  # fmt: skip
        channel.basic_publish(
            "events", "orders.placed", b"{}",
            pika.BasicProperties(headers={"correlation_id": "ord-big", "blob": "x" * 9000}),
        )  # fmt: skip
        wait_until(lambda: svc.store.hop_count == 12, 20, "12 hops stored")
        wait_until(lambda: sum(skipped(svc).values()) >= 3, 10, "3 skipped events")
        wait_until(
            lambda: (svc.journey("ord-dlq") or {}).get("status") == "dead_lettered",
            10,
            "ord-dlq dead-lettered",
        )
    finally:
        svc.stop(5)
        connection.close()

    ok = svc_journey(tmp_path, "ord-ok")
    assert ok["status"] == "complete"
    assert [h["event_type"] for h in ok["hops"]] == [
        "OrderPlaced", "InventoryReserved", "PaymentCompleted", "OrderConfirmed",
    ]  # fmt: skip
    placed = ok["hops"][0]
    assert placed["broker"] == "rabbitmq" and placed["source"] == "orders.placed"
    assert placed["partition"] is None and placed["offset"] is None
    assert placed["produced_at"] == pytest.approx(t0 / 1000)
    assert [(c["group"], c["service"]) for c in placed["consumed"]] == [
        ("inventory-service", "inventory-service")
    ]
    assert svc_journey(tmp_path, "ord-comp")["status"] == "compensated"
    stuck = svc_journey(tmp_path, "ord-stuck")
    assert stuck["status"] == "in_flight" and stuck["stuck_at"] == "payment-service"
    dead = svc_journey(tmp_path, "ord-dlq")
    assert dead["status"] == "dead_lettered" and dead["stuck_at"] == "inventory-service"
    assert dead["hops"][-1]["source"] == "inventory-service.dlq"
    assert dead["hops"][-1]["dlq_reason"] == "rejected"
    assert skipped(svc) == {"no_id": 1, "bad_header": 1, "oversize": 1}


def svc_journey(tmp_path: Path, cid: str) -> dict:
    from collector.tracing.api import journey_from_store

    journey = journey_from_store(tmp_path / "traces.db", cid, time.time())
    assert journey is not None, cid
    return journey


def test_tap_queue_mode_reads_publishes_without_the_firehose(vhost, tmp_path):
    requests.put(
        f"{MANAGEMENT}/api/vhosts/{quote(vhost, safe='')}",
        json={"tracing": False},
        auth=AUTH,
        timeout=10,
    ).raise_for_status()
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url(vhost)))
    channel = connection.channel()
    channel.confirm_delivery()
    declare(channel)
    cfg = write_config(
        tmp_path / "eventscope.yml", vhost, "tap_queue", "[events, events.dlx, undeclared]"
    )
    svc = TraceService(load_config(cfg))
    svc.start()
    try:
        wait_until(lambda: tap_bound_to(vhost) >= {"events", "events.dlx"}, 15, "binds")
        assert "amq.rabbitmq.trace" not in tap_bound_to(vhost)
        t0 = int(time.time() * 1000)
        publish(channel, "ord-q", "OrderPlaced", t0)
        publish(channel, "ord-q", "InventoryReserved", t0 + 250)
        take(channel, "inventory-service", ack=False)  # dead-lettered: the DLX copy is seen
        wait_until(lambda: svc.store.hop_count == 3, 15, "3 hops stored")
        journey = svc.journey("ord-q")
    finally:
        svc.stop(5)
        connection.close()
    assert journey is not None and journey["status"] == "dead_lettered"
    assert [h["source"] for h in journey["hops"]] == [
        "orders.placed", "inventory-service.dlq", "inventory.reserved",
    ]  # fmt: skip
    assert journey["hops"][1]["since_previous_seconds"] == 0.0  # the copy keeps its timestamp
    assert all(h["consumed"] == [] for h in journey["hops"])  # no firehose, no deliveries

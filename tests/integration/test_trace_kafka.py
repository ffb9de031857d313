"""The Kafka trace tap on a real Tansu broker: journeys, skipped input, kill -9, OTLP spans.

Events are order-like, with the demo pipeline's headers (correlation_id, event_type, source,
traceparent) and explicit timestamps; DLQ records carry the pipeline's dlq_* headers.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
import requests
from confluent_kafka import Producer
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from collector.config import load_config
from collector.model import TopicPartition
from collector.service import CollectorService
from collector.tracing.render import journey_text
from collector.tracing.service import TraceService
from demo.services import free_port
from tests.conftest import wait_until
from tests.kafka_world import commit, create_topic

pytestmark = pytest.mark.service

T0 = float(int(time.time()) - 3600)  # explicit producer times, inside the retention window
STREAMS = (
    "orders.placed", "inventory.reserved", "payments.completed", "payments.failed",
    "inventory.released", "orders.cancelled", "orders.confirmed", "orders.placed.dlq",
)  # fmt: skip
TYPE_STREAM = {
    "OrderPlaced": "orders.placed",
    "InventoryReserved": "inventory.reserved",
    "PaymentCompleted": "payments.completed",
    "PaymentFailed": "payments.failed",
    "InventoryReleased": "inventory.released",
    "OrderCancelled": "orders.cancelled",
    "OrderConfirmed": "orders.confirmed",
}
PRODUCER = {
    "OrderPlaced": "order-service",
    "InventoryReserved": "inventory-service",
    "PaymentCompleted": "payment-service",
    "PaymentFailed": "payment-service",
    "InventoryReleased": "inventory-service",
    "OrderCancelled": "order-service",
    "OrderConfirmed": "order-service",
}


class Sender:
    """Produces one record per batch and remembers where each landed (topic, partition, offset)."""

    def __init__(self, bootstrap: str, prefix: str) -> None:
        self.prefix = prefix
        self.producer = Producer({"bootstrap.servers": bootstrap})
        self.landed: list[tuple[str, int, int]] = []

    def send(
        self,
        stream: str,
        headers: Sequence[tuple[str, bytes]],
        ts: float,
        key: bytes = b"k",
    ) -> None:
        def report(err, msg):
            assert err is None, err
            self.landed.append((msg.topic(), msg.partition(), msg.offset()))

        self.producer.produce(
            f"{self.prefix}{stream}",
            value=b'{"amount": 42}',
            key=key,
            headers=list(headers),
            timestamp=int(ts * 1000),
            on_delivery=report,
        )
        self.producer.poll(0)

    def event(self, cid: str, event_type: str, ts: float, traceparent: str = "") -> None:
        headers = [
            ("correlation_id", cid.encode()),
            ("event_type", event_type.encode()),
            ("source", PRODUCER[event_type].encode()),
        ]
        if traceparent:
            headers.append(("traceparent", traceparent.encode()))
        self.send(TYPE_STREAM[event_type], headers, ts, key=cid.encode())

    def flush(self) -> None:
        assert self.producer.flush(15) == 0


def write_config(path: Path, bootstrap: str, prefix: str, extra: str = "") -> Path:
    path.write_text(
        f"""
clusters:
  - {{name: local, kind: kafka, bootstrap_servers: "{bootstrap}"}}
tracing:
  enabled: true
  store_path: "{path.parent / "traces.db"}"
  topic_services: {{"{prefix}orders.placed": order-service}}
  kafka:
    cluster: local
    group_id: "{prefix}tap"
    topics: ["{prefix}*"]
    session_timeout_ms: 6000
    heartbeat_interval_ms: 2000
    topic_refresh_seconds: 1
    poll_timeout_seconds: 0.2
{extra}"""
    )
    return path


@pytest.fixture
def prefix(kafka: str) -> str:
    prefix = f"t{uuid.uuid4().hex[:8]}."
    for stream in STREAMS:
        create_topic(kafka, prefix + stream, 2)
    return prefix


@pytest.fixture
def service(kafka: str, prefix: str, tmp_path: Path) -> Iterator[TraceService]:
    svc = TraceService(load_config(write_config(tmp_path / "eventscope.yml", kafka, prefix)))
    svc.start()
    yield svc
    svc.stop(5)


def metric_samples(svc: TraceService) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    registry = CollectorRegistry()
    registry.register(svc.collector())
    text = generate_latest(registry).decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }


def test_journeys_complete_compensated_dead_lettered_and_stuck(kafka, prefix, service):
    s = Sender(kafka, prefix)
    for i, etype in enumerate(("OrderPlaced", "InventoryReserved", "PaymentCompleted")):
        s.event("ord-ok", etype, T0 + i)
    s.event("ord-ok", "OrderConfirmed", T0 + 3.5)
    for i, etype in enumerate(
        ("OrderPlaced", "InventoryReserved", "PaymentFailed", "InventoryReleased", "OrderCancelled")
    ):
        s.event("ord-comp", etype, T0 + 10 + i)
    s.event("ord-dlq", "OrderPlaced", T0 + 20)
    s.send(
        "orders.placed.dlq",
        [
            ("correlation_id", b"ord-dlq"),
            ("event_type", b"OrderPlaced"),
            ("source", b"order-service"),
            ("dlq_error", b"poison: bad amount"),
            ("dlq_service", b"inventory-service"),
            ("dlq_retry_count", b"3"),
        ],
        T0 + 20,
    )
    s.event("ord-stuck", "OrderPlaced", T0 + 30)
    s.event("ord-stuck", "InventoryReserved", T0 + 31)
    s.send("orders.placed", [("event_type", b"OrderPlaced")], T0 + 40)  # no ID
    s.send("orders.placed", [("correlation_id", b"\xff\xfe")], T0 + 40)  # not UTF-8
    s.send("orders.placed", [("correlation_id", b"ord-x"), ("blob", b"x" * 9000)], T0 + 40)
    s.send("orders.placed", [("correlation_id", b"ord x!")], T0 + 40)  # bad characters
    s.flush()
    wait_until(lambda: service.store.hop_count == 13, 30, "13 hops stored", every=0.5)

    ok = service.journey("ord-ok")
    assert ok is not None and ok["status"] == "complete" and ok["stuck_at"] is None
    assert [h["event_type"] for h in ok["hops"]] == [
        "OrderPlaced", "InventoryReserved", "PaymentCompleted", "OrderConfirmed",
    ]  # fmt: skip
    assert ok["duration_seconds"] == pytest.approx(3.5)
    assert [h["since_previous_seconds"] for h in ok["hops"]] == [None, 1.0, 1.0, 1.5]
    assert ok["hops"][0]["source"] == f"{prefix}orders.placed"
    assert ok["hops"][0]["service"] == "order-service"

    comp = service.journey("ord-comp")
    assert comp is not None and comp["status"] == "compensated"

    dead = service.journey("ord-dlq")
    assert dead is not None and dead["status"] == "dead_lettered"
    assert dead["stuck_at"] == "inventory-service"
    dlq_hop = dead["hops"][-1]
    assert dlq_hop["dlq"] and dlq_hop["dlq_reason"] == "poison: bad amount"
    assert dlq_hop["retries"] == 3

    # inventory-service consumed ord-stuck's OrderPlaced; payment-service reads
    # inventory.reserved but has not got past ord-stuck's InventoryReserved
    placed, reserved = service.journey("ord-stuck")["hops"]
    service.record_consumption(
        "local", "inventory-service",
        {TopicPartition(placed["source"], placed["partition"]): placed["offset"] + 1}, T0 + 45,
    )  # fmt: skip
    service.record_consumption(
        "local", "payment-service",
        {TopicPartition(reserved["source"], reserved["partition"]): reserved["offset"]}, T0 + 45,
    )  # fmt: skip
    stuck = service.journey("ord-stuck")
    assert stuck is not None and stuck["status"] == "in_flight"
    assert stuck["stuck_at"] == "payment-service"
    assert stuck["hops"][0]["consumed"] == [
        {"group": "inventory-service", "service": "inventory-service", "consumed_at": T0 + 45}
    ]
    assert "payment-service" in journey_text(stuck)

    failed = {t["correlation_id"] for t in service.search("failed", None, None, None, None, 50)}
    assert failed == {"ord-comp", "ord-dlq"}
    by_service = service.search(None, None, None, "payment-service", None, 50)
    assert {t["correlation_id"] for t in by_service} == {"ord-ok", "ord-comp"}
    assert service.journey("ord-missing") is None

    def skipped():
        return {
            dict(labels)["reason"]: value
            for (name, labels), value in metric_samples(service).items()
            if name == "eventscope_trace_events_skipped_total"
        }

    wait_until(lambda: sum(skipped().values()) >= 4, 10, "4 skipped records")
    assert skipped() == {"no_id": 1, "not_utf8": 1, "oversize": 1, "bad_header": 1}
    samples = metric_samples(service)
    edge = {"from_service": "order-service", "to_service": "inventory-service"}
    assert (
        samples[
            (
                "eventscope_flow_events_total",
                frozenset({**edge, "event_type": "OrderPlaced"}.items()),
            )
        ]
        == 3
    )
    assert samples[("eventscope_hop_latency_seconds_count", frozenset(edge.items()))] == 3
    assert (
        samples[
            ("eventscope_trace_duration_seconds_count", frozenset({"flow": "OrderPlaced"}.items()))
        ]
        == 3
    )
    assert samples[("eventscope_trace_store_hops", frozenset())] == 13
    for labels in (lbl for name, lbl in samples if name.startswith("eventscope_")):
        assert not any("ord-" in v for _, v in labels), "a correlation ID leaked into a label"


def test_collector_serves_journeys_and_learns_consumption_from_its_polls(kafka, prefix, tmp_path):
    cfg = write_config(tmp_path / "eventscope.yml", kafka, prefix)
    cfg.write_text("poll_interval_seconds: 1\n" + cfg.read_text())
    collector = CollectorService(load_config(cfg, env={}), f"127.0.0.1:{free_port()}")
    collector.start()
    base = f"http://127.0.0.1:{collector.port}"
    try:
        s = Sender(kafka, prefix)
        s.event("ord-http", "OrderPlaced", T0)
        s.flush()
        placed = wait_until(
            lambda: requests.get(f"{base}/api/traces/ord-http", timeout=5).json()["hops"][0],
            30,
            "the journey on the API",
        )
        # a real group commits past the event; the next poll tells the trace store
        commit(
            kafka,
            "inventory-service",
            placed["source"],
            {placed["partition"]: placed["offset"] + 1},
        )
        journey = wait_until(
            lambda: (
                (j := requests.get(f"{base}/api/traces/ord-http", timeout=5).json())["hops"][0][
                    "consumed"
                ]
                and j
            ),
            30,
            "inventory-service's consumption",
        )
        metrics = requests.get(f"{base}/metrics", timeout=5).text
    finally:
        collector.stop()
    assert journey["status"] == "in_flight" and journey["stuck_at"] == "inventory-service"
    (consumed,) = journey["hops"][0]["consumed"]
    assert consumed["group"] == "inventory-service"
    assert consumed["consumed_at"] >= placed["produced_at"]
    assert "eventscope_trace_store_hops 1.0" in metrics
    assert 'eventscope_trace_tap_lag_messages{broker="kafka",cluster_name="local"}' in metrics

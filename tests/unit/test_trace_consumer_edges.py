"""Consumer-only services in the service graph: consumptions judged once, never double counted."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.tracing.consumer_edges import ConsumerEdges
from collector.tracing.hop import Consumption, Hop
from collector.tracing.ingest import Edge
from collector.tracing.store import EventClasses, TraceStore

CLASSES = EventClasses(frozenset({"OrderConfirmed"}), frozenset({"OrderCancelled"}))
DELAY = 30.0


def hop(cid: str, event_type: str, at: float, offset: int, service: str, source: str,
        **kw) -> Hop:  # fmt: skip
    return Hop(cid, event_type, "kafka", "local", source, 0, offset, at, service, **kw)


PLACED = hop("o1", "OrderPlaced", 10.0, 0, "order-service", "orders.placed")
RESERVED = hop("o1", "InventoryReserved", 10.5, 0, "inventory-service", "inventory.reserved")
CONFIRMED = hop("o1", "OrderConfirmed", 11.0, 0, "order-service", "orders.confirmed")
DEAD = hop("o1", "OrderPlaced", 10.2, 0, "inventory-service", "orders.placed.dlq", dlq=True)


def commit(store: TraceStore, group: str, service: str, topic: str, offset: int, now: float):
    store.record_commits("local", group, service, {(topic, 0): offset}, now)


@pytest.fixture
def store(tmp_path: Path) -> TraceStore:
    return TraceStore(tmp_path / "traces.db", CLASSES)


def judged(store: TraceStore, *steps, delay: float = 0.0) -> list[Edge]:
    """Run the steps (callables on the store), then judge everything logged."""
    edges = ConsumerEdges(store, delay)
    for step in steps:
        step(store)
    return edges.tick(1000.0)


def notify_reads(topic: str, now: float = 12.0, group: str = "notification-service"):
    return lambda s: commit(s, group, "notification-service", topic, 1, now)


# (case, hops stored, consumptions recorded after them, expected edges)
CASES = [
    ("a consumer-only service is an edge from the hop's producer, latency to consumed_at",
     [PLACED, RESERVED, CONFIRMED], [notify_reads("orders.confirmed")],
     [Edge("order-service", "notification-service", "OrderConfirmed", 1.0)]),
    ("a service that produced a later hop of the journey reacted: counted from produced hops",
     [PLACED, RESERVED],
     [lambda s: commit(s, "inventory-service", "inventory-service", "orders.placed", 1, 12.0)],
     []),
    ("a dead letter causes no edge, consumed or not",
     [PLACED, DEAD],
     [lambda s: commit(s, "dlq-reader", "dlq-reader", "orders.placed.dlq", 1, 12.0)],
     []),
    ("a service that dead-lettered the hop received it all the same",
     [PLACED, DEAD],
     [lambda s: commit(s, "inventory-service", "inventory-service", "orders.placed", 1, 12.0)],
     [Edge("order-service", "inventory-service", "OrderPlaced", 2.0)]),
    ("two groups of one service: one edge per hop and service, from the first consumption",
     [CONFIRMED],
     [notify_reads("orders.confirmed", 12.0, "notify-a"),
      notify_reads("orders.confirmed", 13.0, "notify-b")],
     [Edge("order-service", "notification-service", "OrderConfirmed", 1.0)]),
    ("a service consuming in another journey than it produces in still counts",
     [CONFIRMED, hop("o2", "OrderPlaced", 10.0, 0, "notification-service", "other")],
     [notify_reads("orders.confirmed")],
     [Edge("order-service", "notification-service", "OrderConfirmed", 1.0)]),
]  # fmt: skip


@pytest.mark.parametrize(("hops", "consumptions", "expected"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])  # fmt: skip
def test_the_rule(store, hops, consumptions, expected):
    got = judged(store, lambda s: s.insert_hops(hops), *consumptions)
    assert got == expected


def test_a_hop_stored_after_the_group_passed_it_counts_too(store):
    got = judged(store, notify_reads("orders.confirmed"), lambda s: s.insert_hops([CONFIRMED]))
    (edge,) = got
    assert (edge.from_service, edge.to_service) == ("order-service", "notification-service")


def test_without_the_journey_summary_the_rule_is_asked_of_the_hops(store):
    """Rule 2 looks at `journeys.services` first; a journey row gone (pruned ahead of its
    newest hop) must neither hide a consumer-only edge nor count a reaction twice."""

    def forget_journeys(s: TraceStore) -> None:
        s._write("forget", lambda db: db.execute("DELETE FROM journeys"), lambda _: 0)

    got = judged(
        store,
        lambda s: s.insert_hops([PLACED, RESERVED, CONFIRMED]),
        forget_journeys,
        notify_reads("orders.confirmed"),
        lambda s: commit(s, "inventory-service", "inventory-service", "orders.placed", 1, 12.0),
    )
    assert got == [Edge("order-service", "notification-service", "OrderConfirmed", 1.0)]


def test_a_rabbitmq_delivery_counts_even_before_its_hop_is_stored(store):
    placed = Hop("r", "OrderConfirmed", "rabbitmq", "rabbit", "orders.confirmed", -1, 7, 10.0,
                 "order-service")  # fmt: skip
    delivered = Consumption("notification-service", "notification-service", 10.25)
    got = judged(
        store,
        lambda s: s.record_deliveries([(placed, delivered)]),
        lambda s: s.insert_hops([placed]),
    )
    assert got == [Edge("order-service", "notification-service", "OrderConfirmed", 0.25)]


def test_consumptions_wait_for_the_delay_so_a_late_reaction_is_not_counted_twice(store):
    edges = ConsumerEdges(store, DELAY)
    store.insert_hops([PLACED])
    commit(store, "inventory-service", "inventory-service", "orders.placed", 1, 12.0)
    assert edges.tick(100.0) == []  # too young to judge
    store.insert_hops([RESERVED])  # inventory-service's reaction, stored after the commit
    assert edges.tick(100.0 + DELAY - 1) == []
    assert edges.tick(100.0 + DELAY) == []  # judged now: it reacted, so no consumption edge
    store.insert_hops([CONFIRMED])
    commit(store, "notify", "notification-service", "orders.confirmed", 1, 140.0)
    assert edges.tick(140.0) == []
    assert [e.to_service for e in edges.tick(140.0 + DELAY)] == ["notification-service"]


def test_each_consumption_is_judged_once_across_restarts(store, tmp_path):
    edges = ConsumerEdges(store, 0.0)
    store.insert_hops([CONFIRMED])
    commit(store, "notify", "notification-service", "orders.confirmed", 1, 12.0)
    assert len(edges.tick(20.0)) == 1
    assert edges.tick(21.0) == []
    store.close()
    again = TraceStore(tmp_path / "traces.db", CLASSES)  # a restart: cursor and marks kept
    edges = ConsumerEdges(again, 0.0)
    commit(again, "notify", "notification-service", "orders.confirmed", 1, 30.0)  # same commit
    assert edges.tick(31.0) == []
    # an unjudged consumption survives a restart and is judged by the next process
    again.insert_hops([hop("o2", "OrderConfirmed", 40.0, 1, "order-service", "orders.confirmed")])
    commit(again, "notify", "notification-service", "orders.confirmed", 2, 41.0)
    again.close()
    third = TraceStore(tmp_path / "traces.db", CLASSES)
    assert len(ConsumerEdges(third, 0.0).tick(50.0)) == 1


def test_the_log_is_trimmed_behind_its_readers(store):
    edges = ConsumerEdges(store, 0.0)
    store.insert_hops([CONFIRMED])
    commit(store, "notify", "notification-service", "orders.confirmed", 1, 12.0)
    count = "SELECT count(*) FROM consumption_log"
    assert store.read(lambda db: db.execute(count).fetchone()[0]) == 1
    edges.tick(20.0)
    assert store.read(lambda db: db.execute(count).fetchone()[0]) == 0


def test_the_span_export_reading_ahead_does_not_trim_what_is_not_judged_yet(store):
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from collector.tracing.metrics import TraceMetrics
    from collector.tracing.otel import SdkSink
    from collector.tracing.span_export import SpanExport

    edges = ConsumerEdges(store, DELAY)
    export = SpanExport(store, SdkSink(InMemorySpanExporter()), TraceMetrics(lambda: 0))
    store.insert_hops([CONFIRMED])
    commit(store, "notify", "notification-service", "orders.confirmed", 1, 12.0)
    assert edges.tick(100.0) == []
    export.run_once()  # the export's cursor passes the consumption first
    assert export.metrics.spans_exported == 3  # root, hop, consumption
    assert len(edges.tick(100.0 + DELAY)) == 1


def service_config(tmp_path: Path, extra: str = "") -> Path:
    cfg = tmp_path / "eventscope.yml"
    cfg.write_text(
        "clusters:\n  - {name: local, kind: kafka, bootstrap_servers: '127.0.0.1:1'}\n"
        f"tracing:\n  enabled: true\n  store_path: '{tmp_path / 't.db'}'\n"
        f"  consumer_edge_delay_seconds: 0\n{extra}"
    )
    return cfg


def test_the_service_counts_consumer_edges_and_runs_no_export_without_an_endpoint(tmp_path):
    import threading

    from collector.config import load_config
    from collector.model import TopicPartition
    from collector.tracing.service import TraceService

    svc = TraceService(load_config(service_config(tmp_path), env={}))
    assert svc.exporter is None and svc.taps == []
    svc.start()
    try:
        assert "trace-span-export" not in {t.name for t in threading.enumerate()}
        svc.store.insert_hops([CONFIRMED])
        svc.record_consumption(
            "local", "notification-service", {TopicPartition("orders.confirmed", 0): 1}, 12.0
        )
        svc.judge_consumptions()  # or the housekeeping thread did, a moment ago: once either way
        assert svc.metrics.flow == {("order-service", "notification-service", "OrderConfirmed"): 1}
    finally:
        svc.stop(5)

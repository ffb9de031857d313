"""Trace metrics exposition, journey text and span export (in-memory exporter)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from collector.exporters.metric_table import exposed_names
from collector.tracing import metrics as trace_metrics
from collector.tracing import span_export
from collector.tracing.hop import Consumption, Hop, Journey, JourneyStatus, journey_json
from collector.tracing.ingest import Edge, IngestResult
from collector.tracing.metrics import TraceMetrics, TraceMetricsCollector
from collector.tracing.otel import SdkSink
from collector.tracing.render import journey_text
from collector.tracing.span_export import SpanExport
from collector.tracing.store import EventClasses, TraceStore

TP = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
CLASSES = EventClasses(frozenset({"OrderConfirmed"}), frozenset({"OrderCancelled"}))


def hop(cid: str, event_type: str, at: float, offset: int, source: str, **kw) -> Hop:
    return Hop(cid, event_type, "kafka", "local", source, 0, offset, at, "svc", **kw)


def exposition(m: TraceMetrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    registry = CollectorRegistry()
    registry.register(TraceMetricsCollector(m))
    text = generate_latest(registry).decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }


def test_metrics_render_every_trace_family_with_declared_names():
    m = TraceMetrics(lambda: 7)
    m.count_ingest("kafka", "local", {"orders": 3})
    m.count_skipped("no_id", 2)
    m.observe(IngestResult(edges=[Edge("shop", "inv", "OrderPlaced", 0.3)],
                           finished=[("OrderPlaced", 4.0)]))  # fmt: skip
    m.set_tap_lag("kafka", "local", 12)
    m.count_spans(5, {"backlog": 2})
    m.observe_edges([Edge("shop", "notify", "OrderConfirmed", 2.0)])  # told by a consumption
    out = exposition(m)
    assert {name for name, _ in out} <= exposed_names()

    def value(name, **labels):
        return out[(f"eventscope_{name}", frozenset(labels.items()))]

    edge = {"from_service": "shop", "to_service": "inv"}
    assert value("flow_events_total", **edge, event_type="OrderPlaced") == 1
    assert value("hop_latency_seconds_bucket", **edge, le="0.25") == 0
    assert value("hop_latency_seconds_bucket", **edge, le="0.5") == 1
    assert value("trace_duration_seconds_sum", flow="OrderPlaced") == 4
    labels = {"broker": "kafka", "cluster_name": "local"}
    assert value("trace_events_total", **labels, source="orders") == 3
    assert value("trace_events_skipped_total", reason="no_id") == 2
    assert value("trace_store_up") == 1
    assert value("trace_store_hops") == 7
    assert value("trace_tap_lag_messages", **labels) == 12
    assert value("trace_spans_exported_total") == 5
    assert value("trace_spans_dropped_total", reason="backlog") == 2
    notify = {"from_service": "shop", "to_service": "notify"}
    assert value("flow_events_total", **notify, event_type="OrderConfirmed") == 1
    assert value("hop_latency_seconds_count", **notify) == 1


def test_label_sets_from_headers_are_bounded(monkeypatch):
    monkeypatch.setattr(trace_metrics, "MAX_SERIES", 2)
    m = TraceMetrics(lambda: 0)
    m.observe(IngestResult(edges=[Edge(f"s{i}", "t", "E", 0.1) for i in range(5)]))
    assert sorted(m.flow) == [("other", "other", "other"), ("s0", "t", "E"), ("s1", "t", "E")]
    assert m.flow[("other", "other", "other")] == 3


def journey() -> Journey:
    placed = Hop(
        "ord-7",
        "OrderPlaced",
        "kafka",
        "local",
        "orders",
        1,
        42,
        100.0,
        "shop",
        traceparent=TP,
        consumed=(Consumption("inv", "inventory-service", 100.5),),
    )
    dead = Hop("ord-7", "OrderPlaced", "kafka", "local", "orders.dlq", 0, 3, 100.0,
               "inventory-service", dlq=True, dlq_reason="poison", retries=3)  # fmt: skip
    return Journey("ord-7", JourneyStatus.DEAD_LETTERED, "inventory-service", 60.0, 100.0,
                   100.0, (placed, dead))  # fmt: skip


def test_journey_text_names_hops_consumers_and_where_it_stopped():
    text = journey_text(journey_json(journey()))
    assert text.splitlines()[0].startswith("ord-7  dead_lettered  2 hop(s)")
    assert "stuck at inventory-service for 60 s" in text
    assert "kafka orders[1]@42" in text
    assert "consumed by inventory-service (group inv) +0.500 s" in text
    assert "DEAD-LETTERED: poison (retries 3)" in text


@pytest.fixture
def store(tmp_path: Path) -> TraceStore:
    return TraceStore(tmp_path / "traces.db", CLASSES)


def export_of(
    store: TraceStore, exporter: SpanExporter | None = None
) -> tuple[SpanExport, InMemorySpanExporter]:
    memory = InMemorySpanExporter()
    return SpanExport(store, SdkSink(exporter or memory), TraceMetrics(lambda: 0)), memory


def names(spans) -> list[tuple[str, str]]:
    return sorted((s.name, s.kind.name) for s in spans)


def store_journey(store: TraceStore) -> None:
    placed, dead = journey().hops
    store.insert_hops([dataclasses.replace(placed, consumed=()), dead])
    store.record_commits("local", "inv", "inventory-service", {("orders", 1): 43}, now=100.5)


def test_spans_follow_messaging_conventions_and_traceparent(store):
    export, memory = export_of(store)
    store_journey(store)
    export.run_once()
    spans = memory.get_finished_spans()
    by_name = {(s.name, s.kind.name): s for s in spans}
    placed = by_name[("orders publish", "PRODUCER")]
    assert placed.attributes["messaging.system"] == "kafka"
    assert placed.attributes["messaging.destination.name"] == "orders"
    assert placed.attributes["messaging.message.conversation_id"] == "ord-7"
    assert placed.attributes["messaging.kafka.message.offset"] == 42
    assert format(placed.context.trace_id, "032x") == TP.split("-")[1]
    assert format(placed.parent.span_id, "016x") == TP.split("-")[2]
    consumer = by_name[("orders process", "CONSUMER")]
    assert consumer.attributes["messaging.consumer.group.name"] == "inv"
    assert consumer.attributes["eventscope.service"] == "inventory-service"
    assert consumer.parent.span_id == placed.context.span_id
    assert consumer.context.trace_id == placed.context.trace_id
    assert consumer.end_time == 100_500_000_000
    dead = by_name[("orders.dlq publish", "PRODUCER")]  # no traceparent: under a journey root
    root = by_name[("journey ord-7", "INTERNAL")]
    assert dead.parent.span_id == root.context.span_id
    assert dead.context.trace_id == root.context.trace_id
    assert dead.attributes["eventscope.dlq_reason"] == "poison"
    assert len(spans) == 4
    # the OTLP encoding takes them as they are
    request = encode_spans(spans)
    assert len(request.resource_spans[0].scope_spans[0].spans) == 4


def test_late_hops_and_late_consumptions_are_exported_each_exactly_once(store):
    export, memory = export_of(store)
    placed = hop("ord-9", "OrderPlaced", 10.0, 0, "orders.placed")
    failed = hop("ord-9", "PaymentFailed", 11.0, 0, "payments.failed")
    released = hop("ord-9", "InventoryReleased", 12.0, 0, "inventory.released")
    store.insert_hops([placed, failed, released])  # compensated: the journey has ended
    export.run_once()
    export.run_once()
    cancelled = hop("ord-9", "OrderCancelled", 13.0, 0, "orders.cancelled")
    store.insert_hops([cancelled, released])  # a late hop (and a duplicate read)
    store.record_commits("local", "notify", "notification-service", {("orders.cancelled", 0): 1},
                         now=20.0)  # fmt: skip
    export.run_once()
    export.run_once()
    got = names(memory.get_finished_spans())
    assert got == sorted([
        ("journey ord-9", "INTERNAL"),
        ("orders.placed publish", "PRODUCER"),
        ("payments.failed publish", "PRODUCER"),
        ("inventory.released publish", "PRODUCER"),
        ("orders.cancelled publish", "PRODUCER"),
        ("orders.cancelled process", "CONSUMER"),
    ])  # fmt: skip
    assert export.metrics.spans_exported == 6


def test_a_restart_exports_what_was_stored_meanwhile_and_nothing_twice(store, tmp_path):
    export, memory = export_of(store)
    store.insert_hops([hop("a", "OrderPlaced", 1.0, 0, "orders")])
    export.stop(1)
    store.insert_hops([hop("a", "OrderConfirmed", 2.0, 0, "confirmed")])  # while stopped
    export, memory = export_of(store)
    export.run_once()
    assert names(memory.get_finished_spans()) == [("confirmed publish", "PRODUCER")]


def test_a_first_start_does_not_export_the_stores_history(store):
    store.insert_hops([hop("old", "OrderPlaced", 1.0, 0, "orders")])
    export, memory = export_of(store)
    export.run_once()
    assert memory.get_finished_spans() == ()


def test_a_consumption_seen_before_its_hop_waits_for_it(store):
    export, memory = export_of(store)
    placed = Hop("r", "OrderPlaced", "rabbitmq", "rabbit", "orders.placed", -1, 7, 10.0, "shop",
                 traceparent=TP)  # fmt: skip
    store.record_deliveries([(placed, Consumption("inventory", "inventory-service", 10.5))])
    export.run_once()
    assert memory.get_finished_spans() == ()
    store.insert_hops([placed])
    export.run_once()
    export.run_once()
    spans = {s.kind.name: s for s in memory.get_finished_spans()}
    assert sorted(spans) == ["CONSUMER", "PRODUCER"]
    assert spans["CONSUMER"].parent.span_id == spans["PRODUCER"].context.span_id


class Broken(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        raise ConnectionError("collector down")

    def shutdown(self) -> None:
        pass


def test_exporter_failures_are_logged_never_raised_and_counted(store, caplog):
    export, _ = export_of(store, Broken())
    store.insert_hops([hop("a", "OrderPlaced", 1.0, 0, "orders", traceparent=TP)])
    export.run_once()
    store.insert_hops([hop("a", "OrderConfirmed", 2.0, 0, "confirmed", traceparent=TP)])
    export.run_once()
    export.stop(1)
    assert export.metrics.spans_dropped == {"export_failed": 2}
    assert [r.getMessage() for r in caplog.records].count(
        "span export failed: collector down (spans dropped until it works)"
    ) == 1  # once per change of state, not per request


def test_a_backlog_beyond_the_bound_is_skipped_and_counted(store, monkeypatch):
    monkeypatch.setattr(span_export, "MAX_BACKLOG", 3)
    export, memory = export_of(store)
    store.insert_hops([hop(f"c{i}", "OrderPlaced", float(i), i, "orders", traceparent=TP)
                       for i in range(5)])  # fmt: skip
    export.run_once()
    assert len(memory.get_finished_spans()) == 3
    assert export.metrics.spans_dropped == {"backlog": 2}

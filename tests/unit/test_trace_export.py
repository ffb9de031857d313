"""Trace metrics exposition, journey text and span export (in-memory exporter)."""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from collector.exporters.metric_table import exposed_names
from collector.tracing import metrics as trace_metrics
from collector.tracing.hop import Consumption, Hop, Journey, JourneyStatus, journey_json
from collector.tracing.ingest import Edge, IngestResult
from collector.tracing.metrics import TraceMetrics, TraceMetricsCollector
from collector.tracing.otel import JourneyExporter
from collector.tracing.render import journey_text

TP = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


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


def test_spans_follow_messaging_conventions_and_traceparent():
    memory = InMemorySpanExporter()
    exporter = JourneyExporter(memory)
    exporter.export(journey())
    exporter.flush()
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
    assert consumer.parent.span_id == placed.context.span_id
    assert consumer.end_time == 100_500_000_000
    dead = by_name[("orders.dlq publish", "PRODUCER")]  # no traceparent: under a journey root
    root = by_name[("journey ord-7", "INTERNAL")]
    assert dead.parent.span_id == root.context.span_id
    assert dead.attributes["eventscope.dlq_reason"] == "poison"
    exporter.shutdown()


class Broken(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        raise ConnectionError("collector down")

    def shutdown(self) -> None:
        pass


def test_exporter_failures_are_logged_never_raised():
    exporter = JourneyExporter(Broken())
    exporter.export(journey())
    exporter.flush(1)
    exporter.shutdown()

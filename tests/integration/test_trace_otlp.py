"""Spans reach a real OTLP/HTTP receiver (stdlib server decoding the protobuf request): with
their attributes and parents, each hop and consumption exactly once, late ones included."""

from __future__ import annotations

import gzip
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from collector.config import load_config
from collector.model import TopicPartition
from collector.tracing.service import TraceService
from demo.services import free_port
from tests.conftest import wait_until
from tests.integration.test_trace_kafka import T0, Sender, prefix, write_config

pytestmark = pytest.mark.service
__all__ = ["prefix"]  # the fixture, shared with test_trace_kafka


class OtlpReceiver(BaseHTTPRequestHandler):
    """A stdlib OTLP/HTTP receiver: decodes ExportTraceServiceRequest into `spans`."""

    spans: ClassVar[list[Any]] = []

    def log_message(self, format, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        for resource in request.resource_spans:
            for scope in resource.scope_spans:
                self.spans.extend(scope.spans)
        reply = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)


def attributes(span) -> dict[str, Any]:
    out = {}
    for kv in span.attributes:
        v = kv.value
        out[kv.key] = v.string_value if v.HasField("string_value") else (
            v.int_value if v.HasField("int_value") else v.bool_value
        )  # fmt: skip
    return out


@pytest.fixture
def receiver() -> Iterator[str]:
    """The receiver's endpoint; spans land in `OtlpReceiver.spans`."""
    OtlpReceiver.spans = []
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), OtlpReceiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1/traces"
    server.shutdown()


def exporting_service(tmp_path: Path, kafka: str, prefix: str, endpoint: str) -> TraceService:
    cfg = write_config(tmp_path / "eventscope.yml", kafka, prefix)
    cfg.write_text(
        cfg.read_text().replace("tracing:\n", f'tracing:\n  otlp_endpoint: "{endpoint}"\n', 1)
    )
    return TraceService(load_config(cfg))


def spans_of(cid: str) -> list[Any]:
    return [
        sp for sp in OtlpReceiver.spans
        if attributes(sp).get("messaging.message.conversation_id") == cid
    ]  # fmt: skip


def test_journey_spans_reach_an_otlp_receiver_with_attributes_and_parents(
    kafka, prefix, tmp_path, receiver
):
    svc = exporting_service(tmp_path, kafka, prefix, receiver)
    svc.start()
    trace_id = uuid.uuid4().hex
    parents = [uuid.uuid4().hex[:16] for _ in range(4)]
    try:
        s = Sender(kafka, prefix)
        types = ("OrderPlaced", "InventoryReserved", "PaymentCompleted", "OrderConfirmed")
        for i, etype in enumerate(types[:3]):
            s.event("ord-otel", etype, T0 + i, traceparent=f"00-{trace_id}-{parents[i]}-01")
        s.flush()
        wait_until(lambda: svc.store.hop_count == 3, 30, "3 hops stored")
        placed = svc.journey("ord-otel")["hops"][0]
        svc.record_consumption(
            "local", "inventory-service",
            {TopicPartition(placed["source"], placed["partition"]): placed["offset"] + 1},
            T0 + 0.5,
        )  # fmt: skip
        s.event("ord-otel", types[3], T0 + 3, traceparent=f"00-{trace_id}-{parents[3]}-01")
        s.flush()

        def journey_spans():
            mine = spans_of("ord-otel")
            return mine if len(mine) >= 5 else None

        wait_until(journey_spans, 30, "4 producer + 1 consumer spans at the receiver")
    finally:
        svc.stop(5)
    spans = spans_of("ord-otel")
    assert len(spans) == 5  # each once, after the last pass at stop too
    producers = sorted((sp for sp in spans if sp.kind == 4), key=lambda sp: sp.start_time_unix_nano)
    assert [attributes(sp)["eventscope.event_type"] for sp in producers] == list(types)
    for sp, parent in zip(producers, parents, strict=True):
        assert sp.trace_id.hex() == trace_id  # the services' own trace
        assert sp.parent_span_id.hex() == parent  # parented by the event's traceparent
        attrs = attributes(sp)
        assert attrs["messaging.system"] == "kafka"
        assert attrs["messaging.destination.name"].startswith(prefix)
    (consumer,) = [sp for sp in spans if sp.kind == 5]
    attrs = attributes(consumer)
    assert attrs["messaging.consumer.group.name"] == "inventory-service"
    assert attrs["messaging.destination.name"] == f"{prefix}orders.placed"
    assert consumer.parent_span_id == producers[0].span_id
    assert consumer.end_time_unix_nano == int((T0 + 0.5) * 1e9)


def test_hops_and_commits_after_the_end_arrive_once_each_across_a_restart(
    kafka, prefix, tmp_path, receiver
):
    """A compensated journey ends at InventoryReleased; OrderCancelled comes after it, its
    consumption later still, and one more hop while the collector is stopped. No traceparent:
    the spans hang under the journey's own root."""
    s = Sender(kafka, prefix)
    svc = exporting_service(tmp_path, kafka, prefix, receiver)
    svc.start()
    try:
        for i, etype in enumerate(("OrderPlaced", "InventoryReserved", "PaymentFailed",
                                   "InventoryReleased")):  # fmt: skip
            s.event("ord-late", etype, T0 + i)
        s.flush()
        wait_until(lambda: svc.journey("ord-late")["status"] == "compensated" or None, 30,
                   "the journey to end")  # fmt: skip
        wait_until(lambda: len(spans_of("ord-late")) >= 5 or None, 30, "root + 4 hop spans")
        s.event("ord-late", "OrderCancelled", T0 + 4)  # after the journey ended
        s.flush()
        wait_until(lambda: svc.store.hop_count == 5 or None, 30, "the late hop stored")
        cancelled = svc.journey("ord-late")["hops"][-1]
        svc.record_consumption(
            "local", "notification-service",
            {TopicPartition(cancelled["source"], cancelled["partition"]): cancelled["offset"] + 1},
            T0 + 5,
        )  # fmt: skip
        wait_until(lambda: len(spans_of("ord-late")) >= 7 or None, 30, "the late spans")
    finally:
        svc.stop(5)
    s.event("ord-late", "OrderCancelled", T0 + 6)  # a second cancel, while nothing runs
    s.flush()
    svc = exporting_service(tmp_path, kafka, prefix, receiver)
    svc.start()
    try:
        wait_until(lambda: len(spans_of("ord-late")) >= 8 or None, 30, "the hop sent meanwhile")
    finally:
        svc.stop(5)
    spans = spans_of("ord-late")
    kinds = sorted((sp.name.removeprefix(prefix), sp.kind) for sp in spans)
    assert kinds == sorted([
        ("journey ord-late", 1),
        ("orders.placed publish", 4), ("inventory.reserved publish", 4),
        ("payments.failed publish", 4), ("inventory.released publish", 4),
        ("orders.cancelled publish", 4), ("orders.cancelled publish", 4),
        ("orders.cancelled process", 5),
    ])  # fmt: skip
    assert len({sp.span_id for sp in spans}) == 8  # nothing exported twice
    (root,) = [sp for sp in spans if sp.kind == 1]
    assert {sp.trace_id for sp in spans} == {root.trace_id}
    producers = [sp for sp in spans if sp.kind == 4]
    assert {sp.parent_span_id for sp in producers} == {root.span_id}
    (consumer,) = [sp for sp in spans if sp.kind == 5]
    assert attributes(consumer)["messaging.consumer.group.name"] == "notification-service"
    assert consumer.parent_span_id in {sp.span_id for sp in producers}
    assert consumer.end_time_unix_nano == int((T0 + 5) * 1e9)

"""Journey spans reach a real OTLP/HTTP receiver (stdlib server decoding the protobuf request)."""

from __future__ import annotations

import gzip
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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


def test_journey_spans_reach_an_otlp_receiver_with_attributes_and_parents(tansu, prefix, tmp_path):
    OtlpReceiver.spans = []
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), OtlpReceiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}/v1/traces"
    extra = f'  otlp_endpoint: "{endpoint}"\n'
    cfg = write_config(tmp_path / "eventscope.yml", tansu, prefix)
    cfg.write_text(cfg.read_text().replace("tracing:\n", f"tracing:\n{extra}", 1))
    svc = TraceService(load_config(cfg))
    svc.start()
    trace_id = uuid.uuid4().hex
    parents = [uuid.uuid4().hex[:16] for _ in range(4)]
    try:
        s = Sender(tansu, prefix)
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
            mine = [
                sp for sp in OtlpReceiver.spans
                if attributes(sp).get("messaging.message.conversation_id") == "ord-otel"
            ]  # fmt: skip
            return mine if len(mine) >= 5 else None

        spans = wait_until(journey_spans, 30, "4 producer + 1 consumer spans at the receiver")
    finally:
        svc.stop(5)
        server.shutdown()
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

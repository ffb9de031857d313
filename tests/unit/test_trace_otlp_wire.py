"""The hand-written OTLP encoding says what the SDK's encoder says, and the sink reaches a real
HTTP server (a stdlib one in a thread), retrying what OTLP calls retryable."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from collector.tracing import otlp_wire
from collector.tracing.hop import Consumption, Hop
from collector.tracing.otel import SdkSink, SpanBuilder
from collector.tracing.otlp_wire import OtlpHttpSink, SpanEncoder, varint
from demo.services import free_port

TP = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
PLACED = Hop("ord-1", "OrderPlaced", "kafka", "local", "orders", 3, 2**40, 1764140000.123456,
             "shop", traceparent=TP)  # fmt: skip
DEAD = Hop("ord-1", "OrderPlaced", "rabbitmq", "rabbit", "orders.dlq", -1, 77, 1764140001.5,
           "inventory-service", dlq=True, dlq_reason="rejected")  # fmt: skip


def spans():
    b = SpanBuilder()
    consumed = Consumption("inv", "inventory-service", 1764140002.0)
    return [b.hop(PLACED), b.consumption(PLACED, consumed), b.root(DEAD), b.hop(DEAD)]


def essentials(request: ExportTraceServiceRequest) -> list[tuple]:
    (resource,) = request.resource_spans
    (scope,) = resource.scope_spans
    head = (tuple((kv.key, kv.value.string_value) for kv in resource.resource.attributes
                  if kv.key == "service.name"), scope.scope.name)  # fmt: skip
    return [head] + [
        (s.trace_id, s.span_id, s.parent_span_id, s.name, s.kind, s.start_time_unix_nano,
         s.end_time_unix_nano, sorted((kv.key, str(kv.value).strip()) for kv in s.attributes))
        for s in scope.spans
    ]  # fmt: skip


def test_the_bytes_decode_to_what_the_sdk_encoder_writes():
    records = spans()
    mine = ExportTraceServiceRequest.FromString(SpanEncoder("eventscope").request(records))
    sink = SdkSink(exporter=None, service_name="eventscope")  # type: ignore[arg-type]
    theirs = encode_spans([sink.readable(s) for s in records])
    assert essentials(mine) == essentials(theirs)
    assert [s.kind for s in mine.resource_spans[0].scope_spans[0].spans] == [4, 5, 1, 4]


def test_a_cached_attribute_keeps_its_type():
    enc = SpanEncoder("x")
    for value in (True, 1, "1"):
        got = ExportTraceServiceRequest.FromString(
            enc.request([spans()[0]._replace(attributes={"a": value})])
        )
        attr = got.resource_spans[0].scope_spans[0].spans[0].attributes[0].value
        assert attr.WhichOneof("value") == {bool: "bool_value", int: "int_value",
                                            str: "string_value"}[type(value)]  # fmt: skip


@pytest.mark.parametrize(("n", "encoded"), [(0, b"\x00"), (300, b"\xac\x02"),
                                             (-1, b"\xff" * 9 + b"\x01")])  # fmt: skip
def test_varint(n, encoded):
    assert varint(n) == encoded


class Flaky(BaseHTTPRequestHandler):
    answers: ClassVar[list[int]] = []
    bodies: ClassVar[list[bytes]] = []

    def log_message(self, format, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        status = self.answers.pop(0) if self.answers else 200
        if status == 200:
            self.bodies.append(body)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setattr(otlp_wire, "RETRY_DELAYS", (0.01, 0.01))
    Flaky.answers, Flaky.bodies = [], []
    httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), Flaky)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1/traces"
    httpd.shutdown()


def test_the_sink_retries_retryable_answers_then_gives_up_on_the_rest(server):
    sink = OtlpHttpSink(server, "eventscope")
    Flaky.answers = [503, 429]
    assert sink.send(spans()) is None
    assert len(ExportTraceServiceRequest.FromString(Flaky.bodies[0]).resource_spans) == 1
    Flaky.answers = [400]
    assert sink.send(spans()) == f"HTTP 400 from {server}"
    Flaky.answers = [503, 503, 503]
    assert sink.send(spans()) == f"HTTP 503 from {server}"
    assert len(Flaky.bodies) == 1
    sink.shutdown()


def test_an_unreachable_endpoint_is_an_answer_not_an_exception(monkeypatch):
    monkeypatch.setattr(otlp_wire, "RETRY_DELAYS", ())
    sink = OtlpHttpSink(f"http://127.0.0.1:{free_port()}/v1/traces", "eventscope")
    assert "ConnectionError" in (sink.send(spans()) or "")

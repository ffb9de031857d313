"""OTLP/HTTP for the spans eventscope sends: protobuf encoded by hand, POSTed with requests.

Why not the SDK's `OTLPSpanExporter`: its generic encoder costs about 33 µs per span on this
machine (a `ReadableSpan`, then a protobuf object per attribute), twice the whole tap's cost per
event, and the export shares the tap's GIL. Our spans use a handful of fields, and most
attribute values repeat (system, topic, event type, service), so their bytes are cached:
encoding costs a few µs per span. What is written (field numbers from opentelemetry-proto
`trace/v1/trace.proto`, `common/v1/common.proto`, `collector/trace/v1/trace_service.proto`):

    ExportTraceServiceRequest  1 resource_spans
    ResourceSpans              1 resource {1 attributes: service.name}, 2 scope_spans
    ScopeSpans                 1 scope {1 name: eventscope.tracing}, 2 spans
    Span                       1 trace_id, 2 span_id, 4 parent_span_id, 5 name, 6 kind,
                               7 start_time_unix_nano, 8 end_time_unix_nano, 9 attributes
    KeyValue                   1 key, 2 value: AnyValue {1 string, 2 bool, 3 int}

A test decodes the bytes with the official protobuf classes and compares them with the SDK
encoder's output for the same spans.
"""

from __future__ import annotations

import logging
import struct
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import requests

from collector.redact import redact

if TYPE_CHECKING:
    from collector.tracing.otel import SpanRecord

log = logging.getLogger(__name__)

SCOPE_NAME = "eventscope.tracing"
RETRY_STATUSES = frozenset({429, 502, 503, 504})  # OTLP/HTTP's retryable answers
RETRY_DELAYS = (0.5, 1.0, 2.0)
TIMEOUT_SECONDS = 5.0
_CACHE_LIMIT = 8192
# values that differ per hop: not worth a cache entry
UNIQUE_ATTRIBUTES = frozenset(
    {"messaging.message.conversation_id", "messaging.kafka.message.offset"}
)


def _varint(n: int) -> bytes:
    if n < 0:
        n += 1 << 64  # int64 as protobuf writes it: two's complement, 10 bytes
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


_SMALL = tuple(_varint(n) for n in range(1 << 14))  # lengths and tags: a lookup, not a loop
_LEN_TAG = tuple(_varint(number << 3 | 2) for number in range(16))


def varint(n: int) -> bytes:
    return _SMALL[n] if 0 <= n < 16384 else _varint(n)


def field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2)."""
    n = len(payload)
    return _LEN_TAG[number] + (_SMALL[n] if n < 16384 else _varint(n)) + payload


def any_value(value: Any) -> bytes:
    if isinstance(value, bool):
        return varint(2 << 3) + varint(int(value))
    if isinstance(value, int):
        return varint(3 << 3) + varint(value)
    return field(1, str(value).encode())


def key_value(key: str, value: Any) -> bytes:
    return field(1, key.encode()) + field(2, any_value(value))


_FIXED64 = struct.Struct("<Q")
_TRACE_ID = _LEN_TAG[1] + b"\x10"  # 16 bytes
_SPAN_ID = _LEN_TAG[2] + b"\x08"
_PARENT_ID = _LEN_TAG[4] + b"\x08"
_KIND = varint(6 << 3)
_START = varint(7 << 3 | 1)
_END = varint(8 << 3 | 1)


class SpanEncoder:
    """ExportTraceServiceRequest bytes for a batch of `SpanRecord`s (module doc)."""

    def __init__(self, service_name: str) -> None:
        resource = field(1, key_value("service.name", service_name))
        self._head = field(1, resource)
        self._scope = field(1, field(1, SCOPE_NAME.encode()))
        self._attributes: dict[tuple[str, type, Any], bytes] = {}
        self._lock = threading.Lock()

    def _attribute(self, key: str, value: Any) -> bytes:
        """A `9 attributes` field; repeated (key, value) pairs come from the cache."""
        if key in UNIQUE_ATTRIBUTES:
            return field(9, key_value(key, value))
        cache_key = (key, type(value), value)  # True and 1 are equal keys, not equal values
        encoded = self._attributes.get(cache_key)
        if encoded is None:
            encoded = field(9, key_value(key, value))
            if len(self._attributes) >= _CACHE_LIMIT:
                self._attributes.clear()
            self._attributes[cache_key] = encoded
        return encoded

    def span(self, s: SpanRecord) -> bytes:
        parts = [
            _TRACE_ID + s.trace_id.to_bytes(16, "big"),
            _SPAN_ID + s.span_id.to_bytes(8, "big"),
        ]
        if s.parent_id:
            parts.append(_PARENT_ID + s.parent_id.to_bytes(8, "big"))
        parts += (
            field(5, s.name.encode()),
            _KIND + varint(s.kind.value + 1),  # the SDK's SpanKind is OTLP's minus 1
            _START + _FIXED64.pack(s.start_ns),
            _END + _FIXED64.pack(s.end_ns),
        )
        attribute = self._attribute
        parts += [attribute(k, v) for k, v in s.attributes.items()]
        return b"".join(parts)

    def request(self, spans: Sequence[SpanRecord]) -> bytes:
        with self._lock:
            body = b"".join([self._scope, *(field(2, self.span(s)) for s in spans)])
        return field(1, self._head + field(2, body))


class OtlpHttpSink:
    """POSTs encoded batches to an OTLP/HTTP traces endpoint, retrying the retryable answers."""

    def __init__(self, endpoint: str, service_name: str) -> None:
        self.endpoint = endpoint
        self.encoder = SpanEncoder(service_name)
        self._session = requests.Session()
        self._closed = threading.Event()

    def send(self, spans: Sequence[SpanRecord]) -> str | None:
        """None when the endpoint took the spans, else why not (never raises)."""
        body = self.encoder.request(spans)
        error = ""
        for delay in (0.0, *RETRY_DELAYS):
            if delay and self._closed.wait(delay):
                break
            try:
                answer = self._session.post(
                    self.endpoint, data=body, timeout=TIMEOUT_SECONDS,
                    headers={"Content-Type": "application/x-protobuf"},
                )  # fmt: skip
            except requests.RequestException as exc:
                error = redact(f"{type(exc).__name__}: {exc}")
                continue
            if answer.ok:
                return None
            error = f"HTTP {answer.status_code} from {redact(self.endpoint)}"
            if answer.status_code not in RETRY_STATUSES:
                break
        return error or "stopped"

    def shutdown(self) -> None:
        self._closed.set()
        self._session.close()

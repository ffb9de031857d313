"""Hops and consumptions as OpenTelemetry spans (messaging semantic conventions), and where to
send them. `span_export` decides when: each once, as it is stored.

A hop is a PRODUCER span `<source> publish` at its produce time; a consumption a CONSUMER span
`<source> process` from produce time to consumed_at, child of the hop's span.

Ids are derived, so a span can be built from its hop alone, whenever it comes:

    hop span       trace: the hop's `traceparent` trace (its parent: the traceparent's span), or
                   else sha256("eventscope/journey/" + correlation ID), parent: the journey root
    journey root   `journey <ID>`, INTERNAL, zero length, exported with the journey's first hop
                   that has no traceparent; span id from the correlation ID
    span ids       sha256 of the hop's identity (broker, cluster, source, partition, offset),
                   plus the group for a consumer span: a re-export gives the same span

Attributes:

    messaging.system                    kafka | rabbitmq
    messaging.destination.name          topic / routing key / queue
    messaging.consumer.group.name       consumer spans: the group or queue
    messaging.message.conversation_id   the correlation ID
    messaging.kafka.destination.partition, messaging.kafka.message.offset   (Kafka)
    eventscope.event_type, eventscope.service, eventscope.dlq(_reason)

Where they go (a `SpanSink`): with `otlp_endpoint`, OTLP/HTTP through `otlp_wire` (protobuf
encoded by hand: the SDK's encoder costs 33 µs a span); in tests, any SDK `SpanExporter`
(`SdkSink`). A sink reports failures as a value, never raises.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, NamedTuple, Protocol

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, TraceFlags

from collector.tracing.hop import NO_PARTITION, Consumption, Hop

_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_SCOPE = InstrumentationScope("eventscope.tracing")


def _ns(seconds: float) -> int:
    return int(seconds * 1_000_000_000)


def _derived_id(text: str, nbytes: int) -> int:
    value = int.from_bytes(hashlib.sha256(text.encode()).digest()[:nbytes], "big")
    return value or 1  # 0 is the invalid id


def _identity(hop: Hop) -> str:
    return f"{hop.broker}/{hop.cluster_name}/{hop.source}/{hop.partition}/{hop.offset}"


def journey_ids(correlation_id: str) -> tuple[int, int]:
    """The journey root's (trace id, span id): the trace of a correlation ID's hops that have
    no traceparent."""
    return (
        _derived_id("eventscope/journey/" + correlation_id, 16),
        _derived_id("eventscope/root/" + correlation_id, 8),
    )


def parent_of(hop: Hop) -> tuple[int, int, bool]:
    """(trace id, parent span id, remote): the hop's `traceparent` (validated by the tap:
    `00-<32 hex>-<16 hex>-<2 hex>`), else the journey root."""
    tp = hop.traceparent
    if tp:
        return int(tp[3:35], 16), int(tp[36:52], 16), True
    return (*journey_ids(hop.correlation_id), False)


def hop_ids(hop: Hop) -> tuple[int, int]:
    """The hop span's (trace id, span id)."""
    return parent_of(hop)[0], _derived_id(_identity(hop), 8)


class SpanRecord(NamedTuple):
    """One span as eventscope sends it: the few fields it uses, ids as integers."""

    name: str
    trace_id: int
    span_id: int
    parent_id: int  # 0: a root
    kind: SpanKind
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]
    remote_parent: bool = False  # the parent is the event's traceparent (another process)


class SpanBuilder:
    """Spans of hops and consumptions (pure: no I/O)."""

    def root(self, hop: Hop) -> SpanRecord:
        cid = hop.correlation_id
        trace_id, span_id = journey_ids(cid)
        at = _ns(hop.produced_at)
        return SpanRecord(f"journey {cid}", trace_id, span_id, 0, SpanKind.INTERNAL, at, at,
                          {"messaging.message.conversation_id": cid})  # fmt: skip

    def hop(self, hop: Hop) -> SpanRecord:
        trace_id, parent_id, remote = parent_of(hop)
        at = _ns(hop.produced_at)
        return SpanRecord(f"{hop.source} publish", trace_id, _derived_id(_identity(hop), 8),
                          parent_id, SpanKind.PRODUCER, at, at, hop_attributes(hop),
                          remote)  # fmt: skip

    def consumption(self, hop: Hop, c: Consumption) -> SpanRecord:
        trace_id, parent_id = hop_ids(hop)
        attributes = {**hop_attributes(hop), "messaging.consumer.group.name": c.group,
                      "eventscope.service": c.service}  # fmt: skip
        return SpanRecord(f"{hop.source} process", trace_id,
                          _derived_id(f"{_identity(hop)}/{c.group}", 8), parent_id,
                          SpanKind.CONSUMER, _ns(hop.produced_at),
                          _ns(max(c.consumed_at, hop.produced_at)), attributes)  # fmt: skip


class SpanSink(Protocol):
    def send(self, spans: Sequence[SpanRecord]) -> str | None:
        """None when the spans were taken, else why not; never raises."""
        ...

    def shutdown(self) -> None: ...


class SdkSink:
    """Any opentelemetry-sdk `SpanExporter` (the in-memory one in tests, a console one…)."""

    def __init__(self, exporter: SpanExporter, service_name: str = "eventscope") -> None:
        self.exporter = exporter
        self.resource = Resource.create({"service.name": service_name})

    def readable(self, s: SpanRecord) -> ReadableSpan:
        ctx = SpanContext(s.trace_id, s.span_id, False, trace_flags=_SAMPLED)
        parent = (
            SpanContext(s.trace_id, s.parent_id, s.remote_parent, trace_flags=_SAMPLED)
            if s.parent_id
            else None
        )
        return ReadableSpan(
            s.name, ctx, parent, self.resource, s.attributes, kind=s.kind,
            instrumentation_scope=_SCOPE, start_time=s.start_ns, end_time=s.end_ns,
        )  # fmt: skip

    def send(self, spans: Sequence[SpanRecord]) -> str | None:
        try:
            result = self.exporter.export([self.readable(s) for s in spans])
        except Exception as exc:
            return str(exc)
        return None if result is SpanExportResult.SUCCESS else "the exporter reported failure"

    def shutdown(self) -> None:
        self.exporter.shutdown()


def hop_attributes(hop: Hop) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "messaging.system": hop.broker,
        "messaging.destination.name": hop.source,
        "messaging.message.conversation_id": hop.correlation_id,
        "eventscope.event_type": hop.event_type,
        "eventscope.service": hop.service,
        "eventscope.cluster_name": hop.cluster_name,
        "eventscope.dlq": hop.dlq,
    }
    if hop.partition != NO_PARTITION:
        attributes["messaging.kafka.destination.partition"] = hop.partition
        attributes["messaging.kafka.message.offset"] = hop.offset
    if hop.dlq_reason:
        attributes["eventscope.dlq_reason"] = hop.dlq_reason
    return attributes

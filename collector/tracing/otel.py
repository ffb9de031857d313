"""Export journeys as OpenTelemetry spans (messaging semantic conventions), OTLP/HTTP when set.

Per hop, one PRODUCER span `<source> publish` at its produce time, parented by the event's own
`traceparent` when it has one (so the spans join the trace the services started), else by a
root span `journey <correlation ID>`; per consumption, one CONSUMER span `<source> process`
from produce time to consumed_at, child of the hop's span. Attributes:

    messaging.system                    kafka | rabbitmq
    messaging.destination.name          topic / routing key / queue
    messaging.consumer.group.name       consumer spans: the group or queue
    messaging.message.conversation_id   the correlation ID
    messaging.kafka.destination.partition, messaging.kafka.message.offset   (Kafka)
    eventscope.event_type, eventscope.service, eventscope.dlq(_reason)

Exporter failures are logged, never raised: tracing must not break the tap.
"""

from __future__ import annotations

import logging
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from collector.tracing.hop import NO_PARTITION, Hop, Journey

log = logging.getLogger(__name__)

_PROPAGATOR = TraceContextTextMapPropagator()


def _ns(seconds: float) -> int:
    return int(seconds * 1_000_000_000)


class JourneyExporter:
    def __init__(self, exporter: SpanExporter, service_name: str = "eventscope") -> None:
        self._provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
        self._provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=1000))
        self._tracer = self._provider.get_tracer("eventscope.tracing")

    @classmethod
    def otlp_http(cls, endpoint: str, service_name: str) -> JourneyExporter:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return cls(OTLPSpanExporter(endpoint=endpoint, timeout=5), service_name)

    def export(self, journey: Journey) -> None:
        try:
            self._export(journey)
        except Exception as exc:  # an exporter must never break the tap
            log.warning("span export of a journey failed: %s", exc)

    def _export(self, journey: Journey) -> None:
        cid = journey.correlation_id
        root_ctx: Any = None
        if any(not h.traceparent for h in journey.hops):
            root = self._tracer.start_span(
                f"journey {cid}",
                kind=SpanKind.INTERNAL,
                attributes={"messaging.message.conversation_id": cid},
                start_time=_ns(journey.started_at),
            )
            root.end(end_time=_ns(journey.ended_at))
            root_ctx = trace.set_span_in_context(root)
        for hop in journey.hops:
            parent = (
                _PROPAGATOR.extract({"traceparent": hop.traceparent})
                if hop.traceparent
                else root_ctx
            )
            span = self._tracer.start_span(
                f"{hop.source} publish",
                context=parent,
                kind=SpanKind.PRODUCER,
                attributes=hop_attributes(hop),
                start_time=_ns(hop.produced_at),
            )
            span.end(end_time=_ns(hop.produced_at))
            hop_ctx = trace.set_span_in_context(span)
            for c in hop.consumed:
                consumer = self._tracer.start_span(
                    f"{hop.source} process",
                    context=hop_ctx,
                    kind=SpanKind.CONSUMER,
                    attributes={
                        **hop_attributes(hop),
                        "messaging.consumer.group.name": c.group,
                        "eventscope.service": c.service,
                    },
                    start_time=_ns(hop.produced_at),
                )
                consumer.end(end_time=_ns(max(c.consumed_at, hop.produced_at)))

    def flush(self, timeout_seconds: float = 5.0) -> bool:
        try:
            return self._provider.force_flush(int(timeout_seconds * 1000))
        except Exception as exc:
            log.warning("span flush failed: %s", exc)
            return False

    def shutdown(self) -> None:
        try:
            self._provider.shutdown()
        except Exception as exc:
            log.warning("span exporter shutdown failed: %s", exc)


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

"""W3C trace context for the demo's events, via opentelemetry-sdk.

The order-service starts a trace per order; every service that consumes an event opens a
CONSUMER span whose parent is the event's `traceparent`, and the events it publishes carry that
span's context. So one order is one trace, whatever broker carried it. Spans follow the messaging
semantic conventions (`messaging.message.conversation_id` = correlation ID). The provider is our
own, not the global one, and exports nowhere unless a span exporter (or OTLP endpoint) is given.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from demo.pipeline import events as ev

_PROPAGATOR = TraceContextTextMapPropagator()


class Tracing:
    def __init__(self, exporter: SpanExporter | None = None) -> None:
        resource = Resource.create({"service.name": "eventscope-demo"})
        self._provider = TracerProvider(resource=resource)
        if exporter is not None:
            self._provider.add_span_processor(BatchSpanProcessor(exporter))
        self._tracer = self._provider.get_tracer("demo.pipeline")

    @classmethod
    def to_otlp(cls, endpoint: str) -> Tracing:
        """Spans exported by OTLP/HTTP, e.g. to `http://127.0.0.1:4318/v1/traces`."""
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return cls(OTLPSpanExporter(endpoint=endpoint))

    def force_flush(self) -> None:
        self._provider.force_flush()

    def shutdown(self) -> None:
        self._provider.shutdown()

    @contextmanager
    def new_trace(self, service: str, broker: str, correlation_id: str) -> Iterator[None]:
        """A root span: the start of one order's (or session's) journey."""
        with self._tracer.start_as_current_span(
            f"{service} place",
            kind=trace.SpanKind.PRODUCER,
            attributes=_attributes(service, broker, correlation_id),
        ):
            yield

    @contextmanager
    def consuming(self, service: str, broker: str, event: ev.Event) -> Iterator[None]:
        """A consumer span continuing the trace of `event` (a new trace if it carries none)."""
        carrier = {k: v for k, v in ((ev.H_TRACEPARENT, event.traceparent),
                                     (ev.H_TRACESTATE, event.tracestate)) if v}  # fmt: skip
        parent = _PROPAGATOR.extract(carrier)
        attributes = _attributes(service, broker, event.correlation_id)
        attributes["messaging.destination.name"] = event.stream.name
        attributes["messaging.message.id"] = event.event_id
        with self._tracer.start_as_current_span(
            f"{event.stream.name} process",
            context=parent,
            kind=trace.SpanKind.CONSUMER,
            attributes=attributes,
        ):
            yield

    @staticmethod
    def current_context() -> tuple[str, str]:
        """(traceparent, tracestate) of the current span, for the headers of a published event."""
        carrier: dict[str, str] = {}
        _PROPAGATOR.inject(carrier)
        return carrier.get(ev.H_TRACEPARENT, ""), carrier.get(ev.H_TRACESTATE, "")


def _attributes(service: str, broker: str, correlation_id: str) -> dict[str, str]:
    return {
        "messaging.system": broker,
        "messaging.consumer.group.name": service,
        "messaging.message.conversation_id": correlation_id,
    }

"""The demo's events, the streams they travel on and who consumes them.

One table (`STREAMS`) is the topology: each event type travels on one stream (a Kafka topic, a
RabbitMQ routing key of the same name), is produced by one service and consumed by the services
listed. Transports, docs and tests all read it, so adding an event means adding one row.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ORDER_SERVICE = "order-service"
INVENTORY_SERVICE = "inventory-service"
PAYMENT_SERVICE = "payment-service"
NOTIFICATION_SERVICE = "notification-service"
WEB_FRONTEND = "web-frontend"
REALTIME_DASHBOARD = "realtime-dashboard"
BATCH_ANALYTICS = "batch-analytics"
ML_TRAINING = "ml-training"

ORDER_SERVICES = (ORDER_SERVICE, INVENTORY_SERVICE, PAYMENT_SERVICE, NOTIFICATION_SERVICE)
ANALYTICS_SERVICES = (REALTIME_DASHBOARD, BATCH_ANALYTICS, ML_TRAINING)
ALL_CONSUMERS = (*ORDER_SERVICES, *ANALYTICS_SERVICES)
# every consumer keeps up but ml-training (slow on purpose): no alert may fire for these
HEALTHY_CONSUMERS = tuple(c for c in ALL_CONSUMERS if c != ML_TRAINING)

DLQ_SUFFIX = ".dlq"

# Header names every event carries (Kafka record headers, AMQP headers table).
H_CORRELATION_ID = "correlation_id"
H_EVENT_TYPE = "event_type"
H_SOURCE = "source"
H_TRACEPARENT = "traceparent"
H_TRACESTATE = "tracestate"
H_TIMESTAMP_MS = "timestamp_in_ms"  # RabbitMQ only: the AMQP timestamp property has 1 s resolution

# Extra headers on a Kafka dead-letter record (RabbitMQ adds its own `x-death` instead).
H_DLQ_ERROR = "dlq_error"
H_DLQ_SERVICE = "dlq_service"
H_DLQ_TOPIC = "dlq_original_topic"
H_DLQ_PARTITION = "dlq_original_partition"
H_DLQ_OFFSET = "dlq_original_offset"
H_DLQ_RETRIES = "dlq_retry_count"


@dataclass(frozen=True)
class Stream:
    event_type: str
    name: str  # Kafka topic and RabbitMQ routing key
    producer: str
    consumers: tuple[str, ...]


STREAMS: tuple[Stream, ...] = (
    Stream("OrderPlaced", "orders.placed", ORDER_SERVICE, (INVENTORY_SERVICE,)),
    Stream("InventoryReserved", "inventory.reserved", INVENTORY_SERVICE, (PAYMENT_SERVICE,)),
    Stream("InventoryShortage", "inventory.shortage", INVENTORY_SERVICE, (ORDER_SERVICE,)),
    Stream("InventoryReleased", "inventory.released", INVENTORY_SERVICE, ()),
    Stream("PaymentCompleted", "payments.completed", PAYMENT_SERVICE, (ORDER_SERVICE,)),
    Stream("PaymentFailed", "payments.failed", PAYMENT_SERVICE, (INVENTORY_SERVICE, ORDER_SERVICE)),
    Stream("OrderConfirmed", "orders.confirmed", ORDER_SERVICE, (NOTIFICATION_SERVICE,)),
    Stream("OrderCancelled", "orders.cancelled", ORDER_SERVICE, (NOTIFICATION_SERVICE,)),
    Stream("UserInteraction", "user-interactions", WEB_FRONTEND, ANALYTICS_SERVICES),
)

STREAM_BY_TYPE: Mapping[str, Stream] = {s.event_type: s for s in STREAMS}
STREAM_BY_NAME: Mapping[str, Stream] = {s.name: s for s in STREAMS}


def streams_consumed_by(service: str) -> tuple[Stream, ...]:
    return tuple(s for s in STREAMS if service in s.consumers)


def dlq_name(source: str) -> str:
    """`orders.placed` → `orders.placed.dlq`; `inventory-service` → `inventory-service.dlq`."""
    return source + DLQ_SUFFIX


@dataclass(frozen=True)
class Event:
    """One event as the services see it, independent of the broker that carries it.

    `body` is small flat JSON and always holds `event_id`; `timestamp_ms` is the producer's
    wall clock when it was published (Kafka record timestamp, AMQP timestamp property).
    """

    event_id: str
    event_type: str
    correlation_id: str
    source: str
    timestamp_ms: int
    body: Mapping[str, Any] = field(default_factory=dict)
    traceparent: str = ""
    tracestate: str = ""

    @property
    def stream(self) -> Stream:
        return STREAM_BY_TYPE[self.event_type]

    @property
    def key(self) -> str:
        """Partition key: the order (or session) ID, so one order's events stay in order."""
        return str(self.body.get("order_id") or self.body.get("session_id") or self.correlation_id)

    def encode_body(self) -> bytes:
        return json.dumps({"event_id": self.event_id, **self.body}, separators=(",", ":")).encode()

    def headers(self) -> dict[str, str]:
        out = {
            H_CORRELATION_ID: self.correlation_id,
            H_EVENT_TYPE: self.event_type,
            H_SOURCE: self.source,
        }
        if self.traceparent:
            out[H_TRACEPARENT] = self.traceparent
        if self.tracestate:
            out[H_TRACESTATE] = self.tracestate
        return out


class MalformedEvent(ValueError):
    """A message that is not one of our events (bad JSON, missing headers): never retried."""


def decode_event(headers: Mapping[str, str], body: bytes, timestamp_ms: int) -> Event:
    """Rebuild an Event from broker headers and body; raises MalformedEvent when impossible."""
    try:
        fields = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedEvent(f"body is not JSON: {exc}") from exc
    if not isinstance(fields, dict) or "event_id" not in fields:
        raise MalformedEvent("body has no event_id")
    missing = [h for h in (H_CORRELATION_ID, H_EVENT_TYPE, H_SOURCE) if not headers.get(h)]
    if missing:
        raise MalformedEvent(f"missing headers: {', '.join(missing)}")
    if headers[H_EVENT_TYPE] not in STREAM_BY_TYPE:
        raise MalformedEvent(f"unknown event_type {headers[H_EVENT_TYPE]!r}")
    event_id = str(fields.pop("event_id"))
    return Event(
        event_id=event_id,
        event_type=headers[H_EVENT_TYPE],
        correlation_id=headers[H_CORRELATION_ID],
        source=headers[H_SOURCE],
        timestamp_ms=timestamp_ms,
        body=fields,
        traceparent=headers.get(H_TRACEPARENT, ""),
        tracestate=headers.get(H_TRACESTATE, ""),
    )

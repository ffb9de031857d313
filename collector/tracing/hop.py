"""Value types of tracing: a hop (one event of one correlation ID on one source) and a journey.

A hop's identity is (broker, cluster_name, source, partition, offset): Kafka's own coordinates,
or for RabbitMQ partition -1 and a 63-bit number derived from the message's identity (see
`rabbitmq_tap.message_number`). The store inserts on that key idempotently, so a tap that reads
an event twice (restart after a kill) stores one hop.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

NO_PARTITION = -1  # RabbitMQ has no partitions


class JourneyStatus(StrEnum):
    COMPLETE = "complete"
    IN_FLIGHT = "in_flight"
    DEAD_LETTERED = "dead_lettered"
    COMPENSATED = "compensated"


@dataclass(frozen=True)
class Consumption:
    """A consumer (Kafka group, RabbitMQ queue) that consumed a hop, and when it was seen to."""

    group: str
    service: str
    consumed_at: float


@dataclass(frozen=True)
class HopKey:
    broker: str
    cluster_name: str
    source: str
    partition: int
    offset: int


@dataclass(frozen=True)
class Hop:
    correlation_id: str
    event_type: str
    broker: str
    cluster_name: str
    source: str  # topic, or RabbitMQ routing key (queue name for dead-lettered messages)
    partition: int
    offset: int
    produced_at: float
    service: str  # the producing service ("" when unknown)
    traceparent: str = ""
    dlq: bool = False
    dlq_reason: str = ""
    retries: int = 0
    fields: Mapping[str, str] = field(default_factory=dict)  # allow-listed payload fields only
    consumed: tuple[Consumption, ...] = ()

    @property
    def key(self) -> HopKey:
        return HopKey(self.broker, self.cluster_name, self.source, self.partition, self.offset)


@dataclass(frozen=True)
class Journey:
    correlation_id: str
    status: JourneyStatus
    stuck_at: str | None
    stuck_for_seconds: float | None
    started_at: float
    ended_at: float
    hops: tuple[Hop, ...]  # in produced_at order

    @property
    def duration_seconds(self) -> float:
        return self.ended_at - self.started_at


def hop_json(hop: Hop, previous: Hop | None) -> dict[str, Any]:
    """The hop as the API returns it (partition/offset are null for RabbitMQ)."""
    kafka_like = hop.partition != NO_PARTITION
    return {
        "event_type": hop.event_type,
        "broker": hop.broker,
        "cluster_name": hop.cluster_name,
        "source": hop.source,
        "partition": hop.partition if kafka_like else None,
        "offset": hop.offset if kafka_like else None,
        "produced_at": hop.produced_at,
        "service": hop.service,
        "since_previous_seconds": (
            None if previous is None else round(hop.produced_at - previous.produced_at, 6)
        ),
        "consumed": [
            {"group": c.group, "service": c.service, "consumed_at": c.consumed_at}
            for c in hop.consumed
        ],
        "dlq": hop.dlq,
        "dlq_reason": hop.dlq_reason,
        "retries": hop.retries,
        "traceparent": hop.traceparent,
        "fields": dict(hop.fields),
    }


def journey_json(journey: Journey) -> dict[str, Any]:
    hops = journey.hops
    return {
        "correlation_id": journey.correlation_id,
        "status": journey.status.value,
        "stuck_at": journey.stuck_at,
        "stuck_for_seconds": journey.stuck_for_seconds,
        "started_at": journey.started_at,
        "ended_at": journey.ended_at,
        "duration_seconds": round(journey.duration_seconds, 6),
        "hops": [hop_json(h, hops[i - 1] if i else None) for i, h in enumerate(hops)],
    }

"""Stitch a correlation ID's hops into a journey and decide its status: pure, `now` passed in.

Status rules, first match wins:
1. dead_lettered — a hop sits in a DLQ; stuck at the service that dead-lettered it.
2. compensated — a hop's event type is a compensation event (InventoryReleased, OrderCancelled).
3. complete — a hop's event type is a terminal event (OrderConfirmed).
4. in_flight — otherwise; stuck at the service expected to act next on the last hop:
   a consumer of the last hop's source that has not consumed it yet (group → service via
   `group_services`), else the service that consumed it but produced nothing after it, else
   the service that produced it. Stuck for `now - last.produced_at`.

Example: OrderPlaced (order-service, t=10) consumed by inventory-service, then nothing, at
now=70 → in_flight, stuck_at="inventory-service", stuck_for_seconds=60.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from collector.tracing.hop import Hop, Journey, JourneyStatus

SourceKey = tuple[str, str, str]  # (broker, cluster_name, source)


@dataclass(frozen=True)
class JourneyRules:
    terminal_event_types: frozenset[str]
    compensation_event_types: frozenset[str]
    group_services: Mapping[str, str] = field(default_factory=dict)

    def service_of(self, group: str) -> str:
        """A group's (or queue's) service: the configured mapping, else the group's own name."""
        return self.group_services.get(group, group)


def hop_order(hop: Hop) -> tuple[float, bool, str, str, int, int]:
    """Produce time first; a dead letter after the original it copies (Kafka DLQ records keep
    the original's timestamp)."""
    return (hop.produced_at, hop.dlq, hop.broker, hop.source, hop.partition, hop.offset)


def stitch_journey(
    correlation_id: str,
    hops: Iterable[Hop],
    consumers: Mapping[SourceKey, tuple[str, ...]],
    rules: JourneyRules,
    now: float,
) -> Journey | None:
    """The journey of `correlation_id`, or None when it has no hops.

    `consumers` lists the groups known to read each source (from committed offsets or
    deliveries), which is how an in-flight journey knows who it waits for.
    """
    ordered = tuple(sorted((h for h in hops if h.correlation_id == correlation_id), key=hop_order))
    if not ordered:
        return None
    status, stuck_at, since = journey_status(ordered, consumers, rules)
    stuck_for = None if since is None else max(0.0, round(now - since, 6))
    return Journey(
        correlation_id=correlation_id,
        status=status,
        stuck_at=stuck_at,
        stuck_for_seconds=stuck_for,
        started_at=ordered[0].produced_at,
        ended_at=ordered[-1].produced_at,
        hops=ordered,
    )


def journey_status(
    ordered: tuple[Hop, ...],
    consumers: Mapping[SourceKey, tuple[str, ...]],
    rules: JourneyRules,
) -> tuple[JourneyStatus, str | None, float | None]:
    """(status, stuck_at, stuck since) for hops in `hop_order`; see the module's rules."""
    dead = [h for h in ordered if h.dlq]
    if dead:
        last_dead = dead[-1]
        return JourneyStatus.DEAD_LETTERED, last_dead.service or None, last_dead.produced_at
    types = {h.event_type for h in ordered}
    if types & rules.compensation_event_types:
        return JourneyStatus.COMPENSATED, None, None
    if types & rules.terminal_event_types:
        return JourneyStatus.COMPLETE, None, None
    last = ordered[-1]
    return JourneyStatus.IN_FLIGHT, waiting_service(last, consumers, rules), last.produced_at


def waiting_service(
    last: Hop, consumers: Mapping[SourceKey, tuple[str, ...]], rules: JourneyRules
) -> str | None:
    done = {c.group for c in last.consumed}
    expected = consumers.get((last.broker, last.cluster_name, last.source), ())
    for group in sorted(expected):
        if group not in done:
            return rules.service_of(group)
    if last.consumed:
        return sorted(last.consumed, key=lambda c: (c.consumed_at, c.group))[0].service
    return last.service or None


def previous_hop(
    hop: Hop, earlier: Iterable[Hop], consumed_by: Mapping[str, set[str]]
) -> Hop | None:
    """The hop that most likely caused `hop`: the latest earlier hop whose source `hop`'s
    service is known to consume, else the latest earlier hop (dead letters never cause hops).

    `consumed_by` maps a source to the services known to read it. Example: PaymentFailed
    (t=3), InventoryReleased (inventory-service, t=4), OrderCancelled (order-service, t=5),
    with order-service reading payments.failed → OrderCancelled's previous hop is PaymentFailed.
    """
    key = hop_order(hop)
    readers: set[str] = set()
    best: tuple[tuple[float, bool, str, str, int, int], Hop] | None = None
    best_read: tuple[tuple[float, bool, str, str, int, int], Hop] | None = None
    for candidate in earlier:
        order = hop_order(candidate)
        if candidate.dlq or not order < key:
            continue
        if best is None or order > best[0]:
            best = (order, candidate)
        readers = consumed_by.get(candidate.source, set())
        if hop.service and hop.service in readers and (best_read is None or order > best_read[0]):
            best_read = (order, candidate)
    chosen = best_read or best
    return None if chosen is None else chosen[1]

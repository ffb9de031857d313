"""Journey stitching and status: one table of cases with explicit times, then the JSON shape."""

from __future__ import annotations

import pytest

from collector.tracing.hop import Consumption, Hop, JourneyStatus, journey_json
from collector.tracing.journey import JourneyRules, previous_hop, stitch_journey

RULES = JourneyRules(
    terminal_event_types=frozenset({"OrderConfirmed"}),
    compensation_event_types=frozenset({"InventoryReleased", "OrderCancelled"}),
    group_services={"inv-group": "inventory-service"},
)
STREAM = {
    "OrderPlaced": ("orders.placed", "order-service"),
    "InventoryReserved": ("inventory.reserved", "inventory-service"),
    "PaymentCompleted": ("payments.completed", "payment-service"),
    "PaymentFailed": ("payments.failed", "payment-service"),
    "InventoryReleased": ("inventory.released", "inventory-service"),
    "OrderCancelled": ("orders.cancelled", "order-service"),
    "OrderConfirmed": ("orders.confirmed", "order-service"),
}


def hop(event_type: str, at: float, offset: int = 0, **kw) -> Hop:
    source, service = STREAM[event_type]
    fields = {"source": source, "service": service, **kw}
    return Hop(
        correlation_id="c-1", event_type=event_type, broker="kafka", cluster_name="local",
        partition=0, offset=offset, produced_at=at, **fields,
    )  # fmt: skip


def consumed(group: str, at: float) -> tuple[Consumption, ...]:
    return (Consumption(group, RULES.service_of(group), at),)


READERS = {
    ("kafka", "local", "orders.placed"): ("inv-group",),
    ("kafka", "local", "inventory.reserved"): ("payment-service",),
}

# (name, hops, now, status, stuck_at, stuck_for)
CASES = [
    (
        "complete: ends in OrderConfirmed",
        [hop("OrderPlaced", 10), hop("InventoryReserved", 11), hop("PaymentCompleted", 12),
         hop("OrderConfirmed", 13)],
        100, JourneyStatus.COMPLETE, None, None,
    ),
    (
        "complete even when a hop's clock runs late",
        [hop("OrderPlaced", 10), hop("OrderConfirmed", 9.5), hop("PaymentCompleted", 12)],
        100, JourneyStatus.COMPLETE, None, None,
    ),
    (
        "compensated: payment failed, stock released",
        [hop("OrderPlaced", 10), hop("InventoryReserved", 11), hop("PaymentFailed", 12),
         hop("InventoryReleased", 13)],
        100, JourneyStatus.COMPENSATED, None, None,
    ),
    (
        "dead-lettered beats compensated; stuck where it was dead-lettered",
        [hop("OrderPlaced", 10), hop("PaymentFailed", 12), hop("OrderCancelled", 13),
         hop("PaymentFailed", 12, offset=5, source="payments.failed.dlq", dlq=True,
             service="order-service")],
        100, JourneyStatus.DEAD_LETTERED, "order-service", 88.0,
    ),
    (
        "in flight: a known reader has not consumed the last hop",
        [hop("OrderPlaced", 10, consumed=consumed("inv-group", 12)),
         hop("InventoryReserved", 13)],
        73, JourneyStatus.IN_FLIGHT, "payment-service", 60.0,
    ),
    (
        "in flight: consumed but nothing followed → stuck at the consumer (group mapped)",
        [hop("OrderPlaced", 10, consumed=consumed("inv-group", 12))],
        70, JourneyStatus.IN_FLIGHT, "inventory-service", 60.0,
    ),
    (
        "in flight: readers unknown → stuck at the producer",
        [hop("PaymentCompleted", 10)],
        70, JourneyStatus.IN_FLIGHT, "payment-service", 60.0,
    ),
    (
        "in flight: no readers, no producer → unknown",
        [hop("PaymentCompleted", 10, service="")],
        70, JourneyStatus.IN_FLIGHT, None, 60.0,
    ),
    (
        "stuck time never negative (producer clock ahead)",
        [hop("PaymentCompleted", 80)],
        70, JourneyStatus.IN_FLIGHT, "payment-service", 0.0,
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("hops", "now", "status", "stuck_at", "stuck_for"), [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)  # fmt: skip
def test_status(hops, now, status, stuck_at, stuck_for):
    journey = stitch_journey("c-1", hops, READERS, RULES, now)
    assert journey is not None
    assert (journey.status, journey.stuck_at, journey.stuck_for_seconds) == (
        status, stuck_at, stuck_for,
    )  # fmt: skip


def test_no_hops_no_journey():
    assert stitch_journey("c-1", [], READERS, RULES, 0) is None
    assert stitch_journey("other", [hop("OrderPlaced", 1)], READERS, RULES, 0) is None


def test_hops_in_time_order_with_dead_letter_after_its_original():
    original = hop("OrderPlaced", 10, offset=3)
    copy = hop("OrderPlaced", 10, offset=0, source="orders.placed.dlq", dlq=True)
    journey = stitch_journey("c-1", [copy, hop("InventoryReserved", 9), original], {}, RULES, 20)
    assert journey is not None
    assert [(h.event_type, h.dlq) for h in journey.hops] == [
        ("InventoryReserved", False), ("OrderPlaced", False), ("OrderPlaced", True),
    ]  # fmt: skip
    assert (journey.started_at, journey.ended_at, journey.duration_seconds) == (9, 10, 1)


def test_json_shape():
    hops = [hop("OrderPlaced", 10.0, consumed=consumed("inv-group", 10.5)),
            hop("InventoryReserved", 11.25, traceparent="00-ab-cd-01")]  # fmt: skip
    journey = stitch_journey("c-1", hops, READERS, RULES, 20.0)
    assert journey is not None
    doc = journey_json(journey)
    assert set(doc) == {
        "correlation_id", "status", "stuck_at", "stuck_for_seconds", "started_at", "ended_at",
        "duration_seconds", "hops",
    }  # fmt: skip
    assert doc["status"] == "in_flight" and doc["stuck_at"] == "payment-service"
    assert doc["duration_seconds"] == 1.25
    first, second = doc["hops"]
    assert first["since_previous_seconds"] is None and second["since_previous_seconds"] == 1.25
    assert first["consumed"] == [
        {"group": "inv-group", "service": "inventory-service", "consumed_at": 10.5}
    ]
    assert {
        "event_type", "broker", "cluster_name", "source", "partition", "offset", "produced_at",
        "service", "since_previous_seconds", "consumed", "dlq", "dlq_reason", "retries",
        "traceparent",
    } <= set(first)  # fmt: skip


def test_rabbitmq_hops_have_no_partition_or_offset_in_json():
    rabbit = Hop("c-1", "OrderPlaced", "rabbitmq", "r", "orders.placed", -1, 123456, 1.0, "svc")
    journey = stitch_journey("c-1", [rabbit], {}, RULES, 2.0)
    assert journey is not None
    (doc,) = journey_json(journey)["hops"]
    assert (doc["partition"], doc["offset"]) == (None, None)


def test_previous_hop_prefers_the_source_the_service_reads():
    failed = hop("PaymentFailed", 3)
    released = hop("InventoryReleased", 4)
    cancelled = hop("OrderCancelled", 5)
    readers = {"payments.failed": {"order-service", "inventory-service"}}
    assert previous_hop(cancelled, [failed, released, cancelled], readers) == failed
    assert previous_hop(cancelled, [failed, released], {}) == released  # unknown: latest
    assert previous_hop(failed, [failed], readers) is None
    dead = hop("OrderPlaced", 1, dlq=True)
    assert previous_hop(failed, [dead], readers) is None  # dead letters cause nothing

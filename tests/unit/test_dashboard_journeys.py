"""Journey shaping for the explorer: hop order, pickup and gap times, kinds, trace links."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from dashboard import journeys

T0 = 1764150000.0
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def hop(event: str, at: float, service: str, **extra: Any) -> dict[str, Any]:
    return {
        "event_type": event,
        "produced_at": at,
        "service": service,
        "source": "orders",
        "consumed": [],
        "dlq": False,
        **extra,
    }


JOURNEY = {
    "correlation_id": "order-7",
    "status": "failed",
    "stuck_at": "payment-service",
    "hops": [  # deliberately out of order: the explorer sorts by produce time
        hop("PaymentFailed", T0 + 2.0, "payment-service", dlq=True, dlq_reason="poison"),
        hop(
            "OrderPlaced",
            T0,
            "order-service",
            traceparent=f"00-{TRACE}-00f067aa0ba902b7-01",
            consumed=[
                {"group": "inventory", "consumed_at": T0 + 0.4},
                {"group": "audit", "consumed_at": T0 + 1.5},
            ],
        ),
        hop("InventoryReleased", T0 + 2.5, "inventory-service"),
    ],
}


def test_rows_in_produce_order_with_pickup_and_gap() -> None:
    rows = journeys.journey_rows(JOURNEY)
    assert rows["event_type"].tolist() == ["OrderPlaced", "PaymentFailed", "InventoryReleased"]
    assert rows["pickup_seconds"].iloc[0] == pytest.approx(0.4)  # first of two consumers
    assert rows["last_pickup_at"].iloc[0] == pd.Timestamp(T0 + 1.5, unit="s", tz="UTC")
    assert pd.isna(rows["gap_seconds"].iloc[0])
    assert rows["gap_seconds"].tolist()[1:] == [pytest.approx(2.0), pytest.approx(0.5)]
    assert rows["consumers"].iloc[0] == "inventory (+0.400 s), audit (+1.500 s)"


def test_kinds_mark_dead_letters_and_compensation() -> None:
    rows = journeys.journey_rows(JOURNEY)
    assert rows["kind"].tolist() == ["event", "dlq", "compensation"]
    assert rows["dlq_reason"].iloc[1] == "poison"


@pytest.mark.parametrize(
    ("event", "compensates"),
    [
        ("InventoryReleased", True),
        ("OrderCancelled", True),
        ("PaymentRefunded", True),
        ("OrderPlaced", False),
        ("PaymentCompleted", False),
    ],
)
def test_is_compensation(event: str, compensates: bool) -> None:
    assert journeys.is_compensation(event) is compensates


def test_summary() -> None:
    rows = journeys.journey_rows(JOURNEY)
    summary = journeys.journey_summary(JOURNEY, rows)
    assert summary == {
        "status": "failed",
        "stuck_for_seconds": None,
        "stuck_at": "payment-service",
        "hops": 3,
        "services": 3,
        "duration_seconds": pytest.approx(2.5),
        "dead_lettered": 1,
    }


def test_empty_journey_shapes_to_no_rows() -> None:
    rows = journeys.journey_rows({"correlation_id": "x", "hops": []})
    assert rows.empty
    assert journeys.journey_summary({}, rows)["duration_seconds"] is None


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        (None, None),
        ("http://jaeger/trace/{trace_id}", f"http://jaeger/trace/{TRACE}"),
        ("http://tempo/search?q={correlation_id}", "http://tempo/search?q=order-7"),
    ],
)
def test_trace_ui_link(template: str | None, expected: str | None) -> None:
    assert journeys.trace_ui_link(template, JOURNEY) == expected


def test_no_trace_link_without_a_traceparent() -> None:
    bare = {"correlation_id": "x", "hops": [hop("A", T0, "s", traceparent="garbage")]}
    assert journeys.trace_id(bare) is None
    assert journeys.trace_ui_link("http://jaeger/trace/{trace_id}", bare) is None


def test_recent_traces_newest_first_with_explorer_links() -> None:
    frame = journeys.traces_frame(
        [
            {"correlation_id": "old", "status": "slow", "started_at": T0, "hops": 2},
            {"correlation_id": "new id", "status": "slow", "started_at": T0 + 60, "hops": [{}, {}]},
        ]
    )
    assert frame["correlation_id"].tolist() == ["new id", "old"]
    assert frame["link"].tolist() == [
        "journeys?correlation_id=new+id",
        "journeys?correlation_id=old",
    ]
    assert frame["hops"].tolist() == [2, 2]


def test_dead_lettered_drops_journeys_that_were_only_compensated() -> None:
    frame = journeys.traces_frame(
        [
            {"correlation_id": "a", "status": "dead_lettered", "started_at": T0},
            {"correlation_id": "b", "status": "compensated", "started_at": T0 + 1},
            {"correlation_id": "c", "status": "failed", "started_at": T0 + 2},
        ]
    )
    assert journeys.dead_lettered(frame)["correlation_id"].tolist() == ["c", "a"]

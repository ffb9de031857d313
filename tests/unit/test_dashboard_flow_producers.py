"""Producer → topic/queue edges told from traces and consumption (dashboard/flow_producers.py)."""

from __future__ import annotations

import pytest

from dashboard.flow import FlowEdge
from dashboard.flow_producers import carrier, through_channels, words


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("OrderPlaced", {"order", "placed"}),
        ("shop/orders.placed", {"shop", "order", "placed"}),
        ("payments-failed", {"payment", "failed"}),
        ("HTTPRequests", {"http", "request"}),
    ],
)
def test_words_are_lower_case_and_singular(name: str, expected: set[str]) -> None:
    assert words(name) == expected


@pytest.mark.parametrize(
    ("events", "channels", "expected"),
    [
        (["PaymentFailed"], ["payments.completed", "payments.failed"], "payments.failed"),
        (["Anything"], ["only-one"], "only-one"),  # the reader reads nothing else
        (["InventoryReserved"], ["inventory.shortage", "payments.failed"], None),  # half a match
        (["OrderPlaced"], ["orders.placed", "orders.placed.v2"], None),  # a tie: unsure
        (["OrderPlaced"], [], None),
    ],
)
def test_carrier_is_the_only_reader_channel_or_a_clear_name_match(events, channels, expected):
    assert carrier(events, channels) == expected


def edge(src: str, dst: str, label: str = "", rate: float = 1.0, p95: float | None = None):
    return FlowEdge(src, dst, label, rate, p95, "ok")


KINDS = {
    "order": "service",
    "inventory": "service",
    "payment": "service",
    "orders.placed": "channel",
    "payments.failed": "channel",
}


def test_service_edges_go_through_the_topic_that_carried_them() -> None:
    edges = [
        edge("order", "inventory", "OrderPlaced", 4.0, 0.2),
        edge("payment", "inventory", "PaymentFailed", 0.5, 0.3),
        edge("order", "payment", "OrderPlaced", 3.0),  # payment reads nothing known
        edge("orders.placed", "inventory", "", 4.0),
        edge("payments.failed", "inventory", "", 0.5),
    ]
    out = {(e.source, e.target): e for e in through_channels(edges, KINDS)}
    assert out[("order", "orders.placed")].label == "OrderPlaced"
    assert out[("order", "orders.placed")].rate == 4.0
    assert out[("payment", "payments.failed")].label == "PaymentFailed"
    assert out[("orders.placed", "inventory")].p95_seconds == 0.2  # the hop's latency
    assert out[("payments.failed", "inventory")].p95_seconds == 0.3
    assert ("order", "inventory") not in out and ("payment", "inventory") not in out
    assert ("order", "payment") in out  # carrier unknown: stays direct


def test_fan_out_counts_the_produced_events_once() -> None:
    kinds = {"web": "service", "a": "service", "b": "service", "clicks": "channel"}
    edges = [
        edge("web", "a", "Click", 10.0),
        edge("web", "b", "Click", 9.0),
        edge("clicks", "a", "", 10.0),
        edge("clicks", "b", "", 9.0),
    ]
    out = {(e.source, e.target): e for e in through_channels(edges, kinds)}
    assert out[("web", "clicks")].rate == 10.0
    assert set(out) == {("web", "clicks"), ("clicks", "a"), ("clicks", "b")}

"""Producer → topic/queue edges told from traces and consumption (dashboard/flow_producers.py)."""

from __future__ import annotations

import pandas as pd
import pytest

from dashboard.flow import build_flow_graph
from dashboard.flow_producers import carrier, words


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
    ("event", "reads", "known", "expected"),
    [
        ("PaymentFailed", ["payments.completed", "payments.failed"], [], "payments.failed"),
        ("Anything", ["only-one"], ["only-one", "other"], "only-one"),  # reads nothing else
        # the only topic it reads, but the event is named after another: consecutive hops of a
        # journey, not cause and effect
        ("OrderPlaced", ["inventory.reserved"], ["orders.placed"], None),
        ("InventoryReserved", ["inventory.shortage", "payments.failed"], [], None),  # half
        ("OrderPlaced", ["orders.placed", "orders.placed.v2"], [], None),  # a tie: unsure
        ("OrderPlaced", [], [], None),
    ],
)
def test_carrier_is_the_only_topic_read_or_the_one_named_after_the_event(
    event, reads, known, expected
) -> None:
    assert carrier(event, reads, known) == expected


def frame(columns: list[str], rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=columns)


# the demo's order flow as Prometheus reports it (events/s)
FLOWS = frame(
    ["from_service", "to_service", "event_type", "value"],
    [
        ("order", "inventory", "OrderPlaced", 4.0),
        ("order", "payment", "OrderPlaced", 0.0),  # consecutive hops, not cause and effect
        ("inventory", "payment", "InventoryReserved", 3.5),
        ("inventory", "order", "InventoryShortage", 0.5),
        ("payment", "order", "PaymentCompleted", 3.0),
        ("payment", "order", "PaymentFailed", 0.5),
        ("payment", "inventory", "PaymentFailed", 0.5),
    ],
)
READS = [
    ("inventory", "orders.placed", 4.0),
    ("inventory", "payments.failed", 0.5),
    ("payment", "inventory.reserved", 3.5),
    ("order", "inventory.shortage", 0.5),
    ("order", "payments.completed", 3.0),
    ("order", "payments.failed", 0.5),
    ("order.dlq", "order.dlq", 0.0),  # a RabbitMQ queue's consumers: group = queue
]
CONSUMPTION = frame(
    ["broker", "cluster_name", "group", "topic", "value"],
    [("kafka", "local", g, t, v) for g, t, v in READS],
)
P95 = frame(["from_service", "to_service", "value"], [("payment", "order", 0.25)])
STATUSES = frame(["broker", "cluster_name", "group", "status"], [])


def test_the_demo_flow_runs_producer_topic_consumer() -> None:
    graph = build_flow_graph(FLOWS, P95, CONSUMPTION, STATUSES)
    edges = {(e.source, e.target): e for e in graph.edges}
    assert {pair: edges[pair].label for pair in edges if edges[pair].label} == {
        ("order", "orders.placed"): "OrderPlaced",
        ("inventory", "inventory.reserved"): "InventoryReserved",
        ("inventory", "inventory.shortage"): "InventoryShortage",
        ("payment", "payments.completed"): "PaymentCompleted",
        ("payment", "payments.failed"): "PaymentFailed",
        ("order", "payment"): "OrderPlaced",  # could not be told: stays direct
    }
    # read by inventory and order: the failed payments are counted once
    assert edges[("payment", "payments.failed")].rate == 0.5
    assert edges[("payments.completed", "order")].p95_seconds == 0.25  # the hop's latency
    assert ("payment", "order") not in edges


def test_fan_out_counts_the_produced_events_once() -> None:
    flows = frame(
        ["from_service", "to_service", "event_type", "value"],
        [("web", "a", "Click", 10.0), ("web", "b", "Click", 9.0)],
    )
    reads = frame(
        ["broker", "cluster_name", "group", "topic", "value"],
        [("kafka", "c", "a", "clicks", 10.0), ("kafka", "c", "b", "clicks", 9.0)],
    )
    graph = build_flow_graph(flows, P95.iloc[:0], reads, STATUSES)
    edges = {(e.source, e.target): e.rate for e in graph.edges}
    assert edges == {("web", "clicks"): 10.0, ("clicks", "a"): 10.0, ("clicks", "b"): 9.0}

"""EventBridge routing in the dashboard's flow graph: bus → rule → queue → service edges from
`eventscope_topology_edge`, a rule with failed invocations in red, a layout that places every
node left to right in routing order."""

from __future__ import annotations

import pandas as pd

from dashboard import queries
from dashboard.charts import flow_figure
from dashboard.flow import build_flow_graph, routing_node
from dashboard.flow_layout import layered_positions


def frame(columns: list[str], rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=columns)


FLOWS = frame(
    ["from_service", "to_service", "event_type", "value"],
    [("order-service", "billing", "OrderPlaced", 2.0)],
)
NO_P95 = frame(["from_service", "to_service", "value"], [])
NO_CONSUMPTION = frame(["broker", "cluster_name", "group", "topic", "value"], [])
NO_STATUS = frame(["broker", "cluster_name", "group", "status"], [])
ROUTING = frame(
    ["source", "target", "relation", "value"],
    [
        ("bus:shop", "rule:shop/to-billing", "routes", 1.0),
        ("rule:shop/to-billing", "queue:shop-billing", "delivers", 1.0),
        ("rule:shop/to-billing", "queue:shop-failed", "dead_letters", 1.0),
        ("rule:shop/to-billing", "queue:eventscope-tap", "delivers", 1.0),
        ("queue:shop-billing", "queue:shop-billing-parked", "redrives", 1.0),
        ("queue:shop-billing", "service:billing", "consumed_by", 1.0),
        ("bus:shop", "rule:shop/old", "routes", 0.0),
    ],
)


def graph(failing: pd.DataFrame | None = None):
    return build_flow_graph(
        FLOWS,
        NO_P95,
        NO_CONSUMPTION,
        NO_STATUS,
        hidden_groups=frozenset({"eventscope-tap"}),
        routing=ROUTING,
        failing_rules=failing,
    )


def test_routing_nodes_join_the_traced_service_by_name():
    assert routing_node("queue:shop-billing") == ("shop-billing", "channel")
    assert routing_node("service:billing") == ("billing", "service")
    assert routing_node("rule:shop/to-billing") == ("rule:shop/to-billing", "rule")
    assert routing_node("bus:shop") == ("bus:shop", "bus")


def test_bus_rule_queue_service_edges_and_kinds():
    g = graph()
    kinds = {n.id: n.kind for n in g.nodes}
    assert kinds["bus:shop"] == "bus"
    assert kinds["rule:shop/to-billing"] == "rule"
    assert kinds["shop-billing"] == "channel"
    assert kinds["billing"] == "service"  # the traced service and the queue's consumer: one node
    edges = {(e.source, e.target): e for e in g.edges}
    assert edges[("shop-billing", "billing")].relation == "consumed_by"
    assert edges[("rule:shop/to-billing", "shop-failed")].label == "DLQ"
    assert edges[("shop-billing", "shop-billing-parked")].label == "redrive"
    assert "eventscope-tap" not in kinds  # the trace tap's own queue is an observer
    assert edges[("bus:shop", "rule:shop/old")].health == "idle"  # a disabled rule
    assert edges[("bus:shop", "rule:shop/to-billing")].health == "ok"


def test_a_rule_with_failed_invocations_is_red_with_its_deliveries():
    g = graph(frame(["cluster_name", "bus", "rule", "value"], [("aws", "shop", "to-billing", 3)]))
    health = {n.id: n.health for n in g.nodes}
    assert health["rule:shop/to-billing"] == "bad"
    assert health["bus:shop"] == "ok"
    edges = {(e.source, e.target): e for e in g.edges}
    assert edges[("rule:shop/to-billing", "shop-billing")].health == "bad"


def test_layout_reads_left_to_right_bus_rule_queue_service():
    pos = layered_positions(graph())
    x = {name: p[0] for name, p in pos.items()}
    assert x["bus:shop"] < x["rule:shop/to-billing"] < x["shop-billing"] < x["billing"]
    assert x["shop-billing-parked"] > x["shop-billing"]
    assert x["shop-failed"] > x["rule:shop/to-billing"]
    assert set(pos) == {n.id for n in graph().nodes}


def test_figure_draws_routing_dashed_without_a_rate():
    fig = flow_figure(graph())
    dashed = [t for t in fig.data if t.mode == "lines+markers" and t.line.dash == "dash"]
    # edges of one look share a trace, each edge a segment ended by None
    assert sum(list(t.x).count(None) for t in dashed) == 6  # every routing edge but the tap's
    labels = [a.text for a in fig.layout.annotations if a.text]
    assert "DLQ" in labels and not any("/s" in t and "DLQ" in t for t in labels)
    shapes = {t.name: t.marker.symbol for t in fig.data if t.mode == "markers+text"}
    assert shapes["rules"] == "diamond" and shapes["event buses"] == "hexagon"


def test_queries_filter_by_cluster_and_use_the_alert_window():
    assert queries.routing_edges("aws") == (
        'max by (source, target, relation) (eventscope_topology_edge{cluster_name="aws"})'
    )
    assert "[15m]" in queries.failing_rules(None)

"""The service graph: nodes, edges, health colours and a stable left-to-right layout."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from dashboard.charts import (
    CHART_HEIGHT,
    LEGEND_ROW_PIXELS,
    flow_figure,
    journey_waterfall,
    rate_comparison_chart,
    timeseries_chart,
)
from dashboard.flow import (
    FlowEdge,
    FlowGraph,
    FlowNode,
    build_flow_graph,
    link_target,
    nodes_table,
)
from dashboard.flow_layout import layered_positions
from dashboard.journeys import journey_rows


def frame(columns: list[str], rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=columns)


FLOWS = frame(
    ["from_service", "to_service", "event_type", "value"],
    [
        ("order", "inventory", "OrderPlaced", 4.0),
        ("inventory", "payment", "Reserved", 4.0),
        ("inventory", "payment", "Shortage", 1.0),
        ("payment", "inventory", "Failed", 0.0),
    ],
)
P95 = frame(["from_service", "to_service", "value"], [("inventory", "payment", 9.0)])
CONSUMPTION = frame(
    ["broker", "cluster_name", "group", "topic", "value"],
    [("kafka", "local", "inventory", "orders", 4.0), ("kafka", "local", "billing", "orders", 0.0)],
)
STATUSES = frame(
    ["broker", "cluster_name", "group", "status"],
    [("kafka", "local", "inventory", "OK"), ("kafka", "local", "billing", "STALL")],
)


def graph() -> FlowGraph:
    return build_flow_graph(FLOWS, P95, CONSUMPTION, STATUSES)


def test_edges_merge_event_types_and_take_health_from_latency_and_status() -> None:
    edges = {(e.source, e.target): e for e in graph().edges}
    assert edges[("inventory", "payment")].label == "Reserved, Shortage"
    assert edges[("inventory", "payment")].rate == 5.0
    assert edges[("inventory", "payment")].health == "warn"  # p95 9 s > 5 s
    # inventory reads only "orders": order's events went through it, producer -> topic
    assert (edges[("order", "orders")].label, edges[("order", "orders")].health) == (
        "OrderPlaced",
        "ok",
    )
    assert ("order", "inventory") not in edges
    assert edges[("payment", "orders")].health == "idle"  # rate 0
    assert edges[("orders", "billing")].health == "bad"  # STALL
    assert edges[("orders", "inventory")].health == "ok"


def test_nodes_kinds_health_and_links() -> None:
    nodes = {n.id: n for n in graph().nodes}
    assert nodes["orders"].kind == "channel"
    assert nodes["inventory"].kind == "service"  # a group named like a service is one node
    assert (nodes["billing"].health, nodes["billing"].link) == ("bad", "lag?group=billing")
    assert nodes["orders"].link == "throughput?topic=orders"
    assert nodes["order"].health == "ok"
    assert nodes["payment"].health == "ok"  # only receives events, yet they flow


def service_graph(rates: dict[tuple[str, str], float]) -> FlowGraph:
    names = sorted({n for pair in rates for n in pair})
    nodes = tuple(FlowNode(n, "service", "ok", "") for n in names)
    edges = tuple(FlowEdge(a, b, "", r, None, "ok") for (a, b), r in rates.items())
    return FlowGraph(nodes, edges)


def test_layout_runs_producers_then_topics_then_consumers() -> None:
    pos = layered_positions(graph())
    x = {name: p[0] for name, p in pos.items()}
    # order -> orders -> inventory -> payment; payment -> orders (rate 0) closes a cycle
    assert x["order"] < x["orders"] < x["inventory"] < x["payment"]
    assert x["billing"] == x["inventory"]  # both read orders: one column
    assert layered_positions(graph()) == pos  # stable across reruns


def test_layout_orders_rows_to_avoid_crossings() -> None:
    """Two producers each feeding its own topic and consumer: the rows line up, no crossing."""
    nodes = [("a", "service"), ("b", "service"), ("t-b", "channel"), ("t-a", "channel")]
    nodes += [("za", "service"), ("ab", "service")]
    edges = [("a", "t-a"), ("b", "t-b"), ("t-a", "za"), ("t-b", "ab")]
    pos = layered_positions(
        FlowGraph(
            tuple(FlowNode(n, k, "ok", "") for n, k in nodes),
            tuple(FlowEdge(s, t, "", 1.0, None, "ok") for s, t in edges),
        )
    )
    for start, topic, end in (("a", "t-a", "za"), ("b", "t-b", "ab")):
        assert pos[start][1] == pos[topic][1] == pos[end][1]
    assert [pos[n][0] for n in ("a", "t-a", "za")] == [0.0, 1.0, 2.0]


def test_a_topic_nobody_is_known_to_feed_sits_just_left_of_its_reader() -> None:
    nodes = [("p", "service"), ("q", "service"), ("r", "service"), ("t", "channel")]
    edges = [("p", "q", 2.0), ("q", "r", 2.0), ("t", "r", 1.0)]
    pos = layered_positions(
        FlowGraph(
            tuple(FlowNode(n, k, "ok", "") for n, k in nodes),
            tuple(FlowEdge(s, t, "", v, None, "ok") for s, t, v in edges),
        )
    )
    assert pos["t"][0] == pos["r"][0] - 1


def test_a_cycle_starts_where_more_flows_out_than_in() -> None:
    """The worked example of flow_layout's docstring: the demo's order flow."""
    rates = {
        ("order", "inventory"): 1.9,
        ("inventory", "order"): 0.2,
        ("inventory", "payment"): 1.8,
        ("payment", "inventory"): 0.3,
        ("payment", "order"): 1.8,
    }
    x = {n: p[0] for n, p in layered_positions(service_graph(rates)).items()}
    assert x == {"order": 0.0, "inventory": 1.0, "payment": 2.0}


def test_a_pure_cycle_still_gets_positions() -> None:
    pos = layered_positions(service_graph({("a", "b"): 1.0, ("b", "a"): 1.0}))
    assert pos == {"a": (0.0, 0.0), "b": (1.0, 0.0)}


def test_the_tap_group_is_left_out_of_the_graph() -> None:
    tap = frame(list(CONSUMPTION.columns), [("kafka", "local", "tap", "orders", 9.0)])
    tapped = pd.concat([CONSUMPTION, tap])
    built = build_flow_graph(FLOWS, P95, tapped, STATUSES, hidden_groups=frozenset({"tap"}))
    names = {n.id for n in built.nodes}
    assert "tap" not in names and "orders" in names


def test_flow_figure_colours_nodes_by_health() -> None:
    fig = flow_figure(graph())
    services = next(t for t in fig.data if t.name == "services")
    colours = dict(zip(services.text, services.marker.color, strict=True))
    assert colours["billing"] == "#d64545" and colours["inventory"] == "#2e9e5b"
    labels = [a.text for a in fig.layout.annotations if a.text]
    assert "Reserved, Shortage<br>5.00/s · p95 9.00 s" in labels
    assert "4.00/s" in labels  # a topic -> group edge shows its consume rate only


def chart_lines(chart: Any) -> list[str]:
    """The series a Vega-Lite chart draws, in legend order, from its inline data."""
    spec = chart.to_dict()
    rows = [row for data in spec["datasets"].values() for row in data if "series" in row]
    return list(dict.fromkeys(row["series"] for row in rows))


def threshold_marks(chart: Any) -> list[dict[str, Any]]:
    """The marks of the chart's layers that draw a fixed value (the threshold rule and label)."""
    spec = chart.to_dict()
    return [
        {"mark": layer["mark"], "value": spec["datasets"][layer["data"]["name"]][0]["value"]}
        for layer in spec.get("layer", [])
        if "data" in layer and layer.get("mark", {}).get("type") in {"rule", "text"}
    ]


def test_timeseries_chart_one_line_per_series_and_a_threshold() -> None:
    t = pd.to_datetime([0, 20], unit="s", utc=True)
    data = frame(["group", "time", "value"], [("a", t[0], 1), ("a", t[1], 2), ("b", t[0], 3)])
    chart = timeseries_chart(data, ["group"], "Lag", "messages", threshold=100)
    assert chart_lines(chart) == ["a", "b"]
    marks = threshold_marks(chart)
    assert [m["value"] for m in marks] == [100, 100]
    assert marks[1]["mark"]["text"] == "threshold 100"
    assert chart.to_dict()["title"] == "Lag"


@pytest.mark.parametrize("threshold", [None, float("nan")])
def test_no_threshold_line_when_unknown(threshold: float | None) -> None:
    chart = timeseries_chart(frame(["group", "time", "value"], []), ["group"], "L", "m", threshold)
    assert threshold_marks(chart) == [] and chart_lines(chart) == []


def test_rate_comparison_dashes_produced_and_draws_consumed_solid() -> None:
    t = pd.to_datetime([0, 20], unit="s", utc=True)
    produce = frame(["topic", "time", "value"], [("orders", t[0], 5.0), ("orders", t[1], 6.0)])
    consume = frame(["topic", "time", "value"], [("orders", t[0], 4.0)])
    chart = rate_comparison_chart(consume, produce, "rates")
    assert chart_lines(chart) == ["orders consumed", "orders produced"]
    dash = chart.to_dict()["layer"][0]["encoding"]["strokeDash"]
    assert dash["field"] == "kind"
    assert dash["scale"] == {"domain": ["consumed", "produced"], "range": [[1, 0], [6, 4]]}


def test_waterfall_bars_from_produce_to_last_pickup() -> None:
    rows = journey_rows(
        {
            "hops": [
                {
                    "event_type": "OrderPlaced",
                    "produced_at": 100.0,
                    "service": "o",
                    "consumed": [{"group": "i", "consumed_at": 100.25}],
                },
                {"event_type": "PaymentFailed", "produced_at": 101.0, "service": "p", "dlq": True},
            ]
        }
    )
    fig = journey_waterfall(rows, "c-1")
    bars = {t.name: t for t in fig.data}
    assert list(bars["event"].x) == [250.0]  # ms from produce to pickup
    assert list(bars["dlq"].x) == [5.0]  # never picked up: a thin mark
    assert list(bars["first pickup"].y) == ["1. OrderPlaced (o)"]


@pytest.mark.parametrize(
    ("link", "target"),
    [
        ("lag?group=a+b&cluster=local", ("lag", {"group": "a b", "cluster": "local"})),
        ("throughput?topic=orders%2Fdlq", ("throughput", {"topic": "orders/dlq"})),
        ("journeys", ("journeys", {})),
    ],
)
def test_a_node_link_splits_into_page_and_parameters(link, target) -> None:
    assert link_target(link) == target


def test_nodes_table_lists_every_node_with_its_link() -> None:
    rows = nodes_table(graph())
    assert rows.loc[rows["node"] == "billing", "link"].item() == "lag?group=billing"
    assert len(rows) == len(graph().nodes)


def test_timeseries_chart_draws_at_most_max_lines_plus_others() -> None:
    t = pd.to_datetime([0, 20], unit="s", utc=True)
    rows = [(f"g{i:03d}", t[j], float(i + j)) for i in range(100) for j in range(2)]
    names = chart_lines(
        timeseries_chart(frame(["group", "time", "value"], rows), ["group"], "Lag", "m")
    )
    assert len(names) == 11 and names[-1] == "90 others (sum)"
    assert set(names[:-1]) == {f"g{i:03d}" for i in range(90, 100)}  # the highest peaks
    chart = timeseries_chart(frame(["group", "time", "value"], rows), ["group"], "Lag", "m")
    scale = chart.to_dict()["layer"][0]["encoding"]["color"]["scale"]
    assert scale["domain"] == names
    assert len(set(scale["range"][:-1])) == 10  # ten named lines, ten colours
    assert scale["range"][-1] == "#9aa0a6"  # the folded rest is grey, not the first line's blue


def test_the_legend_gets_room_of_its_own_so_the_plot_keeps_its_height() -> None:
    """Streamlit fits legend and plot in the chart's height: 11 legend entries once squeezed
    the plot into a 25 px strip (the README's Overview screenshot)."""
    t = pd.to_datetime([0, 20], unit="s", utc=True)
    height = {
        n: timeseries_chart(
            frame(["group", "time", "value"], [(f"g{i}", t[0], 1.0) for i in range(n)]),
            ["group"], "Lag", "m",
        ).to_dict()["height"]
        for n in (1, 11)
    }  # fmt: skip
    assert height[1] == CHART_HEIGHT + LEGEND_ROW_PIXELS  # one row of legend
    assert height[11] == CHART_HEIGHT + 6 * LEGEND_ROW_PIXELS  # 11 entries, two per row


def test_unlinked_nodes_go_in_a_grid_below_the_flow() -> None:
    linked = [("a", "service"), ("t", "channel"), ("b", "service")]
    alone = [(f"q{i}", "channel") for i in range(6)]
    edges = [("a", "t"), ("t", "b"), ("q0", "q0")]  # a queue read by itself is still alone
    pos = layered_positions(
        FlowGraph(
            tuple(FlowNode(n, k, "ok", "") for n, k in linked + alone),
            tuple(FlowEdge(s, t, "", 1.0, None, "ok") for s, t in edges),
        )
    )
    assert [pos[n][0] for n in ("a", "t", "b")] == [0.0, 1.0, 2.0]
    assert all(pos[f"q{i}"][1] < pos["a"][1] for i in range(6))
    assert [pos[f"q{i}"] for i in (0, 3, 4)] == [(0.0, -1.0), (3.0, -1.0), (0.0, -2.0)]

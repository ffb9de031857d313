"""The service graph as pure values: nodes (services, topics/queues) and edges, with health.

Edges come from two metric families:

- service → service from `eventscope_flow_events_total` (traces): label = event types, width =
  events/s, health from p95 hop latency (above `slow_seconds` = "warn");
- topic/queue → consumer group from `eventscope_consumed_messages_total`: health from the
  group's status (OK = "ok", WARN = "warn", STALL/STOP/REWIND/ERR = "bad");
- broker routing from `eventscope_topology_edge` (EventBridge bus → rule → queue → service,
  rule and redrive DLQs): drawn dashed, without a rate; "ok" when enabled, "idle" when the rule
  is disabled, "bad" from a rule with failed invocations (and that rule's node).

A consumer group named like a service is the same node, so the two kinds of edges meet
(the demo names its groups after its services). An event type of a service → service edge whose
topic/queue can be told is drawn through it, producer → topic → consumer
(`dashboard/flow_producers.py`): the producer's edge shows the event types and their rate, the
consumer's the hop's p95 latency.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from urllib.parse import parse_qsl

import pandas as pd

from dashboard.flow_producers import ProducedHop, production, readers, route_flows
from dashboard.shaping import page_link

HEALTH_OF_STATUS = {"OK": "ok", "WARN": "warn"}  # any other known status is "bad"
HEALTH_ORDER = ("idle", "ok", "warn", "bad")
# routing node prefix (collector/exporters/topology.py) → node kind
ROUTING_KINDS = {"bus": "bus", "rule": "rule", "queue": "channel", "service": "service"}
ROUTING_LABELS = {"dead_letters": "DLQ", "redrives": "redrive"}


@dataclass(frozen=True)
class FlowNode:
    id: str
    kind: str  # "service", "channel" (a topic or queue), or EventBridge "bus" / "rule"
    health: str  # idle / ok / warn / bad
    link: str


@dataclass(frozen=True)
class FlowEdge:
    source: str
    target: str
    label: str
    rate: float  # events or messages per second
    p95_seconds: float | None
    health: str
    relation: str = ""  # broker routing (routes, delivers, …); "" = events seen flowing


@dataclass(frozen=True)
class FlowGraph:
    nodes: tuple[FlowNode, ...]
    edges: tuple[FlowEdge, ...]


def _worse(a: str, b: str) -> str:
    return max(a, b, key=HEALTH_ORDER.index)


def status_health(status: str) -> str:
    """Group status -> health: "OK" -> "ok", "WARN" -> "warn", "STALL" -> "bad", "" -> "idle"."""
    if not status:
        return "idle"
    return HEALTH_OF_STATUS.get(status, "bad")


def routing_node(node: str) -> tuple[str, str]:
    """A routing node id of the collector → (graph node, kind); queues and services join the
    nodes of the other edges by their bare name: "queue:orders" -> ("orders", "channel"),
    "service:billing" -> ("billing", "service"), "rule:shop/r" -> ("rule:shop/r", "rule")."""
    prefix, _, name = node.partition(":")
    kind = ROUTING_KINDS.get(prefix, "channel")
    return (name, kind) if prefix in ("queue", "service") else (node, kind)


def build_flow_graph(
    flow_rates: pd.DataFrame,
    hop_p95: pd.DataFrame,
    consumption: pd.DataFrame,
    statuses: pd.DataFrame,
    slow_seconds: float = 5.0,
    hidden_groups: frozenset[str] = frozenset(),
    routing: pd.DataFrame | None = None,
    failing_rules: pd.DataFrame | None = None,
) -> FlowGraph:
    """Nodes and edges from the frames (see module doc); every node links to a page.
    `hidden_groups` are observers, not part of the pipeline (eventscope's own trace tap).
    `routing` has columns source, target, relation, value; `failing_rules` bus, rule."""
    group_health = {str(row.group): status_health(str(row.status)) for row in statuses.itertuples()}
    p95 = {(str(r.from_service), str(r.to_service)): float(r.value) for r in hop_p95.itertuples()}
    edges: list[FlowEdge] = []
    node_kind: dict[str, str] = {}
    node_health: dict[str, str] = defaultdict(lambda: "idle")

    hops: list[ProducedHop] = []
    if not consumption.empty:
        flow_rates, hops = route_flows(flow_rates, readers(consumption, hidden_groups))
    pickup = {(h.channel, h.consumer): p95[(h.producer, h.consumer)] for h in hops
              if (h.producer, h.consumer) in p95}  # fmt: skip
    by_pair: dict[tuple[str, str], list[tuple[str, float]]] = defaultdict(list)
    for r in flow_rates.itertuples():
        by_pair[(str(r.from_service), str(r.to_service))].append((str(r.event_type), r.value))
    for (src, dst), events in sorted(by_pair.items()):
        rate = float(sum(v for _, v in events if v == v))  # v == v drops NaN
        latency = p95.get((src, dst))
        slow = latency is not None and latency == latency and latency > slow_seconds
        health = "idle" if rate <= 0 else "warn" if slow else "ok"
        label = ", ".join(sorted({e for e, _ in events}))
        edges.append(FlowEdge(src, dst, label, rate, latency, health))
        for name in (src, dst):
            node_kind.setdefault(name, "service")

    for r in consumption.sort_values(["topic", "group"]).itertuples():
        topic, group = str(r.topic), str(r.group)
        if group in hidden_groups:
            continue
        health = group_health.get(group, "idle")
        rate = float(r.value) if r.value == r.value else 0.0
        edges.append(FlowEdge(topic, group, "", rate, pickup.get((topic, group)), health))
        node_kind[topic] = "channel"
        node_kind.setdefault(group, "service")
        node_health[topic] = _worse(node_health[topic], "ok" if rate > 0 else "idle")
    for (src, channel), (label, rate) in production(hops).items():
        edges.append(FlowEdge(src, channel, label, rate, None, "ok" if rate > 0 else "idle"))
        node_kind.setdefault(src, "service")

    failing = set()
    if failing_rules is not None:
        failing = {f"rule:{r.bus}/{r.rule}" for r in failing_rules.itertuples()}
    if routing is not None:
        for r in routing.sort_values(["source", "target", "relation"]).itertuples():
            (src, src_kind), (dst, dst_kind) = (
                routing_node(str(r.source)),
                routing_node(str(r.target)),
            )
            if src in hidden_groups or dst in hidden_groups:
                continue
            health = "bad" if src in failing else "ok" if float(r.value) > 0 else "idle"
            relation = str(r.relation)
            label = ROUTING_LABELS.get(relation, "")
            edges.append(FlowEdge(src, dst, label, 0.0, None, health, relation))
            for name, kind in ((src, src_kind), (dst, dst_kind)):
                node_kind.setdefault(name, kind)
                if kind in ("bus", "rule"):
                    node_health[name] = _worse(node_health[name], health)

    for name in node_kind:
        if name in group_health:
            node_health[name] = _worse(node_health[name], group_health[name])
    for edge in edges:
        for end in (edge.source, edge.target):  # events flow through it: at least "ok"
            if node_kind[end] == "service" and edge.rate > 0:
                node_health[end] = _worse(node_health[end], "ok")

    nodes = tuple(
        FlowNode(name, kind, node_health[name], _node_link(name, kind, name in group_health))
        for name, kind in sorted(node_kind.items())
    )
    return FlowGraph(nodes, tuple(edges))


def nodes_table(graph: FlowGraph) -> pd.DataFrame:
    """The graph's nodes as rows with their links: the click-through the figure cannot give."""
    rows = [{"node": n.id, "kind": n.kind, "health": n.health, "link": n.link} for n in graph.nodes]
    return pd.DataFrame(rows, columns=["node", "kind", "health", "link"])


def link_target(link: str) -> tuple[str, dict[str, str]]:
    """Split a relative page link into (url path, query parameters):
    link_target("lag?group=a+b") -> ("lag", {"group": "a b"})."""
    path, _, query = link.partition("?")
    return path, dict(parse_qsl(query))


def _node_link(name: str, kind: str, is_group: bool) -> str:
    if is_group:
        return page_link("lag", group=name)
    if kind == "channel":
        return page_link("throughput", topic=name)
    if kind in ("bus", "rule"):
        return page_link("alerts")  # where EventBridgeRuleFailedInvocations shows
    return page_link("journeys")

"""The broker-side routing of the flow graph (EventBridge bus → rule → queue → service, rule
DLQs, redrive DLQs), read from the adapters after their last successful poll, and rendered two
ways: the `topology_edge` / `rule_failed_invocations` families for Prometheus, and the
`GET /api/topology` answer.

Only adapters that know routing carry `flow_edges` (today the AWS one); the others are skipped.
A cluster whose last poll failed keeps the edges of its last successful poll, like its lag.
The queue → service leg is in no AWS API: it comes from `tracing.group_services`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from collector.brokers.sqs_topology import FlowEdge, consumer_edges, rule_of_node
from collector.exporters.metric_table import family


@dataclass(frozen=True)
class ClusterTopology:
    broker: str
    cluster: str
    edges: tuple[FlowEdge, ...]
    failed_invocations: Mapping[str, int] = field(default_factory=dict)  # rule node → total


def unique_edges(edges: Iterable[FlowEdge]) -> tuple[FlowEdge, ...]:
    """One edge per (source, target, relation), enabled if any copy is (two targets of one rule
    may name the same queue), sorted so the output is stable."""
    merged: dict[tuple[str, str, str], bool] = {}
    for e in edges:
        key = (e.source, e.target, e.relation)
        merged[key] = merged.get(key, False) or e.enabled
    return tuple(FlowEdge(s, t, r, on) for (s, t, r), on in sorted(merged.items()))


def topologies(adapters: Iterable[Any], services: Mapping[str, str]) -> list[ClusterTopology]:
    """Each routing-aware adapter's edges, plus queue → service edges from `services`."""
    out = []
    for adapter in adapters:
        edges = getattr(adapter, "flow_edges", None)
        if edges is None:
            continue
        edges = tuple(edges)
        out.append(
            ClusterTopology(
                broker=str(adapter.broker.value),
                cluster=str(adapter.cluster),
                edges=unique_edges((*edges, *consumer_edges(edges, services))),
                failed_invocations=dict(getattr(adapter, "rule_failed_invocations", {})),
            )
        )
    return out


def topology_json(clusters: Sequence[ClusterTopology]) -> list[dict[str, Any]]:
    return [
        {
            "broker": t.broker,
            "cluster_name": t.cluster,
            "edges": [dataclasses.asdict(e) for e in t.edges],
            "failed_invocations": dict(sorted(t.failed_invocations.items())),
        }
        for t in clusters
    ]


class TopologyCollector(Collector):
    """Renders `topology_edge` and `rule_failed_invocations` from `read()`."""

    def __init__(self, read: Callable[[], Sequence[ClusterTopology]]) -> None:
        self._read = read

    def collect(self) -> Iterator[Metric]:
        edge_family, failed_family = family("topology_edge"), family("rule_failed_invocations")
        edges = GaugeMetricFamily(
            edge_family.full_name, edge_family.help, labels=list(edge_family.labels)
        )
        failed = CounterMetricFamily(
            failed_family.full_name, failed_family.help, labels=list(failed_family.labels)
        )
        for t in self._read():
            for e in t.edges:
                labels = [t.broker, t.cluster, e.source, e.target, e.relation]
                edges.add_metric(labels, 1.0 if e.enabled else 0.0)
            for node, total in sorted(t.failed_invocations.items()):
                failed.add_metric([t.broker, t.cluster, *rule_of_node(node)], float(total))
        yield edges
        yield failed

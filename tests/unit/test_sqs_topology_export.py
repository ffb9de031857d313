"""EventBridge routing out of the collector: queue → service edges, the topology_edge and
rule_failed_invocations families (parsed from the exposition), and the /api/topology shape."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from collector.brokers.sqs_topology import FlowEdge, consumer_edges, rule_of_node
from collector.exporters.topology import (
    ClusterTopology,
    TopologyCollector,
    topologies,
    topology_json,
    unique_edges,
)
from collector.model import Broker

RULE = "rule:shop/to-billing"
EDGES = (
    FlowEdge("bus:shop", RULE, "routes"),
    FlowEdge(RULE, "queue:shop-billing", "delivers"),
    FlowEdge(RULE, "queue:shop-failed", "dead_letters"),
    FlowEdge("queue:shop-billing", "queue:shop-parked", "redrives"),
)


@dataclass
class FakeAwsAdapter:
    """The two attributes the exporter reads after a poll (the real one is tested on moto)."""

    broker: Broker = Broker.SQS
    cluster: str = "aws"
    flow_edges: tuple[FlowEdge, ...] = EDGES
    rule_failed_invocations: dict[str, int] = field(default_factory=lambda: {RULE: 7})


@dataclass
class KafkaLikeAdapter:
    broker: Broker = Broker.KAFKA
    cluster: str = "local"


def test_consumer_edges_come_from_group_services_for_queues_in_the_routing():
    services = {"shop-billing": "billing", "unrouted": "nobody", "shop-failed": ""}
    assert consumer_edges(EDGES, services) == [
        FlowEdge("queue:shop-billing", "service:billing", "consumed_by")
    ]


def test_rule_of_node():
    assert rule_of_node(RULE) == ("shop", "to-billing")


def test_duplicate_edges_merge_enabled_if_any_copy_is():
    edges = [FlowEdge("a", "b", "delivers", False), FlowEdge("a", "b", "delivers", True)]
    assert unique_edges(edges) == (FlowEdge("a", "b", "delivers", True),)


def test_only_routing_aware_adapters_are_read():
    found = topologies([KafkaLikeAdapter(), FakeAwsAdapter()], {"shop-billing": "billing"})
    assert [(t.broker, t.cluster) for t in found] == [("sqs", "aws")]
    assert FlowEdge("queue:shop-billing", "service:billing", "consumed_by") in found[0].edges
    assert found[0].failed_invocations == {RULE: 7}


def samples(topology: list[ClusterTopology]) -> dict[tuple[str, frozenset], float]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(TopologyCollector(lambda: topology))
    text = generate_latest(registry).decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }


def test_edges_and_failed_invocations_in_the_exposition():
    disabled = FlowEdge("bus:shop", "rule:shop/old", "routes", enabled=False)
    topo = ClusterTopology("sqs", "aws", unique_edges((*EDGES, disabled)), {RULE: 7})
    got = samples([topo])
    base = {"broker": "sqs", "cluster_name": "aws"}

    def edge(source: str, target: str, relation: str) -> float | None:
        labels = {**base, "source": source, "target": target, "relation": relation}
        return got.get(("eventscope_topology_edge", frozenset(labels.items())))

    assert edge("bus:shop", RULE, "routes") == 1.0
    assert edge(RULE, "queue:shop-failed", "dead_letters") == 1.0
    assert edge("bus:shop", "rule:shop/old", "routes") == 0.0
    failed = {**base, "bus": "shop", "rule": "to-billing"}
    assert got[("eventscope_rule_failed_invocations_total", frozenset(failed.items()))] == 7.0


def test_no_routing_renders_empty_families():
    assert samples([]) == {}


def test_api_answer_shape():
    (answer,) = topology_json(topologies([FakeAwsAdapter()], {}))
    assert answer["cluster_name"] == "aws" and answer["broker"] == "sqs"
    assert answer["edges"][0] == {
        "source": "bus:shop",
        "target": RULE,
        "relation": "routes",
        "enabled": True,
    }
    assert answer["failed_invocations"] == {RULE: 7}

"""Three sharded collectors against one broker export exactly what one collector exports."""

from __future__ import annotations

from collections import Counter

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from collector.brokers.kafka import KafkaAdapter
from collector.compute.view import ViewSettings
from collector.config import KafkaCluster, Thresholds
from collector.exporters.prometheus import ViewCollector
from collector.poller import ClusterPoller
from collector.sharding import ShardFilter, owner
from tests.kafka_world import commit, create_topic, produce, unique

pytestmark = pytest.mark.service

# per-instance health series: every shard reports its own poll of the cluster
PER_INSTANCE = ("eventscope_collector_",)


def series(bootstrap: str, prefix: str, shard: ShardFilter) -> list[tuple[str, frozenset]]:
    cluster = KafkaCluster(
        name="shared",
        bootstrap_servers=bootstrap,
        request_timeout_seconds=3.0,
        include_groups=(f"{prefix}*",),
        include_topics=(f"{prefix}*",),
    )
    settings = ViewSettings(shard=shard)
    poller = ClusterPoller(KafkaAdapter(cluster, shard=shard), 1.0, settings)
    try:
        view = poller.poll_once()
    finally:
        poller.stop()
    assert view.up, view.error
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ViewCollector(lambda: [view], Thresholds(), 1.0))
    text = generate_latest(registry).decode()
    return [
        (s.name, frozenset(s.labels.items()))
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
        if not s.name.startswith(PER_INSTANCE)
    ]


def test_union_of_three_shards_equals_one_collector(kafka):
    # a random prefix leaves a shard without groups about 2 % of the time (3 x (2/3)^12):
    # draw prefixes until every shard owns one, so the split below is always a real one
    prefix = unique("shard") + "-"
    while {owner(f"{prefix}g{i}", 3) for i in range(12)} != {1, 2, 3}:
        prefix = unique("shard") + "-"
    topics = [f"{prefix}t{i}" for i in range(4)]
    for t in topics:
        create_topic(kafka, t, 2)
        produce(kafka, t, [3, 3])
    groups = [f"{prefix}g{i}" for i in range(12)]
    for i, g in enumerate(groups):
        commit(kafka, g, topics[i % len(topics)], {0: i % 4, 1: 1})
    # the split is real: every shard owns at least one group
    assert {owner(g, 3) for g in groups} == {1, 2, 3}

    single = series(kafka, prefix, ShardFilter())
    shards = [series(kafka, prefix, ShardFilter(i, 3)) for i in (1, 2, 3)]
    union = [s for shard in shards for s in shard]

    duplicates = [s for s, n in Counter(union).items() if n > 1]
    assert duplicates == []
    assert set(union) == set(single)
    lag_groups = {dict(lbl)["group"] for name, lbl in single if name.endswith("lag_messages")}
    assert lag_groups == set(groups)

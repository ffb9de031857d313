"""Found by the benchmarks, checked on a real Tansu broker: what a second poll still reads.

The first poll of a fresh adapter hid both bugs; every later poll showed them.
"""

from __future__ import annotations

import time

import pytest

from collector.brokers.kafka import KafkaAdapter
from collector.config import KafkaCluster
from collector.model import TopicPartition
from tests.kafka_world import commit, create_topic, produce, unique

pytestmark = pytest.mark.service


def test_exact_lag_timestamps_follow_the_commits_and_an_unmoved_one_costs_no_fetch(kafka):
    """Two things guarded. librdkafka kept a partition the probe had paused paused after the next
    assign, so polls after the first read no timestamps and waited out the timeout. And a
    committed offset that has not moved since the last poll is not fetched again (its record's
    timestamp cannot have changed): a stopped consumer costs the broker nothing per poll."""
    topic, group = unique("bench-probe"), unique("bench-probe-g")
    create_topic(kafka, topic, 2)
    written = time.time() - 300
    produce(kafka, topic, [5, 5], timestamps=[written + i for i in range(5)])
    config = KafkaCluster(
        name="probe", bootstrap_servers=kafka, request_timeout_seconds=3.0, include_groups=(group,)
    )  # the shared broker's other groups lag too
    adapter = KafkaAdapter(config)
    snaps = []
    try:
        for p0 in (1, 2, 2):  # partition 0 moves once, partition 1 never
            commit(kafka, group, topic, {0: p0, 1: 3})
            snaps.append(adapter.snapshot(time.time()))
    finally:
        adapter.close()
    stamps = [{k: v for k, v in s.commit_timestamps.items() if k[0] == group} for s in snaps]
    p0, p1 = (group, TopicPartition(topic, 0)), (group, TopicPartition(topic, 1))
    assert stamps == [
        {p0: pytest.approx(written + 1, abs=0.01), p1: pytest.approx(written + 3, abs=0.01)},
        {p0: pytest.approx(written + 2, abs=0.01), p1: pytest.approx(written + 3, abs=0.01)},
        {p0: pytest.approx(written + 2, abs=0.01), p1: pytest.approx(written + 3, abs=0.01)},
    ]
    assert [s.requests.get("fetch", 0) for s in snaps] == [1, 1, 0]


def test_topic_configs_are_not_reread_on_every_poll(kafka):
    """Tansu reports no retention.ms; that must not cost a DescribeConfigs on every poll."""
    topic, group = unique("bench-configs"), unique("bench-configs-g")
    create_topic(kafka, topic, 1)
    produce(kafka, topic, [1])
    commit(kafka, group, topic, {0: 1})
    adapter = KafkaAdapter(KafkaCluster(name="configs", bootstrap_servers=kafka))
    try:
        requests = [dict(adapter.snapshot(time.time()).requests) for _ in range(3)]
    finally:
        adapter.close()
    assert [r.get("describe_configs", 0) for r in requests] == [1, 0, 0]


def test_groups_are_described_in_batches(kafka, monkeypatch):
    """10,000 groups in one DescribeGroups call outlasted the 5 s timeout; batches each get one."""
    import collector.brokers.kafka as kafka_module

    monkeypatch.setattr(kafka_module, "DESCRIBE_BATCH", 2)
    topic, prefix = unique("bench-describe"), unique("bench-describe-g")
    create_topic(kafka, topic, 1)
    produce(kafka, topic, [2])
    groups = [f"{prefix}-{i}" for i in range(5)]
    for g in groups:
        commit(kafka, g, topic, {0: 1})
    config = KafkaCluster(name="batches", bootstrap_servers=kafka, include_groups=(f"{prefix}-*",))
    adapter = KafkaAdapter(config)
    try:
        snap = adapter.snapshot(time.time())
    finally:
        adapter.close()
    assert [g.group for g in snap.groups] == groups
    assert {g.state for g in snap.groups} == {"Empty"}
    assert snap.requests["describe_groups"] == 3  # 2 + 2 + 1

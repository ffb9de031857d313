"""Retention overtaking a group, group deletion and offset expiry, on Apache Kafka.

Each test drives a `ClusterPoller` poll by poll and reads what `/metrics` would show (the
exporter over the poll's view, parsed from the exposition text). Truth comes from the broker:
`delete_records` moves a partition's log start offset exactly as retention does, at once; the
time-based case lets the broker's own retention delete a rolled segment.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import KafkaException
from confluent_kafka import TopicPartition as KTopicPartition
from confluent_kafka.admin import NewTopic
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from collector.brokers.kafka import KafkaAdapter
from collector.compute.view import ViewSettings
from collector.config import KafkaCluster, Thresholds
from collector.exporters.prometheus import ViewCollector
from collector.model import ClusterView, Status
from collector.poller import ClusterPoller
from demo.kafka_node import KafkaNode, start_kafka
from tests.conftest import wait_until
from tests.kafka_world import admin, commit, produce, unique

pytestmark = pytest.mark.service

# the families a group's series live in: every one must be gone once the group is
GROUP_FAMILIES = (
    "eventscope_consumer_lag_messages",
    "eventscope_consumer_lag_seconds",
    "eventscope_consumer_committed_offset",
    "eventscope_consumer_group_status",
    "eventscope_consumer_group_state",
    "eventscope_consumer_group_members",
    "eventscope_lag_threshold_messages",
    "eventscope_lag_threshold_seconds",
    "eventscope_consumer_messages_lost_total",
    "eventscope_consumed_messages_total",
)


def poller(bootstrap: str) -> ClusterPoller:
    cluster = KafkaCluster(name="retention", bootstrap_servers=bootstrap, request_timeout_seconds=5)
    return ClusterPoller(
        KafkaAdapter(cluster),
        interval=1.0,
        settings=ViewSettings(min_observations=3),
        status_window=3,
    )


def series(view: ClusterView, group: str) -> dict[tuple[str, str], float]:
    """(sample name, status-or-state-or-topic) → value of every sample labelled with `group`."""
    registry = CollectorRegistry()
    registry.register(ViewCollector(lambda: [view], Thresholds(), poll_interval=1.0))
    out: dict[tuple[str, str], float] = {}
    for fam in text_string_to_metric_families(generate_latest(registry).decode()):
        for s in fam.samples:
            if s.labels.get("group") == group:
                what = s.labels.get("status") or s.labels.get("state") or s.labels.get("topic", "")
                out[(s.name, what)] = s.value
    return out


def group_row(view: ClusterView, group: str):
    return next(g for g in view.groups if g.group == group)


def create_topic(bootstrap: str, topic: str, partitions: int, **config: str) -> None:
    client = admin(bootstrap)
    for fut in client.create_topics([NewTopic(topic, partitions, 1, config=config)]).values():
        fut.result(10)


def delete_records_below(bootstrap: str, topic: str, partition: int, offset: int) -> None:
    client = admin(bootstrap)
    tp = KTopicPartition(topic, partition, offset)
    for fut in client.delete_records([tp], request_timeout=10).values():
        assert fut.result().low_watermark == offset


def test_delete_records_past_a_commit_counts_the_loss_once_and_reads_err(kafka):
    topic, group = unique("lost"), unique("billing")
    create_topic(kafka, topic, 2, **{"segment.bytes": str(1024 * 1024)})
    produce(kafka, topic, [200, 50])
    commit(kafka, group, topic, {0: 10, 1: 50})  # partition 1 is caught up throughout
    p = poller(kafka)
    try:
        view = p.poll_once()
        assert series(view, group)[("eventscope_consumer_messages_lost_total", topic)] == 0
        assert view.requests_total["list_offsets"] == 2  # latest + earliest, one batch each

        delete_records_below(kafka, topic, 0, 130)  # offsets 10..129 deleted unread
        view = p.poll_once()
        got = series(view, group)
        assert got[("eventscope_consumer_messages_lost_total", topic)] == 120
        row = group_row(view, group)
        assert row.status is Status.ERR
        assert row.reason == f"{topic}/0: retention deleted 120 unread messages"
        assert got[("eventscope_consumer_group_status", "ERR")] == 1
        lag = {r.partition: r for r in view.lags if r.group == group}
        # lag is what can still be read (200 − 130), the commit itself stays visible
        assert (lag[0].messages, lag[0].committed, lag[0].end) == (70, 10, 200)
        assert lag[1].messages == 0

        delete_records_below(kafka, topic, 0, 180)  # the log start advances past a frozen commit
        for _ in range(2):  # and a poll that sees the same state adds nothing
            view = p.poll_once()
            assert series(view, group)[("eventscope_consumer_messages_lost_total", topic)] == 170
        assert group_row(view, group).reason.endswith("deleted 170 unread messages")
        assert view.requests_total["list_offsets"] == 2 * 4

        commit(kafka, group, topic, {0: 180})  # reset to earliest: the loss stops
        view = p.poll_once()
        assert group_row(view, group).status is not Status.ERR
        assert series(view, group)[("eventscope_consumer_messages_lost_total", topic)] == 170
        assert next(r for r in view.lags if r.group == group and r.partition == 0).messages == 20
    finally:
        p.stop()


def test_deleted_group_with_lag_leaves_no_series_after_one_poll(kafka):
    topic, group = unique("deleted"), unique("retired")
    create_topic(kafka, topic, 1)
    produce(kafka, topic, [30])
    commit(kafka, group, topic, {0: 5})
    p = poller(kafka)
    try:
        before = {name for name, _ in series(p.poll_once(), group)}
        assert before >= set(GROUP_FAMILIES) - {"eventscope_consumer_lag_seconds"}
        client = admin(kafka)
        for fut in client.delete_consumer_groups([group], request_timeout=10).values():
            fut.result()
        view = p.poll_once()
        assert series(view, group) == {}
        assert group not in {g.group for g in view.groups}
    finally:
        p.stop()


@pytest.fixture(scope="module")
def fast_expiry_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaNode]:
    """A private broker whose group offsets expire after a minute and whose retention check
    runs every second (offsets.retention.minutes cannot go below 1)."""
    node = start_kafka(
        Path(tmp_path_factory.mktemp("kafka-retention")),
        name="kafka-retention",
        overrides={
            "offsets.retention.minutes": "1",
            "offsets.retention.check.interval.ms": "1000",
            "log.retention.check.interval.ms": "1000",
        },
    )
    yield node
    node.stop()


def test_time_based_retention_overtaking_a_stopped_group(fast_expiry_kafka):
    bootstrap = fast_expiry_kafka.bootstrap
    topic, group = unique("expiring"), unique("slow")
    create_topic(bootstrap, topic, 1, **{"retention.ms": "2000", "segment.ms": "1000"})
    produce(bootstrap, topic, [50])
    commit(bootstrap, group, topic, {0: 10})
    p = poller(bootstrap)
    try:
        assert p.poll_once().lost_total[(group, topic)] == 0

        def rolled_and_deleted() -> bool:
            # a segment rolls on the first append after segment.ms; retention then deletes it
            produce(bootstrap, topic, [1])
            return p.poll_once().lost_total[(group, topic)] > 0

        wait_until(
            rolled_and_deleted, timeout=60, what="retention to delete the first segment", every=1
        )
        view = p.poll_once()
        lost = view.lost_total[(group, topic)]
        row = next(r for r in view.lags if r.group == group)
        start = row.end - row.messages  # lag counts from the log start
        assert start > 10 and lost == start - 10
        assert group_row(view, group).status is Status.ERR
    finally:
        p.stop()


def test_expired_offsets_take_an_idle_group_and_its_series_away(fast_expiry_kafka):
    bootstrap = fast_expiry_kafka.bootstrap
    topic, group = unique("idle"), unique("batch")
    create_topic(bootstrap, topic, 1)
    produce(bootstrap, topic, [20])
    commit(bootstrap, group, topic, {0: 3})  # an Empty group: offsets only, no members
    p = poller(bootstrap)
    try:
        view = None
        for _ in range(3):
            view = p.poll_once()
        assert view is not None
        got = series(view, group)
        assert got[("eventscope_consumer_group_status", "STOP")] == 1  # would alert, for now
        assert got[("eventscope_consumer_group_state", "Empty")] == 1

        client = admin(bootstrap)  # one warm client: a fresh one may list no broker's groups

        def expired() -> bool:
            fut = client.describe_consumer_groups([group], request_timeout=5)[group]
            try:
                return fut.result().state.name == "DEAD"
            except KafkaException:
                return True  # GROUP_ID_NOT_FOUND: removed with its last offset

        wait_until(expired, timeout=150, what="the broker to expire the group's offsets", every=2)
        view = p.poll_once()  # one poll after expiry: every series of the group is gone
        assert series(view, group) == {}
        # so no lag, status or lost-messages rule has an input left for it
        assert not any(g.group == group for g in view.groups)
        assert not any(key[0] == group for key in view.lost_total)
    finally:
        p.stop()

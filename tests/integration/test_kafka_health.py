"""Burrow-grade health, deleted groups, new partitions and DLQs, from real commits on Tansu.

Each test drives a `ClusterPoller` poll by poll (explicit sequences of commits between polls),
against the real broker, and checks what the exporter would show.
"""

from __future__ import annotations

import time

import pytest
from confluent_kafka import Consumer

from bench.latency_proxy import LatencyProxy
from collector.brokers.kafka import KafkaAdapter
from collector.compute.view import ViewSettings
from collector.config import KafkaCluster, KafkaLagSeconds
from collector.model import ClusterSnapshot, ClusterView, Status, TopicPartition
from collector.poller import ClusterPoller
from demo.kafka_node import start_kafka
from demo.services import free_port
from tests.conftest import wait_until
from tests.kafka_world import admin, commit, create_topic, produce, unique

pytestmark = pytest.mark.service

DLQ_PATTERNS = ("*.dlq", "*-dlq", "dlq.*", "*.DLT")


def poller(bootstrap: str, groups: tuple[str, ...] = (), window: int = 3) -> ClusterPoller:
    cluster = KafkaCluster(
        name="health", bootstrap_servers=bootstrap, request_timeout_seconds=3.0, groups=groups
    )
    return ClusterPoller(
        KafkaAdapter(cluster, dlq_patterns=DLQ_PATTERNS),
        interval=1.0,
        settings=ViewSettings(min_observations=3, dlq_patterns=DLQ_PATTERNS),
        status_window=window,
    )


def status_of(view: ClusterView, group: str) -> tuple[Status, str]:
    row = next(g for g in view.groups if g.group == group)
    return row.status, row.reason


def steps(p: ClusterPoller, bootstrap: str, group: str, topic: str, offsets, produce_each=0):
    view = None
    for offset in offsets:
        if produce_each:
            produce(bootstrap, topic, [produce_each])
        commit(bootstrap, group, topic, {0: offset})
        view = p.poll_once()
    assert view is not None
    return view


def test_rewind_stop_warn_ok_from_commit_sequences(kafka):
    topic = unique("health")
    create_topic(kafka, topic, 1)
    produce(kafka, topic, [20])
    g_rewind, g_stop, g_warn, g_ok = (unique(n) for n in ("rewind", "stop", "warn", "ok"))
    p = poller(kafka)
    try:
        assert status_of(steps(p, kafka, g_rewind, topic, [5, 8, 2]), g_rewind)[0] is Status.REWIND
        status, reason = status_of(steps(p, kafka, g_stop, topic, [3, 3, 3]), g_stop)
        assert status is Status.STOP and "no members" in reason  # committed only: Empty group
        # WARN reads the lag at 4+ commits, so it needs a window of 5+ polls
        wide = poller(kafka, window=6)
        try:
            view = steps(wide, kafka, g_warn, topic, [1, 2, 3, 4, 5, 6], produce_each=4)
        finally:
            wide.stop()
        status, reason = status_of(view, g_warn)
        assert status is Status.WARN and "grew" in reason
        end = next(r.end for r in view.lags if r.topic == topic)
        assert (
            status_of(steps(p, kafka, g_ok, topic, [end - 2, end - 1, end]), g_ok)[0] is Status.OK
        )
    finally:
        p.stop()


def test_stall_when_members_are_present_but_offsets_frozen(kafka):
    topic, group = unique("stall"), unique("stuck")
    create_topic(kafka, topic, 1)
    produce(kafka, topic, [10])
    member = Consumer(
        {
            "bootstrap.servers": kafka,
            "group.id": group,
            "enable.auto.commit": False,
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 2000,
            "auto.offset.reset": "earliest",
        }
    )
    member.subscribe([topic])
    p = poller(kafka, groups=(group,))
    try:
        wait_until(lambda: member.poll(0.2) is not None or member.assignment(), 30, "assignment")
        member.commit(offsets=[_tp(topic, 0, 4)], asynchronous=False)
        view = None
        for _ in range(3):
            member.poll(0.1)  # stay in the group (heartbeats) without committing further
            view = p.poll_once()
        assert view is not None
        status, reason = status_of(view, group)
        assert status is Status.STALL, reason
        assert "unchanged" in reason
    finally:
        member.close()
        p.stop()


def _tp(topic: str, partition: int, offset: int):
    from confluent_kafka import TopicPartition

    return TopicPartition(topic, partition, offset)


def test_deleted_group_disappears_within_one_poll(kafka):
    topic, group = unique("gone"), unique("ghost")
    create_topic(kafka, topic, 1)
    produce(kafka, topic, [5])
    commit(kafka, group, topic, {0: 1})
    p = poller(kafka)
    try:
        assert any(g.group == group for g in p.poll_once().groups)
        client = admin(kafka)
        for fut in client.delete_consumer_groups([group], request_timeout=10).values():
            fut.result()
        view = p.poll_once()
        assert not any(g.group == group for g in view.groups)
        assert not any(r.group == group for r in view.lags)
    finally:
        p.stop()


def test_recreated_topic_with_more_partitions_is_picked_up(kafka):
    # Tansu has no CreatePartitions (KIP-195); deleting and recreating the topic with more
    # partitions exercises the same path: new partitions, and no stale end offsets
    topic, group = unique("grow"), unique("grower")
    create_topic(kafka, topic, 2)
    produce(kafka, topic, [6, 6])
    commit(kafka, group, topic, {0: 6, 1: 6})
    p = poller(kafka)
    try:
        view = p.poll_once()
        assert {tp.partition for tp in view.end_offsets if tp.topic == topic} == {0, 1}
        client = admin(kafka)
        for fut in client.delete_topics([topic], request_timeout=10).values():
            fut.result()
        wait_until(lambda: topic not in client.list_topics(timeout=5).topics, 20, "deletion")
        create_topic(kafka, topic, 3)
        produce(kafka, topic, [1, 1, 1])

        def three_partitions():
            v = p.poll_once()
            parts = {tp.partition: o for tp, o in v.end_offsets.items() if tp.topic == topic}
            return v if set(parts) == {0, 1, 2} else None

        view = wait_until(three_partitions, 20, "the recreated topic's 3 partitions")
        ends = {tp.partition: o for tp, o in view.end_offsets.items() if tp.topic == topic}
        assert ends == {0: 1, 1: 1, 2: 1}  # fresh end offsets, not the old 6s
        assert all(r.messages >= 0 for r in view.lags)
    finally:
        p.stop()


def test_dlq_topic_depth_and_source(kafka):
    source = unique("orders")
    dlq = f"{source}.dlq"
    create_topic(kafka, dlq, 2)
    produce(kafka, dlq, [3, 4])
    p = poller(kafka)
    try:
        view = p.poll_once()
        row = next(d for d in view.dead_letters if d.dlq == dlq)
        assert (row.source, row.depth) == (source, 7)
    finally:
        p.stop()


def test_interpolated_lag_within_one_poll_interval(kafka):
    topic, group = unique("interp"), unique("slowpoke")
    create_topic(kafka, topic, 1)
    cluster = KafkaCluster(name="interp", bootstrap_servers=kafka, request_timeout_seconds=3.0)
    cluster = KafkaCluster(
        **{**cluster.__dict__, "lag_seconds": type(cluster.lag_seconds)(method="interpolated")}
    )
    p = ClusterPoller(KafkaAdapter(cluster), 1.0, ViewSettings(), status_window=3)
    try:
        written: list[float] = []
        for _ in range(4):  # 4 records, one per poll, 0.5 s apart
            produce(kafka, topic, [1])
            written.append(time.time())
            commit(kafka, group, topic, {0: 1})
            p.poll_once()
            time.sleep(0.5)
        view = p.poll_once()
        row = next(r for r in view.lags if r.group == group)
        assert row.method is not None and row.method.value == "interpolated"
        truth = view.polled_at - written[1]  # the oldest unconsumed record is offset 1
        assert row.seconds == pytest.approx(truth, abs=1.5)
    finally:
        p.stop()


def test_dlq_depth_is_unconsumed_when_a_reprocessor_reads_it(kafka):
    source = unique("refunds")
    dlq = f"{source}.dlq"
    create_topic(kafka, dlq, 1)
    produce(kafka, dlq, [6])
    commit(kafka, unique("reprocessor"), dlq, {0: 4})
    p = poller(kafka)
    try:
        row = next(d for d in p.poll_once().dead_letters if d.dlq == dlq)
        assert row.depth == 2  # 6 retained, 4 already reprocessed
    finally:
        p.stop()


def test_a_slow_broker_cannot_stretch_the_poll_through_the_lag_seconds_probe(tmp_path):
    """Every round trip to this broker takes >= 0.8 s (a proxy delays each way by 0.4 s). The
    exact-lag probe may take `probe_timeout_seconds` of the poll, not the request timeout, and
    none of it once the required phases have used 80% of the poll interval: what it has not read
    is interpolated for that poll."""
    port = free_port()
    proxy = LatencyProxy(port, 0.0).start()  # no delay while setting up
    broker = start_kafka(tmp_path, port=port, name="kafka-slow", advertised_port=proxy.port)
    try:
        bootstrap = f"127.0.0.1:{proxy.port}"
        topic, group = unique("slow"), unique("slow-reader")
        create_topic(bootstrap, topic, 1)
        produce(bootstrap, topic, [10])
        commit(bootstrap, group, topic, {0: 3})
        proxy.delay = 0.4

        def snapshot(budget: float, poll_seconds: float | None = None) -> ClusterSnapshot:
            settings = KafkaLagSeconds(probe_timeout_seconds=budget)
            cluster = KafkaCluster(name="slow", bootstrap_servers=bootstrap,
                                   request_timeout_seconds=20.0, lag_seconds=settings)  # fmt: skip
            return KafkaAdapter(cluster, poll_seconds=poll_seconds).snapshot(time.time())

        tp = (group, TopicPartition(topic, 0))
        exact = snapshot(budget=20.0)  # the same poll with time for the probe: it reads
        assert tp in exact.commit_timestamps
        bounded = snapshot(budget=0.3)
        assert tp not in bounded.commit_timestamps  # no round trip fits in 0.3 s
        assert bounded.phase_seconds["commit_timestamps"] < 5.0  # stopped at its budget, not 20 s
        assert bounded.groups[0].committed == {TopicPartition(topic, 0): 3}  # lag still there
        # a 2 s poll interval: ListGroups alone takes 0.8 s of its 1.6 s share, and every other
        # required phase is a round trip more, so the probe is not even started
        late = snapshot(budget=20.0, poll_seconds=2.0)
        assert tp not in late.commit_timestamps
        assert "fetch" not in late.requests
        assert late.groups[0].committed == {TopicPartition(topic, 0): 3}
        roomy = snapshot(budget=20.0, poll_seconds=60.0)  # the same poll with room: it reads
        assert tp in roomy.commit_timestamps
    finally:
        broker.stop()
        proxy.stop()

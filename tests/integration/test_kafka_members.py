"""Group members, lag per member, and STOP vs STALL, with real consumers on Apache Kafka.

Consumers here are real group members (classic protocol, as librdkafka joins by default): each
runs its own poll loop in a thread, which the test can hang (stop calling poll, as a consumer
stuck in a handler does: librdkafka keeps heartbeating, so the broker keeps it in the group) or
close (it leaves the group). Offsets are committed before the members join and never after, so
the lag of every partition is known exactly.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from confluent_kafka import Consumer
from confluent_kafka import TopicPartition as KTopicPartition

from collector.brokers.kafka import KafkaAdapter
from collector.compute.view import ViewSettings
from collector.config import KafkaCluster, load_config
from collector.exporters.group_detail import group_detail_json
from collector.model import ClusterView, GroupRow, Status
from collector.poller import ClusterPoller
from collector.service import CollectorService
from demo.services import free_port
from tests.conftest import scrape, wait_until
from tests.kafka_world import commit, create_topic, produce, unique

pytestmark = pytest.mark.service


class Member:
    """One real group member polling in its own thread until hung or closed."""

    def __init__(
        self,
        bootstrap: str,
        group: str,
        topic: str,
        client_id: str,
        on_revoke: Callable[[Any, Any], None] | None = None,
    ) -> None:
        self.client_id = client_id
        self.consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": group,
                "client.id": client_id,
                "enable.auto.commit": False,  # the committed offsets stay the test's
                "session.timeout.ms": 6000,
                "heartbeat.interval.ms": 2000,
                "auto.offset.reset": "earliest",
            }
        )
        kwargs = {} if on_revoke is None else {"on_revoke": on_revoke}
        self.consumer.subscribe([topic], **kwargs)
        self.polling = threading.Event()
        self.polling.set()
        self._in_poll = threading.Lock()  # held while poll runs: the consumer is not thread-safe
        self._done = threading.Event()
        self.assigned = False  # read by the test; only the poll thread touches the consumer
        self._thread = threading.Thread(target=self._run, name=f"member-{client_id}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._done.is_set():
            with self._in_poll:  # checked under the lock: after `hang` returns, no poll starts
                if self.polling.is_set():
                    self.consumer.poll(0.2)
                    self.assigned = bool(self.consumer.assignment())
                    continue
            self._done.wait(0.2)

    def commit_sync(self, topic: str, partition: int, offset: int) -> None:
        self.hang()  # the consumer is not thread-safe: the poll loop must be idle
        self.consumer.commit(
            offsets=[KTopicPartition(topic, partition, offset)], asynchronous=False
        )

    def hang(self) -> None:
        """Stop calling poll (a handler stuck forever); heartbeats go on in librdkafka."""
        self.polling.clear()
        with self._in_poll:  # wait out a poll in progress
            pass

    def resume(self) -> None:
        self.polling.set()

    def close(self) -> None:
        """Leave the group (LeaveGroup), as a stopped service does."""
        self._done.set()
        self._thread.join(10)
        self.consumer.close()


@pytest.fixture
def members() -> Iterator[list[Member]]:
    started: list[Member] = []
    yield started
    for m in started:
        if not m._done.is_set():
            m.close()


def poller(bootstrap: str, group: str) -> ClusterPoller:
    cluster = KafkaCluster(
        name="members", bootstrap_servers=bootstrap, request_timeout_seconds=5.0, groups=(group,)
    )
    return ClusterPoller(
        KafkaAdapter(cluster), 1.0, ViewSettings(min_observations=3), status_window=3
    )


def row_of(view: ClusterView, group: str) -> GroupRow:
    return next(g for g in view.groups if g.group == group)


@pytest.fixture
def collector(kafka: str, tmp_path: Path) -> Iterator[str]:
    cfg = tmp_path / "c.yml"
    cfg.write_text(
        "poll_interval_seconds: 1\nclusters:\n"
        f"  - name: k\n    kind: kafka\n    bootstrap_servers: {kafka}\n"
    )
    service = CollectorService(load_config(cfg), f"127.0.0.1:{free_port()}")
    service.start()
    yield f"http://127.0.0.1:{service.port}"
    service.stop()


def test_two_members_with_their_partitions_and_lag(kafka, collector, members):
    topic, group = unique("members"), unique("billing")
    create_topic(kafka, topic, 4)
    produce(kafka, topic, [5, 7, 11, 13])
    committed = {0: 1, 1: 2, 2: 3, 3: 4}
    commit(kafka, group, topic, committed)  # before anyone joins: an Empty group may commit
    truth = {p: end - committed[p] for p, end in enumerate([5, 7, 11, 13])}  # 4, 5, 8, 9
    members.append(Member(kafka, group, topic, "billing-a"))
    members.append(Member(kafka, group, topic, "billing-b"))

    def settled() -> dict[str, Any] | None:
        resp = requests.get(f"{collector}/api/groups/{group}", params={"cluster": "k"}, timeout=5)
        body = resp.json() if resp.status_code == 200 else {}
        owned = [p for m in body.get("member_list", []) for p in m["partitions"]]
        stable = body.get("state") == "Stable" and body.get("members") == 2
        return body if stable and len(owned) == 4 else None

    body = wait_until(settled, 60, "2 members of a Stable group owning all 4 partitions")
    by_client = {m["client_id"]: m for m in body["member_list"]}
    assert set(by_client) == {"billing-a", "billing-b"}
    owned = {
        name: {p["partition"] for p in m["partitions"] if p["topic"] == topic}
        for name, m in by_client.items()
    }
    assert owned["billing-a"].isdisjoint(owned["billing-b"])
    assert owned["billing-a"] | owned["billing-b"] == {0, 1, 2, 3}
    for name, m in by_client.items():
        assert "127.0.0.1" in m["host"] and m["member_id"]
        assert m["lag_messages"] == sum(truth[p] for p in owned[name])
        assert {p["partition"]: p["lag_messages"] for p in m["partitions"]} == {
            p: truth[p] for p in owned[name]
        }
    assert body["unassigned"] == [] and body["lag_messages"] == sum(truth.values())
    labels = {("broker", "kafka"), ("cluster_name", "k"), ("group", group)}
    metrics = scrape(f"{collector}/metrics")
    assert metrics[("eventscope_consumer_group_members", frozenset(labels))] == 2
    stable = frozenset(labels | {("state", "Stable")})
    assert metrics[("eventscope_consumer_group_state", stable)] == 1
    # member ids and hosts stay out of the metrics (cardinality, and they name machines)
    text = requests.get(f"{collector}/metrics", timeout=5).text
    assert all(m["member_id"] not in text and "billing-a" not in text for m in by_client.values())
    missing = requests.get(f"{collector}/api/groups/{unique('nobody')}", timeout=5)
    assert missing.status_code == 404 and "no consumer group" in missing.json()["error"]


def joined(member: Member) -> bool:
    return member.assigned


def test_stop_a_closed_consumer_left_the_group_with_lag(kafka, members):
    topic, group = unique("stopped"), unique("stopped-g")
    create_topic(kafka, topic, 1)
    produce(kafka, topic, [10])
    member = Member(kafka, group, topic, "stopped-1")
    members.append(member)
    wait_until(lambda: joined(member), 30, "an assignment")
    member.commit_sync(topic, 0, 3)  # read 3 of 10, then the service is stopped
    member.close()
    p = poller(kafka, group)
    try:
        views = [p.poll_once() for _ in range(3)]
    finally:
        p.stop()
    rows = [row_of(v, group) for v in views]
    assert [r.status for r in rows] == [Status.OK, Status.OK, Status.STOP]  # window of 3
    last = rows[-1]
    assert (last.state, last.members, last.member_list) == ("Empty", 0, ())
    assert "no members" in last.reason and "lag 7" in last.reason
    detail = group_detail_json(views[-1], last)  # what /api/groups/{group} answers
    assert detail["member_list"] == []
    assert [(u["partition"], u["lag_messages"]) for u in detail["unassigned"]] == [(0, 7)]


def test_stall_a_hung_consumer_stays_in_the_group_then_stop_when_it_leaves(kafka, members):
    topic, group = unique("hung"), unique("hung-g")
    create_topic(kafka, topic, 1)
    produce(kafka, topic, [10])
    member = Member(kafka, group, topic, "hung-1")
    members.append(member)
    wait_until(lambda: joined(member), 30, "an assignment")
    member.commit_sync(topic, 0, 4)  # and never polls again: stuck in its handler
    p = poller(kafka, group)
    try:
        views = [p.poll_once() for _ in range(3)]
        stalled = row_of(views[-1], group)
        assert stalled.status is Status.STALL, stalled.reason
        assert (stalled.state, stalled.members) == ("Stable", 1)
        assert "unchanged" in stalled.reason and "lag is 6" in stalled.reason
        (hung,) = group_detail_json(views[-1], stalled)["member_list"]
        assert (hung["client_id"], hung["lag_messages"]) == ("hung-1", 6)  # it owns the lag
        member.close()  # the same frozen offsets, now with nobody there: STOP
        stopped = wait_until(
            lambda: (r := row_of(p.poll_once(), group)).status is Status.STOP and r, 30, "STOP"
        )
        assert (stopped.state, stopped.members) == ("Empty", 0)
    finally:
        p.stop()


def test_preparing_rebalance_while_a_member_holds_up_the_rebalance(kafka, members):
    """A second member joins while the first is stuck in its revoke callback (as a consumer
    flushing work before giving partitions up): the broker waits for the first to rejoin, so
    the group is in PreparingRebalance, deterministically, until it lets go."""
    topic, group = unique("rebalance"), unique("rebalance-g")
    create_topic(kafka, topic, 2)
    produce(kafka, topic, [3, 3])
    let_go = threading.Event()
    first = Member(kafka, group, topic, "first", on_revoke=lambda *_: let_go.wait(60))
    members.append(first)
    p = poller(kafka, group)
    try:
        wait_until(lambda: joined(first), 30, "the first member's assignment")
        assert wait_until(lambda: row_of(p.poll_once(), group).state == "Stable", 30, "Stable")
        members.append(Member(kafka, group, topic, "second"))

        def state() -> str:
            return row_of(p.poll_once(), group).state

        wait_until(lambda: state() == "PreparingRebalance", 30, "PreparingRebalance")
        assert state() == "PreparingRebalance"  # still: it waits for the first member
        let_go.set()

        def both_in() -> GroupRow | None:
            row = row_of(p.poll_once(), group)
            return row if row.state == "Stable" and row.members == 2 else None

        row = wait_until(both_in, 60, "Stable with 2 members after the rebalance")
        assert sorted(m.client_id for m in row.member_list) == ["first", "second"]
    finally:
        let_go.set()
        p.stop()

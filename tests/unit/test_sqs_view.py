"""SQS snapshots through the shared view: lag rows, the cloudwatch_age method, DLQs apart."""

from __future__ import annotations

import pytest

from collector.compute.view import ViewSettings, build_view
from collector.history import ClusterHistory
from collector.model import Broker, ClusterSnapshot, DeadLetterSample, LagMethod, QueueSample
from collector.sharding import ShardFilter, owner

NOW = 1_000_000.0
AGE = LagMethod.CLOUDWATCH_AGE


def sqs_view(*queues: QueueSample, dead: tuple[DeadLetterSample, ...] = ()):
    snap = ClusterSnapshot(Broker.SQS, "aws", NOW, queues=queues, dead_letters=dead)
    history = ClusterHistory()
    history.observe(snap)
    return build_view(snap, history, ViewSettings())


@pytest.mark.parametrize(
    ("ready", "unacked", "age", "method", "messages", "seconds", "row_method"),
    [
        (4, 2, 420.0, AGE, 6, 420.0, AGE),  # CloudWatch age, not head_timestamp
        (4, 2, None, AGE, 6, None, None),  # no datapoint: absent, never invented
        (0, 0, 420.0, AGE, 0, 0.0, AGE),  # empty queue: 0 s whatever the stale datapoint says
        (3, 0, None, None, 3, None, None),  # no age and no head timestamp
    ],
)
def test_queue_lag_rows(ready, unacked, age, method, messages, seconds, row_method):
    q = QueueSample("orders", ready, unacked, None, age_seconds=age, age_method=method)
    (row,) = sqs_view(q).lags
    assert (row.group, row.topic, row.partition) == ("orders", "orders", None)
    assert (row.messages, row.seconds, row.method) == (messages, seconds, row_method)


def test_dlq_is_not_a_consumer_backlog_and_members_stay_unknown():
    orders = QueueSample("orders", 1, 0, None)
    parking = QueueSample("parking", 5, 0, None, is_dlq=True, dlq_sources=("orders",))
    view = sqs_view(orders, parking, dead=(DeadLetterSample("parking", "orders", 5, {}),))
    assert [r.group for r in view.lags] == ["orders"]
    assert [(g.group, g.members) for g in view.groups] == [("orders", None)]
    assert [(d.dlq, d.source, d.depth) for d in view.dead_letters] == [("parking", "orders", 5)]


def test_counts_from_cloudwatch_become_produced_and_consumed():
    view = sqs_view(QueueSample("orders", 1, 0, None, published_total=7, acked_total=6))
    assert view.produced_total == {"orders": 7}
    assert view.consumed_total == {("orders", "orders"): 6}


def test_each_queue_and_its_dlq_belong_to_exactly_one_shard():
    names = [f"q{i}" for i in range(12)]
    queues = [
        QueueSample(n, i + 1, 0, 1, published_total=i, acked_total=i) for i, n in enumerate(names)
    ]
    queues += [QueueSample(f"{n}.dlq", 1, 0, 0, is_dlq=True) for n in names]
    dead = tuple(DeadLetterSample(f"{n}.dlq", n, 1, {}) for n in names)
    snap = ClusterSnapshot(Broker.SQS, "aws", NOW, queues=tuple(queues), dead_letters=dead)
    history = ClusterHistory()
    history.observe(snap)

    def rows(shard: ShardFilter) -> set[tuple[str, str]]:
        view = build_view(snap, history, ViewSettings(shard=shard))
        return (
            {("lag", r.group) for r in view.lags}
            | {("status", g.group) for g in view.groups}
            | {("produced", t) for t in view.produced_total}
            | {("consumed", g) for g, _ in view.consumed_total}
            | {("dlq", d.dlq) for d in view.dead_letters}
        )

    single = rows(ShardFilter())
    first, second = rows(ShardFilter(1, 2)), rows(ShardFilter(2, 2))
    assert first and second and not first & second
    assert first | second == single
    assert {name for kind, name in first if kind == "lag"} == {n for n in names if owner(n, 2) == 1}

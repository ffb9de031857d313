"""Queue status rules (collector.compute.queue_status), one numbered table with explicit times."""

from __future__ import annotations

import pytest

from collector.brokers.rabbitmq_samples import QueueSelection
from collector.compute.queue_status import evaluate_queue
from collector.model import QueueSample, Status


def q(
    ready: int, unacked: int = 0, consumers: int | None = 1, acked: int | None = 0
) -> QueueSample:
    return QueueSample("orders", ready, unacked, consumers, published_total=0, acked_total=acked)


def window(*samples: QueueSample, step: float = 15.0) -> tuple[tuple[float, QueueSample], ...]:
    return tuple((1_000.0 + i * step, s) for i, s in enumerate(samples))


CASES = [
    # (case, window, min_observations, status, reason contains)
    (1, window(q(5), q(9)), 3, Status.OK, "not enough observations"),
    (2, window(q(5, acked=1), q(0, acked=6), q(0, acked=6)), 3, Status.OK, "caught up"),
    (3, window(q(0, consumers=0), q(0, consumers=0), q(0, consumers=0)), 3, Status.OK, "caught up"),
    (
        4,
        window(q(5, consumers=2), q(5, consumers=1), q(5, consumers=0)),
        3,
        Status.STOP,
        "no consumers while backlog is 5",
    ),
    (
        5,
        window(q(5, 2, acked=10), q(5, 2, acked=10), q(7, 2, acked=10)),
        3,
        Status.STALL,
        "1 consumer acked nothing for 30 s while backlog is 9",
    ),
    (
        6,
        window(q(0, 3, acked=10), q(0, 3, acked=10), q(0, 3, acked=10)),
        3,
        Status.STALL,
        "1 consumer acked nothing for 30 s while backlog is 3",
    ),  # a stuck handler holding its prefetch, nothing ready
    (
        7,
        window(q(0, acked=10), q(4, acked=10), q(4, acked=10)),
        3,
        Status.OK,
        "backlog reached 0 inside the window, now 4",
    ),  # backlog was 0 at the start: consumers reached the end within the window (rule 5)
    (
        8,
        window(q(5, acked=10), q(8, acked=20), q(12, acked=30)),
        3,
        Status.WARN,
        "backlog grew from 5 to 12 over 30 s",
    ),
    (9, window(q(12, acked=10), q(8, acked=20), q(9, acked=30)), 3, Status.OK, "consuming"),
    (10, window(q(5, acked=10), q(5, acked=20), q(5, acked=30)), 3, Status.OK, "consuming"),
    (11, window(q(5, acked=100), q(5, acked=3), q(5, acked=3)), 3, Status.OK, "consuming"),
    # 11: the consumed count reset (broker restart) is movement, not a frozen count
    (12, window(q(5, acked=None), q(5, acked=None), q(6, acked=None)), 3, Status.WARN, "grew"),
    # 12: unknown consumed counts never give STALL
    (
        13,
        window(q(5, consumers=None), q(5, consumers=None), q(5, consumers=None)),
        3,
        Status.OK,
        "consuming",
    ),  # unknown consumers never give STOP; acks frozen but no consumers
    (
        16,
        window(q(5, 2, acked=None), q(5, 2, acked=None), q(5, 2, acked=None)),
        3,
        Status.OK,
        "no ack statistics, backlog 7",
    ),  # 16: consumers hold messages but acks are unknown: neither STALL nor "consuming"
    (17, window(q(5, consumers=0, acked=None), q(5, consumers=0, acked=None)), 2, Status.STOP, ""),
    # 17: STOP needs no ack statistics
    (14, window(q(3, consumers=0)), 1, Status.STOP, "no consumers"),
    # 16: a healthy sawtooth (backlog between deliveries, never 0 at a poll) is not WARN; 17: a
    # backlog whose troughs climb above its earlier peaks is
    (
        16,
        window(*(q(b, acked=10 * i) for i, b in enumerate([3, 9, 2, 8, 4, 9, 3, 8]))),
        3,
        Status.OK,
        "consuming",
    ),
    (
        17,
        window(*(q(b, acked=10 * i) for i, b in enumerate([5, 8, 12, 15, 21, 24]))),
        3,
        Status.WARN,
        "grew from 5 to 24",
    ),
    (15, window(q(3, consumers=0)), 0, Status.STOP, "no consumers"),  # at least one is needed
]


@pytest.mark.parametrize(("case", "win", "min_obs", "status", "reason"), CASES)
def test_queue_rules(
    case: int,
    win: tuple[tuple[float, QueueSample], ...],
    min_obs: int,
    status: Status,
    reason: str,
) -> None:
    verdict = evaluate_queue(win, min_obs)
    assert (verdict.status, reason in verdict.reason) == (status, True), (case, verdict)


def test_empty_window_is_not_enough_observations() -> None:
    assert evaluate_queue((), 0).status is Status.OK


def test_a_busy_queue_without_message_stats_is_never_stall() -> None:
    """The management API's document for a queue whose stats are off, through history and view."""
    from collector.brokers.rabbitmq_samples import build_samples
    from collector.brokers.rabbitmq_topology import Binding
    from collector.compute.view import ViewSettings, build_view
    from collector.history import ClusterHistory
    from collector.model import Broker, ClusterSnapshot

    raw = [
        {
            "name": "orders",
            "vhost": "/",
            "type": "classic",
            "messages_ready": 3,
            "messages_unacknowledged": 2,
            "consumers": 1,
        }
    ]
    default = [Binding("/", "", "orders", "queue", "orders")]
    history = ClusterHistory()
    for t in (0.0, 15.0, 30.0, 45.0):
        queues, dead = build_samples(raw, {}, default, QueueSelection())
        snap = ClusterSnapshot(Broker.RABBITMQ, "r", t, queues=queues, dead_letters=dead)
        history.observe(snap)
        view = build_view(snap, history, ViewSettings(min_observations=3))
    (group,) = view.groups
    assert (group.status, group.reason) == (Status.OK, "no ack statistics, backlog 5")
    assert view.consumed_total == {}  # no consumed series rather than a flat, false 0
    assert view.produced_total == {}

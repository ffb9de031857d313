"""Bounded per-cluster history: what time lag, status and counters need from earlier polls.

Owned by one cluster's poll loop. Every key not present in the latest snapshot is dropped, so
deleted groups and topics leave no state (and no series) behind after one poll.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from collector.compute.counters import Counter, positive_only, reset_aware, start_counter
from collector.compute.lag import partition_lag
from collector.compute.loss import count_lost, readable_from
from collector.compute.status import Observation
from collector.compute.timelag import add_end_point
from collector.model import ClusterSnapshot, QueueSample, TopicPartition

GroupPartition = tuple[str, TopicPartition]
K = TypeVar("K")


@dataclass
class ClusterHistory:
    window: int = 10
    end_points_limit: int = 60
    end_points: dict[TopicPartition, tuple[tuple[int, float], ...]] = field(default_factory=dict)
    observations: dict[GroupPartition, deque[Observation]] = field(default_factory=dict)
    queue_windows: dict[str, deque[tuple[float, QueueSample]]] = field(default_factory=dict)
    produced: dict[str, Counter] = field(default_factory=dict)  # per topic or queue
    consumed: dict[tuple[str, str], Counter] = field(default_factory=dict)  # (group, topic)
    dead_lettered: dict[tuple[str, str, str], Counter] = field(default_factory=dict)
    # messages deleted unread (collector/compute/loss.py): marks per group partition, totals
    # per (group, topic); every committed (group, topic) has a total, 0 until something is lost
    loss_marks: dict[GroupPartition, int] = field(default_factory=dict)
    lost: dict[tuple[str, str], int] = field(default_factory=dict)
    requests_total: dict[str, int] = field(default_factory=dict)
    last_success_at: float | None = None
    poll_overruns: int = 0

    def observe(self, snap: ClusterSnapshot) -> None:
        """Fold one successful snapshot into the history."""
        now = snap.taken_at
        self.last_success_at = now
        if snap.queues:
            self._observe_queues(snap, now)
        else:
            self._observe_end_offsets(snap, now)
            self._observe_commits(snap, now)
        self._observe_dead_letters(snap)
        for kind, n in snap.requests.items():
            self.requests_total[kind] = self.requests_total.get(kind, 0) + n

    def _observe_end_offsets(self, snap: ClusterSnapshot, now: float) -> None:
        points = {
            tp: add_end_point(self.end_points.get(tp, ()), end, now, self.end_points_limit)
            for tp, end in snap.end_offsets.items()
        }
        self.end_points = points
        per_topic: dict[str, int] = {}
        for tp, end in snap.end_offsets.items():
            per_topic[tp.topic] = per_topic.get(tp.topic, 0) + end
        self.produced = _advance(self.produced, per_topic, reset_aware)

    def _observe_commits(self, snap: ClusterSnapshot, now: float) -> None:
        seen: dict[GroupPartition, deque[Observation]] = {}
        per_group_topic: dict[tuple[str, str], int] = {}
        marks: dict[GroupPartition, int] = {}
        lost: dict[tuple[str, str], int] = {}
        for group in snap.groups:
            for tp, offset in group.committed.items():
                if tp not in snap.end_offsets:
                    continue  # the topic is gone: no ghost partitions
                key = (group.group, tp)
                gt = (group.group, tp.topic)
                start = snap.start_offsets.get(tp)
                end, first = snap.end_offsets[tp], snap.readable_offsets.get(key)
                lag = partition_lag(readable_from(offset, start), end, first)
                window = self.observations.get(key) or deque(maxlen=self.window)
                window.append(Observation(now, offset, lag))
                seen[key] = window
                per_group_topic[gt] = per_group_topic.get(gt, 0) + offset
                step = count_lost(
                    self.loss_marks.get(key), offset, offset if start is None else start
                )
                if step.mark is not None:
                    marks[key] = step.mark
                lost[gt] = lost.get(gt, self.lost.get(gt, 0)) + step.counted
        self.observations = seen
        self.consumed = _advance(self.consumed, per_group_topic, positive_only)
        self.loss_marks, self.lost = marks, lost

    def _observe_queues(self, snap: ClusterSnapshot, now: float) -> None:
        windows: dict[str, deque[tuple[float, QueueSample]]] = {}
        published: dict[str, int] = {}
        acked: dict[tuple[str, str], int] = {}
        for q in snap.queues:
            window = self.queue_windows.get(q.name) or deque(maxlen=self.window)
            window.append((now, q))
            windows[q.name] = window
            if q.published_total is not None:
                published[q.name] = q.published_total
            if q.acked_total is not None:
                acked[(q.name, q.name)] = q.acked_total
        self.queue_windows = windows
        self.produced = _advance(self.produced, published, reset_aware)
        self.consumed = _advance(self.consumed, acked, reset_aware)

    def _observe_dead_letters(self, snap: ClusterSnapshot) -> None:
        values = {
            (d.dlq, d.source, reason): total
            for d in snap.dead_letters
            for reason, total in d.dead_lettered_total.items()
        }
        self.dead_lettered = _advance(self.dead_lettered, values, reset_aware)


def _advance(
    counters: dict[K, Counter], values: dict[K, int], step: Callable[[Counter, int], Counter]
) -> dict[K, Counter]:
    """Advance each counter by `step`; keys missing from `values` are dropped."""
    out: dict[K, Counter] = {}
    for key, value in values.items():
        prev = counters.get(key)
        out[key] = start_counter(value) if prev is None else step(prev, value)
    return out

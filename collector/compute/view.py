"""Build the read-only `ClusterView` the exporter renders, from one snapshot and the history."""

from __future__ import annotations

import fnmatch
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from collector.compute.lag import partition_lag
from collector.compute.loss import lost_unread, readable_from
from collector.compute.status import Verdict, evaluate_group, evaluate_partition
from collector.compute.timelag import TimeLag, exact_time_lag, interpolated_time_lag
from collector.history import ClusterHistory
from collector.model import (
    ClusterSnapshot,
    ClusterView,
    DeadLetterSample,
    GroupRow,
    LagMethod,
    LagRow,
    Status,
    TopicPartition,
)
from collector.sharding import ShardFilter


@dataclass(frozen=True)
class ViewSettings:
    min_observations: int = 3
    series_budget: int = 50_000
    dlq_patterns: tuple[str, ...] = ()
    shard: ShardFilter = field(default_factory=ShardFilter)


def build_view(
    snap: ClusterSnapshot, history: ClusterHistory, settings: ViewSettings
) -> ClusterView:
    """The view of `snap`, holding only this shard's series.

    Shard keys: a Kafka group (filtered by the adapter) and a topic for topic-level series; a
    queue's display name (`<queue>`, or `<vhost>/<queue>` outside "/") for every series of a
    RabbitMQ or SQS queue: its lag, status, consumed and produced counters, and its DLQ row.
    """
    own = settings.shard.owns
    if snap.queues:
        lags, groups = _queue_rows(snap, history, settings)
    else:
        lags, groups = _kafka_rows(snap, history, settings)
    lags, groups = fold_to_budget(lags, groups, settings.series_budget)
    dead_letters = snap.dead_letters or tuple(kafka_dead_letters(snap, settings.dlq_patterns))
    return ClusterView(
        broker=snap.broker,
        cluster=snap.cluster,
        up=True,
        auth_failed=False,
        polled_at=snap.taken_at,
        last_success_at=snap.taken_at,
        lags=tuple(lags),
        groups=tuple(groups),
        produced_total={k: c.total for k, c in history.produced.items() if own(k)},
        # keyed (group, topic): a queue is its own group; Kafka groups are already this shard's
        consumed_total={k: c.total for k, c in history.consumed.items() if own(k[0])},
        lost_total=dict(history.lost),
        end_offsets={tp: o for tp, o in snap.end_offsets.items() if own(tp.topic)},
        retention_seconds={t: s for t, s in snap.retention_seconds.items() if own(t)},
        dead_letters=tuple(d for d in dead_letters if own(d.dlq)),
        phase_seconds=snap.phase_seconds,
        requests_total=dict(history.requests_total),
        poll_overruns=history.poll_overruns,
        series_budget=settings.series_budget,
    )


def time_lag(
    snap: ClusterSnapshot, history: ClusterHistory, group: str, tp: TopicPartition, lag: int
) -> TimeLag | None:
    """Exact when the adapter read the record's timestamp, interpolated otherwise."""
    now = snap.taken_at
    if lag == 0:
        probed = snap.commit_timestamps or snap.readable_offsets
        method = LagMethod.EXACT if probed else LagMethod.INTERPOLATED
        return TimeLag(0.0, method)
    stamp = snap.commit_timestamps.get((group, tp))
    if stamp is not None:
        return exact_time_lag(now, stamp)
    oldest_unread = snap.end_offsets[tp] - lag  # past markers, when the probe found them
    return interpolated_time_lag(now, history.end_points.get(tp, ()), oldest_unread)


def _kafka_rows(
    snap: ClusterSnapshot, history: ClusterHistory, settings: ViewSettings
) -> tuple[list[LagRow], list[GroupRow]]:
    lags: list[LagRow] = []
    groups: list[GroupRow] = []
    partitions_of: dict[str, set[int]] = defaultdict(set)
    for tp in snap.end_offsets:
        partitions_of[tp.topic].add(tp.partition)
    for group in snap.groups:
        verdicts: list[tuple[str, Verdict]] = []
        committed_topics: dict[str, set[int]] = defaultdict(set)
        for tp, offset in sorted(group.committed.items()):
            end = snap.end_offsets.get(tp)
            if end is None:
                failed = snap.end_offset_errors.get(tp)
                if failed:  # its lag is unknown this poll: no series, and the group says ERR
                    verdicts.append((f"{tp.topic}/{tp.partition}", Verdict(Status.ERR, failed)))
                continue  # else the topic is gone or filtered out
            committed_topics[tp.topic].add(tp.partition)
            start = snap.start_offsets.get(tp)
            # deleted offsets can never be read, nor transaction markers: lag is what the group
            # can still consume
            first = snap.readable_offsets.get((group.group, tp))
            lag = partition_lag(readable_from(offset, start), end, first)
            tl = time_lag(snap, history, group.group, tp, lag)
            lags.append(
                LagRow(
                    group=group.group,
                    topic=tp.topic,
                    partition=tp.partition,
                    messages=lag,
                    seconds=None if tl is None else tl.seconds,
                    method=None if tl is None else tl.method,
                    committed=offset,
                    end=end,
                )
            )
            window = tuple(history.observations.get((group.group, tp), ()))
            lost = 0 if start is None else lost_unread(offset, start)
            verdict = evaluate_partition(
                window, group.members, settings.min_observations, lost=lost
            )
            verdicts.append((f"{tp.topic}/{tp.partition}", verdict))
        uncommitted = {
            topic: len(partitions_of[topic] - parts) for topic, parts in committed_topics.items()
        }
        verdict = evaluate_group(group.error, verdicts)
        groups.append(
            GroupRow(
                group=group.group,
                status=verdict.status,
                reason=verdict.reason,
                state=group.state,
                members=group.members,
                member_list=group.member_list,
                uncommitted={t: n for t, n in uncommitted.items() if n},
            )
        )
    return lags, groups


def _queue_rows(
    snap: ClusterSnapshot, history: ClusterHistory, settings: ViewSettings
) -> tuple[list[LagRow], list[GroupRow]]:
    from collector.compute.queue_status import evaluate_queue  # the RabbitMQ/SQS rules

    lags: list[LagRow] = []
    groups: list[GroupRow] = []
    now = snap.taken_at
    for q in snap.queues:
        if q.is_dlq:
            continue  # a DLQ is reported as dlq_depth_messages, not as a consumer's lag
        if not settings.shard.owns(q.name):
            continue  # another shard reports this queue
        backlog = q.ready + q.unacked
        seconds: float | None = None
        method: LagMethod | None = None
        if backlog == 0:
            seconds, method = 0.0, q.age_method or LagMethod.HEAD_TIMESTAMP
        elif q.age_seconds is not None:
            seconds, method = q.age_seconds, q.age_method or LagMethod.HEAD_TIMESTAMP
        elif q.head_timestamp is not None:
            seconds, method = max(0.0, now - q.head_timestamp), LagMethod.HEAD_TIMESTAMP
        lags.append(LagRow(q.name, q.name, None, backlog, seconds, method))
        window = tuple(history.queue_windows.get(q.name, ()))
        verdict = evaluate_queue(window, settings.min_observations)
        groups.append(
            GroupRow(
                group=q.name,
                status=verdict.status,
                reason=verdict.reason,
                state="Stable" if q.consumers else "Empty",
                members=q.consumers,
                unacked={q.name: q.unacked},
                utilisation={} if q.utilisation is None else {q.name: q.utilisation},
            )
        )
    return lags, groups


def kafka_dead_letters(snap: ClusterSnapshot, patterns: Sequence[str]) -> list[DeadLetterSample]:
    """DLQ topics by name pattern, the source topic by name.

    Depth = messages retained (end − log start). When a group reads the DLQ (a reprocessor),
    depth is what the most-behind such group has not consumed yet, since a drained DLQ still
    retains its messages: retained 40, reprocessor committed at 35 of end 40 → depth 5.
    """
    retained: dict[str, int] = defaultdict(int)
    for tp, end in snap.end_offsets.items():
        if any(fnmatch.fnmatchcase(tp.topic, p) for p in patterns):
            retained[tp.topic] += max(0, end - snap.start_offsets.get(tp, 0))
    unconsumed: dict[str, int] = {}
    for group in snap.groups:
        per_topic: dict[str, int] = defaultdict(int)
        for tp, offset in group.committed.items():
            if tp.topic in retained and tp in snap.end_offsets:
                per_topic[tp.topic] += partition_lag(offset, snap.end_offsets[tp])
        for topic, lag in per_topic.items():
            unconsumed[topic] = max(lag, unconsumed.get(topic, 0))
    return [
        DeadLetterSample(
            dlq=t,
            source=dlq_source_by_name(t),
            depth=min(n, unconsumed.get(t, n)),
            dead_lettered_total={"unknown": _end(snap, t)},
        )
        for t, n in sorted(retained.items())
    ]


def _end(snap: ClusterSnapshot, topic: str) -> int:
    return sum(end for tp, end in snap.end_offsets.items() if tp.topic == topic)


def dlq_source_by_name(dlq: str) -> str:
    """`orders.dlq` → `orders`, `orders-dlq` → `orders`, `dlq.orders` → `orders`, else ""."""
    for suffix in (".dlq", "-dlq", ".DLT", "_dlq"):
        if dlq.endswith(suffix):
            return dlq[: -len(suffix)]
    for prefix in ("dlq.", "dlq-"):
        if dlq.startswith(prefix):
            return dlq[len(prefix) :]
    return ""


def fold_to_budget(
    lags: list[LagRow], groups: list[GroupRow], budget: int
) -> tuple[list[LagRow], list[GroupRow]]:
    """Above `budget` per-partition rows, fold the widest groups to one row per topic.

    A folded row sums messages and keeps the largest age; `partition` becomes None ("").
    """
    if budget <= 0 or len(lags) <= budget:
        return lags, groups
    by_group: dict[str, list[LagRow]] = defaultdict(list)
    for row in lags:
        by_group[row.group].append(row)
    total = len(lags)
    folded: set[str] = set()
    for group, rows in sorted(by_group.items(), key=lambda kv: -len(kv[1])):
        if total <= budget:
            break
        topics = {r.topic for r in rows}
        total -= len(rows) - len(topics)
        folded.add(group)
    out: list[LagRow] = []
    for group, rows in by_group.items():
        if group not in folded:
            out.extend(rows)
            continue
        out.extend(_fold_topic(group, topic, rows) for topic in sorted({r.topic for r in rows}))
    return out, [replace(g, folded=g.group in folded) for g in groups]


def _fold_topic(group: str, topic: str, rows: Sequence[LagRow]) -> LagRow:
    mine = [r for r in rows if r.topic == topic]
    ages = [r for r in mine if r.seconds is not None]
    oldest = max(ages, key=lambda r: r.seconds or 0.0) if ages else None
    return LagRow(
        group=group,
        topic=topic,
        partition=None,
        messages=sum(r.messages for r in mine),
        seconds=None if oldest is None else oldest.seconds,
        method=None if oldest is None else oldest.method,
    )

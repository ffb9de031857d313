"""CloudWatch GetMetricData for SQS queues and EventBridge rules: queries and answers. Pure.

Each *subject* (a queue or a rule) has a few series; 500 queries per GetMetricData call (the
API's limit), so one call covers 166 queues:

    queue  age      AWS/SQS ApproximateAgeOfOldestMessage  Maximum → age_seconds (latest point)
    queue  sent     AWS/SQS NumberOfMessagesSent           Sum     → produced counter
    queue  deleted  AWS/SQS NumberOfMessagesDeleted        Sum     → consumed counter
    rule   failed   AWS/Events FailedInvocations           Sum     → failed invocations counter
    rule   to_dlq   AWS/Events InvocationsSentToDlq        Sum     → dead-lettered counter

CloudWatch gives per-period sums, not counters. The collector turns them into a counter by
adding each period once, and only when it is *settled* (its end is `SETTLE_SECONDS` in the
past), because datapoints arrive and are revised minutes late.

Example (period 60, settle 300): at now=1000 the points (540, 3) and (600, 4) are settled
(540+60+300 ≤ 1000, 600+60+300 ≤ 1000), (660, 9) is not; the total is 7, counted until 660.
At now=1060, (660, 9) settles: total 16, counted until 720; (600, 4) is not added again.

No datapoints at all (an idle queue, an emulator that does not publish SQS metrics) means
*absent*, never 0: the value is None and no series is exported.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from collector.brokers.sqs_topology import QueueMetrics

PERIOD_SECONDS = 60
LOOKBACK_SECONDS = 15 * 60
SETTLE_SECONDS = 5 * 60
MAX_QUERIES_PER_CALL = 500

SERIES: Mapping[str, tuple[str, str]] = {
    "age": ("ApproximateAgeOfOldestMessage", "Maximum"),
    "sent": ("NumberOfMessagesSent", "Sum"),
    "deleted": ("NumberOfMessagesDeleted", "Sum"),
    "failed": ("FailedInvocations", "Sum"),
    "to_dlq": ("InvocationsSentToDlq", "Sum"),
}
LATEST = frozenset({"age"})  # a level: the latest point; every other series is a count

Points = tuple[tuple[float, float], ...]  # (period start, value), oldest first
Reading = Mapping[str, float | None]  # series → latest value or counter total, None = absent


@dataclass(frozen=True)
class Subject:
    """One queue or rule whose CloudWatch series are read; `key` names it in the answers."""

    key: str
    namespace: str
    dimensions: tuple[tuple[str, str], ...]
    series: tuple[str, ...]


def queue_subject(queue: str) -> Subject:
    return Subject(queue, "AWS/SQS", (("QueueName", queue),), ("age", "sent", "deleted"))


def rule_subject(bus: str, rule: str) -> Subject:
    """Rules on the default bus are published by RuleName alone, others with EventBusName."""
    dims = (
        (("RuleName", rule),) if bus == "default" else (("EventBusName", bus), ("RuleName", rule))
    )
    return Subject(f"rule:{bus}/{rule}", "AWS/Events", dims, ("failed", "to_dlq"))


def query_id(index: int, series: str) -> str:
    """GetMetricData ids must start with a lower-case letter: subject 3's age → `s3_age`."""
    return f"s{index}_{series}"


def metric_queries(
    subjects: Sequence[Subject], period: int = PERIOD_SECONDS
) -> list[dict[str, Any]]:
    return [
        {
            "Id": query_id(i, series),
            "MetricStat": {
                "Metric": {
                    "Namespace": subject.namespace,
                    "MetricName": SERIES[series][0],
                    "Dimensions": [{"Name": n, "Value": v} for n, v in subject.dimensions],
                },
                "Period": period,
                "Stat": SERIES[series][1],
            },
            "ReturnData": True,
        }
        for i, subject in enumerate(subjects)
        for series in subject.series
    ]


def batches(queries: Sequence[dict[str, Any]], size: int = MAX_QUERIES_PER_CALL) -> list[list[Any]]:
    return [list(queries[i : i + size]) for i in range(0, len(queries), size)]


def query_window(now: float, period: int = PERIOD_SECONDS) -> tuple[float, float]:
    """[start, end) aligned to whole periods, `LOOKBACK_SECONDS` long, ending at now."""
    end = math.floor(now / period) * period + period
    return end - LOOKBACK_SECONDS - period, end


def points_by_id(results: Iterable[Mapping[str, Any]]) -> dict[str, Points]:
    """MetricDataResults (from every page) → id → points sorted by time."""
    merged: dict[str, dict[float, float]] = {}
    for result in results:
        into = merged.setdefault(str(result.get("Id", "")), {})
        for stamp, value in zip(
            result.get("Timestamps", ()), result.get("Values", ()), strict=False
        ):
            ts = stamp.timestamp() if isinstance(stamp, datetime) else float(stamp)
            into[ts] = float(value)
    return {i: tuple(sorted(points.items())) for i, points in merged.items()}


@dataclass(frozen=True)
class CountTotal:
    """A counter built from period sums: `value` covers every period starting before
    `counted_until`."""

    value: int
    counted_until: float


def advance_count(
    prev: CountTotal | None,
    points: Points,
    now: float,
    period: int = PERIOD_SECONDS,
    settle: int = SETTLE_SECONDS,
) -> CountTotal | None:
    """Add the settled periods not counted yet; None while no datapoint was ever seen."""
    since = prev.counted_until if prev is not None else -math.inf
    new = [(ts, v) for ts, v in points if ts >= since and ts + period + settle <= now]
    if not new:
        if prev is not None:
            return prev
        return CountTotal(0, -math.inf) if points else None
    value = (prev.value if prev is not None else 0) + round(sum(v for _, v in new))
    return CountTotal(value, max(since, max(ts for ts, _ in new) + period))


def latest(points: Points) -> float | None:
    return points[-1][1] if points else None


def readings(
    subjects: Sequence[Subject],
    points: Mapping[str, Points],
    totals: Mapping[tuple[str, str], CountTotal],
    now: float,
) -> tuple[dict[str, Reading], dict[tuple[str, str], CountTotal]]:
    """Per subject: latest levels and advanced counters. Returns them and the new totals (only
    for subjects still listed, so a deleted queue or rule leaves no state behind)."""
    out: dict[str, Reading] = {}
    new_totals: dict[tuple[str, str], CountTotal] = {}
    for i, subject in enumerate(subjects):
        values: dict[str, float | None] = {}
        for series in subject.series:
            series_points = points.get(query_id(i, series), ())
            if series in LATEST:
                values[series] = latest(series_points)
                continue
            total = advance_count(totals.get((subject.key, series)), series_points, now)
            if total is not None:
                new_totals[(subject.key, series)] = total
            values[series] = None if total is None else total.value
        out[subject.key] = values
    return out, new_totals


def queue_metrics(reading: Reading) -> QueueMetrics:
    sent, deleted = reading.get("sent"), reading.get("deleted")
    return QueueMetrics(
        age_seconds=reading.get("age"),
        sent_total=None if sent is None else int(sent),
        deleted_total=None if deleted is None else int(deleted),
    )

"""CloudWatch period sums → counters, latest ages, query batching (pure, explicit times)."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from collector.brokers.sqs_cloudwatch import (
    CountTotal,
    advance_count,
    batches,
    metric_queries,
    points_by_id,
    query_id,
    query_window,
    queue_metrics,
    queue_subject,
    readings,
    rule_subject,
)
from collector.brokers.sqs_topology import QueueMetrics


@pytest.mark.parametrize(
    ("prev", "points", "now", "expected"),
    [
        # the docstring's example: (660, 9) is not settled at 1000
        (None, ((540, 3), (600, 4), (660, 9)), 1000, CountTotal(7, 660)),
        # … and is added once it is, without adding 600 again
        (CountTotal(7, 660), ((600, 4), (660, 9)), 1060, CountTotal(16, 720)),
        # nothing new: unchanged
        (CountTotal(7, 660), ((600, 4),), 2000, CountTotal(7, 660)),
        # datapoints exist but none settled yet: a counter at 0 that counts from the start
        (None, ((960, 5),), 1000, CountTotal(0, -math.inf)),
        # no datapoint ever: absent, not 0
        (None, (), 1000, None),
    ],
)
def test_advance_count(prev, points, now, expected):
    assert advance_count(prev, points, now, period=60, settle=300) == expected


def test_query_window_is_aligned_and_covers_now():
    start, end = query_window(1_000_030.0, period=60)
    assert end % 60 == 0 and start % 60 == 0
    assert start < 1_000_030.0 < end
    assert end - start == 15 * 60 + 60


def test_three_queries_per_queue_in_batches_of_500():
    queries = metric_queries([queue_subject(f"q{i}") for i in range(170)])
    assert len(queries) == 510
    assert [len(b) for b in batches(queries)] == [500, 10]
    assert queries[0]["Id"] == "s0_age"
    metric = queries[0]["MetricStat"]["Metric"]
    assert metric["Dimensions"] == [{"Name": "QueueName", "Value": "q0"}]
    assert {q["MetricStat"]["Metric"]["MetricName"] for q in queries[:3]} == {
        "ApproximateAgeOfOldestMessage", "NumberOfMessagesSent", "NumberOfMessagesDeleted",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("bus", "dimensions"),
    [
        ("default", [{"Name": "RuleName", "Value": "r"}]),
        ("shop", [{"Name": "EventBusName", "Value": "shop"}, {"Name": "RuleName", "Value": "r"}]),
    ],
)
def test_rule_queries(bus, dimensions):
    queries = metric_queries([rule_subject(bus, "r")])
    assert [q["MetricStat"]["Metric"]["MetricName"] for q in queries] == [
        "FailedInvocations", "InvocationsSentToDlq",
    ]  # fmt: skip
    assert queries[0]["MetricStat"]["Metric"]["Namespace"] == "AWS/Events"
    assert queries[0]["MetricStat"]["Metric"]["Dimensions"] == dimensions


def test_points_merge_pages_and_sort():
    t = datetime.fromtimestamp
    results = [
        {"Id": "q0_age", "Timestamps": [t(120, UTC), t(60, UTC)], "Values": [5.0, 4.0]},
        {"Id": "q0_age", "Timestamps": [t(180, UTC)], "Values": [6.0]},  # next page
    ]
    assert points_by_id(results) == {"q0_age": ((60.0, 4.0), (120.0, 5.0), (180.0, 6.0))}


def test_readings_latest_age_counters_and_dropped_subjects():
    subjects = [queue_subject("orders"), rule_subject("shop", "r")]
    points = {
        query_id(0, "age"): ((600.0, 30.0), (660.0, 90.0)),
        query_id(0, "sent"): ((540.0, 3.0),),
        query_id(1, "failed"): ((540.0, 2.0), (600.0, 1.0)),
    }
    old = {("gone", "sent"): CountTotal(5, 600)}
    values, totals = readings(subjects, points, old, now=1000)
    assert values == {
        "orders": {"age": 90.0, "sent": 3, "deleted": None},
        "rule:shop/r": {"failed": 3, "to_dlq": None},
    }
    assert set(totals) == {("orders", "sent"), ("rule:shop/r", "failed")}  # "gone" left no state
    assert queue_metrics(values["orders"]) == QueueMetrics(90.0, 3, None)
    assert queue_metrics({}) == QueueMetrics()

"""SQS attributes and EventBridge rules → samples, DLQs and flow edges (pure, table-driven)."""

from __future__ import annotations

import json

import pytest

from collector.brokers.sqs_topology import (
    FlowEdge,
    QueueMetrics,
    QueueSelection,
    QueueState,
    RuleTargets,
    dead_letter_arns,
    dead_letter_sources,
    name_from_arn,
    name_from_url,
    parse_queue_state,
    queue_samples,
    redrive_edges,
    rule_dlq_deliveries,
    rule_edges,
)
from collector.model import LagMethod

ARN = "arn:aws:sqs:eu-west-1:123456789012:"


def state(name: str, visible: int = 0, hidden: int = 0, dlq: str = "") -> QueueState:
    return QueueState(name, f"https://sqs/1/{name}", ARN + name, visible, hidden, dlq)


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("https://sqs.eu-west-1.amazonaws.com/123456789012/orders", "orders"),
        ("http://127.0.0.1:5000/123456789012/orders.fifo", "orders.fifo"),
        ("http://127.0.0.1:5000/123456789012/orders/", "orders"),
    ],
)
def test_name_from_url(url, name):
    assert name_from_url(url) == name


def test_name_from_arn():
    assert name_from_arn(ARN + "parking") == "parking"


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        (
            {"ApproximateNumberOfMessages": "4", "ApproximateNumberOfMessagesNotVisible": "2",
             "QueueArn": ARN + "orders",
             "RedrivePolicy": json.dumps({"deadLetterTargetArn": ARN + "parking",
                                          "maxReceiveCount": 3})},
            (4, 2, ARN + "parking"),
        ),
        ({"ApproximateNumberOfMessages": "0"}, (0, 0, "")),  # attribute missing → 0
        ({"ApproximateNumberOfMessages": "x", "RedrivePolicy": "{not json"}, (0, 0, "")),
        ({"ApproximateNumberOfMessages": "-3", "RedrivePolicy": "[]"}, (0, 0, "")),
    ],
)  # fmt: skip
def test_parse_queue_state(attributes, expected):
    s = parse_queue_state("http://h/1/orders", attributes)
    assert (s.visible, s.not_visible, s.dead_letter_target) == expected
    assert s.name == "orders"


@pytest.mark.parametrize(
    ("include", "exclude", "name", "wanted"),
    [
        (("*",), (), "orders", True),
        (("orders-*",), (), "payments", False),
        (("*",), ("*-tap",), "orders-tap", False),
        (("orders*", "pay*"), ("*.fifo",), "payments", True),
        (("orders*", "pay*"), ("*.fifo",), "payments.fifo", False),
    ],
)
def test_queue_selection(include, exclude, name, wanted):
    assert QueueSelection(include, exclude).wanted(name) is wanted


def test_dlq_found_through_redrive_policy_whatever_its_name():
    states = [
        state("orders", 5, 1, dlq=ARN + "parking"),
        state("payments", 0, 0, dlq=ARN + "parking"),
        state("parking", 3, 0),
        state("audit", 2, 0),
    ]
    sources = dead_letter_sources(states)
    assert sources == {"parking": ("orders", "payments")}
    queues, dead = queue_samples(states, sources, {})
    by_name = {q.name: q for q in queues}
    assert [q.name for q in queues] == ["audit", "orders", "parking", "payments"]
    assert by_name["parking"].is_dlq and by_name["parking"].dlq_sources == ("orders", "payments")
    assert not by_name["orders"].is_dlq
    assert (by_name["orders"].ready, by_name["orders"].unacked) == (5, 1)
    assert by_name["orders"].consumers is None  # SQS cannot say who polls
    assert [(d.dlq, d.source, d.depth) for d in dead] == [("parking", "orders,payments", 3)]


def test_rule_target_dead_letter_config_makes_a_dlq():
    rule = RuleTargets(
        "shop", "orders-to-billing", True,
        ({"Id": "b", "Arn": ARN + "billing", "DeadLetterConfig": {"Arn": ARN + "failed"}},),
    )  # fmt: skip
    assert dead_letter_sources([state("billing")], [rule]) == {
        "failed": ("rule:shop/orders-to-billing",)
    }
    assert dead_letter_arns([state("billing")], [rule]) == {ARN + "failed"}


def test_rule_edges_bus_rule_targets_and_dlq():
    rule = RuleTargets(
        "shop", "r", False,
        (
            {"Id": "q", "Arn": ARN + "billing", "DeadLetterConfig": {"Arn": ARN + "failed"}},
            {"Id": "l", "Arn": "arn:aws:lambda:eu-west-1:1:function:mail"},
        ),
    )  # fmt: skip
    assert rule_edges(rule) == [
        FlowEdge("bus:shop", "rule:shop/r", "routes", False),
        FlowEdge("rule:shop/r", "queue:billing", "delivers", False),
        FlowEdge("rule:shop/r", "queue:failed", "dead_letters", False),
        FlowEdge("rule:shop/r", "target:arn:aws:lambda:eu-west-1:1:function:mail", "delivers",
                 False),
    ]  # fmt: skip


def test_redrive_edges():
    assert redrive_edges([state("orders", dlq=ARN + "parking"), state("parking")]) == [
        FlowEdge("queue:orders", "queue:parking", "redrives")
    ]


@pytest.mark.parametrize(
    ("metrics", "age", "produced", "consumed"),
    [
        ({}, None, None, None),  # CloudWatch off or unreachable: absent
        ({"orders": QueueMetrics(420.0, 7, 6)}, 420.0, 7, 6),
        ({"orders": QueueMetrics(None, 7, None)}, None, 7, None),  # no age datapoints
    ],
)
def test_cloudwatch_values_reach_the_sample(metrics, age, produced, consumed):
    (q,), _ = queue_samples([state("orders", 1)], {}, metrics)
    assert (q.age_seconds, q.published_total, q.acked_total) == (age, produced, consumed)
    assert q.age_method is LagMethod.CLOUDWATCH_AGE


def test_events_sent_to_a_rule_dlq_are_counted_when_the_rule_has_one_dlq():
    def target(dlq: str) -> dict:
        return {"Id": dlq, "Arn": ARN + "billing", "DeadLetterConfig": {"Arn": ARN + dlq}}

    one = RuleTargets("shop", "one", True, (target("failed"), target("failed")))
    two = RuleTargets("shop", "two", True, (target("failed"), target("other")))
    none = RuleTargets("shop", "none", True, ({"Id": "x", "Arn": ARN + "billing"},))
    sent = {"rule:shop/one": 3.0, "rule:shop/two": 5.0, "rule:shop/none": 1.0}
    assert rule_dlq_deliveries([one, two, none], sent) == {"failed": 3}
    assert rule_dlq_deliveries([one], {"rule:shop/one": None}) == {}  # no datapoints: absent
    sources = dead_letter_sources([], [one])
    _, (dead,) = queue_samples([state("failed", 2)], sources, {}, {"failed": 3})
    assert dead.dead_lettered_total == {"delivery_failed": 3}

"""The webhook accepts Alertmanager notifications and nothing else (alert_notification.py)."""

from __future__ import annotations

import json
import re

import pytest

from collector.alert_notification import InvalidNotification, parse_notification
from collector.http_api import Notifications

ALERT = {"status": "firing", "labels": {"alertname": "ConsumerLagHigh", "group": "billing"}}
FULL = {
    "version": "4",
    "groupKey": '{}:{alertname="ConsumerLagHigh"}',
    "truncatedAlerts": 0,
    "status": "firing",
    "receiver": "eventscope",
    "groupLabels": {"alertname": "ConsumerLagHigh"},
    "commonLabels": {"alertname": "ConsumerLagHigh"},
    "commonAnnotations": {"summary": "lag"},
    "externalURL": "http://127.0.0.1:9093",
    "alerts": [
        {
            **ALERT,
            "annotations": {"runbook_url": "https://example.org/r"},
            "startsAt": "2026-12-07T20:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus/graph",
            "fingerprint": "c0ffee",
        }
    ],
}


def test_a_real_notification_is_kept_whole():
    assert parse_notification(json.dumps(FULL).encode()) == FULL


def test_fields_alertmanager_does_not_send_are_dropped():
    body = {"status": "resolved", "alerts": [{**ALERT, "status": "resolved", "x": 1}], "y": [1]}
    assert parse_notification(json.dumps(body).encode()) == {
        "status": "resolved",
        "alerts": [{**ALERT, "status": "resolved"}],
    }


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b"[]", "not an Alertmanager payload"),
        (b'{"no": "alerts"}', "not an Alertmanager payload"),
        # the memory bomb: empty alerts
        (b'{"alerts":[' + b",".join([b"{}"] * 1000) + b"]}", "status must be firing"),
        (json.dumps({"status": "firing", "alerts": [{}]}).encode(), "alerts[0].labels"),
        (json.dumps({"status": "firing", "alerts": []}).encode(), "non-empty list"),
        (json.dumps({"status": "firing", "alerts": {}}).encode(), "non-empty list"),
        (json.dumps({"status": "odd", "alerts": [ALERT]}).encode(), "status must be"),
        (json.dumps({"status": "firing", "alerts": [1]}).encode(), "alerts[0] must be an object"),
        (
            json.dumps({"status": "firing", "alerts": [{"status": "firing", "labels": {}}]}),
            "labels must not be empty",
        ),
        (
            json.dumps({"status": "firing", "alerts": [{**ALERT, "labels": {"a": {"b": 1}}}]}),
            "labels must be an object of strings",
        ),
        (
            json.dumps({"status": "firing", "alerts": [{**ALERT, "startsAt": 5}]}),
            "alerts[0].startsAt must be a string",
        ),
        (json.dumps({**FULL, "truncatedAlerts": -1}), "truncatedAlerts"),
        (json.dumps({**FULL, "commonLabels": ["x"]}), "commonLabels"),
    ],
)
def test_what_is_not_a_notification_is_refused_with_the_reason(body, reason):
    with pytest.raises(InvalidNotification, match=re.escape(reason)):
        parse_notification(body if isinstance(body, bytes) else body.encode())


def test_history_is_bounded_by_bytes_as_well_as_count():
    kept = Notifications(limit=500, max_bytes=10_000)
    for i in range(100):
        kept.add({"status": "firing", "alerts": [{**ALERT, "fingerprint": f"{i:0400d}"}]}, float(i))
    assert kept.kept_bytes <= 10_000
    assert kept.kept_bytes == sum(len(item) for item in kept.items)
    newest = kept.newest_first()
    assert 10 < len(newest) < 25 and newest[0]["received_at"] == 99.0
    assert json.loads(kept.newest_first_json()) == {"notifications": newest}
    by_count = Notifications(limit=3)
    for i in range(5):
        by_count.add({"status": "resolved", "alerts": [ALERT]}, float(i))
    assert [n["received_at"] for n in by_count.newest_first()] == [4.0, 3.0, 2.0]
    assert by_count.received == {"resolved": 5}

"""Notifications posted to the webhook survive a collector restart; the counter is on /metrics."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from collector.config import load_config
from collector.service import CollectorService
from demo.services import free_port

pytestmark = pytest.mark.service

NOTIFICATION = {
    "version": "4",
    "status": "firing",
    "receiver": "eventscope",
    "groupKey": '{}:{alertname="ConsumerGroupStalled"}',
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "ConsumerGroupStalled", "group": "billing"},
            "annotations": {"summary": "billing is stalled"},
            "startsAt": "2026-12-07T20:00:00Z",
        }
    ],
}


def start(cfg: Path) -> CollectorService:
    service = CollectorService(load_config(cfg), f"127.0.0.1:{free_port()}")
    service.start()
    return service


def notifications_total(base: str) -> dict[str, float]:
    text = requests.get(f"{base}/metrics", timeout=5).text
    return {
        s.labels["status"]: s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
        if s.name == "eventscope_alert_notifications_total"
    }


def test_notification_history_survives_a_restart(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yml"
    nobody = free_port()  # no broker is needed: the webhook and history work while it is down
    cfg.write_text(
        "poll_interval_seconds: 1\nclusters:\n"
        f"  - name: r\n    kind: rabbitmq\n    management_url: http://127.0.0.1:{nobody}\n"
        "    request_timeout_seconds: 1\n"
    )
    first = start(cfg)
    try:
        # the integration conftest points webhook_history_path into this test's tmp_path
        assert Path(first.notifications.path).parent == tmp_path
        base = f"http://127.0.0.1:{first.port}"
        assert notifications_total(base) == {"firing": 0.0, "resolved": 0.0}
        resp = requests.post(f"{base}/api/alerts/webhook", json=NOTIFICATION, timeout=5)
        assert resp.status_code == 200
        resolved = {**NOTIFICATION, "status": "resolved"}
        requests.post(f"{base}/api/alerts/webhook", json=resolved, timeout=5).raise_for_status()
        assert notifications_total(base) == {"firing": 1.0, "resolved": 1.0}
    finally:
        first.stop()

    second = start(cfg)
    try:
        base = f"http://127.0.0.1:{second.port}"
        got = requests.get(f"{base}/api/alerts/notifications", timeout=5).json()["notifications"]
        assert [n["status"] for n in got] == ["resolved", "firing"]  # newest first
        assert got[1]["alerts"] == NOTIFICATION["alerts"]
        assert all(isinstance(n["received_at"], float) for n in got)
        # a counter of this process: restarts from 0, which rate() and increase() handle
        assert notifications_total(base) == {"firing": 0.0, "resolved": 0.0}
    finally:
        second.stop()

"""The webhook's notification history in SQLite: bounds, restart, the bounded status label."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from collector.alert_history import AlertHistory, HistoryError, notification_status
from collector.exporters.notifications import NotificationsCollector


def payload(name: str, status: str = "firing", pad: int = 0) -> dict:
    return {"status": status, "alerts": [{"labels": {"alertname": name}}], "pad": "x" * pad}


def names(history: AlertHistory) -> list[str]:
    return [n["alerts"][0]["labels"]["alertname"] for n in history.newest_first()]


def test_keeps_the_newest_limit_notifications_newest_first(tmp_path: Path) -> None:
    history = AlertHistory(tmp_path / "a.db", limit=3)
    for i in range(5):
        history.add(payload(f"A{i}"), now=100.0 + i)
    assert names(history) == ["A4", "A3", "A2"]
    assert history.newest_first()[0]["received_at"] == 104.0


def test_keeps_at_most_max_bytes_of_bodies(tmp_path: Path) -> None:
    one = len(json.dumps({**payload("A0", pad=1000), "received_at": 100.0}).encode())
    history = AlertHistory(tmp_path / "a.db", limit=100, max_bytes=3 * one + 10)
    for i in range(6):
        history.add(payload(f"A{i}", pad=1000), now=100.0)
    assert names(history) == ["A5", "A4", "A3"]
    history.add(payload("huge", pad=10 * one), now=100.0)  # larger than the bound on its own
    assert names(history) == ["A5", "A4", "A3"]
    assert history.received_counts() == {"firing": 7}  # received, even when not kept


def test_survives_a_reopen_and_applies_lowered_bounds(tmp_path: Path) -> None:
    path = tmp_path / "data" / "alerts.db"  # the directory is created
    first = AlertHistory(path, limit=10)
    for i in range(4):
        first.add(payload(f"A{i}", "resolved" if i % 2 else "firing"), now=float(i))
    first.close()
    again = AlertHistory(path, limit=2)
    assert names(again) == ["A3", "A2"]
    assert again.received_counts() == {}  # a counter: per process, like every Prometheus counter


def test_memory_history_works_without_a_file() -> None:
    history = AlertHistory(":memory:", limit=2)
    history.add(payload("A"), now=1.0)
    assert names(history) == ["A"]


def test_an_unopenable_path_raises_history_error(tmp_path: Path) -> None:
    not_a_db = tmp_path / "alerts.db"
    not_a_db.write_bytes(b"this is not an SQLite file" * 100)
    with pytest.raises(HistoryError, match=str(not_a_db)):
        AlertHistory(not_a_db)


@pytest.mark.parametrize(
    ("status", "label"),
    [("firing", "firing"), ("resolved", "resolved"), ("x" * 5000, "other"), (None, "other")],
)
def test_status_label_values_are_bounded(status: object, label: str) -> None:
    assert notification_status({"status": status}) == label


def test_notifications_total_is_exported_by_status() -> None:
    history = AlertHistory(":memory:")
    history.add(payload("A"), now=1.0)
    history.add(payload("A", "resolved"), now=2.0)
    history.add(payload("A", "resolved"), now=3.0)
    history.add(payload("B", "bogus\n{status}"), now=4.0)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(NotificationsCollector(history.received_counts))
    samples = {
        s.labels["status"]: s.value
        for fam in text_string_to_metric_families(generate_latest(registry).decode())
        for s in fam.samples
        if s.name == "eventscope_alert_notifications_total"
    }
    assert samples == {"firing": 1.0, "resolved": 2.0, "other": 1.0}


def test_both_statuses_are_exported_from_zero() -> None:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(NotificationsCollector(dict))
    text = generate_latest(registry).decode()
    values = {
        s.labels["status"]: s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
        if s.name.endswith("_total")
    }
    assert values == {"firing": 0.0, "resolved": 0.0}

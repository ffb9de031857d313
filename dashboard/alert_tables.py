"""Pure shaping of alert data: Prometheus alerts and rules, Alertmanager notifications that
the collector kept. Cluster filters keep rows without a cluster_name: those alerts are about the
whole system (the collector itself) and matter whatever cluster is selected."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from dashboard.shaping import page_link, parse_time, sample_value


def alerts_frame(alerts: Sequence[Mapping[str, Any]], cluster: str | None) -> pd.DataFrame:
    """Prometheus alerts (firing first, then pending), filtered to a cluster when one is chosen
    (alerts without a cluster_name are about the whole system and always shown). Each row links
    to where the alert lands (see `_alert_link`) and to its runbook."""
    columns = [
        "state",
        "alertname",
        "severity",
        "cluster_name",
        "group",
        "summary",
        "active_since",
        "value",
        "link",
        "runbook",
    ]
    rows = []
    for alert in alerts:
        labels = alert.get("labels", {})
        if cluster and labels.get("cluster_name") not in (None, cluster):
            continue
        notes = alert.get("annotations", {})
        rows.append(
            {
                "state": alert.get("state", ""),
                "alertname": labels.get("alertname", ""),
                "severity": labels.get("severity", ""),
                "cluster_name": labels.get("cluster_name", ""),
                "group": labels.get("group", ""),
                "summary": notes.get("summary") or notes.get("description") or "",
                "active_since": parse_time(alert.get("activeAt")),
                "value": sample_value(alert.get("value")),
                "link": _alert_link(labels),
                "runbook": notes.get("runbook_url", ""),
            }
        )
    frame = pd.DataFrame(rows, columns=columns)
    frame["order"] = frame["state"].map({"firing": 0, "pending": 1}).fillna(2)
    return (
        frame.sort_values(["order", "severity", "alertname"])
        .drop(columns=["order"])
        .reset_index(drop=True)
    )


def _alert_link(labels: Mapping[str, str]) -> str:
    """Where an alert lands: its group's lag page, or the dead letters page for a DLQ alert."""
    cluster = labels.get("cluster_name", "")
    if labels.get("group"):
        return page_link("lag", group=labels["group"], cluster=cluster)
    if labels.get("dlq"):
        return page_link("dead-letters", cluster=cluster)
    return ""


def firing_count(alerts: Sequence[Mapping[str, Any]], cluster: str | None) -> int:
    frame = alerts_frame(alerts, cluster)
    return int((frame["state"] == "firing").sum())


def rules_frame(groups: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Alerting rules of every rule group: name, expression, `for`, severity, state, health."""
    rows = [
        {
            "group": g.get("name", ""),
            "alertname": r.get("name", ""),
            "severity": r.get("labels", {}).get("severity", ""),
            "expression": r.get("query", ""),
            "for_seconds": r.get("duration", 0),
            "state": r.get("state", ""),
            "health": r.get("health", ""),
            "summary": r.get("annotations", {}).get("summary", ""),
        }
        for g in groups
        for r in g.get("rules", [])
        if r.get("type") == "alerting"
    ]
    return pd.DataFrame(
        rows,
        columns=[
            "group",
            "alertname",
            "severity",
            "expression",
            "for_seconds",
            "state",
            "health",
            "summary",
        ],
    )


def notifications_frame(
    notifications: Sequence[Mapping[str, Any]], cluster: str | None
) -> pd.DataFrame:
    """One row per alert inside each Alertmanager webhook payload, newest first."""
    rows = []
    for note in notifications:
        for alert in note.get("alerts", []) or [{}]:
            labels = {**note.get("commonLabels", {}), **alert.get("labels", {})}
            if cluster and labels.get("cluster_name") not in (None, cluster):
                continue
            rows.append(
                {
                    "received_at": parse_time(note.get("received_at")),
                    "status": alert.get("status") or note.get("status", ""),
                    "alertname": labels.get("alertname", ""),
                    "severity": labels.get("severity", ""),
                    "cluster_name": labels.get("cluster_name", ""),
                    "group": labels.get("group", ""),
                    "receiver": note.get("receiver", ""),
                }
            )
    frame = pd.DataFrame(
        rows,
        columns=[
            "received_at",
            "status",
            "alertname",
            "severity",
            "cluster_name",
            "group",
            "receiver",
        ],
    )
    return frame.sort_values("received_at", ascending=False, na_position="last").reset_index(
        drop=True
    )

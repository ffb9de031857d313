"""What the webhook accepts: an Alertmanager notification (webhook payload version 4), checked.

Alertmanager sends (https://prometheus.io/docs/alerting/latest/configuration/#webhook_config):

    {"version": "4", "groupKey": "...", "truncatedAlerts": 0, "status": "firing",
     "receiver": "eventscope", "groupLabels": {...}, "commonLabels": {...},
     "commonAnnotations": {...}, "externalURL": "http://am:9093",
     "alerts": [{"status": "firing", "labels": {"alertname": "ConsumerLagHigh", ...},
                 "annotations": {...}, "startsAt": "...", "endsAt": "...",
                 "generatorURL": "...", "fingerprint": "..."}]}

Required: `status` (firing/resolved) and a non-empty `alerts` list whose items each have a
`status` and non-empty string `labels`; every other field listed above is optional but must
have its type. Fields Alertmanager does not send are dropped, so what is kept is what the
dashboard shows. `{"alerts": [{}, {}, ...]}` is refused: it is not a notification.
"""

from __future__ import annotations

import json
from typing import Any

STATUSES = ("firing", "resolved")
_TOP_TEXT = ("version", "groupKey", "receiver", "externalURL")
_TOP_LABELS = ("groupLabels", "commonLabels", "commonAnnotations")
_ALERT_TEXT = ("startsAt", "endsAt", "generatorURL", "fingerprint")


class InvalidNotification(ValueError):
    """The body is not an Alertmanager notification; the message says why."""


def parse_notification(body: bytes) -> dict[str, Any]:
    """Decode and check one webhook body; return only the fields Alertmanager defines."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidNotification("body is not JSON") from exc
    except RecursionError as exc:  # "[[[[..." a million deep
        raise InvalidNotification("body is nested too deeply") from exc
    if not isinstance(payload, dict) or "alerts" not in payload:
        raise InvalidNotification("not an Alertmanager payload")
    out: dict[str, Any] = {"status": _status(payload, "status")}
    for name in _TOP_TEXT:
        if name in payload:
            out[name] = _text(payload, name, name)
    for name in _TOP_LABELS:
        if name in payload:
            out[name] = _labels(payload[name], name)
    if "truncatedAlerts" in payload:
        truncated = payload["truncatedAlerts"]
        if isinstance(truncated, bool) or not isinstance(truncated, int) or truncated < 0:
            raise InvalidNotification("truncatedAlerts must be a count")
        out["truncatedAlerts"] = truncated
    alerts = payload["alerts"]
    if not isinstance(alerts, list) or not alerts:
        raise InvalidNotification("alerts must be a non-empty list")
    out["alerts"] = [_alert(a, i) for i, a in enumerate(alerts)]
    return out


def _alert(alert: Any, i: int) -> dict[str, Any]:
    where = f"alerts[{i}]"
    if not isinstance(alert, dict):
        raise InvalidNotification(f"{where} must be an object")
    labels = _labels(alert.get("labels"), f"{where}.labels")
    if not labels:
        raise InvalidNotification(f"{where}.labels must not be empty")
    out: dict[str, Any] = {"status": _status(alert, f"{where}.status"), "labels": labels}
    if "annotations" in alert:
        out["annotations"] = _labels(alert["annotations"], f"{where}.annotations")
    for name in _ALERT_TEXT:
        if name in alert:
            out[name] = _text(alert, name, f"{where}.{name}")
    return out


def _status(obj: dict[str, Any], where: str) -> str:
    status = obj.get("status")
    if status not in STATUSES:
        raise InvalidNotification(f"{where} must be firing or resolved")
    return str(status)


def _text(obj: dict[str, Any], name: str, where: str) -> str:
    value = obj[name]
    if not isinstance(value, str):
        raise InvalidNotification(f"{where} must be a string")
    return value


def _labels(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise InvalidNotification(f"{where} must be an object of strings")
    return value

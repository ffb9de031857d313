"""Alert latency: a fault injected in the demo -> the notification at the webhook.

    .venv/bin/python -m bench --only alert_latency --runs 3

Starts `eventscope demo --auto-ports --only kafka --poll-interval 2` (the demo's copy of the
rules caps `for:` at 30 s; Prometheus scrapes and evaluates every 5 s; Alertmanager's
`group_wait` is 1 s) and, `runs` times, stops payment-service's consumer with the demo's
`stop` knob. The figure is the time from the knob to the `ConsumerGroupStopped` notification
arriving at the collector's webhook (its `received_at`), split at the moment Prometheus made
the alert pending (`activeAt`). After each run the consumer is started again and the run
waits for the resolved notification, so every run starts from a healthy group.

The floor is what the Prometheus side of the configuration makes any alert wait:

    scrape interval 5 s + for 30 s + evaluation interval 5 s = 40 s

On top of it comes eventscope's own detection, shown as "fault -> pending": with no members
left, the group turns STOP once `status_window.min_commits` polls (3) show its committed offset
standing with lag (about 2 x 2 s after the last commit, plus the member's leave). Until
December 2026 it waited for a frozen status window (10 polls, up to 18 s).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.stats import Row, summarize
from collector.config import StatusWindow
from demo.client import DemoClient, delivered, start_demo
from demo.stack import duration_seconds

POLL_INTERVAL = 2.0
SCRAPE_INTERVAL = 5.0  # deploy/prometheus/prometheus.demo.yml
EVALUATION_INTERVAL = 5.0
FOR_CAP = 30  # `eventscope demo --alert-for-cap`, default
ALERT, GROUP, CLUSTER = "ConsumerGroupStopped", "payment-service", "demo-kafka"
WAIT_SECONDS = 300.0


def alert_for_seconds() -> float:
    """The `for:` of ConsumerGroupStopped in alerts/, capped as the demo caps it."""
    import yaml

    rules = yaml.safe_load(
        (Path(__file__).parents[1] / "alerts" / "eventscope.rules.yml").read_text()
    )
    for group in rules["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == ALERT:
                return min(duration_seconds(str(rule.get("for", "0s"))), FOR_CAP)
    raise KeyError(f"{ALERT} is not in alerts/eventscope.rules.yml")


def floor_parts() -> dict[str, float]:
    return {
        "scrape_interval": SCRAPE_INTERVAL,
        "for": alert_for_seconds(),
        "evaluation_interval": EVALUATION_INTERVAL,
    }


def wait_for(predicate: Any, what: str) -> Any:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except Exception:  # the stack is busy on a loaded machine: ask again
            value = None
        if value:
            return value
        time.sleep(0.25)
    raise RuntimeError(f"alert_latency: timed out after {WAIT_SECONDS:.0f} s waiting for {what}")


def active_at(demo: DemoClient) -> float | None:
    """When Prometheus made the alert pending (unix seconds), None if it is not active."""
    for a in demo.prom_alerts():
        lbl = a["labels"]
        if lbl.get("alertname") == ALERT and lbl.get("group") == GROUP:
            return _rfc3339(a["activeAt"])
    return None


def _rfc3339(text: str) -> float:
    from datetime import datetime

    # Prometheus writes nanoseconds; datetime takes microseconds
    head, _, frac = text.rstrip("Z").partition(".")
    stamp = datetime.fromisoformat(head + "+00:00").timestamp()
    return stamp + (float("0." + frac) if frac else 0.0)


def healthy(demo: DemoClient) -> bool:
    """The group is listed (it has committed) and OK in Prometheus, and the alert is inactive."""
    ok = demo.prom_query(
        f'eventscope_consumer_group_status{{cluster_name="{CLUSTER}",group="{GROUP}",'
        'status="OK"} == 1'
    )
    return bool(ok) and active_at(demo) is None


def one_run(demo: DemoClient) -> dict[str, float]:
    labels = {"cluster_name": CLUSTER, "group": GROUP}
    # a group stopped before its first commit is never listed (Tansu lists groups with commits)
    wait_for(lambda: healthy(demo), f"{GROUP} OK and {ALERT} inactive before the fault")
    started = time.time()
    demo.ctl("stop", service=GROUP)
    pending_at: float | None = None
    try:

        def arrived() -> list[dict[str, Any]]:
            nonlocal pending_at
            pending_at = pending_at or active_at(demo)
            return delivered(demo.notifications(), ALERT, "firing", started, **labels)

        alert = wait_for(arrived, f"{ALERT} for {GROUP} at the webhook")[0]
    finally:
        restarted = time.time()
        demo.ctl("start", service=GROUP)
    notified = float(alert["received_at"])
    wait_for(
        lambda: delivered(demo.notifications(), ALERT, "resolved", restarted, **labels),
        "the resolved notification",
    )
    out = {"fault_to_webhook": notified - started}
    if pending_at is not None:
        out["fault_to_pending"] = pending_at - started
        out["pending_to_webhook"] = notified - pending_at
    print(f"[alert_latency] {out}", file=sys.stderr, flush=True)
    return out


def run(runs: int = 3) -> tuple[list[Row], dict[str, Any]]:
    parts = floor_parts()
    floor = sum(parts.values())
    raw: dict[str, Any] = {
        "floor_parts": parts,
        "stop_after_polls_at_most": (StatusWindow().min_commits - 1) * POLL_INTERVAL,
        "runs": [],
    }
    with tempfile.TemporaryDirectory(prefix="bench-alert-") as tmp:
        args = ["--only", "kafka", "--poll-interval", str(POLL_INTERVAL)]
        proc, demo = start_demo(Path(tmp), args, name="bench-alert-demo")
        try:
            for _ in range(runs):
                raw["runs"].append(one_run(demo))
        finally:
            proc.stop(timeout=30)
    floor_s = summarize([floor])
    case = f"{GROUP} stopped"
    rows = [
        Row(
            "alert_latency",
            case,
            f"{ALERT}: fault -> webhook",
            "s",
            summarize(r["fault_to_webhook"] for r in raw["runs"]),
            floor_s,
        )
    ]
    pending = [r["fault_to_pending"] for r in raw["runs"] if "fault_to_pending" in r]
    after = [r["pending_to_webhook"] for r in raw["runs"] if "pending_to_webhook" in r]
    if pending and after:
        # pending -> webhook is `for:` plus up to one evaluation, plus Alertmanager's group_wait
        for_s = summarize([parts["for"]])
        rows.append(
            Row(
                "alert_latency",
                case,
                "fault -> pending (status STOP, scraped, evaluated)",
                "s",
                summarize(pending),
            )
        )
        rows.append(Row("alert_latency", case, "pending -> webhook", "s", summarize(after), for_s))
    return rows, raw

"""Drive a running `eventscope demo` from outside: start it, turn its knobs, read what arrived.

Shared by the alert tests (tests/integration/test_alerts_e2e.py) and the benchmarks that need
the whole stack (bench/alert_latency.py, bench/soak.py), so "which notification counts" is
decided in one place.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import requests

from demo.services import ManagedProcess, ServiceError

START_TIMEOUT = 180.0


def start_demo(
    workdir: Path, args: Sequence[str] = (), name: str = "demo", timeout: float = START_TIMEOUT
) -> tuple[ManagedProcess, DemoClient]:
    """`eventscope demo --auto-ports --workdir W ARGS…` as a child; ready once state.json exists."""
    proc = ManagedProcess(
        name,
        [
            sys.executable, "-m", "collector.cli", "demo", "--auto-ports",
            "--workdir", str(workdir), *args,
        ],
        workdir / "demo.out",
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    ).start()  # fmt: skip
    state = workdir / "state.json"
    deadline = time.monotonic() + timeout
    while not state.exists():
        if not proc.alive() or time.monotonic() > deadline:
            proc.stop(timeout=30)
            raise ServiceError(f"the demo stack did not start:\n{proc.log_tail(40)}")
        time.sleep(0.5)
    return proc, DemoClient(workdir)


class DemoClient:
    """The URLs and PIDs of a running demo (from its state.json) and what can be asked of it."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.state: dict[str, Any] = json.loads((workdir / "state.json").read_text())
        self.urls: dict[str, str] = self.state["urls"]
        self.pids: dict[str, int] = {k: int(v) for k, v in self.state["pids"].items()}

    def ctl(self, knob: str, **args: object) -> dict[str, Any]:
        """Turn a knob of the pipeline (rate, slow, stop, start, poison, burst)."""
        resp = requests.post(f"{self.urls['control']}/{knob}", json=args, timeout=10)
        resp.raise_for_status()
        result: dict[str, Any] = resp.json()
        return result

    def prom_query(self, query: str) -> list[dict[str, Any]]:
        resp = requests.get(
            f"{self.urls['prometheus']}/api/v1/query", params={"query": query}, timeout=10
        )
        resp.raise_for_status()
        result: list[dict[str, Any]] = resp.json()["data"]["result"]
        return result

    def prom_alerts(self) -> list[dict[str, Any]]:
        """Prometheus' active alerts (pending and firing), with `activeAt`."""
        resp = requests.get(f"{self.urls['prometheus']}/api/v1/alerts", timeout=10)
        resp.raise_for_status()
        result: list[dict[str, Any]] = resp.json()["data"]["alerts"]
        return result

    def notifications(self) -> list[dict[str, Any]]:
        """What Alertmanager delivered to the collector's webhook, newest first."""
        resp = requests.get(f"{self.urls['collector']}/api/alerts/notifications", timeout=10)
        resp.raise_for_status()
        result: list[dict[str, Any]] = resp.json()["notifications"]
        return result


def delivered(
    notifications: list[dict[str, Any]], alertname: str, status: str, since: float, **labels: str
) -> list[dict[str, Any]]:
    """Alerts named `alertname` with `labels`, notified with `status` at or after `since`.

    Each alert found carries its notification's `received_at` (the webhook's clock).
    """
    found = []
    for n in notifications:
        if n["received_at"] < since:
            continue
        for a in n["alerts"]:
            lbl = a["labels"]
            wanted = lbl["alertname"] == alertname and a["status"] == status
            if wanted and all(lbl.get(k) == v for k, v in labels.items()):
                found.append({**a, "received_at": n["received_at"]})
    return found

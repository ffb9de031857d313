"""The collector as users run it: `eventscope collect` as a process, stopped with SIGTERM."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from demo.services import free_port
from tests.conftest import wait_until
from tests.kafka_world import create_topic, produce, unique

pytestmark = pytest.mark.service


def test_sigterm_stops_cleanly_with_the_store_flushed(kafka, tmp_path: Path):
    topic = unique("orders")
    create_topic(kafka, topic, 1)
    headers = [("correlation_id", b"order-1"), ("event_type", b"OrderPlaced"), ("source", b"shop")]
    produce(kafka, topic, [5], headers=headers)
    store = tmp_path / "traces.db"
    port = free_port()
    cfg = tmp_path / "c.yml"
    cfg.write_text(
        f"poll_interval_seconds: 1\nlisten: 127.0.0.1:{port}\nclusters:\n"
        f"  - name: k\n    kind: kafka\n    bootstrap_servers: {kafka}\n"
        f"tracing:\n  enabled: true\n  store_path: {store}\n"
        f"  kafka: {{cluster: k, topics: ['{topic}'], group_id: {unique('tap')},"
        " session_timeout_ms: 6000, heartbeat_interval_ms: 2000}\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "collector.cli", "collect", "--config", str(cfg)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        journey = wait_until(
            lambda: (r := requests.get(f"{base}/api/traces/order-1", timeout=2)).ok and r.json(),
            60,
            "the tap to store order-1",
        )
        assert len(journey["hops"]) == 5
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=15)
        stopped_in = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
    output = proc.stdout.read() if proc.stdout else ""
    assert code == 0, output
    print(f"\nSIGTERM -> exit in {stopped_in:.1f} s")
    assert stopped_in < 10, output
    with sqlite3.connect(store) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert "Traceback" not in output

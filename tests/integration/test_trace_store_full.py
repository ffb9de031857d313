"""The trace store's disk fills up under a running collector, then space comes back.

The store lives on a 4 MiB tmpfs mounted by the test (root is needed; a machine where the mount
fails fails this test, it does not skip it). The collector runs as users run it
(`eventscope collect`), its Kafka tap reading a topic on a real Tansu. What a user must see:
a clear error in the log, `eventscope_trace_store_up` 0, `/metrics` still answering with the
brokers still polled, the same process still running (no crash loop); and once space is back,
the store up again with every event that arrived meanwhile stored (the tap re-reads what it
could not store: it commits offsets only after the store has).
"""

from __future__ import annotations

import errno
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from demo.services import ManagedProcess, free_port, wait_for_http
from tests.conftest import scrape, wait_until
from tests.kafka_world import create_topic, produce, unique

pytestmark = pytest.mark.service

HEADERS = [("event_type", b"OrderPlaced"), ("source", b"shop")]


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "store"
    mount_point.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point)],
        check=True,
        capture_output=True,
    )
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(path: Path) -> int:
    """Write zeros to `path` until the file system is full; returns the bytes written."""
    written = 0
    chunk = b"\0" * 65536
    with open(path, "wb", buffering=0) as f:
        while True:
            try:
                written += f.write(chunk)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                break
    # the tail of the last chunk may still fit: fill it byte by byte in small writes
    with open(path, "ab", buffering=0) as f:
        for size in (4096, 512, 1):
            try:
                while True:
                    written += f.write(b"\0" * size)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
    return written


def metric(metrics: dict, name: str, **labels: str) -> float | None:
    for (n, lbls), value in metrics.items():
        if n == name and all(dict(lbls).get(k) == v for k, v in labels.items()):
            return value
    return None


def test_a_full_disk_lowers_store_up_then_recovers_with_nothing_lost(kafka, tiny_disk, tmp_path):
    topic = unique("orders-full")
    create_topic(kafka, topic, 1)
    store = tiny_disk / "traces.db"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cfg = tmp_path / "c.yml"
    cfg.write_text(
        f"poll_interval_seconds: 1\nlisten: 127.0.0.1:{port}\nclusters:\n"
        f"  - name: k\n    kind: kafka\n    bootstrap_servers: {kafka}\n"
        # only this test's topic: the shared broker's other groups would have their commits
        # written to the store first, growing its WAL while there is room, so the 2,000 hops
        # below could fit in the WAL's free space without ever meeting the full disk
        f"    include_topics: ['{topic}']\n"
        f"tracing:\n  enabled: true\n  store_path: {store}\n"
        f"  kafka: {{cluster: k, topics: ['{topic}'], group_id: {unique('tap')},"
        " session_timeout_ms: 6000, heartbeat_interval_ms: 2000}\n"
    )
    log = tmp_path / "collector.log"
    proc = ManagedProcess(
        "collector",
        [sys.executable, "-m", "collector.cli", "collect", "--config", str(cfg)],
        log,
    ).start()
    filler = tiny_disk / "filler"
    try:
        wait_for_http(f"{base}/healthz", 60)
        produce(kafka, topic, [5], headers=[("correlation_id", b"before-full"), *HEADERS])
        wait_until(
            lambda: metric(scrape(f"{base}/metrics"), "eventscope_trace_store_hops") == 5,
            90,
            "the first 5 hops stored",
        )

        fill(filler)
        # enough events that the store must grow its files to hold them
        produce(kafka, topic, [2000], headers=[("correlation_id", b"while-full"), *HEADERS])
        wait_until(
            lambda: metric(scrape(f"{base}/metrics"), "eventscope_trace_store_up") == 0,
            90,
            "eventscope_trace_store_up to drop to 0 with the disk full",
        )
        # the tap keeps retrying (once a second) in the same process: several failures, no crash
        wait_until(
            lambda: log.read_text(errors="replace").count("reading them again") >= 3,
            60,
            "three retries of the unstored batch",
        )
        metrics = scrape(f"{base}/metrics")  # still served
        assert metric(metrics, "eventscope_trace_store_up") == 0
        assert metric(metrics, "eventscope_collector_up", cluster_name="k") == 1
        assert proc.alive(), proc.log_tail(30)
        text = log.read_text(errors="replace")
        assert "database or disk is full" in text, text[-3000:]
        # the error names the store's path, so the user knows which disk to look at
        assert f"trace store {store}" in text, text[-3000:]
        assert "Traceback" not in text, text[-3000:]
        pid_while_full = proc.pid

        filler.unlink()  # space comes back
        wait_until(
            lambda: (
                (m := scrape(f"{base}/metrics"))
                and metric(m, "eventscope_trace_store_up") == 1
                and metric(m, "eventscope_trace_store_hops") == 2005
            ),
            120,
            "the store up again holding all 2,005 hops",
        )
        assert proc.alive() and proc.pid == pid_while_full
        proc.signal(signal.SIGTERM)
        assert proc.popen is not None
        assert proc.popen.wait(30) == 0, proc.log_tail(30)
    finally:
        proc.stop()
        filler.unlink(missing_ok=True)
    with sqlite3.connect(store) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT COUNT(*) FROM hops").fetchone()[0] == 2005

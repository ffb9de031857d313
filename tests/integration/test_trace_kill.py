"""kill -9 of a Kafka tap process mid-ingest, then a restart: every hop stored exactly once."""

from __future__ import annotations

import os
import signal
import sqlite3
import sys
from pathlib import Path

import pytest

from demo.services import ManagedProcess
from tests.conftest import wait_until
from tests.integration.test_trace_kafka import T0, Sender, prefix, write_config

pytestmark = pytest.mark.service
__all__ = ["prefix"]  # the fixture, shared with test_trace_kafka


def stored_keys(db_path: Path) -> list[tuple[str, int, int]]:
    with sqlite3.connect(db_path) as db:
        return db.execute("SELECT source, partition, offset FROM hops").fetchall()


def stored_count(db_path: Path) -> int:
    try:
        with sqlite3.connect(db_path) as db:
            return int(db.execute("SELECT COUNT(*) FROM hops").fetchone()[0])
    except sqlite3.Error:
        return 0  # not created yet


def sent_and_tap(
    kafka: str, prefix: str, tmp_path: Path
) -> tuple[Sender, list[str], dict[str, str]]:
    """6,000 events sent, and the command (argv, env) of a tap storing into tmp_path."""
    s = Sender(kafka, prefix)
    for i in range(6000):
        s.event(f"ord-{i}", "OrderPlaced", T0 + i / 1000)
    s.flush()
    cfg = write_config(tmp_path / "eventscope.yml", kafka, prefix, extra="    batch_size: 20\n")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return s, [sys.executable, "-m", "collector.tracing", "--config", str(cfg)], env


def test_kill_9_mid_ingest_then_restart_stores_every_hop_exactly_once(kafka, prefix, tmp_path):
    s, argv, env = sent_and_tap(kafka, prefix, tmp_path)
    sent, db_path = len(s.landed), tmp_path / "traces.db"
    tap = ManagedProcess("tap", argv, tmp_path / "tap.log", env=env).start()
    try:
        wait_until(lambda: stored_count(db_path) >= 500, 30, "500 hops stored", every=0.02)
        tap.signal(signal.SIGKILL)
        tap.popen.wait(5)
        at_kill = stored_count(db_path)
        assert 500 <= at_kill < sent, f"the kill did not land mid-ingest ({at_kill} stored)"
        tap = ManagedProcess("tap-2", argv, tmp_path / "tap.log", env=env).start()
        wait_until(lambda: stored_count(db_path) >= sent, 40, f"{sent} hops after restart")
    finally:
        tap.stop()
    keys = stored_keys(db_path)
    assert len(keys) == sent
    assert sorted(keys) == sorted(s.landed)  # the very records sent: none lost, none twice
    with sqlite3.connect(db_path) as db:
        ids = {r[0] for r in db.execute("SELECT correlation_id FROM hops")}
    assert ids == {f"ord-{i}" for i in range(sent)}


def reader_pids(pid: int) -> list[int]:
    """The Kafka tap's reader processes (kafka.reader: process) among a process's children:
    multiprocessing's spawned children, not its resource tracker."""
    found = []
    for task in os.listdir(f"/proc/{pid}/task"):
        for child in Path(f"/proc/{pid}/task/{task}/children").read_text().split():
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(int(child))
    return found


def test_kill_9_of_the_reader_process_is_survived_with_every_hop_stored_once(
    kafka, prefix, tmp_path
):
    s, argv, env = sent_and_tap(kafka, prefix, tmp_path)
    sent, db_path = len(s.landed), tmp_path / "traces.db"
    tap = ManagedProcess("tap", argv, tmp_path / "tap.log", env=env).start()
    try:
        wait_until(lambda: stored_count(db_path) >= 500, 30, "500 hops stored", every=0.02)
        readers = reader_pids(tap.pid)
        assert len(readers) == 1, readers
        os.kill(readers[0], signal.SIGKILL)
        assert stored_count(db_path) < sent, "the kill did not land mid-ingest"
        wait_until(lambda: stored_count(db_path) >= sent, 60, f"{sent} hops after the kill")
        assert tap.alive()  # the collector carried on and started a new reader
        assert reader_pids(tap.pid) not in ([], readers)
    finally:
        tap.stop()
    assert "the reader process exited" in (tmp_path / "tap.log").read_text()
    keys = stored_keys(db_path)
    assert len(keys) == sent
    assert sorted(keys) == sorted(s.landed)  # none lost, none twice

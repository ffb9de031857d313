"""librdkafka's own lines go through the collector's logging, at its `log_level`.

A Kafka cluster and its trace tap (reader in a child process, the default) point at an address
where nothing listens, so every librdkafka client the collector made (admin, tap consumer)
reports refused connections. At `debug` those lines appear formatted like the collector's
others, under `eventscope.librdkafka`; at `warning` none appear; never a raw `%3|…` line.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from demo.services import free_port
from tests.conftest import wait_until

pytestmark = pytest.mark.service

FORMATTED = re.compile(r"^\d\d:\d\d:\d\d (DEBUG|INFO|WARNING|ERROR|CRITICAL) +[\w.]+: ")


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


@pytest.mark.parametrize("level", ["debug", "warning"])
def test_librdkafka_lines_follow_log_level(level: str, tmp_path: Path) -> None:
    dead = f"127.0.0.1:{free_port()}"  # nothing listens here
    port = free_port()
    cfg = tmp_path / "c.yml"
    cfg.write_text(
        f"poll_interval_seconds: 1\nlisten: 127.0.0.1:{port}\nlog_level: {level}\nclusters:\n"
        f"  - name: k\n    kind: kafka\n    bootstrap_servers: {dead}\n"
        "    request_timeout_seconds: 1\n"
        f"tracing:\n  enabled: true\n  store_path: {tmp_path / 'traces.db'}\n"
        "  kafka: {cluster: k, topics: ['orders'], session_timeout_ms: 6000}\n"
    )
    log_file = tmp_path / "out.log"
    with log_file.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "collector.cli", "collect", "--config", str(cfg)],
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        api = f"http://127.0.0.1:{port}/api/clusters"
        wait_until(lambda: children(proc.pid), 60, "the tap's reader process to start")
        first = wait_until(
            lambda: requests.get(api, timeout=2).json()["clusters"][0]["polled_at"], 60, "a poll"
        )
        wait_until(  # a few polls while the reader's consumer keeps being refused
            lambda: requests.get(api, timeout=2).json()["clusters"][0]["polled_at"] > first + 3,
            60,
            "three more polls",
        )
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    lines = log_file.read_text().splitlines()
    refused = [line for line in lines if "Connection refused" in line and "rdkafka" in line]
    assert not [line for line in lines if line.startswith("%")], lines  # raw librdkafka
    for line in refused:
        assert FORMATTED.match(line), line
        assert " eventscope.librdkafka: " in line, line
    if level == "debug":
        tap_lines = [line for line in refused if "[reader]" in line]
        assert tap_lines, lines  # the tap consumer's, from the reader process, formatted
    else:
        assert refused == [], refused

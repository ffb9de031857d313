"""Passwords written into URLs never reach the collector's output or its API.

`eventscope collect` runs as users run it, against the machine's RabbitMQ with wrong
credentials: a password in `management_url`, another in `username`/`password`, a third in the
tap's AMQP URL. After a few failing polls and tap retries, no secret appears in anything the
process printed, nor in `/api/clusters`.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

from demo.services import free_port
from demo.stack import drop_vhost, ensure_vhost
from tests.conftest import wait_until

pytestmark = pytest.mark.service

MANAGEMENT = "http://127.0.0.1:15672"


@pytest.fixture
def vhost() -> Iterator[str]:
    """A private vhost for the tap queue (made as the demo makes its own); deleted afterwards."""
    name = f"eventscope-secrets-{uuid.uuid4().hex[:8]}"
    ensure_vhost(MANAGEMENT, name)
    yield name
    drop_vhost(MANAGEMENT, name)


@pytest.mark.parametrize(
    "amqp_login",
    ["wrong", "right"],
    ids=["amqp-refused", "amqp-ok-management-refused"],
)
def test_no_secret_in_output_or_api(vhost: str, amqp_login: str, tmp_path: Path) -> None:
    url_secret, conf_secret, amqp_secret = (f"S3cr3t{uuid.uuid4().hex}" for _ in range(3))
    # "wrong": the tap cannot even connect; "right": it connects, then every management API
    # call for the exchange's routing answers 401 (the case: `_exchange_routing`)
    login = f"nobody:{amqp_secret}" if amqp_login == "wrong" else "guest:guest"
    amqp = f"amqp://{login}@127.0.0.1:5672/{quote(vhost, safe='')}"
    port = free_port()
    cfg = tmp_path / "c.yml"
    cfg.write_text(
        f"poll_interval_seconds: 1\nlisten: 127.0.0.1:{port}\nlog_level: info\nclusters:\n"
        f"  - name: r\n    kind: rabbitmq\n"
        f"    management_url: http://nobody:{url_secret}@127.0.0.1:15672/\n"
        f"    username: nobody\n    password: {conf_secret}\n    vhosts: ['{vhost}']\n"
        f"tracing:\n  enabled: true\n  store_path: {tmp_path / 'traces.db'}\n"
        f"  rabbitmq: {{cluster: r, url: '{amqp}', mode: tap_queue, exchanges: [events]}}\n"
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
        clusters = wait_until(
            lambda: next(
                (t for t in [requests.get(api, timeout=2).text] if "authentication" in t), ""
            ),
            60,
            "/api/clusters to report the failing poll",
        )
        wait_until(
            lambda: log_file.read_text().count("rabbitmq tap on r") >= 3,
            60,
            "three failed tap attempts in the log",
        )
        clusters += requests.get(api, timeout=2).text  # after a few more polls
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = log_file.read_text()
    assert "authentication failed" in clusters, clusters
    for secret in (url_secret, conf_secret, amqp_secret):
        assert secret not in output, output
        assert secret not in clusters, clusters

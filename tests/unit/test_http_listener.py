"""The collector's listener under hostile clients: idle sockets, slow or malformed requests,
too many requests at once, and webhook bodies built to exhaust memory (collector/web/).

Each test runs a real server in-process on a free port and talks to it over sockets.
"""

from __future__ import annotations

import gc
import json
import logging
import resource
import socket
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from bench.metrics_render import synthetic_view, view_collector
from collector.http_api import ApiContext, Notifications, make_server
from collector.web.config import WebConfig

WEBHOOK = "/api/alerts/webhook"
ALERT = {"status": "firing", "labels": {"alertname": "ConsumerLagHigh", "group": "g"}}


@contextmanager
def serving(
    web: WebConfig | None = None,
    registry: CollectorRegistry | None = None,
    history_bytes: int = 8 << 20,
    **ctx: Any,
) -> Iterator[tuple[str, int, ApiContext]]:
    web = web or WebConfig()
    notes = Notifications(max_bytes=history_bytes)
    context = ApiContext(registry or CollectorRegistry(), list, notes, **ctx)
    server = make_server("127.0.0.1", 0, context, web)
    server.start()
    try:
        yield f"http://127.0.0.1:{server.port}", server.port, context
    finally:
        server.stop()


def exchange(port: int, data: bytes, wait: float = 10.0) -> tuple[bytes, float]:
    """Send raw bytes, read until the server closes; the answer and how long that took."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        started = time.monotonic()
        sock.sendall(data)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        return answer, time.monotonic() - started


def no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    assert not [r for r in caplog.records if r.exc_info], caplog.text
    assert "Traceback" not in caplog.text


# -- idle connections -------------------------------------------------------------------------


def test_metrics_answer_within_a_second_while_1000_idle_connections_are_held():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    registry = CollectorRegistry(auto_describe=False)
    registry.register(view_collector(synthetic_view(40)))  # ~2,300 series
    with serving(registry=registry) as (base, port, _):
        idle = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(1000)]
        try:
            time.sleep(0.5)  # let the server accept them all
            took = []
            for _ in range(5):  # a fresh connection each time, as a scrape would open one
                started = time.monotonic()
                resp = requests.get(f"{base}/metrics", timeout=10)
                took.append(time.monotonic() - started)
                assert resp.status_code == 200
            families = {f.name for f in text_string_to_metric_families(resp.text)}
            assert "eventscope_consumer_lag_messages" in families
            print(f"\n/metrics with 1000 idle connections: median {statistics.median(took):.3f} s")
            assert statistics.median(took) < 1.0, took
        finally:
            for sock in idle:
                sock.close()


def test_idle_connections_are_closed_after_the_idle_timeout():
    with serving(WebConfig(idle_timeout_seconds=1)) as (base, port, _):
        silent = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(20)]
        kept_alive = requests.Session()
        assert kept_alive.get(f"{base}/healthz", timeout=5).status_code == 200
        started = time.monotonic()
        assert all(sock.recv(1) == b"" for sock in silent)  # EOF: the server closed them
        assert time.monotonic() - started < 8
        for sock in silent:
            sock.close()


def test_connections_beyond_the_cap_are_closed_on_accept():
    with serving(WebConfig(max_connections=5)) as (_, port, _):
        held = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(5)]
        time.sleep(0.3)
        try:
            answer, _ = exchange(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        except ConnectionResetError:  # closed with the request unread
            answer = b""
        assert answer == b""
        held.pop().close()
        time.sleep(0.3)
        answer, _ = exchange(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 200")
        for sock in held:
            sock.close()


# -- malformed and slow requests --------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_bytes", "status", "slow"),
    [
        (
            b"POST " + WEBHOOK.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
            400,
            0,
        ),
        # a body shorter than its Content-Length: cut by the request timeout
        (
            b"POST " + WEBHOOK.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{",
            408,
            1,
        ),
        (b"GET /metr", 408, 1),  # a head that never ends
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 20_000, 400, 0),  # > 16 KiB head
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64, 400, 0),  # TLS to http
    ],
    ids=["content-length-abc", "short-body", "endless-head", "huge-header", "tls-hello"],
)
def test_malformed_requests_get_a_4xx_and_leave_no_traceback(caplog, request_bytes, status, slow):
    caplog.set_level(logging.DEBUG)
    with serving(WebConfig(request_timeout_seconds=1)) as (base, port, _):
        answer, took = exchange(port, request_bytes)
        assert answer.startswith(f"HTTP/1.1 {status} ".encode()), answer[:200]
        assert (0.8 < took < 8) if slow else took < 5
        assert requests.get(f"{base}/healthz", timeout=5).status_code == 200
    no_tracebacks(caplog)


def test_deeply_nested_json_is_a_400(caplog):
    caplog.set_level(logging.DEBUG)
    nested = b"[" * 500_000 + b"]" * 500_000
    with serving() as (base, _, ctx):
        resp = requests.post(base + WEBHOOK, data=nested, timeout=30)
        assert resp.status_code == 400 and "nested" in resp.json()["error"]
        assert ctx.notifications.newest_first() == []
    no_tracebacks(caplog)


class Gate(Collector):
    """A collector whose scrape waits until the test opens the gate."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.entered = threading.Semaphore(0)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        self.entered.release()
        self.open.wait(30)
        yield GaugeMetricFamily("gate", "A gauge.", value=1)


def in_background(call: Callable[[], Any]) -> list[Any]:
    out: list[Any] = []
    threading.Thread(target=lambda: out.append(call()), daemon=True).start()
    return out


def test_requests_beyond_the_concurrency_cap_get_503_and_healthz_stays_open():
    gate = Gate()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(gate)
    web = WebConfig(max_concurrent_requests=2, request_timeout_seconds=20)
    with serving(web, registry=registry) as (base, _, _):
        slow = [in_background(lambda: requests.get(f"{base}/metrics", timeout=30)) for _ in "ab"]
        assert gate.entered.acquire(timeout=10) and gate.entered.acquire(timeout=10)
        refused = requests.get(f"{base}/api/groups", timeout=5)
        assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
        assert requests.get(f"{base}/healthz", timeout=5).status_code == 200
        gate.open.set()
        deadline = time.monotonic() + 10
        while not all(slow) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [r[0].status_code for r in slow] == [200, 200]
        assert requests.get(f"{base}/api/groups", timeout=5).status_code == 200


def test_an_answer_slower_than_the_request_timeout_is_a_503():
    gate = Gate()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(gate)
    with serving(WebConfig(request_timeout_seconds=1), registry=registry) as (base, _, _):
        try:
            resp = requests.get(f"{base}/metrics", timeout=10)
            assert resp.status_code == 503
        finally:
            gate.open.set()
        assert requests.get(f"{base}/healthz", timeout=5).status_code == 200


# -- the webhook ------------------------------------------------------------------------------


def test_the_issue_memory_bomb_is_refused():
    bomb = ('{"alerts":[' + ",".join(["{}"] * 349_500) + "]}").encode()  # ~1 MiB of `{}`
    with serving() as (base, _, ctx):
        for _ in range(3):
            resp = requests.post(base + WEBHOOK, data=bomb, timeout=30)
            assert resp.status_code == 400
        assert ctx.notifications.kept_bytes == 0 and ctx.notifications.received == {}


def test_oversized_bodies_get_413_declared_or_chunked():
    web = WebConfig(webhook_max_body_bytes=10_000)
    with serving(web, history_bytes=10_000) as (base, _, _):
        declared = requests.post(base + WEBHOOK, data=b" " * 10_001, timeout=10)
        assert declared.status_code == 413
        chunked = requests.post(base + WEBHOOK, data=iter([b" " * 6000] * 3), timeout=10)
        assert chunked.status_code == 413
        ok = {"status": "firing", "alerts": [ALERT]}
        assert requests.post(base + WEBHOOK, json=ok, timeout=10).status_code == 200


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def test_thirty_one_mib_notifications_keep_memory_bounded():
    # the largest valid notification of ~1 MiB: many small alerts, the worst case once decoded
    alerts = [{"status": "firing", "labels": {"alertname": f"A{i}"}} for i in range(18_000)]
    body = json.dumps({"status": "firing", "alerts": alerts}).encode()
    assert 900_000 < len(body) <= 1 << 20
    with serving(history_bytes=4 << 20) as (base, _, ctx):
        session = requests.Session()
        assert session.post(base + WEBHOOK, data=body, timeout=30).status_code == 200
        gc.collect()
        before = rss_bytes()
        for _ in range(30):
            assert session.post(base + WEBHOOK, data=body, timeout=30).status_code == 200
        gc.collect()
        grown = rss_bytes() - before
        kept = ctx.notifications
        print(f"\n30 x {len(body):,} B notifications: kept {kept.kept_bytes:,} B, RSS +{grown:,} B")
        assert kept.kept_bytes <= 4 << 20 and len(kept.items) == 4
        assert grown < 64 << 20  # was ~24 MiB per post before
        listed = session.get(f"{base}/api/alerts/notifications", timeout=30).json()
        assert len(listed["notifications"]) == 4

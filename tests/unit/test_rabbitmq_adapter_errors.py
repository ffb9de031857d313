"""HTTP answers → the project's errors, against a scripted management API in a thread."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from collector.brokers.rabbitmq import RabbitMQAdapter, base_url
from collector.config import RabbitMQCluster
from collector.errors import BrokerAuthError, BrokerError, BrokerUnavailable

PASSWORD = "pa55-w0rd"


class Script:
    """What the fake management API answers: path → (status, body)."""

    def __init__(self) -> None:
        self.answers: dict[str, tuple[int, Any]] = {}
        self.seen: list[str] = []


class Handler(BaseHTTPRequestHandler):
    script: Script

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        self.script.seen.append(self.path)
        key = parts.path
        page = parse_qs(parts.query).get("page")
        if page:
            key += f"#{page[0]}"
        status, body = self.script.answers.get(key, (404, {"error": "Object Not Found"}))
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def api() -> Iterator[tuple[str, Script]]:
    script = Script()
    handler = type("H", (Handler,), {"script": script})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", script
    server.shutdown()
    server.server_close()


def adapter(url: str, **overrides: Any) -> RabbitMQAdapter:
    return RabbitMQAdapter(
        RabbitMQCluster(name="t", management_url=url, password=PASSWORD, **overrides)
    )


def healthy(script: Script) -> None:
    script.answers.update(
        {
            "/api/overview": (200, {"rabbitmq_version": "3.10.8"}),
            "/api/exchanges": (200, []),
            "/api/bindings": (200, []),
        }
    )


def page(names: list[str], number: int, count: int) -> dict[str, Any]:
    items = [{"name": n, "vhost": "/", "messages_ready": 1, "consumers": 0} for n in names]
    return {"items": items, "page": number, "page_count": count}


@pytest.mark.parametrize(
    ("case", "status", "body", "error", "text"),
    [
        (
            1,
            401,
            {"error": "not_authorized"},
            BrokerAuthError,
            "authentication failed for user guest",
        ),
        (
            2,
            403,
            {"error": "not_authorized"},
            BrokerAuthError,
            "authentication failed for user guest",
        ),
        (3, 500, {"error": "internal"}, BrokerUnavailable, "HTTP 500"),
        (4, 503, b"<html>down</html>", BrokerUnavailable, "HTTP 503"),
        (5, 404, {"error": "Object Not Found"}, BrokerUnavailable, "not found"),
        (6, 200, b"not json", BrokerUnavailable, "other than JSON"),
        (7, 200, [1, 2], BrokerUnavailable, "unexpected document"),
    ],
)
def test_http_answers_become_project_errors(
    api: tuple[str, Script], case: int, status: int, body: Any, error: type[BrokerError], text: str
) -> None:
    url, script = api
    script.answers["/api/overview"] = (status, body)
    with pytest.raises(error, match=text) as caught:
        adapter(f"http://guest:{PASSWORD}@{url.removeprefix('http://')}").snapshot(0.0)
    assert PASSWORD not in str(caught.value), case


def test_pages_are_followed_and_a_vanished_page_ends_the_listing(api: tuple[str, Script]) -> None:
    url, script = api
    healthy(script)
    script.answers["/api/queues#1"] = (200, page(["a", "b"], 1, 3))
    script.answers["/api/queues#2"] = (200, page(["c", "d"], 2, 3))
    # queues were deleted between pages: RabbitMQ answers 400 page_out_of_range
    script.answers["/api/queues#3"] = (400, {"error": "page_out_of_range"})
    snap = adapter(url, page_size=2).snapshot(42.0)
    assert [q.name for q in snap.queues] == ["a", "b", "c", "d"]
    assert snap.requests == {"overview": 1, "queues": 3, "exchanges": 1, "bindings": 1}
    queue_calls = [p for p in script.seen if p.startswith("/api/queues")]
    assert all("page_size=2" in p and "columns=" in p for p in queue_calls)


def test_vhosts_are_read_one_scope_each_and_escaped(api: tuple[str, Script]) -> None:
    url, script = api
    healthy(script)
    for vhost in ("%2F", "shop"):
        script.answers[f"/api/queues/{vhost}#1"] = (200, page([], 1, 0))
        script.answers[f"/api/exchanges/{vhost}"] = (200, [])
        script.answers[f"/api/bindings/{vhost}"] = (200, [])
    snap = adapter(url, vhosts=("/", "shop")).snapshot(0.0)
    assert snap.requests == {"overview": 1, "queues": 2, "exchanges": 2, "bindings": 2}


def test_page_size_is_capped_at_the_api_limit(api: tuple[str, Script]) -> None:
    url, script = api
    healthy(script)
    script.answers["/api/queues#1"] = (200, page(["a"], 1, 1))
    adapter(url, page_size=5000).snapshot(0.0)
    assert any("page_size=500&" in p or p.endswith("page_size=500") for p in script.seen)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://u:secret@h:15672/", "http://h:15672"),
        ("https://h/rabbit/", "https://h/rabbit"),
        ("http://[::1]:15672", "http://[::1]:15672"),
    ],
)
def test_base_url_drops_credentials(url: str, expected: str) -> None:
    assert base_url(url) == expected

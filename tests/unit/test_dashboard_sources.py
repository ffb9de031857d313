"""HTTP clients: every failure becomes a SourceError whose message a user can read.

A real stdlib server in a thread answers with canned responses (no mocks of requests).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from dashboard.sources import (
    CollectorClient,
    PrometheusClient,
    SourceGarbled,
    SourceMissing,
    SourceRejected,
    SourceUnreachable,
)


class Canned(BaseHTTPRequestHandler):
    """path -> (status, body); records the Authorization header and query strings seen."""

    routes: ClassVar[dict[str, tuple[int, Any]]] = {}
    seen: ClassVar[list[tuple[str, str]]] = []

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        path = self.path.partition("?")[0]
        self.seen.append((self.path, self.headers.get("Authorization", "")))
        status, body = self.routes.get(path, (404, {"error": f"no route {path}"}))
        if body == "SLOW":
            time.sleep(1.0)
            status, body = 200, {}
        raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


@pytest.fixture
def server() -> Iterator[str]:
    Canned.routes = {}
    Canned.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Canned)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def vector(result: list[Any]) -> dict[str, Any]:
    return {"status": "success", "data": {"resultType": "vector", "result": result}}


def test_query_returns_the_vector(server: str) -> None:
    sample = {"metric": {"group": "a"}, "value": [1, "2"]}
    Canned.routes["/api/v1/query"] = (200, vector([sample]))
    assert PrometheusClient(server, 2).query("up") == [sample]
    assert "query=up" in Canned.seen[0][0]


def test_unreachable_names_the_source_and_url() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(SourceUnreachable) as err:
        PrometheusClient(url, 2).query("up")
    assert err.value.message == (
        f"Prometheus at {url} is unreachable: connection refused (is it running?)."
    )


def test_a_slow_source_is_reported_as_such(server: str) -> None:
    Canned.routes["/api/groups"] = (200, "SLOW")
    with pytest.raises(
        SourceUnreachable, match=r"at http://127.0.0.1:\d+ did not answer within 0.2 s"
    ):
        CollectorClient(server, 0.2).groups()


@pytest.mark.parametrize(
    ("route", "answer", "error", "words"),
    [
        (
            "/api/v1/query",
            (400, {"status": "error", "error": "parse error at char 3"}),
            SourceRejected,
            "HTTP 400 to /api/v1/query: parse error at char 3",
        ),
        (
            "/api/v1/query",
            (200, {"status": "error", "error": "boom"}),
            SourceRejected,
            "refused /api/v1/query: boom.",
        ),
        ("/api/v1/query", (200, "<html>proxy login</html>"), SourceGarbled, "not JSON"),
        ("/api/v1/query", (503, "down for maintenance"), SourceRejected, "HTTP 503"),
        (
            "/api/v1/query",
            (200, {"status": "success", "data": {"resultType": "matrix", "result": []}}),
            SourceGarbled,
            "matrix instead of a vector",
        ),
        ("/elsewhere", None, SourceMissing, "has no /api/v1/query: no route /api/v1/query."),
    ],
)
def test_prometheus_failures_in_plain_words(server, route, answer, error, words) -> None:
    if answer is not None:
        Canned.routes[route] = answer
    with pytest.raises(error) as err:
        PrometheusClient(server, 2).query("up")
    assert words in str(err.value)
    assert server in str(err.value)


def test_collector_contract_and_token(server: str) -> None:
    Canned.routes["/api/groups"] = (200, {"groups": [{"group": "a"}]})
    Canned.routes["/api/traces"] = (200, {"traces": []})
    Canned.routes["/api/traces/order%2F7"] = (200, {"correlation_id": "order/7", "hops": []})
    client = CollectorClient(server, 2, token="s3cret")
    assert client.groups() == [{"group": "a"}]
    assert client.traces("failed", 1764150000, 20) == []
    assert client.journey("order/7")["correlation_id"] == "order/7"
    assert "status=failed" in Canned.seen[1][0] and "since=1764150000" in Canned.seen[1][0]
    assert {auth for _, auth in Canned.seen} == {"Bearer s3cret"}


def test_collector_without_trace_api_is_missing_not_broken(server: str) -> None:
    Canned.routes["/api/traces"] = (404, {"error": "tracing is not enabled in this collector"})
    with pytest.raises(SourceMissing, match="tracing is not enabled"):
        CollectorClient(server, 2).traces("failed", None, 20)


def test_an_answer_without_the_promised_key_is_garbled(server: str) -> None:
    Canned.routes["/api/alerts/notifications"] = (200, {"items": []})
    with pytest.raises(SourceGarbled, match="'notifications'"):
        CollectorClient(server, 2).notifications()


def test_a_rejected_token_says_so_without_showing_it(server: str) -> None:
    Canned.routes["/api/groups"] = (401, {"error": "missing or wrong bearer token"})
    with pytest.raises(SourceRejected) as err:
        CollectorClient(server, 2, token="s3cret").groups()
    assert "HTTP 401" in err.value.message and "wrong bearer token" in err.value.message
    assert "s3cret" not in err.value.message


def test_collector_group_detail_by_cluster(server: str) -> None:
    Canned.routes["/api/groups/a%2Fb"] = (200, {"group": "a/b", "member_list": []})
    client = CollectorClient(server, 2)
    assert client.group("a/b", "east")["group"] == "a/b"
    assert Canned.seen[-1][0] == "/api/groups/a%2Fb?cluster=east"
    with pytest.raises(SourceMissing, match="no consumer group 'x'"):
        Canned.routes["/api/groups/x"] = (404, {"error": "no consumer group 'x'"})
        client.group("x")

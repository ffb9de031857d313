"""The collector's HTTP server: /metrics, /healthz, the JSON API and the Alertmanager webhook.

Routes:
    GET  /metrics                    Prometheus exposition of the latest poll (never calls a broker)
    GET  /healthz                    200 while the process serves
    GET  /api/clusters               per-cluster up/error/last poll
    GET  /api/groups                 every group with status, reason, state, members
    GET  /api/groups/{group}?cluster=   one group: status, state, each member (client id, host,
                                     assigned partitions, lag per member), unassigned partitions;
                                     404 unknown group, 409 same name in several clusters
    GET  /api/topology               broker-side routing per cluster (EventBridge bus → rule →
                                     queue → service), rule failed invocations
    POST /api/alerts/webhook         Alertmanager webhook receiver (keeps the last N notifications)
    GET  /api/alerts/notifications   those notifications, newest first
    GET  /api/traces/{id}            one correlation ID's journey
    GET  /api/traces?status=&since=&until=&service=&event_type=&limit=   recent journeys

When `api_token` is set, /api/* requires `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from collector.exporters.exposition import render_exposition
from collector.exporters.group_detail import find_group, group_detail_json
from collector.model import ClusterView

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1 << 20
MAX_QUERY_CHARS = 4096
MAX_LIMIT = 500
_ID = re.compile(r"[A-Za-z0-9._:@-]{1,200}")


class TraceReader(Protocol):
    def journey(self, correlation_id: str) -> dict[str, Any] | None: ...

    def search(
        self,
        status: str | None,
        since: float | None,
        until: float | None,
        service: str | None,
        event_type: str | None,
        limit: int,
    ) -> list[dict[str, Any]]: ...


@dataclass
class Notifications:
    """The last `limit` Alertmanager notifications, newest last."""

    limit: int = 500
    items: deque[dict[str, Any]] = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)
    received: dict[str, int] = field(default_factory=dict)

    def add(self, payload: dict[str, Any], now: float) -> None:
        with self.lock:
            self.items.append({**payload, "received_at": now})
            while len(self.items) > self.limit:
                self.items.popleft()
            status = str(payload.get("status", "unknown"))
            self.received[status] = self.received.get(status, 0) + 1

    def newest_first(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(reversed(self.items))


class NotificationLog(Protocol):
    """What the webhook routes need: `Notifications` here, `alert_history.AlertHistory` on disk."""

    def add(self, payload: dict[str, Any], now: float) -> None: ...

    def newest_first(self) -> list[dict[str, Any]]: ...


@dataclass
class ApiContext:
    registry: CollectorRegistry
    views: Callable[[], Sequence[ClusterView]]
    notifications: NotificationLog
    api_token: str = ""
    traces: TraceReader | None = None
    topology: Callable[[], list[dict[str, Any]]] = list  # see collector.exporters.topology


class Handler(BaseHTTPRequestHandler):
    server_version = "eventscope"
    ctx: ApiContext  # set on the subclass made by `make_server`

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - %s", self.address_string(), format % args)

    # -- dispatch --------------------------------------------------------------------------

    def do_GET(self) -> None:
        if len(self.path) > MAX_QUERY_CHARS:
            return self._json(HTTPStatus.REQUEST_URI_TOO_LONG, {"error": "request URI too long"})
        url = urlsplit(self.path)
        path = url.path
        if path == "/metrics":
            return self._metrics()
        if path == "/healthz":
            return self._send(HTTPStatus.OK, b"ok\n", "text/plain; charset=utf-8")
        if not path.startswith("/api/"):
            return self._json(HTTPStatus.NOT_FOUND, {"error": f"no route {path}"})
        if not self._authorized():
            return None
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        if path == "/api/clusters":
            return self._json(
                HTTPStatus.OK, {"clusters": [cluster_json(v) for v in self.ctx.views()]}
            )
        if path == "/api/groups":
            return self._json(HTTPStatus.OK, {"groups": groups_json(self.ctx.views())})
        if path.startswith("/api/groups/"):
            return self._group(unquote(path[len("/api/groups/") :]), query.get("cluster"))
        if path == "/api/topology":
            return self._json(HTTPStatus.OK, {"clusters": self.ctx.topology()})
        if path == "/api/alerts/notifications":
            return self._json(
                HTTPStatus.OK, {"notifications": self.ctx.notifications.newest_first()}
            )
        if path == "/api/traces" or path.startswith("/api/traces/"):
            return self._traces(path, query)
        return self._json(HTTPStatus.NOT_FOUND, {"error": f"no route {path}"})

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        if path != "/api/alerts/webhook":
            return self._json(HTTPStatus.NOT_FOUND, {"error": f"no route {path}"})
        if not self._authorized():
            return None
        length = int(self.headers.get("Content-Length") or 0)
        if length <= 0 or length > MAX_BODY_BYTES:
            return self._json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": "body size"})
        try:
            payload = json.loads(self.rfile.read(length))
        except (ValueError, UnicodeDecodeError):
            return self._json(HTTPStatus.BAD_REQUEST, {"error": "body is not JSON"})
        if not isinstance(payload, dict) or "alerts" not in payload:
            return self._json(HTTPStatus.BAD_REQUEST, {"error": "not an Alertmanager payload"})
        self.ctx.notifications.add(payload, time.time())
        return self._json(HTTPStatus.OK, {"ok": True})

    # -- routes ----------------------------------------------------------------------------

    def _metrics(self) -> None:
        # the same bytes as prometheus_client.generate_latest, ~3x faster at 50k series
        body = render_exposition(self.ctx.registry.collect())
        self._send(HTTPStatus.OK, body, CONTENT_TYPE_LATEST)

    def _group(self, group: str, cluster: str | None) -> None:
        if not group:
            return self._json(HTTPStatus.NOT_FOUND, {"error": "no group named in the path"})
        found = find_group(self.ctx.views(), group, cluster)
        if found.ambiguous:
            body = {"error": found.error, "clusters": list(found.clusters)}
            return self._json(HTTPStatus.CONFLICT, body)
        if found.view is None or found.row is None:
            return self._json(HTTPStatus.NOT_FOUND, {"error": found.error})
        return self._json(HTTPStatus.OK, group_detail_json(found.view, found.row))

    def _traces(self, path: str, query: dict[str, str]) -> None:
        traces = self.ctx.traces
        if traces is None:
            return self._json(
                HTTPStatus.NOT_FOUND, {"error": "tracing is not enabled in this collector"}
            )
        if path.startswith("/api/traces/"):
            ident = unquote(path[len("/api/traces/") :])
            if not _ID.fullmatch(ident):
                return self._json(HTTPStatus.BAD_REQUEST, {"error": "malformed correlation ID"})
            journey = traces.journey(ident)
            if journey is None:
                return self._json(HTTPStatus.NOT_FOUND, {"error": f"no journey for {ident}"})
            return self._json(HTTPStatus.OK, journey)
        try:
            limit = min(MAX_LIMIT, int(query.get("limit", "50")))
            since = float(query["since"]) if "since" in query else None
            until = float(query["until"]) if "until" in query else None
        except ValueError:
            return self._json(
                HTTPStatus.BAD_REQUEST, {"error": "limit/since/until must be numbers"}
            )
        status = query.get("status")
        known = (None, "failed", "slow", "in_flight", "complete", "compensated", "dead_lettered")
        if status not in known:
            return self._json(HTTPStatus.BAD_REQUEST, {"error": f"unknown status {status!r}"})
        found = traces.search(
            status, since, until, query.get("service"), query.get("event_type"), max(1, limit)
        )
        return self._json(HTTPStatus.OK, {"traces": found})

    # -- plumbing --------------------------------------------------------------------------

    def _authorized(self) -> bool:
        token = self.ctx.api_token
        if not token:
            return True
        given = self.headers.get("Authorization", "")
        if hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return True
        self._json(HTTPStatus.UNAUTHORIZED, {"error": "missing or wrong bearer token"})
        return False

    def _json(self, status: HTTPStatus, payload: Any) -> None:
        body = json.dumps(payload, default=str).encode()
        self._send(status, body, "application/json")

    def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def cluster_json(v: ClusterView) -> dict[str, Any]:
    return {
        "broker": v.broker.value,
        "cluster_name": v.cluster,
        "up": v.up,
        "auth_failed": v.auth_failed,
        "error": v.error,
        "polled_at": v.polled_at,
        "last_success_at": v.last_success_at,
        "groups": len(v.groups),
    }


def groups_json(views: Sequence[ClusterView]) -> list[dict[str, Any]]:
    out = []
    for v in views:
        for g in v.groups:
            out.append(
                {
                    "broker": v.broker.value,
                    "cluster_name": v.cluster,
                    "group": g.group,
                    "status": g.status.name,
                    "reason": g.reason,
                    "state": g.state,
                    "members": g.members,
                    "folded": g.folded,
                }
            )
    return out


def make_server(host: str, port: int, ctx: ApiContext) -> ThreadingHTTPServer:
    handler = type("BoundHandler", (Handler,), {"ctx": ctx})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server

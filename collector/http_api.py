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
    POST /api/alerts/webhook         Alertmanager webhook receiver: 400 unless an Alertmanager
                                     notification, 413 above web.webhook_max_body_bytes; keeps
                                     the last N, at most webhook_history_bytes
    GET  /api/alerts/notifications   those notifications, newest first
    GET  /api/traces/{id}            one correlation ID's journey
    GET  /api/traces?status=&since=&until=&service=&event_type=&limit=   recent journeys

When `api_token` is set, /api/* requires `Authorization: Bearer <token>`; with basic auth users in
the web config file, basic credentials open /api/* too, and /metrics needs them (see
collector/web/limits.py). The app is served by `collector.web.server.HttpServer`.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qs

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from collector.alert_notification import InvalidNotification, parse_notification
from collector.exporters.exposition import render_exposition
from collector.exporters.group_detail import find_group, group_detail_json
from collector.model import ClusterView
from collector.web.auth import BasicAuth
from collector.web.config import WebConfig, WebConfigFile
from collector.web.limits import AccessGate, ConcurrencyCap
from collector.web.server import HttpServer

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
    """The last `limit` Alertmanager notifications, newest last, at most `max_bytes` in all.

    Each is kept encoded (compact JSON with its `received_at`), so the bound is the memory held:
    decoded, a small alert costs about ten times its JSON. `add` takes a payload already checked
    by `parse_notification`; the oldest go first when either bound is passed.
    """

    limit: int = 500
    max_bytes: int = 8 << 20
    items: deque[bytes] = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)
    received: dict[str, int] = field(default_factory=dict)
    kept_bytes: int = 0

    def add(self, payload: dict[str, Any], now: float) -> None:
        encoded = json.dumps({**payload, "received_at": now}, separators=(",", ":")).encode()
        with self.lock:
            self.items.append(encoded)
            self.kept_bytes += len(encoded)
            while len(self.items) > self.limit or (
                self.kept_bytes > self.max_bytes and len(self.items) > 1
            ):
                self.kept_bytes -= len(self.items.popleft())
            status = str(payload.get("status", "unknown"))
            self.received[status] = self.received.get(status, 0) + 1

    def newest_first(self) -> list[dict[str, Any]]:
        return [json.loads(item) for item in self._newest_first()]

    def newest_first_json(self) -> bytes:
        """`{"notifications": [...]}` newest first, joined from the kept bytes (no decoding)."""
        return b'{"notifications":[' + b",".join(self._newest_first()) + b"]}"

    def _newest_first(self) -> list[bytes]:
        with self.lock:
            return list(reversed(self.items))


class NotificationLog(Protocol):
    """What the webhook routes need: `Notifications` here, `alert_history.AlertHistory` on disk."""

    def add(self, payload: dict[str, Any], now: float) -> None: ...

    def newest_first(self) -> list[dict[str, Any]]: ...

    def newest_first_json(self) -> bytes: ...


@dataclass
class ApiContext:
    registry: CollectorRegistry
    views: Callable[[], Sequence[ClusterView]]
    notifications: NotificationLog
    api_token: str = ""
    traces: TraceReader | None = None
    topology: Callable[[], list[dict[str, Any]]] = list  # see collector.exporters.topology


class Api:
    """The routes over one `ApiContext`; sync routes run in Starlette's threadpool."""

    def __init__(self, ctx: ApiContext, web: WebConfig) -> None:
        self.ctx = ctx
        self.web = web

    def routes(self) -> list[Route]:
        return [
            Route("/metrics", self.metrics),
            Route("/healthz", self.healthz),
            Route("/api/clusters", self.clusters),
            Route("/api/groups", self.groups),
            Route("/api/groups/{group:path}", self.group),
            Route("/api/topology", self.topology),
            Route("/api/alerts/notifications", self.notifications),
            Route("/api/alerts/webhook", self.webhook, methods=["POST"]),
            Route("/api/traces", self.trace_search),
            Route("/api/traces/{ident:path}", self.journey),
        ]

    def metrics(self, request: Request) -> Response:
        # the same bytes as prometheus_client.generate_latest, ~3x faster at 50k series
        body = render_exposition(self.ctx.registry.collect())
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    async def healthz(self, request: Request) -> Response:
        return PlainTextResponse("ok\n")

    def clusters(self, request: Request) -> Response:
        return JSONResponse({"clusters": [cluster_json(v) for v in self.ctx.views()]})

    def groups(self, request: Request) -> Response:
        return JSONResponse({"groups": groups_json(self.ctx.views())})

    def group(self, request: Request) -> Response:
        group = request.path_params["group"]
        if not group:
            return error(404, "no group named in the path")
        found = find_group(self.ctx.views(), group, query(request).get("cluster"))
        if found.ambiguous:
            return JSONResponse({"error": found.error, "clusters": list(found.clusters)}, 409)
        if found.view is None or found.row is None:
            return error(404, found.error)
        return json_response(group_detail_json(found.view, found.row))

    def topology(self, request: Request) -> Response:
        return JSONResponse({"clusters": self.ctx.topology()})

    def notifications(self, request: Request) -> Response:
        body = self.ctx.notifications.newest_first_json()
        return Response(body, media_type="application/json")

    async def webhook(self, request: Request) -> Response:
        limit = self.web.webhook_max_body_bytes
        if int(request.headers.get("content-length") or 0) > limit:  # h11 checked it is a number
            return error(413, f"body larger than {limit} bytes")
        body = bytearray()
        try:
            async for chunk in request.stream():
                body += chunk
                if len(body) > limit:
                    return error(413, f"body larger than {limit} bytes")
        except ClientDisconnect:  # gone, or cut by the request timeout: nobody to answer
            return Response(status_code=400)
        if not body:
            return error(400, "empty body")
        try:
            await run_in_threadpool(self._keep_notification, bytes(body))
        except InvalidNotification as exc:
            return error(400, str(exc))
        return JSONResponse({"ok": True})

    def _keep_notification(self, body: bytes) -> None:
        self.ctx.notifications.add(parse_notification(body), time.time())

    def journey(self, request: Request) -> Response:
        traces = self.ctx.traces
        if traces is None:
            return error(404, "tracing is not enabled in this collector")
        ident = request.path_params["ident"]
        if not _ID.fullmatch(ident):
            return error(400, "malformed correlation ID")
        journey = traces.journey(ident)
        if journey is None:
            return error(404, f"no journey for {ident}")
        return json_response(journey)

    def trace_search(self, request: Request) -> Response:
        traces = self.ctx.traces
        if traces is None:
            return error(404, "tracing is not enabled in this collector")
        q = query(request)
        try:
            limit = min(MAX_LIMIT, int(q.get("limit", "50")))
            since = float(q["since"]) if "since" in q else None
            until = float(q["until"]) if "until" in q else None
        except ValueError:
            return error(400, "limit/since/until must be numbers")
        status = q.get("status")
        known = (None, "failed", "slow", "in_flight", "complete", "compensated", "dead_lettered")
        if status not in known:
            return error(400, f"unknown status {status!r}")
        found = traces.search(
            status, since, until, q.get("service"), q.get("event_type"), max(1, limit)
        )
        return json_response({"traces": found})


class UriLimit:
    """414 for a path and query longer than MAX_QUERY_CHARS, before anything reads them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (
            len(scope.get("raw_path") or b"") + len(scope["query_string"]) >= MAX_QUERY_CHARS
        ):
            await error(414, "request URI too long")(scope, receive, send)
            return
        await self.app(scope, receive, send)


def build_app(
    ctx: ApiContext, web: WebConfig | None = None, basic: BasicAuth | None = None
) -> ASGIApp:
    """The whole HTTP surface: URI limit, concurrency cap, access gate, then the routes."""
    web = web or WebConfig()

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        what = f"no route {request.url.path}" if status == 404 else f"{request.method} not allowed"
        return error(status, what)

    app = Starlette(routes=Api(ctx, web).routes(), exception_handlers={HTTPException: http_error})
    gated = AccessGate(app, ctx.api_token, basic)
    return UriLimit(ConcurrencyCap(gated, web.max_concurrent_requests))


def query(request: Request) -> dict[str, str]:
    """The query's last value per name, blank values left out (as parse_qs does)."""
    return {k: v[-1] for k, v in parse_qs(request.url.query).items()}


def error(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status)


def json_response(payload: Any) -> Response:
    """JSON with `default=str`, for the trace and group answers that carry odd types."""
    return Response(json.dumps(payload, default=str).encode(), media_type="application/json")


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


def make_server(
    host: str,
    port: int,
    ctx: ApiContext,
    web: WebConfig | None = None,
    web_file: WebConfigFile | None = None,
) -> HttpServer:
    """The listener for `ctx`, not yet started: `start()`, read `.port`, then `stop()`."""
    web_file = web_file or WebConfigFile()
    basic = BasicAuth(web_file.basic_auth_users) if web_file.basic_auth_users else None
    app = build_app(ctx, web, basic)
    return HttpServer(app, host, port, web, web_file.tls_server_config)

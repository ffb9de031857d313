"""ASGI middleware of the listener: the cap on requests in flight, and who may call what.

Access (`AccessGate`), when credentials are configured:

    /healthz   always open (liveness probes; it says nothing but "ok")
    /api/*     `Authorization: Bearer <api_token>` or basic auth, whichever is configured
    the rest   (/metrics) basic auth when `basic_auth_users` is set, else open

One Authorization header cannot carry both schemes, so either credential opens /api/*.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from collector.web.auth import BasicAuth, bearer_matches, parse_basic

OPEN_PATHS = frozenset({"/healthz"})


async def send_json(
    send: Send, status: int, payload: Any, headers: list[tuple[bytes, bytes]]
) -> None:
    body = json.dumps(payload).encode()
    head = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": head + headers})
    await send({"type": "http.response.body", "body": body})


class ConcurrencyCap:
    """At most `limit` requests in flight (one event loop: a plain counter); more get 503."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            return await self.app(scope, receive, send)
        if self.in_flight >= self.limit:
            error = {"error": f"more than {self.limit} requests in flight, retry shortly"}
            return await send_json(send, 503, error, [(b"retry-after", b"1")])
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


class AccessGate:
    def __init__(self, app: ASGIApp, api_token: str, basic: BasicAuth | None) -> None:
        self.app = app
        self.api_token = api_token
        self.basic = basic

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or await self._allowed(scope):
            return await self.app(scope, receive, send)
        if self.basic is not None:
            challenge = [(b"www-authenticate", b'Basic realm="eventscope", charset="UTF-8"')]
            error = "missing or wrong credentials"
        else:
            challenge = [(b"www-authenticate", b"Bearer")]
            error = "missing or wrong bearer token"
        await send_json(send, 401, {"error": error}, challenge)

    async def _allowed(self, scope: Scope) -> bool:
        path: str = scope["path"]
        api = path.startswith("/api/")
        if path in OPEN_PATHS or (self.basic is None and not (api and self.api_token)):
            return True
        header = next((v for k, v in scope["headers"] if k == b"authorization"), b"")
        given = header.decode("latin-1")
        if api and self.api_token and bearer_matches(given, self.api_token):
            return True
        credentials = parse_basic(given) if self.basic is not None else None
        if credentials is None or self.basic is None:
            return False
        return await run_in_threadpool(self.basic.check, *credentials)

"""The listener: uvicorn (h11) in a thread of its own, with the timers uvicorn lacks.

uvicorn closes a keep-alive connection after a quiet spell, but not a connection that never sent
a byte, a request head that trickles in, nor a body shorter than its Content-Length. Its HTTP
protocol is subclassed here to add, per connection:

- an idle timer (`idle_timeout_seconds`): armed when the connection opens and after each answer;
  a connection with no request in progress is closed when it fires;
- a request timer (`request_timeout_seconds`): armed by a request's first byte, cleared when its
  answer is written and its body fully read; when it fires the client gets 408 (body still
  missing) or 503 (the answer took too long) if nothing was sent yet, and the connection closes;
- a connection cap (`max_connections`): connections beyond it are closed as they are accepted.

The socket is bound in `start()` (so a port in use fails there, and port 0 learns its port) with
`backlog` as its listen queue; the open-file soft limit is raised to the hard one first, as Go
programs do, so idle sockets cannot starve the process of file descriptors.
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
import socket
import ssl
import threading
import time
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from collector.web.config import TlsServerConfig, WebConfig, server_ssl_context

log = logging.getLogger(__name__)

RESERVED_FILES = 256  # descriptors kept for brokers, the trace store and logs
START_TIMEOUT_SECONDS = 10.0
STOP_TIMEOUT_SECONDS = 5


class TimedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol plus the idle timer, the request timer and the connection cap."""

    max_connections = 2048  # set on the subclass `HttpServer` makes
    request_timeout = 10.0
    refusing = False  # at the connection cap: logged once when reached, once when left
    _request_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        at_cap = len(self.connections) > self.max_connections
        if at_cap != type(self).refusing:
            type(self).refusing = at_cap
            if at_cap:
                log.warning(
                    "refusing connections: web.max_connections=%d open", self.max_connections
                )
            else:
                log.warning("accepting connections again")
        if at_cap:
            transport.close()
            return
        # uvicorn arms this only after an answer; a connection that never speaks expires too
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )

    def data_received(self, data: bytes) -> None:
        if self._request_timer is None:
            self._request_timer = self.loop.call_later(self.request_timeout, self._request_expired)
        super().data_received(data)

    def on_response_complete(self) -> None:
        if self.conn.their_state is h11.DONE:  # else the unread body stays on the clock
            self._clear_request_timer()
        super().on_response_complete()
        if self.cycle is not None and not self.cycle.response_complete:  # a pipelined request
            self._request_timer = self.loop.call_later(self.request_timeout, self._request_expired)

    def connection_lost(self, exc: Exception | None) -> None:
        self._clear_request_timer()
        super().connection_lost(exc)

    def _clear_request_timer(self) -> None:
        if self._request_timer is not None:
            self._request_timer.cancel()
            self._request_timer = None

    def _request_expired(self) -> None:
        self._request_timer = None
        if self.transport.is_closing():
            return
        # our_state IDLE: the head is incomplete; SEND_RESPONSE: the app has not answered yet.
        # Later states mean an answer (or part of one) went out: then the connection just closes.
        if self.conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
            cycle = self.cycle
            if cycle is not None and not cycle.response_complete:
                cycle.disconnected = True  # the app's late answer is dropped, its reads end
                cycle.message_event.set()
            slow_app = (
                self.conn.our_state is h11.SEND_RESPONSE and self.conn.their_state is h11.DONE
            )
            self.transport.write(_plain_answer(503 if slow_app else 408))
        self.transport.close()


def _plain_answer(status: int) -> bytes:
    reason = {408: "Request Timeout", 503: "Service Unavailable"}[status]
    body = json.dumps({"error": f"{reason.lower()}: the request took too long"}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


def raise_open_file_limit() -> int:
    """Raise RLIMIT_NOFILE's soft limit to its hard limit; return the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


class HttpServer:
    """One ASGI app on one host:port, served from a daemon thread; `start()` then `stop()`."""

    def __init__(
        self,
        app: Any,
        host: str,
        port: int,
        web: WebConfig | None = None,
        tls: TlsServerConfig | None = None,
    ) -> None:
        self.web = web or WebConfig()
        self.host, self.port = host, port
        self.ssl_context: ssl.SSLContext | None = server_ssl_context(tls) if tls else None
        self.app = app
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def scheme(self) -> str:
        return "https" if self.ssl_context else "http"

    def start(self) -> None:
        web = self.web
        files = raise_open_file_limit()
        max_connections = min(web.max_connections, max(64, files - RESERVED_FILES))
        if max_connections < web.max_connections:
            log.warning(
                "web.max_connections lowered to %d: the open-file limit is %d",
                max_connections,
                files,
            )
        protocol = type(
            "BoundTimedH11Protocol",
            (TimedH11Protocol,),
            {"max_connections": max_connections, "request_timeout": web.request_timeout_seconds},
        )
        sock = bind_socket(self.host, self.port, web.backlog)
        config = uvicorn.Config(
            self.app,
            http=protocol,
            ws="none",
            lifespan="off",
            log_config=None,
            log_level="warning",  # uvicorn's start/stop chatter; bad requests still warn
            access_log=False,
            proxy_headers=False,  # no X-Forwarded-For trusted: the collector faces clients
            server_header=False,
            headers=[("server", "eventscope")],
            backlog=web.backlog,
            timeout_keep_alive=web.idle_timeout_seconds,  # type: ignore[arg-type]
            timeout_graceful_shutdown=STOP_TIMEOUT_SECONDS,
            h11_max_incomplete_event_size=16 * 1024,
        )
        config.load()
        config.ssl = self.ssl_context
        self._server = server = uvicorn.Server(config)
        self.port = sock.getsockname()[1]
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="http", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        if not server.started:
            raise RuntimeError("the HTTP listener did not start")

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(STOP_TIMEOUT_SECONDS + 2)
        self._server = None


def bind_socket(host: str, port: int, backlog: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock

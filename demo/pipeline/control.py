"""The control endpoint: JSON over HTTP on 127.0.0.1, to turn the knobs while the demo runs.

    GET  /status[?ids=1]                     counters per broker and service, knob values;
                                             ids=1 adds the correlation IDs per outcome
    POST /rate    {"orders": 5, "interactions": 20}   events per second, per broker
    POST /slow    {"service": "payment-service", "ms": 200}   extra processing time per event
    POST /stop    {"service": "payment-service"}      its consumer leaves (Kafka group Empty,
                                                      RabbitMQ queue without consumer)
    POST /start   {"service": "payment-service"}
    POST /poison  {"rate": 0.2}                       share of new orders with an unknown product
    POST /burst   {"orders": 200}                     place that many orders at once, per broker

`send(url, knob, **args)` is the client: `send(url, "slow", service="payment-service", ms=200)`.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from demo.pipeline.knobs import Knobs

log = logging.getLogger(__name__)

KNOBS = ("rate", "slow", "stop", "start", "poison", "burst")


class ControlError(RuntimeError):
    """The control endpoint refused a request or could not be reached."""


def _apply(knobs: Knobs, knob: str, args: dict[str, Any]) -> None:
    """Turn one knob; KeyError / ValueError / TypeError become HTTP 400."""
    match knob:
        case "rate":
            if "orders" not in args and "interactions" not in args:
                raise ValueError("give orders and/or interactions (events per second)")
            knobs.set_rate(_float(args.get("orders")), _float(args.get("interactions")))
        case "slow":
            knobs.set_slow(str(args["service"]), int(args["ms"]))
        case "stop" | "start":
            knobs.set_stopped(str(args["service"]), knob == "stop")
        case "poison":
            knobs.set_poison_rate(float(args["rate"]))
        case "burst":
            knobs.add_burst(int(args["orders"]))
        case _:
            raise LookupError(knob)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


class ControlServer:
    """A ThreadingHTTPServer in a daemon thread; `status` builds the GET /status document."""

    def __init__(self, address: str, knobs: Knobs, status: Callable[[bool], dict[str, Any]]):
        host, _, port = address.rpartition(":")
        handler = _handler_class(knobs, status)
        self._server = ThreadingHTTPServer((host, int(port)), handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},  # how long shutdown() may wait
            name="pipeline-control",
            daemon=True,
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> ControlServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def _handler_class(
    knobs: Knobs, status: Callable[[bool], dict[str, Any]]
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path != "/status":
                self._reply(HTTPStatus.NOT_FOUND, {"error": f"no such endpoint {url.path}"})
                return
            ids = parse_qs(url.query).get("ids", ["0"])[0] not in ("0", "false", "")
            self._reply(HTTPStatus.OK, status(ids))

        def do_POST(self) -> None:
            knob = urlsplit(self.path).path.strip("/")
            if knob not in KNOBS:
                self._reply(HTTPStatus.NOT_FOUND, {"error": f"no such knob {knob!r}; {KNOBS}"})
                return
            try:
                length = int(self.headers.get("Content-Length") or 0)
                args = json.loads(self.rfile.read(length) or b"{}")
                if not isinstance(args, dict):
                    raise ValueError("body must be a JSON object")
                _apply(knobs, knob, args)
            except KeyError as exc:
                self._reply(HTTPStatus.BAD_REQUEST, {"error": f"missing argument {exc}"})
                return
            except (ValueError, TypeError) as exc:
                self._reply(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
                return
            log.info("knob %s %s", knob, args)
            self._reply(HTTPStatus.OK, {"ok": True, "knobs": knobs.snapshot()})

        def _reply(self, code: HTTPStatus, document: dict[str, Any]) -> None:
            payload = json.dumps(document).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("control: " + format, *args)

    return Handler


def send(url: str, knob: str, timeout: float = 5.0, **args: Any) -> dict[str, Any]:
    """Turn a knob (or read `status`) on a running pipeline; returns the JSON answer.

    Example: `send("http://127.0.0.1:8765", "stop", service="payment-service")`.
    Raises ControlError with the server's explanation on a refused request.
    """
    base = url.rstrip("/")
    try:
        if knob == "status":
            params = {"ids": "1"} if args.get("ids") else None
            resp = requests.get(f"{base}/status", params=params, timeout=timeout)
        else:
            resp = requests.post(f"{base}/{knob}", json=args, timeout=timeout)
    except requests.RequestException as exc:
        raise ControlError(f"cannot reach the demo pipeline at {base}: {exc}") from exc
    try:
        document: dict[str, Any] = resp.json()
    except ValueError as exc:
        raise ControlError(f"{base}/{knob}: HTTP {resp.status_code}, not JSON") from exc
    if resp.status_code != 200:
        raise ControlError(f"{knob}: {document.get('error', resp.status_code)}")
    return document

"""`eventscope` command line: collect, demo, trace, check-config, dashboard."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
from typing import Any

import requests

from collector import __version__
from collector.errors import ConfigError

log = logging.getLogger("eventscope")


def setup_logging(level: str) -> None:
    from collector.redact import RedactingFormatter

    handler = logging.StreamHandler()  # every line, traceback included, without URL secrets
    handler.setFormatter(
        RedactingFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
    )
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO), handlers=[handler])
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    if level != "debug":  # librdkafka logs every reconnect attempt; state changes are logged once
        logging.getLogger("eventscope.librdkafka").setLevel(logging.CRITICAL)


def cmd_collect(args: argparse.Namespace) -> int:
    from collector.config import load_config
    from collector.memory import limit_malloc_arenas
    from collector.service import CollectorService

    limit_malloc_arenas()  # before any thread: RSS stays flat (collector/memory.py)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"eventscope: {exc}", file=sys.stderr)
        return 2
    setup_logging(args.log_level or config.log_level)
    listen = args.listen or config.listen
    try:
        service = CollectorService(config, listen)
    except ConfigError as exc:
        print(f"eventscope: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        service.start()
    except OSError as exc:
        print(f"eventscope: cannot listen on {listen}: {exc.strerror}", file=sys.stderr)
        return 1
    stop.wait()
    log.info("stopping")
    service.stop()
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    from collector.config import load_config

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"eventscope: {exc}", file=sys.stderr)
        return 2
    print(f"{args.config}: OK ({len(config.clusters)} cluster(s))")
    return 0


def cmd_trace(args: argparse.Namespace) -> int:
    if args.store:
        return trace_from_store(args)
    headers = {}
    token = os.environ.get("EVENTSCOPE_API_TOKEN", "")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    url = f"{args.collector.rstrip('/')}/api/traces/{args.correlation_id}"
    try:
        resp = requests.get(url, headers=headers, timeout=10)
    except requests.RequestException as exc:
        print(f"eventscope: collector at {args.collector} unreachable: {exc}", file=sys.stderr)
        return 1
    if resp.status_code == 404:
        print(f"eventscope: {resp.json().get('error', 'not found')}", file=sys.stderr)
        return 1
    if resp.status_code != 200:
        print(f"eventscope: collector answered HTTP {resp.status_code}", file=sys.stderr)
        return 1
    journey: dict[str, Any] = resp.json()
    return print_journey(journey, args.json)


def trace_from_store(args: argparse.Namespace) -> int:
    """Read the trace store file directly (no collector needed), e.g. after a crash."""
    import time

    from collector.tracing.api import journey_from_store

    tracing = None
    if args.config:
        from collector.config import load_config

        try:
            tracing = load_config(args.config).tracing
        except ConfigError as exc:
            print(f"eventscope: {exc}", file=sys.stderr)
            return 2
    try:
        journey = journey_from_store(args.store, args.correlation_id, time.time(), tracing)
    except FileNotFoundError as exc:
        print(f"eventscope: {exc}", file=sys.stderr)
        return 1
    if journey is None:
        print(f"eventscope: no journey for {args.correlation_id}", file=sys.stderr)
        return 1
    return print_journey(journey, args.json)


def print_journey(journey: dict[str, Any], as_json: bool) -> int:
    if as_json:
        print(json.dumps(journey, indent=2))
        return 0
    from collector.tracing.render import journey_text

    print(journey_text(journey))
    return 0


DASHBOARD_STOP_SECONDS = 10.0  # for Streamlit to stop after SIGTERM before it is killed


def cmd_dashboard(args: argparse.Namespace) -> int:
    """Run Streamlit as a child in a process group of its own, and stop that group on SIGTERM
    or SIGINT: a plain `subprocess.call` died on SIGTERM and left Streamlit serving."""
    from dashboard.settings import streamlit_argv, streamlit_env

    argv = [sys.executable, *streamlit_argv(args.address, args.port)]
    child = subprocess.Popen(argv, env=streamlit_env(os.environ), start_new_session=True)
    stopping = threading.Event()

    def stop(signum: int, _frame: object) -> None:
        stopping.set()
        _signal_group(child.pid, signal.SIGTERM)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop)
    try:
        code = child.wait()
    finally:
        if child.poll() is None:  # an exception while waiting: never leave it behind
            _signal_group(child.pid, signal.SIGTERM)
        try:
            child.wait(DASHBOARD_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        _signal_group(child.pid, signal.SIGKILL)  # anything Streamlit itself started
    return 0 if stopping.is_set() else code


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # the group is gone
        os.killpg(pgid, sig)


def cmd_demo(args: argparse.Namespace) -> int:
    from demo.stack import run_demo

    return run_demo(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="eventscope",
        description="Observability for event-driven systems: consumer lag in messages and "
        "seconds, dead letters, and correlation-ID journeys across Kafka and RabbitMQ.",
    )
    parser.add_argument("--version", action="version", version=f"eventscope {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("collect", help="run the collector (polls brokers, serves /metrics)")
    p.add_argument(
        "--config", required=True, help="YAML config (see deploy/eventscope.example.yml)"
    )
    p.add_argument("--listen", help="HOST:PORT to serve on (default from config: 127.0.0.1:9308)")
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    p.set_defaults(func=cmd_collect)

    p = sub.add_parser("check-config", help="validate a config file without connecting")
    p.add_argument("--config", required=True)
    p.set_defaults(func=cmd_check_config)

    p = sub.add_parser("trace", help="print one correlation ID's journey through the services")
    p.add_argument("correlation_id")
    p.add_argument("--json", action="store_true", help="print the journey as JSON")
    p.add_argument(
        "--collector",
        default=os.environ.get("EVENTSCOPE_COLLECTOR_URL", "http://127.0.0.1:9308"),
        help="collector base URL (env EVENTSCOPE_COLLECTOR_URL)",
    )
    p.add_argument("--store", help="read this trace store file instead of asking a collector")
    p.add_argument("--config", help="with --store: the collector config (its tracing rules)")
    p.set_defaults(func=cmd_trace)

    p = sub.add_parser("dashboard", help="run the Streamlit dashboard")
    p.add_argument("--address", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8501)
    p.set_defaults(func=cmd_dashboard)

    from demo.cli import add_demo_parser

    add_demo_parser(sub, cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())

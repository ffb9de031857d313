"""The `eventscope demo` sub-commands: run the embedded stack, and turn its fault knobs."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any


def add_demo_parser(sub: Any, run: Callable[[argparse.Namespace], int]) -> None:
    p = sub.add_parser(
        "demo",
        help="run the embedded stack: Tansu, RabbitMQ, Prometheus, Alertmanager, the demo "
        "pipeline, the collector and the dashboard, all on 127.0.0.1",
    )
    p.set_defaults(func=run)

"""The `eventscope demo` sub-commands: run the embedded stack, and turn its fault knobs."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from demo.stack import AWS_PORTS, DEMO_VHOST, PORTS

CTL_HELP = """knobs (take effect within seconds, no restart):
  rate ORDERS [INTERACTIONS]   orders (and user interactions) per second, per broker
  slow SERVICE MS              add MS of processing time per event to SERVICE
  stop SERVICE                 SERVICE's consumer leaves: its group goes Empty, lag grows
  start SERVICE                bring SERVICE back: the backlog drains
  poison RATE                  share of new orders that always dead-letter (0..1)
  burst N                      place N orders at once, per broker
  status                       what the pipeline has done so far
services: order-service inventory-service payment-service notification-service
          realtime-dashboard batch-analytics ml-training
with --aws beside Kafka/RabbitMQ the EventBridge + SQS pipeline has knobs of its own:
  eventscope demo ctl ... --control <the "AWS control" URL the demo printed>"""


def add_demo_parser(sub: Any, run: Callable[[argparse.Namespace], int]) -> None:
    p = sub.add_parser(
        "demo",
        help="run the embedded stack: Apache Kafka (or Tansu), RabbitMQ, Prometheus, "
        "Alertmanager, the demo "
        "pipeline, the collector and the dashboard, all on 127.0.0.1",
        description="Run the embedded stack on 127.0.0.1 and print its URLs; Ctrl-C stops "
        "every process it started and nothing else.",
    )
    p.add_argument("--workdir", default=".eventscope/demo", help="configs, data and logs")
    for name, default in {**PORTS, **AWS_PORTS}.items():
        flag = "--" + name.replace("_", "-")
        p.add_argument(flag, type=int, dest=name, help=f"default {default}")
    p.add_argument("--auto-ports", action="store_true", help="pick free ports instead")
    p.add_argument(
        "--only", choices=["kafka", "rabbitmq", "aws"], help="run on one broker only (aws: --aws)"
    )
    p.add_argument(
        "--aws",
        action="store_true",
        help="also run the order flow on EventBridge + SQS, against a local moto server "
        "(an emulator, never live AWS)",
    )
    p.add_argument(
        "--kafka-broker",
        choices=["auto", "apache", "tansu"],
        default="auto",
        help="apache: Apache Kafka (KRaft, needs Java; fetched from Maven Central by make "
        "setup); tansu: the Kafka-protocol fallback with no Java; auto (default): Apache Kafka "
        "when it can run here, else Tansu, saying why",
    )
    p.add_argument("--rate", type=float, default=5.0, help="orders per second per broker")
    p.add_argument(
        "--aws-rate",
        type=float,
        default=1.0,
        help="orders per second on EventBridge + SQS (moto fans every event out to several "
        "queues in one Python process: keep it low)",
    )
    p.add_argument("--poll-interval", type=float, default=5.0, help="collector poll interval")
    p.add_argument("--rabbitmq-management", default="http://127.0.0.1:15672")
    p.add_argument("--rabbitmq-vhost", default=DEMO_VHOST, help="the demo's own vhost")
    p.add_argument("--no-dashboard", action="store_true")
    p.add_argument(
        "--alert-for-cap",
        type=int,
        default=30,
        help="cap every alert's `for:` at this many seconds in the demo's copy of the rules",
    )
    p.set_defaults(func=run, demo_command=None)
    demo_sub = p.add_subparsers(dest="demo_command")
    ctl = demo_sub.add_parser(
        "ctl",
        help="turn a fault knob of the running demo",
        epilog=CTL_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ctl.add_argument("knob", choices=["rate", "slow", "stop", "start", "poison", "burst", "status"])
    ctl.add_argument("values", nargs="*")
    ctl.add_argument("--control", help="control URL (default: from the demo's state.json)")

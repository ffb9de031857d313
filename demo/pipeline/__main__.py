"""`python -m demo.pipeline --kafka HOST:PORT --rabbitmq URL --control HOST:PORT ...`

Runs until SIGINT or SIGTERM, then stops within a few seconds. Prints one line
`control: http://HOST:PORT` on stdout once the control endpoint listens, for a parent process.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from dataclasses import replace
from types import FrameType

from demo.pipeline.config import KafkaSettings, PipelineConfig, PipelineConfigError, RabbitSettings
from demo.pipeline.link import LinkError
from demo.pipeline.pipeline import Pipeline


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m demo.pipeline", description=__doc__)
    parser.add_argument("--kafka", default="", help="Kafka bootstrap host:port")
    parser.add_argument("--rabbitmq", default="", help="amqp://user:pass@host:port/vhost")
    parser.add_argument("--only", choices=("kafka", "rabbitmq"), help="run on one broker only")
    parser.add_argument("--control", default="127.0.0.1:0", help="control endpoint host:port")
    parser.add_argument("--orders", type=int, help="stop placing orders after N per broker")
    parser.add_argument("--rate", type=float, default=5.0, help="orders per second per broker")
    parser.add_argument("--interaction-rate", type=float, default=20.0)
    parser.add_argument("--poison-rate", type=float, default=0.02)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument(
        "--kafka-broker",
        choices=("apache", "tansu"),
        default="apache",
        help="tansu: one record per batch and short sessions (its workarounds)",
    )
    parser.add_argument("--session-timeout-ms", type=int, help="default 6000 (Tansu: 2000)")
    parser.add_argument("--heartbeat-interval-ms", type=int, help="default 2000 (Tansu: 500)")
    parser.add_argument("--rabbitmq-prefix", default="", help="prefix of exchange/queue names")
    parser.add_argument("--otlp-endpoint", default="", help="export spans by OTLP/HTTP to this URL")
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


def kafka_settings(args: argparse.Namespace, bootstrap: str) -> KafkaSettings:
    settings = KafkaSettings(bootstrap=bootstrap, partitions=args.partitions)
    if args.kafka_broker == "tansu":
        settings = settings.for_tansu()
    if args.session_timeout_ms is not None:
        settings = replace(settings, session_timeout_ms=args.session_timeout_ms)
    if args.heartbeat_interval_ms is not None:
        settings = replace(settings, heartbeat_interval_ms=args.heartbeat_interval_ms)
    return settings


def config_from_args(args: argparse.Namespace) -> PipelineConfig:
    kafka = "" if args.only == "rabbitmq" else args.kafka
    rabbitmq = "" if args.only == "kafka" else args.rabbitmq
    if args.only and not (kafka or rabbitmq):
        raise PipelineConfigError(f"--only {args.only} needs --{args.only}")
    return PipelineConfig(
        kafka=kafka_settings(args, kafka),
        rabbitmq=RabbitSettings(url=rabbitmq, prefix=args.rabbitmq_prefix),
        control=args.control,
        otlp_endpoint=args.otlp_endpoint,
        order_rate=args.rate,
        interaction_rate=args.interaction_rate,
        orders=args.orders,
        poison_rate=args.poison_rate,
        seed=args.seed,
    ).validate()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("pika").setLevel(logging.CRITICAL)  # we log broker failures ourselves, once
    try:
        config = config_from_args(args)
    except PipelineConfigError as exc:
        print(f"demo pipeline: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        pipeline = Pipeline(config).start()
    except LinkError as exc:
        print(f"demo pipeline: cannot set up the brokers: {exc}", file=sys.stderr)
        return 2
    print(f"control: {pipeline.control_url}", flush=True)
    try:
        while not stop.wait(0.5):  # a short wait so the main thread runs the signal handler
            pass
    finally:
        pipeline.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

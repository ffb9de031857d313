"""Wire the demo pipeline: topology, links, worker threads, control endpoint; start and stop.

Start order: validate config → create Kafka topics / declare RabbitMQ queues → control endpoint
→ consumer threads → sources. Stop runs in reverse and returns within a few seconds: every
thread waits on the shared stop event in steps of at most 0.2 s.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import Producer

from demo.pipeline import events as ev
from demo.pipeline import kafka_link, rabbit_link
from demo.pipeline.config import PipelineConfig
from demo.pipeline.control import ControlServer
from demo.pipeline.knobs import Knobs
from demo.pipeline.ledger import Ledger
from demo.pipeline.link import Link
from demo.pipeline.tracing import Tracing
from demo.pipeline.workers import (
    Context,
    run_consumer,
    run_interaction_source,
    run_order_source,
)

log = logging.getLogger(__name__)


class Pipeline:
    """The demo pipeline running as threads of this process.

    >>> pipeline = Pipeline(PipelineConfig(kafka=KafkaSettings("127.0.0.1:9092"))).start()
    >>> pipeline.control_url          # e.g. http://127.0.0.1:40123
    >>> pipeline.stop()
    """

    def __init__(self, config: PipelineConfig, tracing: Tracing | None = None) -> None:
        self.config = config.validate()
        self.knobs = Knobs(config)
        self.ledger = Ledger(config.brokers())
        if tracing is None:
            otlp = config.otlp_endpoint
            tracing = Tracing.to_otlp(otlp) if otlp else Tracing()
        self.tracing = tracing
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._producer: Producer | None = None
        self._control: ControlServer | None = None
        self._started_at = 0.0

    @property
    def control_url(self) -> str:
        if self._control is None:
            raise RuntimeError("the pipeline is not started")
        return self._control.url

    def status(self, include_ids: bool = False) -> dict[str, Any]:
        return {
            "brokers": self.ledger.snapshot(include_ids),
            "knobs": self.knobs.snapshot(),
            "uptime_seconds": round(time.monotonic() - self._started_at, 1),
        }

    def start(self) -> Pipeline:
        self._started_at = time.monotonic()
        openers: dict[str, Callable[[str], Link]] = {}
        if self.config.kafka.bootstrap:
            kafka_link.create_topics(self.config.kafka)
            producer = self._producer = kafka_link.shared_producer(self.config.kafka)
            settings = self.config.kafka
            openers["kafka"] = lambda service: kafka_link.KafkaLink(settings, producer, service)
        if self.config.rabbitmq.url:
            rabbit_link.declare_topology(self.config.rabbitmq)
            rabbit = self.config.rabbitmq
            openers["rabbitmq"] = lambda service: rabbit_link.RabbitLink(rabbit, service)
        self._control = ControlServer(self.config.control, self.knobs, self.status).start()
        for broker, open_link in openers.items():
            ctx = Context(
                broker, self.config, self.knobs, self.ledger, self.tracing, open_link, self._stop
            )
            for service in ev.ALL_CONSUMERS:
                self._spawn(f"{broker}/{service}", run_consumer, ctx, service)
            self._spawn(f"{broker}/orders", run_order_source, ctx)
            self._spawn(f"{broker}/interactions", run_interaction_source, ctx)
        log.info("demo pipeline on %s; control at %s", ", ".join(openers), self.control_url)
        return self

    def _spawn(self, name: str, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        stuck = [t.name for t in self._threads if t.is_alive()]
        if stuck:
            log.warning("threads still running after %.0f s: %s", timeout, ", ".join(stuck))
        if self._producer is not None:
            self._producer.flush(max(0.1, deadline - time.monotonic()))
            self._producer = None  # drops the last reference: librdkafka disconnects now
        if self._control is not None:
            self._control.stop()
        self.tracing.shutdown()


def run(config: PipelineConfig, stop: threading.Event) -> None:
    """Run the pipeline in this thread's process until `stop` is set, then shut it down."""
    pipeline = Pipeline(config).start()
    try:
        stop.wait()
    finally:
        pipeline.stop()

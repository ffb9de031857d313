"""The RabbitMQ tap: a durable queue of its own, fed by the firehose or bound to exchanges.

- `mode: firehose` binds the tap queue to `amq.rabbitmq.trace` with `publish.#` and `deliver.#`
  (enable it per vhost: `rabbitmqctl trace_on -p VHOST`): every publish becomes a hop, every
  delivery tells which queue consumed it. The firehose copies every message published and
  delivered in the vhost (about 2-3x the broker's message work); see docs/tracing.md.
- `mode: tap_queue` binds the tap queue to `exchanges` directly (topic `#`, fanout, headers, or
  each existing routing key of a direct exchange, read from the management API): publishes only.
- Either way `exchanges` should list the dead-letter exchanges: dead-lettering happens inside
  the broker and never passes through the firehose.

Messages are acked (multiple) only after the store committed the batch; the tap queue is
durable and bounded (`queue_max_length`, oldest dropped first), so a restart loses nothing the
queue still holds. Malformed messages are counted, skipped and acked.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote

import pika
import pika.exceptions
import requests
from pika.adapters.blocking_connection import BlockingChannel

from collector.brokers.rabbitmq import base_url
from collector.config import RabbitMQCluster
from collector.redact import redact
from collector.tracing.config import TracingConfig
from collector.tracing.headers import HeaderRules, Skipped
from collector.tracing.hop import Hop
from collector.tracing.metrics import TraceMetrics
from collector.tracing.rabbitmq_events import Delivery, RabbitRules, read_message
from collector.tracing.store import IngestResult, StoreError, TraceStore

log = logging.getLogger(__name__)

FIREHOSE = "amq.rabbitmq.trace"
PROPERTY_NAMES = ("headers", "message_id", "timestamp", "correlation_id", "type", "app_id")
LAG_EVERY_SECONDS = 5.0
BINDINGS_EVERY_SECONDS = 30.0


class RabbitTap:
    def __init__(
        self,
        tracing: TracingConfig,
        cluster: RabbitMQCluster,
        store: TraceStore,
        metrics: TraceMetrics,
        dlq_patterns: Sequence[str],
        clock: Callable[[], float] = time.time,
        on_stored: Callable[[IngestResult], None] | None = None,
    ) -> None:
        self.tap = tracing.rabbitmq
        self.cluster = cluster
        self.store = store
        self.metrics = metrics
        self.clock = clock
        self.on_stored = on_stored
        self.rules = RabbitRules(
            cluster_name=cluster.name,
            header_rules=HeaderRules.from_config(tracing),
            topic_services=tracing.topic_services,
            group_services=tracing.group_services,
            dlq_patterns=tuple(dlq_patterns),
            payload_fields=tracing.payload_fields,
            tap_queue=self.tap.queue,
        )
        self.params = pika.URLParameters(self.tap.url)
        self.params.client_properties = {"connection_name": "eventscope trace tap"}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_bindings = 0.0
        self._next_lag = 0.0
        self._missing: set[str] = set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="rabbitmq-tap", daemon=True)
        self._thread.start()

    def stop(self, timeout: float) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                connection = pika.BlockingConnection(self.params)
            except pika.exceptions.AMQPError as exc:
                log.warning(
                    "rabbitmq tap on %s: cannot connect: %s", self.cluster.name, redact(repr(exc))
                )
                self._stop.wait(2.0)
                continue
            try:
                self._consume(connection.channel())
            except (pika.exceptions.AMQPError, requests.RequestException) as exc:
                log.warning(
                    "rabbitmq tap on %s: %s (reconnecting)", self.cluster.name, redact(repr(exc))
                )
                self._stop.wait(1.0)
            except StoreError as exc:  # unacked messages return to the queue on close
                log.error("rabbitmq tap on %s: %s (reconnecting)", self.cluster.name, exc)
                self._stop.wait(1.0)
            finally:
                with contextlib.suppress(pika.exceptions.AMQPError):  # already closed by the broker
                    connection.close()

    def declare(self, channel: BlockingChannel) -> None:
        channel.queue_declare(
            self.tap.queue,
            durable=True,
            arguments={"x-max-length": self.tap.queue_max_length, "x-queue-type": "classic"},
        )
        if self.tap.mode == "firehose":
            for key in ("publish.#", "deliver.#"):
                channel.queue_bind(self.tap.queue, FIREHOSE, routing_key=key)
        self.bind_exchanges(channel)

    def bind_exchanges(self, channel: BlockingChannel) -> None:
        for exchange in self.tap.exchanges:
            kind, keys = self._exchange_routing(exchange)
            if kind == "headers":
                channel.queue_bind(self.tap.queue, exchange, arguments={"x-match": "any"})
                continue
            for key in keys:
                channel.queue_bind(self.tap.queue, exchange, routing_key=key)

    def _exchange_routing(self, exchange: str) -> tuple[str, list[str]]:
        """(type, routing keys that catch everything we can know of) from the management API."""
        vhost = quote(self.params.virtual_host, safe="")
        root = base_url(self.cluster.management_url)  # credentials go in `auth` only
        base = f"{root}/api/exchanges/{vhost}/{quote(exchange, safe='')}"
        auth = (self.cluster.username, self.cluster.password)
        timeout = self.cluster.request_timeout_seconds
        info = requests.get(base, auth=auth, timeout=timeout)
        if info.status_code == 404:  # not declared yet: bound on a later refresh
            if exchange not in self._missing:
                log.warning("rabbitmq tap: exchange %r does not exist (yet)", exchange)
                self._missing.add(exchange)
            return "missing", []
        info.raise_for_status()
        self._missing.discard(exchange)
        kind = str(info.json().get("type", "topic"))
        if kind == "topic":
            return kind, ["#"]
        if kind != "direct":
            return kind, [""]
        bindings = requests.get(f"{base}/bindings/source", auth=auth, timeout=timeout)
        bindings.raise_for_status()
        keys = {str(b.get("routing_key", "")) for b in bindings.json()}
        return kind, sorted(keys)

    def _consume(self, channel: BlockingChannel) -> None:
        self.declare(channel)
        self._next_bindings = self.clock() + BINDINGS_EVERY_SECONDS
        channel.basic_qos(prefetch_count=self.tap.prefetch)
        batch: list[tuple[Any, Any, bytes]] = []
        for method, props, body in channel.consume(self.tap.queue, inactivity_timeout=0.2):
            if method is not None:
                batch.append((method, props, body))
            if batch and (method is None or len(batch) >= self.tap.batch_size):
                self._ingest(channel, batch)
                batch = []
            if self._stop.is_set():
                break
            self._housekeeping(channel)
        channel.cancel()  # unacked deliveries (none after a flush) return to the queue

    def _housekeeping(self, channel: BlockingChannel) -> None:
        now = self.clock()
        if now >= self._next_lag:
            depth = channel.queue_declare(self.tap.queue, passive=True).method.message_count
            self.metrics.set_tap_lag("rabbitmq", self.cluster.name, int(depth))
            self._next_lag = now + LAG_EVERY_SECONDS
        if self.tap.exchanges and now >= self._next_bindings:
            self.bind_exchanges(channel)  # direct exchanges gain routing keys over time
            self._next_bindings = now + BINDINGS_EVERY_SECONDS

    def _ingest(self, channel: BlockingChannel, batch: list[tuple[Any, Any, bytes]]) -> None:
        now = self.clock()
        hops: list[Hop] = []
        deliveries: list[Delivery] = []
        per_source: dict[str, int] = {}
        for method, props, body in batch:
            properties = {name: getattr(props, name, None) for name in PROPERTY_NAMES}
            read = read_message(str(method.routing_key), properties, body, self.rules, now)
            if isinstance(read, Skipped):
                self.metrics.count_skipped(read.reason)
            elif isinstance(read, Delivery):
                deliveries.append(read)
            elif read is not None:
                hops.append(read)
                per_source[read.source] = per_source.get(read.source, 0) + 1
        try:
            result = self.store.insert_hops(hops)
            if deliveries:
                self.store.record_deliveries((d.hop, d.consumption) for d in deliveries)
        except StoreError:
            self.metrics.set_store_up(False)
            raise
        self.metrics.set_store_up(True)
        self.metrics.observe(result)
        self.metrics.count_ingest("rabbitmq", self.cluster.name, per_source)
        channel.basic_ack(batch[-1][0].delivery_tag, multiple=True)
        if self.on_stored is not None:
            self.on_stored(result)

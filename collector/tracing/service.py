"""Wire the `tracing` config into a running trace service: store, taps, followers, exporter.

Built (and its config checked) first, started, stopped in reverse order. The collector calls
`record_consumption` after every poll of a Kafka cluster, serves `journey`/`search` on its HTTP
API and registers `collector()` with its Prometheus registry. A housekeeping thread judges
consumptions for the service graph every second (`consumer_edges`) and prunes the store every
`prune_interval_seconds`; the span export (`span_export`), when an endpoint is set, has a
thread of its own.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from opentelemetry.sdk.trace.export import SpanExporter

from collector.config import AwsCluster, Config, KafkaCluster, RabbitMQCluster
from collector.model import TopicPartition
from collector.tracing import otel, span_export
from collector.tracing.api import classes_of, journey_answer, rules_of, search_answer
from collector.tracing.config import validate_tracing
from collector.tracing.consumer_edges import ConsumerEdges
from collector.tracing.metrics import TraceMetrics, TraceMetricsCollector
from collector.tracing.otlp_wire import OtlpHttpSink
from collector.tracing.store import StoreError, TraceStore, sqlite_memory_used

log = logging.getLogger(__name__)

HOUSEKEEPING_SECONDS = 1.0


class Tap(Protocol):
    def start(self) -> None: ...

    def stop(self, timeout: float) -> None: ...


class TraceService:
    def __init__(
        self,
        config: Config,
        clock: Callable[[], float] = time.time,
        span_exporter: SpanExporter | None = None,
    ) -> None:
        tracing = config.tracing
        kafka = {c.name: c for c in config.clusters if isinstance(c, KafkaCluster)}
        rabbit = {c.name: c for c in config.clusters if isinstance(c, RabbitMQCluster)}
        aws = {c.name: c for c in config.clusters if isinstance(c, AwsCluster)}
        validate_tracing(tracing, set(kafka), set(rabbit), set(aws))
        self.tracing = tracing
        self.clock = clock
        self.rules = rules_of(tracing)
        self.store = TraceStore(tracing.store_path, classes_of(tracing))
        self.metrics = TraceMetrics(lambda: self.store.hop_count, sqlite_memory_used)
        self.edges = ConsumerEdges(self.store, tracing.consumer_edge_delay_seconds)
        self.exporter: span_export.SpanExport | None = None
        sink: otel.SpanSink | None = None
        if span_exporter is not None:
            sink = otel.SdkSink(span_exporter, tracing.otlp_service_name)
        elif tracing.otlp_endpoint:
            sink = OtlpHttpSink(tracing.otlp_endpoint, tracing.otlp_service_name)
        if sink is not None:
            self.exporter = span_export.SpanExport(self.store, sink, self.metrics)
        else:  # export off: its cursors must not hold the consumption log back
            span_export.forget_cursors(self.store)
        self.taps: list[Tap] = []
        if tracing.kafka.cluster:
            from collector.tracing.kafka_reader import KafkaTapProcess
            from collector.tracing.kafka_tap import KafkaTap

            cluster = kafka[tracing.kafka.cluster]
            if tracing.kafka.reader == "process":
                kafka_tap: Tap = KafkaTapProcess(
                    tracing, cluster, self.store, self.metrics, config.dlq_patterns
                )
            else:
                kafka_tap = KafkaTap(
                    tracing, cluster, self.store, self.metrics, config.dlq_patterns, clock
                )
            self.taps.append(kafka_tap)
        if tracing.rabbitmq.cluster:
            from collector.tracing.rabbitmq_tap import RabbitTap

            self.taps.append(
                RabbitTap(
                    tracing,
                    rabbit[tracing.rabbitmq.cluster],
                    self.store,
                    self.metrics,
                    config.dlq_patterns,
                    clock,
                )
            )
        if tracing.sqs.cluster:
            from collector.brokers.sqs_tap import sqs_tap

            self.taps.append(sqs_tap(aws[tracing.sqs.cluster], tracing, self.store, self.metrics))
        self._stop = threading.Event()
        self._housekeeper: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        for tap in self.taps:
            tap.start()
        if self.exporter is not None:
            self.exporter.start()
        self._housekeeper = threading.Thread(
            target=self._housekeeping, name="trace-housekeeping", daemon=True
        )
        self._housekeeper.start()

    def stop(self, timeout: float) -> None:
        """Stop the taps (each has committed what it stored), the housekeeping, then the
        exporter (after exporting what was stored)."""
        self._stop.set()
        for tap in reversed(self.taps):
            tap.stop(timeout)
        if self._housekeeper is not None:
            self._housekeeper.join(timeout)
        if self.exporter is not None:
            self.exporter.stop(timeout)
        self.store.close()

    def _housekeeping(self) -> None:
        # elapsed time, not the (injectable) clock of the data: these are waits, not stamps
        next_prune = time.monotonic() + self.tracing.prune_interval_seconds
        while not self._stop.wait(HOUSEKEEPING_SECONDS):
            self.judge_consumptions()
            if time.monotonic() >= next_prune:
                self.prune()
                next_prune = time.monotonic() + self.tracing.prune_interval_seconds

    def judge_consumptions(self) -> int:
        """Count the service-graph edges of consumptions old enough to judge (consumer_edges)."""
        try:
            edges = self.edges.tick(time.monotonic())
        except StoreError as exc:
            log.error("%s", exc)
            self.metrics.set_store_up(False)
            return 0
        self.metrics.observe_edges(edges)
        return len(edges)

    def prune(self) -> int:
        oldest = self.clock() - self.tracing.retention_hours * 3600
        try:
            deleted = self.store.prune(oldest, self.tracing.max_hops)
        except StoreError as exc:
            log.error("%s", exc)
            self.metrics.set_store_up(False)
            return 0
        if deleted:
            log.info("trace store: pruned %d hop(s)", deleted)
        return deleted

    # -- the collector's calls -------------------------------------------------------------

    def record_consumption(
        self, cluster: str, group: str, committed: Mapping[TopicPartition, int], now: float
    ) -> None:
        """A Kafka group's committed offsets at poll time `now` (never raises into the poller)."""
        if group == self.tracing.kafka.group_id:
            return  # the tap's own group consumes everything; it is not a service
        offsets = {(tp.topic, tp.partition): off for tp, off in committed.items() if off >= 0}
        try:
            self.store.record_commits(cluster, group, self.rules.service_of(group), offsets, now)
        except StoreError as exc:
            log.error("%s", exc)
            self.metrics.set_store_up(False)

    def journey(self, correlation_id: str) -> dict[str, Any] | None:
        return journey_answer(
            self.store, self.rules, correlation_id, self.clock(), self.tracing.max_hops_per_journey
        )

    def search(
        self,
        status: str | None,
        since: float | None,
        until: float | None,
        service: str | None,
        event_type: str | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        return search_answer(
            self.store,
            self.tracing,
            status=status,
            since=since,
            until=until,
            service=service,
            event_type=event_type,
            limit=limit,
            now=self.clock(),
        )

    def collector(self) -> TraceMetricsCollector:
        return TraceMetricsCollector(self.metrics)

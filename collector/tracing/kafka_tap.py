"""The Kafka tap: a consumer group of its own reads headers, key, timestamp, partition, offset.

At-least-once reading, exactly-once storing: auto-commit is off; each batch
(`consume(num_messages=batch_size)`) is stored in one SQLite transaction, and only then are the
batch's offsets committed. A kill between the two re-reads the batch after restart, and the
store's idempotent insert drops what it already holds, so no hop is lost or duplicated.

Topics are chosen by fnmatch patterns (DLQ topics included) over the cluster's topic list,
refreshed every `topic_refresh_seconds`; payloads are never read unless `payload_fields` names
JSON fields to keep. A malformed record is counted and skipped; the tap never stops for input.
"""

from __future__ import annotations

import fnmatch
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message
from confluent_kafka import TopicPartition as KafkaTopicPartition

from collector.config import KafkaCluster
from collector.tracing.config import TracingConfig
from collector.tracing.headers import (
    HeaderRules,
    Skipped,
    Where,
    allowed_fields,
    build_hop,
    parse_headers,
)
from collector.tracing.hop import Hop
from collector.tracing.metrics import TraceMetrics
from collector.tracing.store import IngestResult, StoreError, TraceStore

log = logging.getLogger(__name__)

MAX_PAYLOAD_PARSE_BYTES = 65536
LAG_EVERY_SECONDS = 5.0


def consumer_settings(tracing: TracingConfig, cluster: KafkaCluster) -> dict[str, Any]:
    tap = tracing.kafka
    return {
        "bootstrap.servers": cluster.bootstrap_servers,
        **dict(cluster.client),  # TLS / SASL of the cluster
        "group.id": tap.group_id,
        "client.id": tap.group_id,
        "enable.auto.commit": False,  # committed after the store commits
        "auto.offset.reset": "earliest",
        "session.timeout.ms": tap.session_timeout_ms,
        "heartbeat.interval.ms": tap.heartbeat_interval_ms,
        **dict(tap.client),
    }


def chosen_topics(
    names: Sequence[str], include: Sequence[str], exclude: Sequence[str]
) -> list[str]:
    """Topic names matching an include pattern and no exclude pattern, sorted."""
    return sorted(
        n
        for n in names
        if any(fnmatch.fnmatchcase(n, p) for p in include)
        and not any(fnmatch.fnmatchcase(n, p) for p in exclude)
    )


class KafkaTap:
    def __init__(
        self,
        tracing: TracingConfig,
        cluster: KafkaCluster,
        store: TraceStore,
        metrics: TraceMetrics,
        dlq_patterns: Sequence[str],
        clock: Callable[[], float] = time.time,
        on_stored: Callable[[IngestResult], None] | None = None,
    ) -> None:
        self.tracing = tracing
        self.cluster = cluster
        self.store = store
        self.metrics = metrics
        self.dlq_patterns = tuple(dlq_patterns)
        self.clock = clock
        self.on_stored = on_stored
        self.rules = HeaderRules.from_config(tracing)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._consumer: Consumer | None = None
        self._topics: list[str] = []
        self._next_refresh = 0.0
        self._next_lag = 0.0

    def start(self) -> None:
        self._consumer = Consumer(consumer_settings(self.tracing, self.cluster))
        self._thread = threading.Thread(target=self._run, name="kafka-tap", daemon=True)
        self._thread.start()

    def stop(self, timeout: float) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._consumer is not None:
            consumer, self._consumer = self._consumer, None
            try:
                consumer.close()  # leaves the group; offsets were committed batch by batch
            except KafkaException as exc:
                log.warning("kafka tap: close failed: %s", exc)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except KafkaException as exc:
                log.warning("kafka tap on %s: %s (retrying)", self.cluster.name, exc)
                self._stop.wait(1.0)
            except StoreError as exc:
                log.error("kafka tap on %s: %s (retrying the batch)", self.cluster.name, exc)
                self._stop.wait(1.0)

    def run_once(self) -> int:
        """Read one batch, store it, then commit its offsets; returns the records read."""
        consumer = self._consumer
        if consumer is None:
            return 0
        now = self.clock()
        if now >= self._next_refresh:
            self._refresh_topics(consumer)
            self._next_refresh = now + self.tracing.kafka.topic_refresh_seconds
        if not self._topics:
            self._stop.wait(self.tracing.kafka.poll_timeout_seconds)
            return 0
        messages = consumer.consume(
            num_messages=self.tracing.kafka.batch_size,
            timeout=self.tracing.kafka.poll_timeout_seconds,
        )
        records = [m for m in messages if m.error() is None]
        for m in messages:
            err = m.error()
            if err is not None and err.code() != KafkaError._PARTITION_EOF:
                log.warning("kafka tap: consumer error %s", err)
        if records:
            self._ingest(consumer, records, now)
        if now >= self._next_lag:
            self._report_lag(consumer)
            self._next_lag = now + LAG_EVERY_SECONDS
        return len(records)

    def _ingest(self, consumer: Consumer, records: list[Message], now: float) -> None:
        hops: list[Hop] = []
        per_source: dict[str, int] = {}
        for m in records:
            hop = self.hop_of(m, now)
            if hop is not None:
                hops.append(hop)
                per_source[hop.source] = per_source.get(hop.source, 0) + 1
        try:
            result = self.store.insert_hops(hops)
        except StoreError:
            self.metrics.set_store_up(False)
            self._rewind(consumer, records)  # read the batch again once the store recovers
            raise
        self.metrics.set_store_up(True)
        self.metrics.observe(result)
        self.metrics.count_ingest("kafka", self.cluster.name, per_source)
        ends: dict[tuple[str, int], int] = {}
        for m in records:
            key = (str(m.topic()), int(m.partition() or 0))
            ends[key] = max(ends.get(key, -1), int(m.offset() or 0) + 1)
        consumer.commit(
            offsets=[KafkaTopicPartition(t, p, o) for (t, p), o in ends.items()],
            asynchronous=False,
        )
        if self.on_stored is not None:
            self.on_stored(result)

    def hop_of(self, m: Message, now: float) -> Hop | None:
        parsed = parse_headers(m.headers() or [], self.rules)
        if isinstance(parsed, Skipped):
            self.metrics.count_skipped(parsed.reason)
            return None
        kind, ts_ms = m.timestamp()
        topic = str(m.topic())
        fields = (
            allowed_fields(m.value(), self.tracing.payload_fields, MAX_PAYLOAD_PARSE_BYTES)
            if self.tracing.payload_fields
            else {}
        )
        where = Where(
            broker="kafka",
            cluster_name=self.cluster.name,
            source=topic,
            partition=int(m.partition() or 0),
            offset=int(m.offset() or 0),
            produced_at=ts_ms / 1000 if kind != 0 and ts_ms > 0 else now,
        )
        is_dlq = any(fnmatch.fnmatchcase(topic, p) for p in self.dlq_patterns)
        return build_hop(parsed, where, self.tracing.topic_services, is_dlq, fields)

    def _refresh_topics(self, consumer: Consumer) -> None:
        metadata = consumer.list_topics(timeout=10)
        tap = self.tracing.kafka
        topics = chosen_topics(list(metadata.topics), tap.topics, tap.exclude_topics)
        if topics != self._topics:
            log.info("kafka tap on %s: reading %d topic(s)", self.cluster.name, len(topics))
            self._topics = topics
            if topics:
                consumer.subscribe(topics)
            else:
                consumer.unsubscribe()

    def _rewind(self, consumer: Consumer, records: list[Message]) -> None:
        first: dict[tuple[str, int], int] = {}
        for m in records:
            key = (str(m.topic()), int(m.partition() or 0))
            first[key] = min(first.get(key, int(m.offset() or 0)), int(m.offset() or 0))
        for (topic, partition), offset in first.items():
            try:
                consumer.seek(KafkaTopicPartition(topic, partition, offset))
            except KafkaException as exc:  # partition revoked meanwhile: the next owner re-reads
                log.debug("kafka tap: seek %s/%d failed: %s", topic, partition, exc)

    def _report_lag(self, consumer: Consumer) -> None:
        """Messages not read yet over the tap's assigned partitions (cached high watermarks)."""
        try:
            assigned = consumer.assignment()
            positions = consumer.position(assigned) if assigned else []
        except KafkaException:
            return
        lag = 0
        for tp in positions:
            _low, high = consumer.get_watermark_offsets(tp, cached=True)
            if high >= 0 and tp.offset >= 0:
                lag += max(0, high - tp.offset)
        self.metrics.set_tap_lag("kafka", self.cluster.name, lag)

"""The Kafka tap: a consumer group of its own reads headers, key, timestamp, partition, offset.

At-least-once reading, exactly-once storing: auto-commit is off; each batch
(`consume(num_messages=batch_size)`) is stored in one SQLite transaction, and only then are the
batch's offsets committed. A kill between the two re-reads the batch after restart, and the
store's idempotent insert drops what it already holds, so no hop is lost or duplicated.

Two threads, so SQLite (which releases the GIL) overlaps consuming:

    kafka-tap (consume thread)               kafka-tap-writer
      consume(batch_size) → rows  ──queue──►   store.insert_rows(rows)   one transaction
      commit offsets of stored batches ◄────   batch done (or failed)
      (explicit offsets, in batch order)

The consume thread commits a batch's offsets only after the writer reports its transaction
committed; at most `PIPELINE_DEPTH` batches are read ahead, and the writer stores the batches
waiting for it in one transaction. When a write fails, the batches read after it are not
written, and the consumer seeks back to the first failed one.

Topics are chosen by fnmatch patterns (DLQ topics included) over the cluster's topic list,
refreshed every `topic_refresh_seconds`; payloads are never read unless `payload_fields` names
JSON fields to keep. A malformed record is counted and skipped; the tap never stops for input.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from confluent_kafka import Consumer, KafkaError, KafkaException, Message
from confluent_kafka import TopicPartition as KafkaTopicPartition

from collector.config import KafkaCluster
from collector.tracing.config import TracingConfig
from collector.tracing.headers import HeaderRules, allowed_fields, producer_of, read_headers
from collector.tracing.ingest import HopRow
from collector.tracing.metrics import TraceMetrics
from collector.tracing.store import IngestResult, StoreError, TraceStore

log = logging.getLogger(__name__)
rdkafka_log = logging.getLogger("eventscope.librdkafka")  # the one the adapter's clients use
T = TypeVar("T")

MAX_PAYLOAD_PARSE_BYTES = 65536
LAG_EVERY_SECONDS = 5.0
PIPELINE_DEPTH = 8  # batches read ahead of the store (bounded: the writer sets the pace)
MAX_WRITE_ROWS = 4000  # batches waiting for the writer are stored together, up to this


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


@dataclass
class Batch:
    """One consumed batch on its way through the writer."""

    rows: list[HopRow]
    first: dict[tuple[str, int], int]  # first offset read per partition (to seek back to)
    ends: dict[tuple[str, int], int]  # offset to commit per partition (last read + 1)
    per_source: dict[str, int] = field(default_factory=dict)
    records: int = 0  # records read (stored or skipped), errors not counted
    failed: bool = False


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
        self._writer: threading.Thread | None = None
        self._consumer: Consumer | None = None
        self._topics: list[str] = []
        self._topic_info: dict[str, tuple[bool, str]] = {}  # topic -> (is a DLQ, its producer)
        self._next_refresh = 0.0
        self._next_lag = 0.0
        self._pending: queue.Queue[Batch | None] = queue.Queue(PIPELINE_DEPTH)
        self._done: queue.Queue[Batch] = queue.Queue()
        self._in_flight = 0  # batches handed to the writer, not yet back (consume thread only)
        self._write_failed = threading.Event()  # set by the writer; cleared after the seek back

    def start(self) -> None:
        self._consumer = Consumer(
            {**consumer_settings(self.tracing, self.cluster), "on_commit": _commit_failed},
            logger=rdkafka_log,  # not raw on stderr: through logging, at the configured level
        )
        self._writer = threading.Thread(
            target=self._write_loop, name="kafka-tap-writer", daemon=True
        )
        self._writer.start()
        self._thread = threading.Thread(target=self._run, name="kafka-tap", daemon=True)
        self._thread.start()

    def stop(self, timeout: float) -> None:
        """Stop reading, let the writer store what was read, commit it, leave the group."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._consumer is not None:
            consumer, self._consumer = self._consumer, None
            try:
                consumer.close()  # leaves the group; stored batches' offsets are committed
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
        self._pending.put(None)  # the writer stores what it has, then ends
        if self._writer is not None:
            self._writer.join()
        consumer = self._consumer
        if consumer is not None:
            try:
                self._commit_stored(consumer, wait=True, asynchronous=False)
            except (KafkaException, StoreError) as exc:  # re-read after restart, deduplicated
                log.warning("kafka tap on %s: last commit failed: %s", self.cluster.name, exc)

    def run_once(self) -> int:
        """Read one batch and hand it to the writer; commit the batches the store has
        committed since. Returns the records read."""
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
        self._commit_stored(consumer, wait=False)
        batch = self.batch_of(messages, now)
        if batch.ends:
            self._pending.put(batch)  # blocks while the writer is PIPELINE_DEPTH behind
            self._in_flight += 1
        if now >= self._next_lag:
            self._report_lag(consumer)
            self._next_lag = now + LAG_EVERY_SECONDS
        return batch.records

    def batch_of(self, messages: Sequence[Message], now: float) -> Batch:
        """Rows of the records' hops; skipped records are counted, and still committed."""
        rows: list[HopRow] = []
        first: dict[tuple[str, int], int] = {}
        ends: dict[tuple[str, int], int] = {}
        per_source: dict[str, int] = {}
        skipped: dict[str, int] = {}
        rules, cluster, info = self.rules, self.cluster.name, self._topic_info
        payload_fields = self.tracing.payload_fields
        errors = 0
        for m in messages:
            if m.error() is not None:
                errors += 1
                self._log_error(m)
                continue
            topic, partition, offset = m.topic() or "", m.partition() or 0, m.offset() or 0
            key = (topic, partition)
            if key not in first:
                first[key] = offset
            ends[key] = offset + 1  # a partition's records come in offset order
            got = read_headers(m.headers(), rules)
            if isinstance(got, str):
                skipped[got] = skipped.get(got, 0) + 1
                continue
            is_dlq, topic_service = info.get(topic) or self._learn_topic(topic)
            kind, ts_ms = m.timestamp()
            dlq = is_dlq or got[4]
            fields = ""
            if payload_fields:
                kept = allowed_fields(m.value(), payload_fields, MAX_PAYLOAD_PARSE_BYTES)
                fields = json.dumps(kept) if kept else ""
            rows.append((
                got[0], got[1] or topic, "kafka", cluster, topic, partition, offset,
                ts_ms / 1000 if kind != 0 and ts_ms > 0 else now,
                producer_of(got, topic_service, dlq), got[3], int(dlq),
                got[5] if dlq else "", got[7], fields,
            ))  # fmt: skip
            per_source[topic] = per_source.get(topic, 0) + 1
        for reason, n in skipped.items():
            self.metrics.count_skipped(reason, n)
        return Batch(rows, first, ends, per_source, len(messages) - errors)

    def _learn_topic(self, topic: str) -> tuple[bool, str]:
        is_dlq = any(fnmatch.fnmatchcase(topic, p) for p in self.dlq_patterns)
        info = self._topic_info[topic] = (is_dlq, self.tracing.topic_services.get(topic, ""))
        return info

    @staticmethod
    def _log_error(m: Message) -> None:
        err = m.error()
        if err is not None and err.code() != KafkaError._PARTITION_EOF:
            log.warning("kafka tap: consumer error %s", err)

    # -- the writer thread -----------------------------------------------------------------

    def _write_loop(self) -> None:
        """Store batches as they come (`next_group`); once a write has failed, the batches
        after it are not written: the consume thread seeks back to the first failed one."""
        stopping = False
        while not stopping and (got := next_group(self._pending, _rows)) is not None:
            group, stopping = got
            if self._write_failed.is_set():  # an earlier batch failed: these are re-read
                for b in group:
                    b.failed = True
            elif not store_group(
                self.store, self.metrics, self.cluster.name, group, self.on_stored
            ):
                self._write_failed.set()
            for b in group:
                self._done.put(b)

    # -- back on the consume thread --------------------------------------------------------

    def _commit_stored(self, consumer: Consumer, wait: bool, asynchronous: bool = True) -> None:
        """Commit the offsets of the batches the writer has stored, in order. After a failed
        write, wait for every batch in flight, then seek back to the first one not stored and
        raise StoreError (the run loop waits a second and reads again)."""
        ends: dict[tuple[str, int], int] = {}
        failed: list[Batch] = []
        while self._in_flight:
            try:
                batch = self._done.get(timeout=1.0) if wait or failed else self._done.get_nowait()
            except queue.Empty:
                if wait or failed:
                    continue
                break
            self._in_flight -= 1
            if batch.failed:
                failed.append(batch)
            elif not failed:  # batches come back in order: none stored after a failed one
                ends.update(batch.ends)
        offsets = [KafkaTopicPartition(t, p, o) for (t, p), o in ends.items()]
        if offsets and asynchronous:
            consumer.commit(offsets=offsets, asynchronous=True)
        elif offsets:
            consumer.commit(offsets=offsets, asynchronous=False)
        if failed:
            self._rewind(consumer, failed)
            self._write_failed.clear()
            raise StoreError(f"{len(failed)} batch(es) not stored; reading them again")

    def _rewind(self, consumer: Consumer, failed: list[Batch]) -> None:
        first: dict[tuple[str, int], int] = {}
        for batch in failed:
            for key, offset in batch.first.items():
                first[key] = min(first.get(key, offset), offset)
        for (topic, partition), offset in first.items():
            try:
                consumer.seek(KafkaTopicPartition(topic, partition, offset))
            except KafkaException as exc:  # partition revoked meanwhile: the next owner re-reads
                log.debug("kafka tap: seek %s/%d failed: %s", topic, partition, exc)

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


def _commit_failed(err: KafkaError | None, partitions: list[KafkaTopicPartition]) -> None:
    """Asynchronous commits report here (from consume): a failed one is re-read, deduplicated."""
    if err is not None:
        log.warning("kafka tap: offset commit failed: %s", err)


def next_group(
    pending: queue.Queue[T | None], rows_of: Callable[[T], int]
) -> tuple[list[T], bool] | None:
    """The next item and the items already waiting behind it, up to `MAX_WRITE_ROWS` rows
    (`rows_of`), to store in one transaction: a commit costs the same for 500 rows as for
    4,000, so the store catches up when it falls behind and stays prompt when idle. With them,
    whether the end marker (None) came right after; None when the end marker came first."""
    item = pending.get()
    if item is None:
        return None
    group, rows = [item], rows_of(item)
    while rows < MAX_WRITE_ROWS:
        try:
            more = pending.get_nowait()
        except queue.Empty:
            break
        if more is None:
            return group, True
        group.append(more)
        rows += rows_of(more)
    return group, False


def _rows(batch: Batch) -> int:
    return len(batch.rows)


def store_group(
    store: TraceStore,
    metrics: TraceMetrics,
    cluster: str,
    group: list[Batch],
    on_stored: Callable[[IngestResult], None] | None = None,
) -> bool:
    """Store the group's rows in one transaction and count them. False, with every batch of
    the group marked failed, when the store failed."""
    rows = group[0].rows if len(group) == 1 else [r for b in group for r in b.rows]
    try:
        result = store.insert_rows(rows)
    except Exception as exc:  # StoreError, or a bug: either way the batch is not stored
        if isinstance(exc, StoreError):
            log.error("kafka tap on %s: %s", cluster, exc)
        else:
            log.exception("kafka tap on %s: storing a batch failed", cluster)
        metrics.set_store_up(False)
        for b in group:
            b.failed = True
        return False
    per_source: dict[str, int] = {}
    for b in group:
        for source, n in b.per_source.items():
            per_source[source] = per_source.get(source, 0) + n
    metrics.set_store_up(True)
    metrics.observe(result)
    metrics.count_ingest("kafka", cluster, per_source)
    if on_stored is not None:
        try:
            on_stored(result)
        except Exception:  # span export must never stop the store
            log.exception("kafka tap: after-store hook failed")
    return True

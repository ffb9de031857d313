"""Export hops and consumptions as OpenTelemetry spans (messaging semantic conventions), once each.

A background thread follows the store (`feeds`): every hop stored since its cursor becomes a
PRODUCER span `<source> publish` at its produce time, and every consumption logged since its
other cursor a CONSUMER span `<source> process` from produce time to consumed_at, child of the
hop's span. So a hop that arrives after its journey ended, or a commit seen after it, is
exported like any other, and in-flight journeys are exported as they go.

Ids are derived, so a span can be built from its hop alone, whenever it comes:

    hop span       trace: the hop's `traceparent` trace (its parent: the traceparent's span), or
                   else sha256("eventscope/journey/" + correlation ID), parent: the journey root
    journey root   `journey <ID>`, INTERNAL, zero length, exported with the journey's first hop
                   that has no traceparent; span id from the correlation ID
    span ids       sha256 of the hop's identity (broker, cluster, source, partition, offset),
                   plus the group for a consumer span: a re-export gives the same span

Attributes:

    messaging.system                    kafka | rabbitmq
    messaging.destination.name          topic / routing key / queue
    messaging.consumer.group.name       consumer spans: the group or queue
    messaging.message.conversation_id   the correlation ID
    messaging.kafka.destination.partition, messaging.kafka.message.offset   (Kafka)
    eventscope.event_type, eventscope.service, eventscope.dlq(_reason)

Exactly once in normal operation: the cursors move past what was handed to the exporter and are
kept in the store. At least once across a crash: a kill between an export and the cursor's
write exports that pass again (same span ids). Nothing runs on the tap's path: the thread reads
the store through its own connection. Failures are logged (once per change) and counted in
`eventscope_trace_spans_dropped_total{reason}`, never raised: tracing must not break the tap.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, TraceFlags

from collector.tracing import feeds
from collector.tracing.hop import NO_PARTITION, Consumption, Hop
from collector.tracing.metrics import TraceMetrics
from collector.tracing.store import StoreError, TraceStore

log = logging.getLogger(__name__)

HOP_CURSOR = "spans.hops"
LOG_CURSOR = "spans" + feeds.LOG_CURSOR_SUFFIX
CHUNK = 2000  # hops (and consumptions) read per pass
EXPORT_BATCH = 512  # spans per OTLP request
MAX_BACKLOG = 200_000  # further behind the store than this, the oldest are skipped (counted)
WAIT_FOR_HOP_SECONDS = 60.0  # a consumption logged before its hop waits this long for it
MAX_WAITING = 10_000
IDLE_SECONDS = 0.5

_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_SCOPE = InstrumentationScope("eventscope.tracing")


def _ns(seconds: float) -> int:
    return int(seconds * 1_000_000_000)


def _derived_id(text: str, nbytes: int) -> int:
    value = int.from_bytes(hashlib.sha256(text.encode()).digest()[:nbytes], "big")
    return value or 1  # 0 is the invalid id


def _identity(hop: Hop) -> str:
    return f"{hop.broker}/{hop.cluster_name}/{hop.source}/{hop.partition}/{hop.offset}"


def journey_context(correlation_id: str) -> SpanContext:
    """The journey root's context: the trace of a correlation ID's hops without traceparent."""
    return SpanContext(
        _derived_id("eventscope/journey/" + correlation_id, 16),
        _derived_id("eventscope/root/" + correlation_id, 8),
        is_remote=False,
        trace_flags=_SAMPLED,
    )


def parent_of(hop: Hop) -> SpanContext:
    """The hop's `traceparent` (already validated by the tap), else the journey root."""
    if hop.traceparent:
        _version, trace_id, span_id, _flags = hop.traceparent.split("-")
        return SpanContext(int(trace_id, 16), int(span_id, 16), True, _SAMPLED)
    return journey_context(hop.correlation_id)


def hop_context(hop: Hop) -> SpanContext:
    return SpanContext(
        parent_of(hop).trace_id, _derived_id(_identity(hop), 8), False, trace_flags=_SAMPLED
    )


class SpanBuilder:
    """Spans of hops and consumptions as the SDK's `ReadableSpan`s (pure: no I/O)."""

    def __init__(self, service_name: str = "eventscope") -> None:
        self.resource = Resource.create({"service.name": service_name})

    def _span(self, name: str, context: SpanContext, parent: SpanContext | None, kind: SpanKind,
              attributes: dict[str, Any], start: float, end: float) -> ReadableSpan:  # fmt: skip
        return ReadableSpan(
            name, context, parent, self.resource, attributes, kind=kind,
            instrumentation_scope=_SCOPE, start_time=_ns(start), end_time=_ns(end),
        )  # fmt: skip

    def root(self, hop: Hop) -> ReadableSpan:
        cid = hop.correlation_id
        attributes = {"messaging.message.conversation_id": cid}
        ctx = journey_context(cid)
        return self._span(f"journey {cid}", ctx, None, SpanKind.INTERNAL, attributes,
                          hop.produced_at, hop.produced_at)  # fmt: skip

    def hop(self, hop: Hop) -> ReadableSpan:
        return self._span(f"{hop.source} publish", hop_context(hop), parent_of(hop),
                          SpanKind.PRODUCER, hop_attributes(hop), hop.produced_at,
                          hop.produced_at)  # fmt: skip

    def consumption(self, hop: Hop, c: Consumption) -> ReadableSpan:
        parent = hop_context(hop)
        ctx = SpanContext(parent.trace_id, _derived_id(f"{_identity(hop)}/{c.group}", 8), False,
                          trace_flags=_SAMPLED)  # fmt: skip
        attributes = {**hop_attributes(hop), "messaging.consumer.group.name": c.group,
                      "eventscope.service": c.service}  # fmt: skip
        return self._span(f"{hop.source} process", ctx, parent, SpanKind.CONSUMER, attributes,
                          hop.produced_at, max(c.consumed_at, hop.produced_at))  # fmt: skip


def hop_attributes(hop: Hop) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "messaging.system": hop.broker,
        "messaging.destination.name": hop.source,
        "messaging.message.conversation_id": hop.correlation_id,
        "eventscope.event_type": hop.event_type,
        "eventscope.service": hop.service,
        "eventscope.cluster_name": hop.cluster_name,
        "eventscope.dlq": hop.dlq,
    }
    if hop.partition != NO_PARTITION:
        attributes["messaging.kafka.destination.partition"] = hop.partition
        attributes["messaging.kafka.message.offset"] = hop.offset
    if hop.dlq_reason:
        attributes["eventscope.dlq_reason"] = hop.dlq_reason
    return attributes


class SpanExport:
    """The background exporter: follows the store's hops and consumption log (module doc)."""

    def __init__(
        self,
        store: TraceStore,
        exporter: SpanExporter,
        metrics: TraceMetrics,
        service_name: str = "eventscope",
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.store = store
        self.exporter = exporter
        self.metrics = metrics
        self.builder = SpanBuilder(service_name)
        self.clock = clock or time.monotonic
        db = store.reader()
        hops_at, log_at = feeds.cursor(db, HOP_CURSOR), feeds.cursor(db, LOG_CURSOR)
        # a first start exports what is stored from now on, not the store's whole history
        self.hops_at = feeds.hop_end(db) if hops_at is None else hops_at
        self.log_at = feeds.log_end(db) if log_at is None else log_at
        self._saved = (hops_at, log_at)
        self._waiting: dict[int, float] = {}  # log id -> when first seen without its hop
        self._failing = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._save()

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="trace-span-export", daemon=True)
        self._thread.start()

    def stop(self, timeout: float) -> None:
        """Export what the store holds by now (the taps have stopped), then shut down."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        try:
            while self.run_once() >= CHUNK:
                pass
            if self._waiting:  # a restart must not export again what came after them
                self.metrics.count_spans(0, {"no_hop": len(self._waiting)})
                self._waiting.clear()
                self._save()
        except Exception:
            log.exception("span export: the last pass failed")
        try:
            self.exporter.shutdown()
        except Exception as exc:
            log.warning("span exporter shutdown failed: %s", exc)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.run_once() >= CHUNK
            except Exception:  # a bug or the store: log, wait, go on; never stop the collector
                log.exception("span export pass failed")
                busy = False
            self._stop.wait(0 if busy else IDLE_SECONDS)

    # -- one pass --------------------------------------------------------------------------

    def run_once(self) -> int:
        """Export the spans of what was stored since the last pass; returns the hops and
        consumptions read (CHUNK or more: there may be more to read)."""
        db = self.store.reader()
        now = self.clock()
        hop_end, log_end = feeds.hop_end(db), feeds.log_end(db)
        dropped: dict[str, int] = {}
        if hop_end - self.hops_at > MAX_BACKLOG:
            dropped["backlog"] = hop_end - MAX_BACKLOG - self.hops_at
            self.hops_at = hop_end - MAX_BACKLOG
        if log_end - self.log_at > MAX_BACKLOG:
            dropped["backlog"] = dropped.get("backlog", 0) + log_end - MAX_BACKLOG - self.log_at
            self.log_at = log_end - MAX_BACKLOG
        hops = feeds.new_hops(db, self.hops_at, hop_end, CHUNK)
        consumed = feeds.new_consumptions(db, self.log_at, log_end, CHUNK)
        spans: list[ReadableSpan] = []
        for _id, hop, opens_root in hops:
            if opens_root:
                spans.append(self.builder.root(hop))
            spans.append(self.builder.hop(hop))
        waited = list(self._waiting)
        for log_id, maybe_hop, consumption in consumed:
            if maybe_hop is not None:
                spans.append(self.builder.consumption(maybe_hop, consumption))
            elif len(self._waiting) < MAX_WAITING:
                self._waiting[log_id] = now
            else:
                dropped["no_hop"] = dropped.get("no_hop", 0) + 1
        spans += self._resolve_waiting(db, waited, now, dropped)
        self.hops_at = hops[-1][0] if len(hops) == CHUNK else hop_end
        self.log_at = consumed[-1][0] if len(consumed) == CHUNK else log_end
        sent = self._send(spans)
        if len(spans) > sent:
            dropped["export_failed"] = len(spans) - sent
        self.metrics.count_spans(sent, dropped)
        self._save()
        return max(len(hops), len(consumed))

    def _resolve_waiting(
        self, db: Any, log_ids: list[int], now: float, dropped: dict[str, int]
    ) -> list[ReadableSpan]:
        spans = []
        for log_id in log_ids:
            got = feeds.consumption_of(db, log_id)
            if got is not None and got[0] is not None:
                spans.append(self.builder.consumption(got[0], got[1]))
            elif got is not None and now - self._waiting[log_id] < WAIT_FOR_HOP_SECONDS:
                continue
            elif got is not None:
                dropped["no_hop"] = dropped.get("no_hop", 0) + 1
            del self._waiting[log_id]
        return spans

    def _send(self, spans: Sequence[ReadableSpan]) -> int:
        """Spans the exporter accepted; a failed request loses its spans (logged, counted)."""
        sent = 0
        for i in range(0, len(spans), EXPORT_BATCH):
            chunk = spans[i : i + EXPORT_BATCH]
            try:
                ok = self.exporter.export(chunk) is SpanExportResult.SUCCESS
                error = "" if ok else "the exporter reported failure"
            except Exception as exc:
                ok, error = False, str(exc)
            if ok:
                sent += len(chunk)
            if ok == self._failing:  # log each change of state, not every failed request
                self._failing = not ok
                if ok:
                    log.info("span export works again")
                else:
                    log.warning("span export failed: %s (spans dropped until it works)", error)
        return sent

    def _save(self) -> None:
        """Persist the cursors when they moved; the log cursor stays below a waiting one."""
        log_at = min([self.log_at, *(i - 1 for i in self._waiting)])
        if self._saved == (self.hops_at, log_at):
            return
        try:
            if self._saved[0] != self.hops_at:
                self.store.advance(HOP_CURSOR, self.hops_at)
            if self._saved[1] != log_at:
                self.store.advance(LOG_CURSOR, log_at)
        except StoreError as exc:  # the next pass tries again; a crash meanwhile re-exports
            log.warning("span export: %s", exc)
            return
        self._saved = (self.hops_at, log_at)


def forget_cursors(store: TraceStore) -> None:
    """Export turned off: drop its cursors (a later start begins afresh, and the consumption
    log is trimmed without waiting for it)."""
    db = store.reader()
    for name in (HOP_CURSOR, LOG_CURSOR):
        if feeds.cursor(db, name) is not None:
            try:
                store.drop_cursor(name)
            except StoreError as exc:
                log.warning("span export: %s", exc)


def otlp_http_exporter(endpoint: str) -> SpanExporter:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(endpoint=endpoint, timeout=5)

"""The span export: every hop and every consumption exported once, as it is stored.

A background thread follows the store (`feeds`): the hops stored since its cursor and the
consumptions logged since its other cursor become spans (`otel`), sent through a sink in
requests of `EXPORT_BATCH`. So a hop that arrives after its journey ended, or a commit seen
after it, is exported like any other, and in-flight journeys are exported as they go.

Exactly once in normal operation: the cursors move past what was handed to the sink and are
kept in the store. At least once across a crash: a kill between a request and the cursor's
write exports that pass again (same span ids). Nothing runs on the tap's path: the thread reads
the store through its own connection. Failures are logged (once per change) and counted in
`eventscope_trace_spans_dropped_total{reason}`, never raised: tracing must not break the tap.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from collector.tracing import feeds
from collector.tracing.metrics import TraceMetrics
from collector.tracing.otel import SpanBuilder, SpanRecord, SpanSink
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


class SpanExport:
    """The background exporter: follows the store's hops and consumption log (module doc)."""

    def __init__(
        self,
        store: TraceStore,
        sink: SpanSink,
        metrics: TraceMetrics,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.store = store
        self.sink = sink
        self.metrics = metrics
        self.builder = SpanBuilder()
        self.clock = clock or time.monotonic
        with store.reading() as db:
            hops_at, log_at = feeds.cursor(db, HOP_CURSOR), feeds.cursor(db, LOG_CURSOR)
            # a first start exports what is stored from now on, not the store's whole history
            self.hops_at = feeds.hop_end(db) if hops_at is None else hops_at
            self.log_at = feeds.log_end(db) if log_at is None else log_at
        self._saved = (hops_at, log_at)
        self._waiting: dict[int, float] = {}  # log id -> when first seen without its hop
        self._failing = False
        self._pass = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._save()

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="trace-span-export", daemon=True)
        self._thread.start()

    def stop(self, timeout: float) -> None:
        """Export what the store holds by now (the taps have stopped), for up to `timeout`
        seconds, then shut down; what is left is exported after the next start."""
        deadline = time.monotonic() + timeout
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if not self._pass.acquire(timeout=max(0.0, deadline - time.monotonic())):
            log.warning("span export: still sending at stop; the rest goes after a restart")
        else:
            try:
                while self._run_once() >= CHUNK and time.monotonic() < deadline:
                    pass
                if self._waiting:  # else a restart would export again what came after them
                    self.metrics.count_spans(0, {"no_hop": len(self._waiting)})
                    self._waiting.clear()
                    self._save()
            except Exception:
                log.exception("span export: the last pass failed")
            finally:
                self._pass.release()
        try:
            self.sink.shutdown()
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
        with self._pass:  # one pass at a time: the thread's, or the last one at stop
            return self._run_once()

    def _run_once(self) -> int:
        with self.store.reading() as db:
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
            spans: list[SpanRecord] = []
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
    ) -> list[SpanRecord]:
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

    def _send(self, spans: Sequence[SpanRecord]) -> int:
        """Spans the sink accepted; a failed request loses its spans (logged, counted)."""
        sent = 0
        for i in range(0, len(spans), EXPORT_BATCH):
            chunk = spans[i : i + EXPORT_BATCH]
            try:
                error = self.sink.send(chunk)
            except Exception as exc:  # a sink must not raise; if one does, it is a failure
                error = str(exc)
            if error is None:
                sent += len(chunk)
            if (error is None) == self._failing:  # log each change of state, not each request
                self._failing = error is not None
                if error is None:
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
    with store.reading() as db:
        stale = [name for name in (HOP_CURSOR, LOG_CURSOR) if feeds.cursor(db, name) is not None]
    for name in stale:
        try:
            store.drop_cursor(name)
        except StoreError as exc:
            log.warning("span export: %s", exc)

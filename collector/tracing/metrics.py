"""Trace metrics: counters and histograms kept in memory, rendered by a prometheus-client collector.

Label values come from event headers (service names, event types), which producers control: each
family keeps at most `MAX_SERIES` label sets and folds the rest into value "other", so a bad
producer cannot explode the series count. Never a correlation ID, key or payload in a label.
"""

from __future__ import annotations

import bisect
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from collector.exporters.metric_table import family
from collector.tracing.ingest import Edge, IngestResult

MAX_SERIES = 2000
OTHER = "other"
HOP_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900)
DURATION_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 1800, 3600, 7200)

Labels = tuple[str, ...]


@dataclass
class Histogram:
    bounds: tuple[float, ...]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0

    def observe(self, value: float) -> None:
        self.observe_all((value,))

    def observe_all(self, values: Iterable[float]) -> None:
        if not self.counts:
            self.counts = [0] * (len(self.bounds) + 1)
        counts, bounds = self.counts, self.bounds
        for value in values:
            counts[bisect.bisect_left(bounds, value)] += 1
            self.total += value

    def buckets(self) -> list[tuple[str, float]]:
        """Cumulative buckets as prometheus-client wants them: [("0.5", 3), …, ("+Inf", n)]."""
        counts = self.counts or [0] * (len(self.bounds) + 1)
        out, running = [], 0
        for bound, count in zip((*self.bounds, float("inf")), counts, strict=True):
            running += count
            out.append(("+Inf" if bound == float("inf") else str(bound), float(running)))
        return out


class TraceMetrics:
    def __init__(
        self, hop_count: Callable[[], int], memory: Callable[[], int] | None = None
    ) -> None:
        self._lock = threading.Lock()
        self._hop_count = hop_count
        self._memory = memory  # SQLite's heap in bytes, when it can be read
        self.flow: dict[Labels, int] = {}
        self.events: dict[Labels, int] = {}
        self.skipped: dict[str, int] = {}
        self.hop_latency: dict[Labels, Histogram] = {}
        self.duration: dict[Labels, Histogram] = {}
        self.tap_lag: dict[Labels, int] = {}
        self.spans_exported = 0
        self.spans_dropped: dict[str, int] = {}
        self.store_up = 1

    def count_ingest(self, broker: str, cluster: str, per_source: dict[str, int]) -> None:
        with self._lock:
            for source, n in per_source.items():
                key = _bounded(self.events, (broker, cluster, source))
                self.events[key] = self.events.get(key, 0) + n

    def count_skipped(self, reason: str, n: int = 1) -> None:
        with self._lock:
            self.skipped[reason] = self.skipped.get(reason, 0) + n

    def observe(self, result: IngestResult) -> None:
        """Edges and finished journeys of one stored batch."""
        self.observe_edges(result.edges)
        if not result.finished:
            return
        with self._lock:
            for flow, seconds in result.finished:
                key = _bounded(self.duration, (flow,))
                self.duration.setdefault(key, Histogram(DURATION_BUCKETS)).observe(seconds)

    def observe_edges(self, edges: Iterable[Edge]) -> None:
        """Service-graph edges, from produced hops or from consumptions (grouped first: one
        update per label set, not per edge)."""
        flows: Counter[Labels] = Counter()
        latencies: dict[Labels, list[float]] = {}
        for e in edges:
            flows[(e.from_service, e.to_service, e.event_type)] += 1
            latencies.setdefault((e.from_service, e.to_service), []).append(e.latency_seconds)
        if not flows:
            return
        with self._lock:
            for labels, n in flows.items():
                key = _bounded(self.flow, labels)
                self.flow[key] = self.flow.get(key, 0) + n
            for pair, values in latencies.items():
                key = _bounded(self.hop_latency, pair)
                self.hop_latency.setdefault(key, Histogram(HOP_LATENCY_BUCKETS)).observe_all(values)

    def count_spans(self, exported: int, dropped: Mapping[str, int] | None = None) -> None:
        with self._lock:
            self.spans_exported += exported
            for reason, n in (dropped or {}).items():
                self.spans_dropped[reason] = self.spans_dropped.get(reason, 0) + n

    def set_store_up(self, up: bool) -> None:
        self.store_up = int(up)

    def set_tap_lag(self, broker: str, cluster: str, messages: int) -> None:
        with self._lock:
            self.tap_lag[(broker, cluster)] = messages


class TraceMetricsCollector:
    """A prometheus-client custom collector: renders `TraceMetrics` as it is, no I/O."""

    def __init__(self, metrics: TraceMetrics) -> None:
        self.metrics = metrics

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        m = self.metrics
        with m._lock:
            yield _counter("flow_events", m.flow)
            yield _histogram("hop_latency_seconds", m.hop_latency)
            yield _histogram("trace_duration_seconds", m.duration)
            yield _counter("trace_events", m.events)
            yield _counter("trace_events_skipped", {(k,): v for k, v in m.skipped.items()})
            yield _gauge("trace_store_up", {(): m.store_up})
            yield _gauge("trace_store_hops", {(): m._hop_count()})
            if m._memory is not None:
                yield _gauge("trace_store_memory_bytes", {(): m._memory()})
            yield _gauge("trace_tap_lag_messages", m.tap_lag)
            yield _counter("trace_spans_exported", {(): m.spans_exported})
            yield _counter("trace_spans_dropped", {(k,): v for k, v in m.spans_dropped.items()})


def _bounded(table: Mapping[Labels, object], key: Labels) -> Labels:
    if key in table or len(table) < MAX_SERIES:
        return key
    return tuple(OTHER for _ in key)


def _counter(name: str, values: dict[Labels, int]) -> Metric:
    fam = family(name)
    out = CounterMetricFamily(fam.full_name, fam.help, labels=fam.labels)
    for labels, value in sorted(values.items()):
        out.add_metric(list(labels), value)
    return out


def _gauge(name: str, values: dict[Labels, int]) -> Metric:
    fam = family(name)
    out = GaugeMetricFamily(fam.full_name, fam.help, labels=fam.labels)
    for labels, value in sorted(values.items()):
        out.add_metric(list(labels), value)
    return out


def _histogram(name: str, values: dict[Labels, Histogram]) -> Metric:
    fam = family(name)
    out = HistogramMetricFamily(fam.full_name, fam.help, labels=fam.labels)
    for labels, hist in sorted(values.items()):
        out.add_metric(list(labels), hist.buckets(), sum_value=hist.total)
    return out

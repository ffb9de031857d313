"""/metrics' fast text renderer (found by the render benchmark): prometheus-client's bytes.

Every case compares with `generate_latest` over the same registry, byte for byte.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from bench.metrics_render import synthetic_view, view_collector
from collector.config import Thresholds
from collector.exporters.exposition import render_exposition
from collector.exporters.prometheus import ViewCollector
from collector.model import Broker, ClusterView, GroupRow, LagMethod, LagRow, Status


class Families(Collector):
    def __init__(self, *metrics: Metric) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        yield from self.metrics


def registry_of(*collectors: Collector) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    for c in collectors:
        registry.register(c)
    return registry


def assert_same_bytes(registry: CollectorRegistry) -> bytes:
    expected = generate_latest(registry)
    assert render_exposition(registry.collect()) == expected
    return expected


NASTY = ['quote"in', "back\\slash", "new\nline", "ünïcødé ✓", "", "a,b=c}"]


def nasty_view() -> ClusterView:
    lags = tuple(
        LagRow(name, name, p, p * 7, None if p else 1.5, LagMethod.EXACT, 3) for p, name in
        enumerate(NASTY)
    )  # fmt: skip
    groups = tuple(GroupRow(name, Status.WARN, "why", "Stable", None) for name in NASTY)
    return ClusterView(
        broker=Broker.KAFKA,
        cluster='cl"uster\\',
        up=True,
        auth_failed=False,
        polled_at=1_800_000_000.123,
        last_success_at=None,
        lags=lags,
        groups=groups,
        produced_total={"t": 2**53 + 1},
        requests_total={"offset_fetch": 10},
    )


def test_collector_views_with_awkward_label_values():
    views = [nasty_view(), synthetic_view(3)]
    body = assert_same_bytes(registry_of(ViewCollector(lambda: views, Thresholds(), 15.0)))
    parsed = {f.name for f in text_string_to_metric_families(body.decode())}
    assert "eventscope_consumer_lag_messages" in parsed


def test_benchmark_sized_view():
    assert_same_bytes(registry_of(view_collector(synthetic_view(250))))


def test_special_values_and_unlabelled_families():
    g = GaugeMetricFamily("plain", "help with \\ and \n newline")
    for v in (0.0, -1.0, 1e-9, 1e21, math.inf, -math.inf, math.nan, 12345678901234567.0):
        g.add_sample("plain", {}, v)
    c = CounterMetricFamily("things", "counted", labels=["kind"])
    c.add_metric(["a"], 3)
    assert_same_bytes(registry_of(Families(g, c)))


def test_other_families_fall_back_to_prometheus_client():
    """Histograms, summaries, info, _created, timestamps and odd names: generate_latest's own."""
    stamped = GaugeMetricFamily("stamped", "has a timestamp", labels=["x"])
    stamped.add_metric(["1"], 1.0, timestamp=1_700_000_000.5)
    created = CounterMetricFamily("made", "with created", labels=["x"], created=1_700_000_000)
    created.add_metric(["1"], 2.0, created=1_700_000_000)
    summary = SummaryMetricFamily("took", "a summary", count_value=2, sum_value=3.5)
    info = InfoMetricFamily("build", "build info", value={"version": "1.0"})
    odd = GaugeMetricFamily("odd.name", "non-legacy name")
    odd.add_metric([], 1.0)
    registry = registry_of(Families(stamped, created, summary, info, odd))
    Histogram("latency_seconds", "lat", registry=registry).observe(0.2)
    Counter("events", "ev", ["kind"], registry=registry).labels("x").inc()
    assert_same_bytes(registry)


@pytest.mark.parametrize("count", [0, 1])
def test_empty_and_single_view_registries(count):
    views = [nasty_view()][:count]
    assert_same_bytes(registry_of(ViewCollector(lambda: views, Thresholds(), 15.0)))

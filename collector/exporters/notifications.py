"""`eventscope_alert_notifications_total{status}`: notifications the webhook received.

Rendered from the history's in-memory counts at scrape time; firing and resolved are always
present (from 0), so `increase()` sees the first notification of each.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from collector.alert_history import STATUSES
from collector.exporters.metric_table import family


class NotificationsCollector(Collector):
    def __init__(self, counts: Callable[[], Mapping[str, int]]) -> None:
        self._counts = counts

    def collect(self) -> Iterator[Metric]:
        f = family("alert_notifications")
        total = CounterMetricFamily(f.full_name, f.help, labels=list(f.labels))
        counts = {s: 0 for s in STATUSES} | dict(self._counts())
        for status, n in sorted(counts.items()):
            total.add_metric([status], n)
        yield total

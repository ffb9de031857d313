"""Prometheus exporter: one `collect()` that yields families from views already in memory.

It never calls a broker: the views come from the collector's own poll loop (see README, "How
often is lag measured?").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from collector.config import Thresholds
from collector.exporters.metric_table import family
from collector.model import ClusterView, LagRow, Status

GROUP_STATES = ("Stable", "Empty", "PreparingRebalance", "CompletingRebalance", "Dead", "Unknown")


def gauge(name: str) -> GaugeMetricFamily:
    f = family(name)
    return GaugeMetricFamily(f.full_name, f.help, labels=list(f.labels))


def counter(name: str) -> CounterMetricFamily:
    f = family(name)
    return CounterMetricFamily(f.full_name, f.help, labels=list(f.labels))


def partition_label(row: LagRow) -> str:
    return "" if row.partition is None else str(row.partition)


class ViewCollector(Collector):
    """Renders the latest `ClusterView`s (and the configured thresholds)."""

    def __init__(
        self,
        views: Callable[[], Sequence[ClusterView]],
        thresholds: Thresholds,
        poll_interval: float,
    ) -> None:
        self._views = views
        self._thresholds = thresholds
        self._interval = poll_interval

    def collect(self) -> Iterator[Metric]:
        views = self._views()
        interval = gauge("collector_poll_interval_seconds")
        interval.add_metric([], self._interval)
        yield interval
        yield from self._health(views)
        yield from self._lag(views)
        yield from self._groups(views)
        yield from self._throughput(views)
        yield from self._dead_letters(views)
        yield from self._thresholds_of(views)

    def _health(self, views: Iterable[ClusterView]) -> Iterator[Metric]:
        up, auth, last, success = (
            gauge("collector_up"),
            gauge("collector_auth_failed"),
            gauge("collector_last_poll_timestamp_seconds"),
            gauge("collector_last_success_timestamp_seconds"),
        )
        phases, budget = gauge("collector_poll_duration_seconds"), gauge("collector_series_budget")
        overruns, requests = counter("collector_poll_overruns"), counter("collector_requests")
        for v in views:
            key = [v.broker.value, v.cluster]
            up.add_metric(key, 1.0 if v.up else 0.0)
            auth.add_metric(key, 1.0 if v.auth_failed else 0.0)
            last.add_metric(key, v.polled_at)
            if v.last_success_at is not None:
                success.add_metric(key, v.last_success_at)
            for phase, seconds in sorted(v.phase_seconds.items()):
                phases.add_metric([*key, phase], seconds)
            budget.add_metric(key, v.series_budget)
            overruns.add_metric(key, v.poll_overruns)
            for kind, n in sorted(v.requests_total.items()):
                requests.add_metric([*key, kind], n)
        yield from (up, auth, last, success, phases, budget, overruns, requests)

    def _lag(self, views: Iterable[ClusterView]) -> Iterator[Metric]:
        messages, seconds = gauge("consumer_lag_messages"), gauge("consumer_lag_seconds")
        committed, end = gauge("consumer_committed_offset"), gauge("partition_end_offset")
        for v in views:
            key = [v.broker.value, v.cluster]
            for row in v.lags:
                labels = [*key, row.group, row.topic, partition_label(row)]
                messages.add_metric(labels, row.messages)
                if row.seconds is not None and row.method is not None:
                    seconds.add_metric([*labels, row.method.value], row.seconds)
                if row.committed is not None:
                    committed.add_metric(labels, row.committed)
            for tp, offset in sorted(v.end_offsets.items()):
                end.add_metric([*key, tp.topic, str(tp.partition)], offset)
        yield from (messages, seconds, committed, end)

    def _groups(self, views: Iterable[ClusterView]) -> Iterator[Metric]:
        status, state = gauge("consumer_group_status"), gauge("consumer_group_state")
        members, folded = gauge("consumer_group_members"), gauge("consumer_group_folded")
        uncommitted = gauge("consumer_uncommitted_partitions")
        unacked, utilisation = (
            gauge("consumer_unacked_messages"),
            gauge("consumer_utilisation_ratio"),
        )
        for v in views:
            for g in v.groups:
                key = [v.broker.value, v.cluster, g.group]
                for s in Status:
                    status.add_metric([*key, s.name], 1.0 if s is g.status else 0.0)
                states = GROUP_STATES if g.state in GROUP_STATES else (*GROUP_STATES, g.state)
                for name in states:
                    state.add_metric([*key, name], 1.0 if name == g.state else 0.0)
                if g.members is not None:
                    members.add_metric(key, g.members)
                folded.add_metric(key, 1.0 if g.folded else 0.0)
                for topic, n in sorted(g.uncommitted.items()):
                    uncommitted.add_metric([*key, topic], n)
                for topic, n in sorted(g.unacked.items()):
                    unacked.add_metric([*key, topic], n)
                for topic, ratio in sorted(g.utilisation.items()):
                    utilisation.add_metric([*key, topic], ratio)
        yield from (status, state, members, folded, uncommitted, unacked, utilisation)

    def _throughput(self, views: Iterable[ClusterView]) -> Iterator[Metric]:
        produced, consumed = counter("produced_messages"), counter("consumed_messages")
        retention, lost = gauge("topic_retention_seconds"), counter("consumer_messages_lost")
        for v in views:
            key = [v.broker.value, v.cluster]
            for topic, total in sorted(v.produced_total.items()):
                produced.add_metric([*key, topic], total)
            for (group, topic), total in sorted(v.consumed_total.items()):
                consumed.add_metric([*key, group, topic], total)
            for (group, topic), total in sorted(v.lost_total.items()):
                lost.add_metric([*key, group, topic], total)
            for topic, secs in sorted(v.retention_seconds.items()):
                retention.add_metric([*key, topic], secs)
        yield from (produced, consumed, retention, lost)

    def _dead_letters(self, views: Iterable[ClusterView]) -> Iterator[Metric]:
        depth, arrived = gauge("dlq_depth_messages"), counter("dead_lettered_messages")
        for v in views:
            key = [v.broker.value, v.cluster]
            for d in v.dead_letters:
                depth.add_metric([*key, d.dlq, d.source], d.depth)
                for reason, total in sorted(d.dead_lettered_total.items()):
                    arrived.add_metric([*key, d.dlq, d.source, reason], total)
        yield from (depth, arrived)

    def _thresholds_of(self, views: Iterable[ClusterView]) -> Iterator[Metric]:
        messages, seconds = gauge("lag_threshold_messages"), gauge("lag_threshold_seconds")
        for v in views:
            for g in v.groups:
                m, s = self._thresholds.for_group(g.group)
                messages.add_metric([v.cluster, g.group], m)
                seconds.add_metric([v.cluster, g.group], s)
        yield from (messages, seconds)

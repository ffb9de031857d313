"""What each panel shows: builds the query, loads it (cached) and shapes it.

Pages call these and get `Loaded` values: a DataFrame or a small value, or a problem sentence
to show in its place. Nothing here calls st.* except through `loaders`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from dashboard import alert_tables, journeys, loaders, queries, shaping
from dashboard.flow import FlowGraph, build_flow_graph
from dashboard.loaders import Loaded
from dashboard.settings import DashboardSettings, ViewFilters, step_seconds

GROUP_LABELS = ("broker", "cluster_name", "group")
ROUTING_LABELS = ["source", "target", "relation"]


@dataclass(frozen=True)
class View:
    settings: DashboardSettings
    filters: ViewFilters

    @property
    def cluster(self) -> str | None:
        return self.filters.cluster

    @property
    def window(self) -> str:
        return self.settings.rate_window


def instant_frame(view: View, promql: str, labels: Sequence[str]) -> Loaded[pd.DataFrame]:
    got = loaders.instant(view.settings.prometheus_url, view.settings.http_timeout_seconds, promql)
    if got.value is None:
        return Loaded(problem=got.problem, missing=got.missing)
    return Loaded(shaping.vector_frame(got.value, labels))


def range_frame(
    view: View, promql: str, labels: Sequence[str], range_seconds: int | None = None
) -> Loaded[pd.DataFrame]:
    """A matrix over the selected time range (or `range_seconds`) up to now."""
    span = range_seconds or view.filters.range_seconds
    got = loaders.series(
        view.settings.prometheus_url,
        view.settings.http_timeout_seconds,
        promql,
        span,
        step_seconds(span),
        loaders.time_bucket(time.time()),
    )
    if got.value is None:
        return Loaded(problem=got.problem, missing=got.missing)
    return Loaded(shaping.matrix_frame(got.value, labels))


def scalar(view: View, promql: str) -> Loaded[float | None]:
    got = loaders.instant(view.settings.prometheus_url, view.settings.http_timeout_seconds, promql)
    if got.value is None:
        return Loaded(problem=got.problem)
    return Loaded(shaping.scalar_value(got.value))


def cluster_options(settings: DashboardSettings) -> Loaded[list[str]]:
    got = loaders.instant(
        settings.prometheus_url, settings.http_timeout_seconds, queries.cluster_names()
    )
    if got.value is None:
        return Loaded(problem=got.problem)
    return Loaded(sorted({r.get("metric", {}).get("cluster_name", "") for r in got.value} - {""}))


def group_options(view: View) -> Loaded[list[str]]:
    got = instant_frame(view, queries.group_names(view.cluster), GROUP_LABELS)
    if got.value is None:
        return Loaded(problem=got.problem)
    return Loaded(sorted(set(got.value["group"]) - {""}))


def statuses(view: View, group: str | None = None) -> Loaded[pd.DataFrame]:
    promql = queries.group_statuses(view.cluster)
    got = instant_frame(view, promql, [*GROUP_LABELS, "status"])
    if got.value is not None and group is not None:
        return Loaded(got.value[got.value["group"] == group].reset_index(drop=True))
    return got


@dataclass(frozen=True)
class HealthTiles:
    brokers_up: int | None = None
    brokers_total: int | None = None
    groups_by_status: dict[str, int] = field(default_factory=dict)
    backlog_messages: float | None = None
    produce_rate: float | None = None
    consume_rate: float | None = None
    dlq_depth: float | None = None
    firing_alerts: int | None = None
    problems: tuple[str, ...] = ()


def health_tiles(view: View) -> HealthTiles:
    """The overview's tiles; each tile is None when its source failed (problems say why)."""
    problems: list[str] = []

    def keep(got: Loaded[Any]) -> Any:
        if got.problem:
            problems.append(got.problem)
        return got.value

    up = keep(instant_frame(view, queries.collectors_up(view.cluster), ["broker", "cluster_name"]))
    status = keep(statuses(view))
    alerts = keep(_alerts(view))
    return HealthTiles(
        brokers_up=None if up is None else int((up["value"] == 1).sum()),
        brokers_total=None if up is None else len(up),
        groups_by_status={} if status is None else shaping.status_counts(status),
        backlog_messages=keep(scalar(view, queries.total_backlog(view.cluster))),
        produce_rate=keep(scalar(view, queries.produce_rate_total(view.cluster, view.window))),
        consume_rate=keep(scalar(view, queries.consume_rate_total(view.cluster, view.window))),
        dlq_depth=keep(scalar(view, queries.dlq_depth_total(view.cluster))),
        firing_alerts=None if alerts is None else alert_tables.firing_count(alerts, view.cluster),
        problems=tuple(dict.fromkeys(problems)),
    )


def _alerts(view: View) -> Loaded[list[dict[str, Any]]]:
    s = view.settings
    return loaders.prometheus_alerts(s.prometheus_url, s.http_timeout_seconds)


def lag_table(view: View, group: str | None = None) -> Loaded[pd.DataFrame]:
    """Lag per group now, worst first, with status, thresholds and the collector's reason.
    The collector's reasons are optional: the table still shows when its API is down."""
    c = view.cluster
    parts = [
        instant_frame(view, queries.lag_messages_by_group(c, group), GROUP_LABELS),
        instant_frame(view, queries.lag_seconds_by_group(c, group), GROUP_LABELS),
        statuses(view, group),
        instant_frame(view, queries.thresholds_messages(c, group), ["cluster_name", "group"]),
        instant_frame(view, queries.thresholds_seconds(c, group), ["cluster_name", "group"]),
    ]
    for part in parts:
        if part.value is None:
            return Loaded(problem=part.problem)
    groups = collector_groups(view)
    msgs, secs, status, thr_msgs, thr_secs = (p.value for p in parts)
    assert msgs is not None and secs is not None and status is not None
    assert thr_msgs is not None and thr_secs is not None
    table = shaping.lag_table(msgs, secs, status, thr_msgs, thr_secs, groups.value or [])
    return Loaded(table)


def collector_groups(view: View) -> Loaded[list[dict[str, Any]]]:
    s = view.settings
    return loaders.collector_groups(s.collector_url, s.http_timeout_seconds, s.collector_token)


def alerts_table(view: View) -> Loaded[pd.DataFrame]:
    got = _alerts(view)
    if got.value is None:
        return Loaded(problem=got.problem)
    return Loaded(alert_tables.alerts_frame(got.value, view.cluster))


def firing_alerts(view: View) -> Loaded[pd.DataFrame]:
    """Only the firing alerts, critical first (for the overview)."""
    got = alerts_table(view)
    if got.value is None:
        return got
    return Loaded(got.value[got.value["state"] == "firing"].reset_index(drop=True))


def rules_table(view: View) -> Loaded[pd.DataFrame]:
    s = view.settings
    got = loaders.prometheus_rules(s.prometheus_url, s.http_timeout_seconds)
    if got.value is None:
        return Loaded(problem=got.problem)
    return Loaded(alert_tables.rules_frame(got.value))


def notifications_table(view: View) -> Loaded[pd.DataFrame]:
    s = view.settings
    got = loaders.notifications(s.collector_url, s.http_timeout_seconds, s.collector_token)
    if got.value is None:
        return Loaded(problem=got.problem, missing=got.missing)
    return Loaded(alert_tables.notifications_frame(got.value, view.cluster))


def flow_graph(view: View) -> Loaded[FlowGraph]:
    w = view.window
    parts = [
        instant_frame(
            view, queries.flow_edge_rate(w), ["from_service", "to_service", "event_type"]
        ),
        instant_frame(view, queries.hop_latency_quantile(0.95, w), ["from_service", "to_service"]),
        instant_frame(view, queries.consume_rate_by_group_topic(w), [*GROUP_LABELS, "topic"]),
        statuses(view),
    ]
    for part in parts:
        if part.value is None:
            return Loaded(problem=part.problem)
    flows, p95, consumption, status = (p.value for p in parts)
    assert flows is not None and p95 is not None and consumption is not None and status is not None
    if view.cluster:
        consumption = consumption[consumption["cluster_name"] == view.cluster]
    hidden = frozenset({view.settings.tap_group})
    # broker routing (EventBridge) is optional: without it the graph is still drawn
    routing = instant_frame(view, queries.routing_edges(view.cluster), ROUTING_LABELS).value
    failing = instant_frame(view, queries.failing_rules(view.cluster), ["bus", "rule"]).value
    return Loaded(
        build_flow_graph(
            flows,
            p95,
            consumption,
            status,
            hidden_groups=hidden,
            routing=routing,
            failing_rules=failing,
        )
    )


def journey(view: View, correlation_id: str) -> Loaded[dict[str, Any]]:
    s = view.settings
    return loaders.journey(
        s.collector_url, s.http_timeout_seconds, s.collector_token, correlation_id.strip()
    )


def recent_traces(view: View, status: str, limit: int = 50) -> Loaded[pd.DataFrame]:
    """Recent journeys with this status over the selected time range, newest first."""
    s = view.settings
    since = loaders.aligned_end(time.time(), 60) - view.filters.range_seconds
    got = loaders.traces(
        s.collector_url, s.http_timeout_seconds, s.collector_token, status, since, limit
    )
    if got.value is None:
        return Loaded(problem=got.problem, missing=got.missing)
    return Loaded(journeys.traces_frame(got.value))


def dead_lettered_traces(view: View, limit: int = 20) -> Loaded[pd.DataFrame]:
    """Recent journeys that ended in a DLQ: the API's `failed` minus those only compensated."""
    got = recent_traces(view, "failed", limit)
    if got.value is None:
        return got
    return Loaded(journeys.dead_lettered(got.value))

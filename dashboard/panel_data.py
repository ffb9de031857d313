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

from dashboard import alert_tables, journeys, loaders, members, queries, shaping
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
    return _frame(got, labels)


def _frame(got: Loaded[list[dict[str, Any]]], labels: Sequence[str]) -> Loaded[pd.DataFrame]:
    if got.value is None:
        return Loaded(problem=got.problem, missing=got.missing)
    return Loaded(shaping.vector_frame(got.value, labels))


def _scalar(got: Loaded[list[dict[str, Any]]]) -> Loaded[float | None]:
    if got.value is None:
        return Loaded(problem=got.problem)
    return Loaded(shaping.scalar_value(got.value))


def instant_batch(view: View, promqls: Sequence[str]) -> tuple[Loaded[list[dict[str, Any]]], ...]:
    """A panel's instant queries, sent at once and cached together (`loaders.instants`)."""
    s = view.settings
    return loaders.instants(s.prometheus_url, s.http_timeout_seconds, tuple(promqls))


def instant_frames(
    view: View, queries_labels: Sequence[tuple[str, Sequence[str]]]
) -> list[Loaded[pd.DataFrame]]:
    got = instant_batch(view, [q for q, _ in queries_labels])
    return [_frame(g, labels) for g, (_, labels) in zip(got, queries_labels, strict=True)]


def range_frames(
    view: View,
    queries_labels: Sequence[tuple[str, Sequence[str]]],
    range_seconds: int | None = None,
) -> list[Loaded[pd.DataFrame]]:
    """`range_frame` for several queries of one panel, sent at once."""
    span = range_seconds or view.filters.range_seconds
    got = loaders.series_set(
        view.settings.prometheus_url,
        view.settings.http_timeout_seconds,
        tuple(q for q, _ in queries_labels),
        span,
        step_seconds(span),
        loaders.time_bucket(time.time()),
    )
    out: list[Loaded[pd.DataFrame]] = []
    for g, (_, labels) in zip(got, queries_labels, strict=True):
        if g.value is None:
            out.append(Loaded(problem=g.problem, missing=g.missing))
        else:
            out.append(Loaded(shaping.matrix_frame(g.value, labels)))
    return out


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

    c, w = view.cluster, view.window
    got = instant_batch(
        view,
        [
            queries.collectors_up(c),
            queries.group_statuses(c),
            queries.total_backlog(c),
            queries.produce_rate_total(c, w),
            queries.consume_rate_total(c, w),
            queries.dlq_depth_total(c),
        ],
    )
    up = keep(_frame(got[0], ["broker", "cluster_name"]))
    status = keep(_frame(got[1], [*GROUP_LABELS, "status"]))
    alerts = keep(_alerts(view))
    backlog, produced, consumed, dlq = (keep(_scalar(g)) for g in got[2:])
    return HealthTiles(
        brokers_up=None if up is None else int((up["value"] == 1).sum()),
        brokers_total=None if up is None else len(up),
        groups_by_status={} if status is None else shaping.status_counts(status),
        backlog_messages=backlog,
        produce_rate=produced,
        consume_rate=consumed,
        dlq_depth=dlq,
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
    parts = instant_frames(
        view,
        [
            (queries.lag_messages_by_group(c, group), GROUP_LABELS),
            (queries.lag_seconds_by_group(c, group), GROUP_LABELS),
            (queries.group_statuses(c), [*GROUP_LABELS, "status"]),
            (queries.thresholds_messages(c, group), ["cluster_name", "group"]),
            (queries.thresholds_seconds(c, group), ["cluster_name", "group"]),
        ],
    )
    found = parts[2].value
    if found is not None and group is not None:
        parts[2] = Loaded(found[found["group"] == group].reset_index(drop=True))
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


@dataclass(frozen=True)
class MembersPanel:
    """The Consumer lag page's members table, and sentences for what the table cannot show."""

    table: pd.DataFrame
    notes: tuple[str, ...] = ()


def group_members(view: View, group: str) -> Loaded[MembersPanel]:
    """Members of `group` with lag per member, per cluster that has it, from the collector API
    (`/api/groups` says which clusters and brokers; one `/api/groups/{group}` per Kafka one)."""
    listed = collector_groups(view)
    if listed.value is None:
        return Loaded(problem=listed.problem, missing=listed.missing)
    entries = [
        g
        for g in listed.value
        if g.get("group") == group and view.cluster in (None, g.get("cluster_name"))
    ]
    if not entries:
        note = f"The collector reports no group {group!r} right now."
        return Loaded(MembersPanel(members.members_frame([]), (note,)))
    s = view.settings
    details: list[dict[str, Any]] = []
    notes: list[str] = []
    for entry in entries:
        if entry.get("broker") != "kafka":
            notes.append(members.no_members_concept(entry))
            continue
        got = loaders.collector_group(
            s.collector_url, s.http_timeout_seconds, s.collector_token, group,
            str(entry.get("cluster_name", "")),
        )  # fmt: skip
        if got.value is None:
            return Loaded(problem=got.problem, missing=got.missing)
        details.append(got.value)
        notes.extend(members.members_notes(got.value))
    return Loaded(MembersPanel(members.members_frame(details), tuple(notes)))


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
    w, c = view.window, view.cluster
    parts = instant_frames(
        view,
        [
            (queries.flow_edge_rate(w), ["from_service", "to_service", "event_type"]),
            (queries.hop_latency_quantile(0.95, w), ["from_service", "to_service"]),
            (queries.consume_rate_by_group_topic(w), [*GROUP_LABELS, "topic"]),
            (queries.group_statuses(c), [*GROUP_LABELS, "status"]),
            (queries.routing_edges(c), ROUTING_LABELS),
            (queries.failing_rules(c), ["bus", "rule"]),
        ],
    )
    routing, failing = parts[4].value, parts[5].value
    for part in parts[:4]:
        if part.value is None:
            return Loaded(problem=part.problem)
    flows, p95, consumption, status = (p.value for p in parts[:4])
    assert flows is not None and p95 is not None and consumption is not None and status is not None
    if view.cluster:
        consumption = consumption[consumption["cluster_name"] == view.cluster]
    hidden = frozenset({view.settings.tap_group})
    # broker routing (EventBridge, parts 4 and 5) is optional: without it the graph is drawn
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

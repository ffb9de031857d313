"""Time-series panels (Prometheus range queries) and the dead-letter tables, shaped for pages."""

from __future__ import annotations

import pandas as pd

from dashboard import queries
from dashboard.loaders import Loaded
from dashboard.panel_data import (
    GROUP_LABELS,
    View,
    instant_frame,
    instant_frames,
    range_frame,
    range_frames,
)
from dashboard.settings import duration_seconds
from dashboard.shaping import partition_table

OVERVIEW_RANGE_SECONDS = 15 * 60


def lag_by_group_recent(view: View) -> Loaded[pd.DataFrame]:
    """Lag in messages per group over the last 15 minutes, whatever the selected range."""
    promql = queries.lag_messages_by_group(view.cluster)
    return range_frame(view, promql, GROUP_LABELS, OVERVIEW_RANGE_SECONDS)


def thresholds_of(lag: pd.DataFrame | None) -> dict[str, float | None]:
    """The thresholds to draw from a group's lag-table rows ("messages", "seconds"): the lowest
    when several clusters are selected, None when unknown (no query of its own)."""
    out: dict[str, float | None] = {}
    for unit in ("messages", "seconds"):
        column = f"threshold_{unit}"
        low = lag[column].min() if lag is not None and column in lag and len(lag) else None
        out[unit] = None if low is None or low != low else float(low)
    return out


# The consume rate comes from committed offsets, which move in bursts: a consumer committing
# every 20 s, scraped every 5 s, read through rate(...[1m]) at evaluation times 20 s apart always
# sees the same 2 of its 3 commits per minute, and its line sat at 73 % of the produce rate
# while its lag stayed flat (the demo's batch-analytics). Over 5 minutes one commit more or less
# is under 7 %. Both lines of the comparison use the same window.
COMPARE_WINDOW = "5m"


def compare_window(window: str) -> str:
    """The rate window of the rate charts (consume vs produce, Throughput): the dashboard's,
    at least 5 minutes."""
    return max(window, COMPARE_WINDOW, key=duration_seconds)


def group_history(view: View, group: str) -> tuple[Loaded[pd.DataFrame], ...]:
    """The group page's time series, fetched at once: (lag messages, lag seconds, consume rate
    per topic, produce rate of the topics it reads) over the selected range."""
    c, w = view.cluster, compare_window(view.window)
    return tuple(
        range_frames(
            view,
            [
                (queries.lag_messages_by_group(c, group), GROUP_LABELS),
                (queries.lag_seconds_by_group(c, group), GROUP_LABELS),
                (queries.consume_rate_by_topic(c, group, w), ["topic"]),
                (queries.produce_rate_for_group_topics(c, group, w), ["topic"]),
            ],
        )
    )


def group_partitions(view: View, group: str) -> Loaded[pd.DataFrame]:
    """Per topic/partition of the group: lag in messages and seconds, and the seconds method."""
    labels = ["broker", "cluster_name", "topic", "partition"]
    msgs, secs = instant_frames(
        view,
        [
            (queries.partition_lag_messages(view.cluster, group), labels),
            (queries.partition_lag_seconds(view.cluster, group), [*labels, "method"]),
        ],
    )
    if msgs.value is None or secs.value is None:
        return Loaded(problem=msgs.problem or secs.problem)
    return Loaded(partition_table(msgs.value, secs.value))


def group_state(view: View, group: str) -> Loaded[pd.DataFrame]:
    return instant_frame(view, queries.group_state(view.cluster, group), [*GROUP_LABELS, "state"])


def _rate_queries(view: View, topic: str | None, window: str) -> list[tuple[str, list[str]]]:
    """Produced per topic/queue and consumed per group and topic, with their labels."""
    return [
        (queries.produce_rate_by_topic(view.cluster, window, topic),
         ["broker", "cluster_name", "topic"]),
        (queries.consume_rate_by_group(view.cluster, window, topic),
         [*GROUP_LABELS, "topic"]),
    ]  # fmt: skip


def throughput_history(
    view: View, topic: str | None = None
) -> tuple[Loaded[pd.DataFrame], Loaded[pd.DataFrame]]:
    """(produced per topic/queue, consumed per group and topic) over the range, fetched at once;
    rates over `compare_window` (at least 5 minutes), as on the group page."""
    produced, consumed = range_frames(view, _rate_queries(view, topic, compare_window(view.window)))
    return produced, consumed


def rates_now(view: View, topic: str | None = None) -> Loaded[pd.DataFrame]:
    """Per topic/queue now: produced/s and consumed/s (summed over its groups)."""
    produced, consumed = instant_frames(view, _rate_queries(view, topic, view.window))
    if produced.value is None or consumed.value is None:
        return Loaded(problem=produced.problem or consumed.problem)
    keys = ["broker", "cluster_name", "topic"]
    per_topic = consumed.value.groupby(keys, as_index=False).agg(
        consumed_per_s=("value", "sum"), groups=("group", lambda g: ", ".join(sorted(set(g))))
    )
    table = produced.value.rename(columns={"value": "produced_per_s"}).merge(
        per_topic, on=keys, how="outer"
    )
    return Loaded(table.sort_values(keys).reset_index(drop=True))


def topic_options(view: View) -> list[str]:
    """Topics/queues with produce or consume counters; empty when Prometheus cannot say."""
    now = rates_now(view)
    return sorted(set(now.value["topic"]) - {""}) if now.value is not None else []


def dlq_depth_now(view: View) -> Loaded[pd.DataFrame]:
    labels = ["broker", "cluster_name", "dlq", "source"]
    got = instant_frame(view, queries.dlq_depth(view.cluster), labels)
    if got.value is None:
        return got
    table = got.value.rename(columns={"value": "depth"})
    return Loaded(table.sort_values("depth", ascending=False).reset_index(drop=True))


def dlq_history(view: View) -> tuple[Loaded[pd.DataFrame], Loaded[pd.DataFrame]]:
    """(DLQ depth, dead-lettered per second) over the range, fetched at once."""
    depth, inflow = range_frames(
        view,
        [
            (queries.dlq_depth(view.cluster), ["cluster_name", "dlq", "source"]),
            (queries.dlq_inflow(view.cluster, view.window), ["broker", "cluster_name", "dlq"]),
        ],
    )
    return depth, inflow


def dlq_reasons(view: View) -> Loaded[pd.DataFrame]:
    """Dead-lettered messages per DLQ, source and reason over the selected time range."""
    labels = ["broker", "cluster_name", "dlq", "source", "reason"]
    got = instant_frame(view, queries.dlq_reasons(view.cluster, view.filters.time_range), labels)
    if got.value is None:
        return got
    # increase() extrapolates to the window's edges: 54.8 means "about 55"
    table = got.value.rename(columns={"value": "messages"}).round({"messages": 0})
    table = table[table["messages"] > 0] if len(table) else table
    return Loaded(table.sort_values("messages", ascending=False).reset_index(drop=True))

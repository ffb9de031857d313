"""Pure pandas shaping of Prometheus and collector answers into the tables pages show.

Prometheus samples arrive as strings ("12.5", "NaN", "+Inf"); they become floats here. Missing
labels become "" so joins on (broker, cluster_name, group) never drop a row for lack of a label.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

import pandas as pd

GROUP_COLUMNS = ["broker", "cluster_name", "group"]

# Worst first: a group's row sorts by this rank before anything else.
STATUS_ORDER: tuple[str, ...] = ("ERR", "STOP", "STALL", "REWIND", "WARN", "OK")


def status_rank(status: str) -> int:
    """Higher is worse: ERR -> 6 … OK -> 1, unknown -> 0."""
    try:
        return len(STATUS_ORDER) - STATUS_ORDER.index(status)
    except ValueError:
        return 0


def sample_value(text: Any) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def vector_frame(result: Iterable[Mapping[str, Any]], labels: Sequence[str]) -> pd.DataFrame:
    """An instant vector as rows: one column per label, then `value`."""
    rows = [
        {
            **{k: item.get("metric", {}).get(k, "") for k in labels},
            "value": sample_value(item.get("value", [None, None])[1]),
        }
        for item in result
    ]
    return pd.DataFrame(rows, columns=[*labels, "value"])


def scalar_value(result: Sequence[Mapping[str, Any]]) -> float | None:
    """The value of a one-element vector (a `sum(...)`); None when Prometheus has no data."""
    if not result:
        return None
    return sample_value(result[0].get("value", [None, None])[1])


def matrix_frame(result: Iterable[Mapping[str, Any]], labels: Sequence[str]) -> pd.DataFrame:
    """A range matrix as long rows: labels, `time` (UTC datetime), `value`. Built a column at a
    time (100 series x 180 points is 18,000 rows: a dict per row costs ~10x more)."""
    columns: dict[str, list[Any]] = {k: [] for k in labels}
    times: list[Any] = []
    values: list[Any] = []
    for item in result:
        points = item.get("values") or []
        if not points:
            continue
        metric = item.get("metric", {})
        for k in labels:
            columns[k].extend([metric.get(k, "")] * len(points))
        ts, vs = zip(*points, strict=True)
        times.extend(ts)
        values.extend(vs)
    frame = pd.DataFrame(columns, columns=list(labels))
    frame["time"] = pd.to_datetime(
        pd.to_numeric(pd.Series(times, dtype=object)), unit="s", utc=True
    )
    frame["value"] = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").astype(float)
    return frame


def series_label(row: Mapping[str, Any], labels: Sequence[str]) -> str:
    """How a series is named in a legend: non-empty label values joined with " / "."""
    return " / ".join(str(row[k]) for k in labels if row.get(k))


def series_names(frame: pd.DataFrame, labels: Sequence[str]) -> pd.Series:
    """`series_label` of every row, computed once per distinct label combination."""
    if frame.empty:
        return pd.Series([], dtype=str, index=frame.index)
    # factorize, then join each distinct combination once: a loop over the rows (itertuples over
    # pandas' Arrow strings) cost seconds for the 4,000 rows of a 5-minute range at 1 s steps
    codes, distinct = pd.MultiIndex.from_frame(frame[list(labels)].astype(str)).factorize()
    names = pd.Series([" / ".join(v for v in row if v) for row in distinct], dtype=object)
    return pd.Series(names.to_numpy()[codes], index=frame.index)


def top_series(
    frame: pd.DataFrame, labels: Sequence[str], limit: int, rest: str = "sum"
) -> pd.DataFrame:
    """The `limit` series with the highest peak over the range, by name (`series`, `time`,
    `value`), and the rest folded into one series per time, summed or (rest="max") their
    maximum: 100 groups with limit 10 give 10 lines and "90 others (sum)". A chart of 100 lines
    reads as a blur and costs the browser seconds to draw; the worst stand out, the rest is
    still accounted for."""
    named = frame.assign(series=series_names(frame, labels))[["series", "time", "value"]]
    peaks = named.groupby("series", sort=True)["value"].max().fillna(float("-inf"))
    named = named.sort_values("series", kind="stable")  # legend order: by name, others last
    if len(peaks) <= limit:
        return named.reset_index(drop=True)
    keep = set(peaks.sort_values(ascending=False, kind="stable").index[:limit])
    kept = named[named["series"].isin(keep)]
    others = named[~named["series"].isin(keep)].groupby("time", as_index=False)["value"]
    folded = others.max() if rest == "max" else others.sum()
    folded["series"] = f"{len(peaks) - limit} others ({rest})"
    return pd.concat([kept, folded[["series", "time", "value"]]], ignore_index=True)


def parse_time(value: Any) -> pd.Timestamp | None:
    """A UTC timestamp from unix seconds or an ISO-8601 string; None when absent or unreadable."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, int | float):
            return pd.Timestamp(float(value), unit="s", tz="UTC")
        stamp = pd.Timestamp(str(value))
    except (ValueError, TypeError):
        return None
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def status_counts(statuses: pd.DataFrame) -> dict[str, int]:
    """Groups per status, in STATUS_ORDER, zeros included: {"ERR": 0, …, "OK": 3}."""
    counts = statuses["status"].value_counts() if not statuses.empty else pd.Series(dtype=int)
    return {s: int(counts.get(s, 0)) for s in STATUS_ORDER}


def page_link(page: str, **params: str) -> str:
    """A relative link to another page with its deep-link parameters:
    page_link("lag", group="billing", cluster="") -> "lag?group=billing"."""
    kept = {k: v for k, v in params.items() if v}
    return f"{page}?{urlencode(kept)}" if kept else page


def lag_table(
    lag_messages: pd.DataFrame,
    lag_seconds: pd.DataFrame,
    statuses: pd.DataFrame,
    threshold_messages: pd.DataFrame,
    threshold_seconds: pd.DataFrame,
    collector_groups: Sequence[Mapping[str, Any]] = (),
) -> pd.DataFrame:
    """One row per group, worst first.

    Worst = highest status rank, then highest ratio of lag to its threshold (messages or
    seconds, whichever is larger), then most lag seconds, then most lag messages. A group over
    a threshold of 100 messages with lag 300 has ratio 3.0 and sorts above one at ratio 0.5.
    """
    table = lag_messages.rename(columns={"value": "lag_messages"})[[*GROUP_COLUMNS, "lag_messages"]]
    secs = lag_seconds.rename(columns={"value": "lag_seconds"})[[*GROUP_COLUMNS, "lag_seconds"]]
    table = table.merge(secs, on=GROUP_COLUMNS, how="outer")
    status = statuses[[*GROUP_COLUMNS, "status"]] if not statuses.empty else None
    if status is not None:
        table = table.merge(status, on=GROUP_COLUMNS, how="outer")
    else:
        table["status"] = ""
    for frame, column in (
        (threshold_messages, "threshold_messages"),
        (threshold_seconds, "threshold_seconds"),
    ):
        thr = frame.rename(columns={"value": column})[["cluster_name", "group", column]]
        table = table.merge(thr, on=["cluster_name", "group"], how="left")
    reasons = {
        (g.get("broker", ""), g.get("cluster_name", ""), g.get("group", "")): g.get("reason") or ""
        for g in collector_groups
    }
    table["status"] = table["status"].fillna("").astype(str)
    table["reason"] = [
        reasons.get((b, c, g), "")
        for b, c, g in zip(table["broker"], table["cluster_name"], table["group"], strict=True)
    ]
    ratio = (
        pd.concat(
            [
                table["lag_messages"] / table["threshold_messages"],
                table["lag_seconds"] / table["threshold_seconds"],
            ],
            axis=1,
        )
        .max(axis=1)
        .fillna(0.0)
    )
    table["over_threshold"] = ratio
    table["rank"] = table["status"].map(status_rank)
    table = table.sort_values(
        ["rank", "over_threshold", "lag_seconds", "lag_messages", "group"],
        ascending=[False, False, False, False, True],
        na_position="last",
    ).drop(columns=["rank"])
    table["link"] = [
        page_link("lag", group=g, cluster=c)
        for g, c in zip(table["group"], table["cluster_name"], strict=True)
    ]
    return table.reset_index(drop=True)


def partition_table(lag_messages: pd.DataFrame, lag_seconds: pd.DataFrame) -> pd.DataFrame:
    """Per topic/partition of one group: lag in messages and seconds, and how seconds were got."""
    keys = ["broker", "cluster_name", "topic", "partition"]
    msgs = lag_messages.rename(columns={"value": "lag_messages"})[[*keys, "lag_messages"]]
    secs = lag_seconds.rename(columns={"value": "lag_seconds"})[[*keys, "lag_seconds", "method"]]
    table = msgs.merge(secs, on=keys, how="outer")
    table["partition_order"] = pd.to_numeric(table["partition"], errors="coerce")
    return (
        table.sort_values(["topic", "partition_order", "partition"])
        .drop(columns=["partition_order"])
        .reset_index(drop=True)
    )

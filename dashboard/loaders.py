"""Cached fetches: the only module that uses st.cache_data.

Each loader returns a `Loaded` value — the data, or a plain-words problem — instead of raising,
so a failure is cached for the same ttl as data: a Prometheus that is down or slow costs one
timeout per ttl, not one per panel per rerun. Arguments are the cache key, so range queries take
an `end` aligned to the step (see `aligned_end`) to let reruns within one step share an entry.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import streamlit as st

from dashboard.sources import CollectorClient, PrometheusClient, SourceError, SourceMissing

T = TypeVar("T")

# ≈ one scrape interval: fresher data does not exist, staler data would hide a change.
TTL_SECONDS = 10
MAX_ENTRIES = 512
# Queries of one panel in flight at once: a page's worth, without flooding Prometheus.
PARALLEL = 8


@dataclass(frozen=True)
class Loaded(Generic[T]):
    """A loader's answer: `value` when it worked, else `problem` (a sentence) and `missing`
    when the source lacks the endpoint (an older collector), which pages show more quietly."""

    value: T | None = None
    problem: str | None = None
    missing: bool = False

    @property
    def ok(self) -> bool:
        return self.problem is None


def aligned_end(now: float, step: int) -> int:
    """`now` rounded down to a multiple of `step`: aligned_end(1005.7, 20) -> 1000."""
    return int(now // step) * step


def time_bucket(now: float) -> int:
    """Which ttl-long slice of time `now` is in: a cache key that changes once per ttl."""
    return aligned_end(now, TTL_SECONDS)


def _failed(err: SourceError) -> Loaded[Any]:
    return Loaded(problem=err.message, missing=isinstance(err, SourceMissing))


def _query(prometheus_url: str, timeout: float, promql: str) -> Loaded[list[dict[str, Any]]]:
    try:
        return Loaded(PrometheusClient(prometheus_url, timeout).query(promql))
    except SourceError as err:
        return _failed(err)


def _query_range(
    prometheus_url: str, timeout: float, promql: str, start: float, end: float, step: int
) -> Loaded[list[dict[str, Any]]]:
    try:
        return Loaded(
            PrometheusClient(prometheus_url, timeout).query_range(promql, start, end, step)
        )
    except SourceError as err:
        return _failed(err)


@st.cache_data(ttl=TTL_SECONDS, max_entries=MAX_ENTRIES, show_spinner=False)
def instant(prometheus_url: str, timeout: float, promql: str) -> Loaded[list[dict[str, Any]]]:
    return _query(prometheus_url, timeout, promql)


@st.cache_data(ttl=TTL_SECONDS, max_entries=MAX_ENTRIES, show_spinner=False)
def instants(
    prometheus_url: str, timeout: float, promqls: tuple[str, ...]
) -> tuple[Loaded[list[dict[str, Any]]], ...]:
    """Several instant queries of one panel, sent at once: the panel waits for the slowest,
    not for their sum (a page's dozen queries one after another cost ~1 s on a loaded host)."""
    with ThreadPoolExecutor(max_workers=max(1, min(PARALLEL, len(promqls)))) as pool:
        return tuple(pool.map(lambda q: _query(prometheus_url, timeout, q), promqls))


@st.cache_data(ttl=TTL_SECONDS, max_entries=MAX_ENTRIES, show_spinner=False)
def series_set(
    prometheus_url: str, timeout: float, promqls: tuple[str, ...], span: int, step: int, bucket: int
) -> tuple[Loaded[list[dict[str, Any]]], ...]:
    """`series` for several queries of one panel, sent at once (see `instants`)."""
    del bucket
    end = float(int(time.time()))

    def one(promql: str) -> Loaded[list[dict[str, Any]]]:
        return _query_range(prometheus_url, timeout, promql, end - span, end, step)

    with ThreadPoolExecutor(max_workers=max(1, min(PARALLEL, len(promqls)))) as pool:
        return tuple(pool.map(one, promqls))


@st.cache_data(ttl=TTL_SECONDS, max_entries=MAX_ENTRIES, show_spinner=False)
def series(
    prometheus_url: str, timeout: float, promql: str, span: int, step: int, bucket: int
) -> Loaded[list[dict[str, Any]]]:
    """The last `span` seconds at `step`, ending when fetched; `bucket` (see `time_bucket`)
    is only the cache key, so reruns within one ttl share the answer."""
    del bucket
    end = float(int(time.time()))
    return _query_range(prometheus_url, timeout, promql, end - span, end, step)


@st.cache_data(ttl=TTL_SECONDS, max_entries=16, show_spinner=False)
def prometheus_alerts(prometheus_url: str, timeout: float) -> Loaded[list[dict[str, Any]]]:
    try:
        return Loaded(PrometheusClient(prometheus_url, timeout).alerts())
    except SourceError as err:
        return _failed(err)


@st.cache_data(ttl=60, max_entries=16, show_spinner=False)
def prometheus_rules(prometheus_url: str, timeout: float) -> Loaded[list[dict[str, Any]]]:
    try:
        return Loaded(PrometheusClient(prometheus_url, timeout).rule_groups())
    except SourceError as err:
        return _failed(err)


@st.cache_data(ttl=TTL_SECONDS, max_entries=16, show_spinner=False)
def collector_groups(
    collector_url: str, timeout: float, token: str | None
) -> Loaded[list[dict[str, Any]]]:
    try:
        return Loaded(CollectorClient(collector_url, timeout, token=token).groups())
    except SourceError as err:
        return _failed(err)


@st.cache_data(ttl=TTL_SECONDS, max_entries=64, show_spinner=False)
def collector_group(
    collector_url: str, timeout: float, token: str | None, group: str, cluster: str | None
) -> Loaded[dict[str, Any]]:
    try:
        return Loaded(CollectorClient(collector_url, timeout, token=token).group(group, cluster))
    except SourceError as err:
        return _failed(err)


@st.cache_data(ttl=TTL_SECONDS, max_entries=16, show_spinner=False)
def notifications(
    collector_url: str, timeout: float, token: str | None
) -> Loaded[list[dict[str, Any]]]:
    try:
        return Loaded(CollectorClient(collector_url, timeout, token=token).notifications())
    except SourceError as err:
        return _failed(err)


@st.cache_data(ttl=TTL_SECONDS, max_entries=128, show_spinner=False)
def journey(
    collector_url: str, timeout: float, token: str | None, correlation_id: str
) -> Loaded[dict[str, Any]]:
    try:
        return Loaded(CollectorClient(collector_url, timeout, token=token).journey(correlation_id))
    except SourceMissing as err:
        return Loaded(
            problem=f"No journey found for {correlation_id!r}. {err.message}", missing=True
        )
    except SourceError as err:
        return _failed(err)


@st.cache_data(ttl=TTL_SECONDS, max_entries=32, show_spinner=False)
def traces(
    collector_url: str,
    timeout: float,
    token: str | None,
    status: str,
    since: int | None,
    limit: int,
) -> Loaded[list[dict[str, Any]]]:
    try:
        return Loaded(
            CollectorClient(collector_url, timeout, token=token).traces(status, since, limit)
        )
    except SourceError as err:
        return _failed(err)

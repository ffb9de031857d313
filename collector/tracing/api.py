"""The trace API's answers as plain functions over a store: journey by ID, search.

`TraceService` serves them to the HTTP API; the CLI's `trace --store PATH` calls
`journey_from_store` to read a store file directly, without a running collector.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from collector.tracing.config import TracingConfig
from collector.tracing.headers import ID_PATTERN
from collector.tracing.hop import Journey, journey_json
from collector.tracing.journey import JourneyRules, stitch_journey
from collector.tracing.search import search_journeys
from collector.tracing.store import EventClasses, TraceStore


def rules_of(tracing: TracingConfig) -> JourneyRules:
    return JourneyRules(
        terminal_event_types=frozenset(tracing.terminal_event_types),
        compensation_event_types=frozenset(tracing.compensation_event_types),
        group_services=dict(tracing.group_services),
    )


def classes_of(tracing: TracingConfig) -> EventClasses:
    return EventClasses(
        terminal=frozenset(tracing.terminal_event_types),
        compensation=frozenset(tracing.compensation_event_types),
    )


def journey_value(
    store: TraceStore, rules: JourneyRules, correlation_id: str, now: float, max_hops: int
) -> Journey | None:
    if not ID_PATTERN.fullmatch(correlation_id):
        return None
    hops = store.hops(correlation_id, max_hops)
    return stitch_journey(correlation_id, hops, store.readers_of(hops), rules, now)


def journey_answer(
    store: TraceStore, rules: JourneyRules, correlation_id: str, now: float, max_hops: int
) -> dict[str, Any] | None:
    """GET /api/traces/{id}: the journey as JSON, or None when the ID has no hops."""
    journey = journey_value(store, rules, correlation_id, now, max_hops)
    return None if journey is None else journey_json(journey)


def search_answer(
    store: TraceStore,
    tracing: TracingConfig,
    *,
    status: str | None,
    since: float | None,
    until: float | None,
    service: str | None,
    event_type: str | None,
    limit: int,
    now: float,
) -> list[dict[str, Any]]:
    """GET /api/traces?...: journey summaries, newest activity first (see `search`)."""
    with store.reading() as db:
        return search_journeys(
            db,
            status=status,
            since=since,
            until=until,
            service=service,
            event_type=event_type,
            limit=limit,
            now=now,
            slow_seconds=tracing.slow_seconds,
        )


def journey_from_store(
    path: str | Path, correlation_id: str, now: float, tracing: TracingConfig | None = None
) -> dict[str, Any] | None:
    """Open a store file, answer one journey, close it (for `eventscope trace --store PATH`)."""
    tracing = tracing or TracingConfig()
    if not Path(path).exists():
        raise FileNotFoundError(f"no trace store at {path}")
    store = TraceStore(path, classes_of(tracing))
    try:
        return journey_answer(
            store, rules_of(tracing), correlation_id, now, tracing.max_hops_per_journey
        )
    finally:
        store.close()

"""Pure shaping of correlation-ID journeys (the collector's trace API) for the explorer.

A journey is a list of hops; each hop is one event on one topic/queue, produced by a service
and picked up by zero or more consumers. For each hop the explorer shows:

    pickup_seconds   first consumed_at − produced_at (how long the event waited)
    gap_seconds      produced_at − previous hop's produced_at (the hop latency of the flow)

Example: OrderPlaced produced 10:00:00.0, picked up 10:00:00.4; InventoryReserved produced
10:00:01.0 -> pickup 0.4 s for the first hop, gap 1.0 s for the second.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from dashboard.shaping import page_link, parse_time

# Event types that undo an earlier step (saga compensation), marked on the timeline.
COMPENSATION_WORDS: tuple[str, ...] = (
    "Released",
    "Cancelled",
    "Canceled",
    "Refunded",
    "Reverted",
    "Compensat",
    "RolledBack",
)

TRACE_STATUSES: tuple[str, ...] = ("failed", "slow", "in_flight")

# The explorer's table: what a reader scans first (timings, who picked it up) before where.
HOP_COLUMNS = [
    "step", "event_type", "service", "source", "pickup_seconds", "gap_seconds", "consumers",
    "kind", "retries", "dlq_reason", "produced_at", "broker", "cluster_name", "partition",
    "offset",
]  # fmt: skip

_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")


def is_compensation(event_type: str) -> bool:
    """True for events that undo a step: is_compensation("InventoryReleased") -> True."""
    return any(word in event_type for word in COMPENSATION_WORDS)


def _seconds(later: pd.Timestamp | None, earlier: pd.Timestamp | None) -> float | None:
    if later is None or earlier is None:
        return None
    return (later - earlier).total_seconds()


def journey_rows(journey: Mapping[str, Any]) -> pd.DataFrame:
    """One row per hop, in produce order, with pickup, gap, consumers and a kind used for
    colour: "dlq", "compensation" or "event"."""
    hops = sorted(
        journey.get("hops", []),
        key=lambda h: parse_time(h.get("produced_at")) or pd.Timestamp.max.tz_localize("UTC"),
    )
    rows = []
    previous: pd.Timestamp | None = None
    for number, hop in enumerate(hops, start=1):
        produced = parse_time(hop.get("produced_at"))
        consumed = [
            (c.get("group") or c.get("service") or "?", parse_time(c.get("consumed_at")))
            for c in hop.get("consumed", []) or []
        ]
        times = [t for _, t in consumed if t is not None]
        first_pickup = min(times) if times else None
        event_type = str(hop.get("event_type") or "?")
        kind = (
            "dlq" if hop.get("dlq") else "compensation" if is_compensation(event_type) else "event"
        )
        rows.append(
            {
                "step": number,
                "event_type": event_type,
                "service": hop.get("service") or "?",
                "source": hop.get("source", ""),
                "broker": hop.get("broker", ""),
                "cluster_name": hop.get("cluster_name", ""),
                "partition": hop.get("partition", ""),
                "offset": hop.get("offset", ""),
                "produced_at": produced,
                "first_pickup_at": first_pickup,
                "last_pickup_at": max(times) if times else None,
                "pickup_seconds": _seconds(first_pickup, produced),
                "gap_seconds": _seconds(produced, previous),
                "consumers": ", ".join(
                    f"{name} (+{_seconds(t, produced):.3f} s)" if t and produced else f"{name} (?)"
                    for name, t in consumed
                ),
                "kind": kind,
                "retries": hop.get("retries") or 0,
                "dlq_reason": hop.get("dlq_reason") or "",
            }
        )
        previous = produced or previous
    columns = [
        "step",
        "event_type",
        "service",
        "source",
        "broker",
        "cluster_name",
        "partition",
        "offset",
        "produced_at",
        "first_pickup_at",
        "last_pickup_at",
        "pickup_seconds",
        "gap_seconds",
        "consumers",
        "kind",
        "retries",
        "dlq_reason",
    ]
    return pd.DataFrame(rows, columns=columns)


def journey_summary(journey: Mapping[str, Any], rows: pd.DataFrame) -> dict[str, Any]:
    """Headline facts: status, where it stopped, hops, services, duration first to last event."""
    produced = rows["produced_at"].dropna()
    ends = pd.concat([produced, rows["last_pickup_at"].dropna()])
    duration = (ends.max() - produced.min()).total_seconds() if len(produced) else None
    return {
        "status": str(journey.get("status") or "unknown").replace("_", " "),
        "stuck_for_seconds": journey.get("stuck_for_seconds"),
        "stuck_at": journey.get("stuck_at") or "",
        "hops": len(rows),
        "services": rows["service"].nunique(),
        "duration_seconds": duration,
        "dead_lettered": int((rows["kind"] == "dlq").sum()),
    }


def trace_id(journey: Mapping[str, Any]) -> str | None:
    """The W3C trace ID of the first hop that carries a traceparent
    ("00-<32 hex>-<16 hex>-01" -> the 32 hex)."""
    for hop in journey.get("hops", []):
        match = _TRACEPARENT.match(str(hop.get("traceparent") or "").strip().lower())
        if match:
            return match.group(1)
    return None


def trace_ui_link(template: str | None, journey: Mapping[str, Any]) -> str | None:
    """The Jaeger/Tempo URL for a journey from a template with {trace_id} and/or
    {correlation_id}; None when no template is set or the trace ID it needs is unknown."""
    if not template:
        return None
    tid = trace_id(journey)
    if "{trace_id}" in template and tid is None:
        return None
    return template.replace("{trace_id}", tid or "").replace(
        "{correlation_id}", str(journey.get("correlation_id", ""))
    )


def dead_lettered(traces: pd.DataFrame) -> pd.DataFrame:
    """Journeys that ended in a dead-letter queue. The collector's `failed` covers both
    dead-lettered and compensated journeys; its rows say which (status "dead_lettered" or
    "compensated"); a generic "failed" is kept, as it may have dead-lettered."""
    return traces[traces["status"] != "compensated"].reset_index(drop=True)


def traces_frame(traces: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Recent journeys as rows, newest first, each linking to the explorer."""
    rows = [
        {
            "correlation_id": t.get("correlation_id", ""),
            "status": t.get("status", ""),
            "started_at": parse_time(t.get("started_at")),
            "ended_at": parse_time(t.get("ended_at")),
            "hops": t.get("hops", 0) if not isinstance(t.get("hops"), list) else len(t["hops"]),
            "last_service": t.get("last_service", ""),
            "last_event_type": t.get("last_event_type", ""),
            "link": page_link("journeys", correlation_id=str(t.get("correlation_id", ""))),
        }
        for t in traces
    ]
    columns = [
        "correlation_id",
        "status",
        "started_at",
        "ended_at",
        "hops",
        "last_service",
        "last_event_type",
        "link",
    ]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values("started_at", ascending=False, na_position="last").reset_index(
        drop=True
    )

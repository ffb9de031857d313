"""Search the store's journey summaries: recent journeys by status, time, service, event type.

Status filters (the API's `status=`): complete, compensated, dead_lettered, in_flight, plus
`failed` (dead_lettered or compensated) and `slow` (first to last event, or to `now` while in
flight, at least `slow_seconds`). Time filters select journeys whose span overlaps
[since, until]; results come newest activity first.
"""

from __future__ import annotations

import sqlite3
from typing import Any

STATUS_SQL = (
    "CASE WHEN dlq THEN 'dead_lettered' WHEN compensated THEN 'compensated'"
    " WHEN terminal THEN 'complete' ELSE 'in_flight' END"
)
STATUS_FILTERS = {
    "complete": "terminal AND NOT dlq AND NOT compensated",
    "compensated": "compensated AND NOT dlq",
    "dead_lettered": "dlq",
    "in_flight": "NOT dlq AND NOT compensated AND NOT terminal",
    "failed": "(dlq OR compensated)",
    "slow": (
        "(CASE WHEN dlq OR compensated OR terminal THEN ended_at ELSE :now END)"
        " - started_at >= :slow"
    ),
}


class UnknownStatus(ValueError):
    pass


def search_journeys(
    db: sqlite3.Connection,
    *,
    status: str | None,
    since: float | None,
    until: float | None,
    service: str | None,
    event_type: str | None,
    limit: int,
    now: float,
    slow_seconds: float,
) -> list[dict[str, Any]]:
    where = ["1"]
    params: dict[str, Any] = {"now": now, "slow": slow_seconds, "limit": max(1, limit)}
    if status:
        if status not in STATUS_FILTERS:
            raise UnknownStatus(status)
        where.append(STATUS_FILTERS[status])
    if since is not None:
        where.append("ended_at >= :since")
        params["since"] = since
    if until is not None:
        where.append("started_at <= :until")
        params["until"] = until
    if service:
        where.append("instr(services, :service)")
        params["service"] = f"|{service}|"
    if event_type:
        where.append("instr(event_types, :event_type)")
        params["event_type"] = f"|{event_type}|"
    rows = db.execute(
        f"SELECT correlation_id, {STATUS_SQL}, started_at, ended_at, hops, last_service,"
        f" last_event_type FROM journeys WHERE {' AND '.join(where)}"
        " ORDER BY ended_at DESC LIMIT :limit",
        params,
    ).fetchall()
    return [
        {
            "correlation_id": cid,
            "status": st,
            "started_at": started,
            "ended_at": ended,
            "duration_seconds": round(ended - started, 6),
            "hops": hops,
            "last_service": last_service,
            "last_event_type": last_event_type,
        }
        for cid, st, started, ended, hops, last_service, last_event_type in rows
    ]

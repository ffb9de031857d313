"""Store one batch of hops inside an open SQLite transaction, set-based (a statement per step,
not per hop), and say what the batch changed for the metrics.

Steps: stage the batch in a temp table; `INSERT OR IGNORE … RETURNING` into `hops` (the unique
identity drops what is already stored, and returns only the new rows); give new Kafka hops the
consumptions of groups that committed past them before the tap stored them; find each new
hop's previous hop (service-graph edge, hop latency); upsert the journey summaries; note
journeys that just reached a final state (trace duration, span export).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from collector.tracing.hop import Hop
from collector.tracing.journey import hop_order, previous_hop

HOP_COLUMNS = (
    "correlation_id, event_type, broker, cluster_name, source, partition, offset, produced_at, "
    "service, traceparent, dlq, dlq_reason, retries, fields"
)
STAGE = f"CREATE TEMP TABLE IF NOT EXISTS batch ({HOP_COLUMNS})"

_CONSUMED_BEFORE_STORED = (
    "INSERT OR IGNORE INTO consumptions"
    " SELECT 'kafka', m.cluster_name, m.topic, m.partition, b.offset, m.grp,"
    "  coalesce(r.service, m.grp),"
    "  CASE WHEN m.prev_committed IS NULL OR b.offset >= m.prev_committed"
    "   THEN m.seen_at ELSE m.prev_seen_at END"
    " FROM batch b JOIN commit_marks m ON m.cluster_name = b.cluster_name"
    "  AND m.topic = b.source AND m.partition = b.partition AND m.committed > b.offset"
    " LEFT JOIN readers r ON r.broker = 'kafka' AND r.cluster_name = m.cluster_name"
    "  AND r.source = m.topic AND r.grp = m.grp"
    " WHERE b.broker = 'kafka'"
)


@dataclass(frozen=True)
class Edge:
    """One hop that followed another: feeds flow_events_total and hop_latency_seconds."""

    from_service: str
    to_service: str
    event_type: str  # the event that crossed the edge (the previous hop's)
    latency_seconds: float


@dataclass
class IngestResult:
    inserted: int = 0
    duplicates: int = 0
    edges: list[Edge] = field(default_factory=list)
    finished: list[tuple[str, float]] = field(default_factory=list)  # (flow, duration seconds)
    finished_ids: list[str] = field(default_factory=list)  # correlation IDs that just finished


@dataclass(frozen=True)
class EventClasses:
    terminal: frozenset[str]
    compensation: frozenset[str]


def hop_row(hop: Hop) -> tuple[object, ...]:
    return (
        hop.correlation_id, hop.event_type, hop.broker, hop.cluster_name, hop.source,
        hop.partition, hop.offset, hop.produced_at, hop.service, hop.traceparent, int(hop.dlq),
        hop.dlq_reason, hop.retries, json.dumps(dict(hop.fields)) if hop.fields else "",
    )  # fmt: skip


def hop_of_row(row: Sequence[object]) -> Hop:
    cid, etype, broker, cluster, source, part, off, at, svc, tp, dlq, reason, retries, fields = row
    return Hop(
        correlation_id=str(cid), event_type=str(etype), broker=str(broker),
        cluster_name=str(cluster), source=str(source), partition=int(str(part)),
        offset=int(str(off)), produced_at=float(str(at)), service=str(svc),
        traceparent=str(tp), dlq=bool(dlq), dlq_reason=str(reason), retries=int(str(retries)),
        fields=json.loads(str(fields)) if fields else {},
    )  # fmt: skip


def insert_batch(
    db: sqlite3.Connection,
    hops: Sequence[Hop],
    classes: EventClasses,
    readers: Mapping[str, set[str]],
) -> IngestResult:
    """Store `hops` (inside the caller's transaction); see the module docstring."""
    result = IngestResult()
    db.execute("DELETE FROM batch")
    db.executemany(f"INSERT INTO batch VALUES ({','.join('?' * 14)})", map(hop_row, hops))
    rows = db.execute(
        f"INSERT OR IGNORE INTO hops ({HOP_COLUMNS}) SELECT {HOP_COLUMNS} FROM batch"
        " WHERE true RETURNING id, broker, cluster_name, source, partition, offset"
    ).fetchall()
    given = {(h.broker, h.cluster_name, h.source, h.partition, h.offset): h for h in hops}
    new = sorted((given[tuple(row[1:])] for row in rows), key=hop_order)
    result.inserted, result.duplicates = len(new), len(hops) - len(new)
    if not new:
        return result
    db.execute(_CONSUMED_BEFORE_STORED)
    journeys = _journeys(db, sorted({h.correlation_id for h in new}))
    earlier = _earlier_hops(db, journeys, {row[0] for row in rows})
    for hop in new:
        known = earlier.setdefault(hop.correlation_id, [])
        if not hop.dlq and known:
            prev = previous_hop(hop, known, readers)
            if prev is not None:
                result.edges.append(
                    Edge(prev.service, hop.service, prev.event_type,
                         hop.produced_at - prev.produced_at)
                )  # fmt: skip
        known.append(hop)
        row = journeys.get(hop.correlation_id)
        if row is None:
            row = journeys[hop.correlation_id] = JourneyRow.first(hop)
            was_final = False
        else:
            was_final = row.final
            row.add(hop)
        comp = hop.event_type in classes.compensation
        term = hop.event_type in classes.terminal
        row.dlq, row.compensated = row.dlq or hop.dlq, row.compensated or comp
        row.terminal = row.terminal or term
        if row.final and not was_final:
            result.finished.append(
                (row.first_event_type, max(0.0, hop.produced_at - row.started_at))
            )
            result.finished_ids.append(hop.correlation_id)
    db.executemany(
        f"INSERT OR REPLACE INTO journeys VALUES ({','.join('?' * 12)})",
        (r.values() for r in journeys.values() if r.touched),
    )
    return result


@dataclass
class JourneyRow:
    """A `journeys` row being updated by one batch (under the store's write lock)."""

    correlation_id: str
    started_at: float
    ended_at: float
    hops: int
    first_event_type: str
    last_service: str
    last_event_type: str
    dlq: bool
    compensated: bool
    terminal: bool
    services: str  # "|a|b|": instr() finds "|a|" in SQL searches
    event_types: str
    touched: bool = False

    @classmethod
    def first(cls, hop: Hop) -> JourneyRow:
        return cls(hop.correlation_id, hop.produced_at, hop.produced_at, 1, hop.event_type,
                   hop.service, hop.event_type, False, False, False, f"|{hop.service}|",
                   f"|{hop.event_type}|", touched=True)  # fmt: skip

    @property
    def final(self) -> bool:
        return self.dlq or self.compensated or self.terminal

    def add(self, hop: Hop) -> None:
        self.touched = True
        self.hops += 1
        if hop.produced_at < self.started_at:
            self.started_at, self.first_event_type = hop.produced_at, hop.event_type
        if hop.produced_at >= self.ended_at:
            self.ended_at = hop.produced_at
            self.last_service, self.last_event_type = hop.service, hop.event_type
        if f"|{hop.service}|" not in self.services:
            self.services += f"{hop.service}|"
        if f"|{hop.event_type}|" not in self.event_types:
            self.event_types += f"{hop.event_type}|"

    def values(self) -> tuple[object, ...]:
        return (
            self.correlation_id, self.started_at, self.ended_at, self.hops,
            self.first_event_type, self.last_service, self.last_event_type, int(self.dlq),
            int(self.compensated), int(self.terminal), self.services, self.event_types,
        )  # fmt: skip


RECENT_HOPS = 50  # previous-hop candidates per journey: a hot ID must not slow every batch


def _journeys(db: sqlite3.Connection, ids: list[str]) -> dict[str, JourneyRow]:
    out: dict[str, JourneyRow] = {}
    for chunk in _chunks(ids):
        marks = ",".join("?" * len(chunk))
        for row in db.execute(
            f"SELECT * FROM journeys WHERE correlation_id IN ({marks})", chunk
        ).fetchall():
            cid, start, end, hops, first, last_svc, last_type, dlq, comp, term, svcs, types = row
            out[cid] = JourneyRow(cid, start, end, hops, first, last_svc, last_type, bool(dlq),
                                  bool(comp), bool(term), svcs, types)  # fmt: skip
    return out


def _earlier_hops(
    db: sqlite3.Connection, summaries: Mapping[str, JourneyRow], new_ids: set[int]
) -> dict[str, list[Hop]]:
    """The stored hops of these journeys from before this batch (the latest RECENT_HOPS)."""
    out: dict[str, list[Hop]] = {}
    small = sorted(cid for cid, s in summaries.items() if s.hops <= RECENT_HOPS)
    rows: list[Sequence[object]] = []
    for chunk in _chunks(small):
        marks = ",".join("?" * len(chunk))
        rows += db.execute(
            f"SELECT id, {HOP_COLUMNS} FROM hops WHERE correlation_id IN ({marks})", chunk
        ).fetchall()
    for cid in sorted(cid for cid, s in summaries.items() if s.hops > RECENT_HOPS):
        rows += db.execute(
            f"SELECT id, {HOP_COLUMNS} FROM hops WHERE correlation_id = ?"
            " ORDER BY produced_at DESC LIMIT ?",
            (cid, RECENT_HOPS + len(new_ids)),
        ).fetchall()
    for row in rows:
        if row[0] not in new_ids:
            hop = hop_of_row(row[1:])
            out.setdefault(hop.correlation_id, []).append(hop)
    return out


def _chunks(ids: list[str], size: int = 500) -> list[list[str]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]

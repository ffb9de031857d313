"""Store one batch of hops inside an open SQLite transaction, and say what it changed.

A batch arrives as row tuples (`HopRow`, the `hops` columns in order), so the Kafka tap never
builds a `Hop` per event. Steps, each one statement or one pass over the batch:
1. `executemany` of a prepared `INSERT OR IGNORE` into `hops`: the unique identity drops what
   is already stored. SQLite numbers new rows above the largest id, so `id > last_id` is this
   batch; only when some rows were ignored (a re-read after a crash) is it read back to learn
   which.
2. new Kafka hops get the consumptions of groups that committed past them before the tap stored
   them (only when such commits exist for the batch's topics);
3. per journey, in `hop_order`: each new hop's previous hop (`journey.previous_hop`'s rule:
   the latest earlier hop whose source the hop's service reads, else the latest; dead letters
   cause nothing) gives a service-graph edge and a hop latency; the journey summary is updated
   and upserted once; journeys that just reached a final state are noted (trace duration).
"""

from __future__ import annotations

import functools
import itertools
import json
import operator
import sqlite3
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

from collector.tracing.hop import Hop

HOP_COLUMNS = (
    "correlation_id, event_type, broker, cluster_name, source, partition, offset, produced_at, "
    "service, traceparent, dlq, dlq_reason, retries, fields"
)
HopRow = tuple[str, str, str, str, str, int, int, float, str, str, int, str, int, str]
"""A hop as stored: the `HOP_COLUMNS` in order (dlq 0/1, fields as JSON text or "")."""
# positions in a HopRow (Final, so the type checker knows each field's type)
CID: Final = 0
ETYPE: Final = 1
BROKER: Final = 2
CLUSTER: Final = 3
SOURCE: Final = 4
PART: Final = 5
OFF: Final = 6
AT: Final = 7
SERVICE: Final = 8
DLQ: Final = 10

INSERT_HOPS = f"INSERT OR IGNORE INTO hops ({HOP_COLUMNS}) VALUES"
UPSERT_JOURNEYS = "INSERT OR REPLACE INTO journeys VALUES"
ROWS_PER_STATEMENT = 256  # x 14 columns: under SQLite's 32,766 parameters

_CONSUMED_BEFORE_STORED = (
    "INSERT OR IGNORE INTO consumptions"
    " SELECT 'kafka', m.cluster_name, m.topic, m.partition, b.offset, m.grp,"
    "  coalesce(r.service, m.grp),"
    "  CASE WHEN m.prev_committed IS NULL OR b.offset >= m.prev_committed"
    "   THEN m.seen_at ELSE m.prev_seen_at END"
    " FROM hops b JOIN commit_marks m ON m.cluster_name = b.cluster_name"
    "  AND m.topic = b.source AND m.partition = b.partition AND m.committed > b.offset"
    " LEFT JOIN readers r ON r.broker = 'kafka' AND r.cluster_name = m.cluster_name"
    "  AND r.source = m.topic AND r.grp = m.grp"
    " WHERE b.id > ? AND b.broker = 'kafka'"
)


class Edge(NamedTuple):
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


@dataclass(frozen=True)
class EventClasses:
    terminal: frozenset[str]
    compensation: frozenset[str]


def hop_row(hop: Hop) -> HopRow:
    return (
        hop.correlation_id, hop.event_type, hop.broker, hop.cluster_name, hop.source,
        hop.partition, hop.offset, hop.produced_at, hop.service, hop.traceparent, int(hop.dlq),
        hop.dlq_reason, hop.retries, json.dumps(dict(hop.fields)) if hop.fields else "",
    )  # fmt: skip


def hop_of_row(row: Sequence[Any]) -> Hop:
    """A `HOP_COLUMNS` row as SQLite returns it (its types already the hop's)."""
    cid, etype, broker, cluster, source, part, off, at, svc, tp, dlq, reason, retries, fields = row
    return Hop(cid, etype, broker, cluster, source, part, off, at, svc, tp, bool(dlq), reason,
               retries, json.loads(fields) if fields else {})  # fmt: skip


row_order = operator.itemgetter(AT, DLQ, BROKER, SOURCE, PART, OFF)
"""`journey.hop_order` of a row: produce time, dead letters after their original."""


def insert_batch(
    db: sqlite3.Connection,
    rows: Sequence[HopRow],
    classes: EventClasses,
    readers: Mapping[str, set[str]],
    marked: Collection[tuple[str, str]] = (),
) -> IngestResult:
    """Store `rows` (inside the caller's transaction); see the module docstring. `marked`:
    the (cluster, topic) pairs some Kafka group has committed offsets on."""
    result = IngestResult()
    last_id = db.execute("SELECT coalesce(max(id), 0) FROM hops").fetchone()[0]
    changes = db.total_changes
    insert_many(db, INSERT_HOPS, rows)
    added = db.total_changes - changes
    new = sorted(rows if added == len(rows) else _new_rows(db, rows, last_id), key=row_order)
    result.inserted, result.duplicates = len(new), len(rows) - len(new)
    if not new:
        return result
    if marked and not {(r[CLUSTER], r[SOURCE]) for r in new}.isdisjoint(marked):
        db.execute(_CONSUMED_BEFORE_STORED, (last_id,))
    by_journey: dict[str, list[HopRow]] = {}
    for row in new:
        by_journey.setdefault(row[CID], []).append(row)
    journeys = _journeys(db, list(by_journey))
    earlier = _earlier_rows(db, journeys, last_id)
    reads: dict[str, set[str]] = {}  # service -> the sources it reads
    for source, services in readers.items():
        for service in services:
            reads.setdefault(service, set()).add(source)
    for cid, added_rows in by_journey.items():
        _walk(cid, added_rows, earlier.get(cid, []), journeys, reads, classes, result)
    insert_many(db, UPSERT_JOURNEYS, [journeys[cid].values() for cid in by_journey])
    return result


def insert_many(db: sqlite3.Connection, head: str, rows: Sequence[Sequence[object]]) -> None:
    """`executemany(head + " (?, ...)", rows)` as multi-row statements of up to
    `ROWS_PER_STATEMENT` rows (sizes in powers of two, so few distinct statements are cached).

    Why: `executemany` steps SQLite once per row, releasing and taking back the GIL each time;
    a statement of 256 rows does it once. About 1 us a row faster alone (7.0 against 8.1 us in
    `insert_rows`), and the writer thread asks the tap's consume thread for the GIL 256 times
    less often."""
    done = 0
    while done < len(rows):
        n = min(ROWS_PER_STATEMENT, 1 << ((len(rows) - done).bit_length() - 1))
        chunk = rows[done : done + n]
        db.execute(_values_sql(head, len(chunk[0]), n), list(itertools.chain.from_iterable(chunk)))
        done += n


@functools.cache
def _values_sql(head: str, width: int, rows: int) -> str:
    one = f"({','.join('?' * width)})"
    return f"{head} {','.join([one] * rows)}"


def _new_rows(db: sqlite3.Connection, rows: Sequence[HopRow], last_id: int) -> list[HopRow]:
    """The rows this batch inserted (the first of each identity), when some were ignored."""
    fresh = set(
        db.execute(
            "SELECT broker, cluster_name, source, partition, offset FROM hops WHERE id > ?",
            (last_id,),
        ).fetchall()
    )
    out = []
    for row in rows:
        identity = (row[BROKER], row[CLUSTER], row[SOURCE], row[PART], row[OFF])
        if identity in fresh:
            fresh.discard(identity)
            out.append(row)
    return out


def _walk(
    cid: str,
    added: list[HopRow],
    stored: list[HopRow],
    journeys: dict[str, JourneyRow],
    reads: Mapping[str, set[str]],
    classes: EventClasses,
    result: IngestResult,
) -> None:
    """One journey's new hops (sorted) among its stored ones: edges, summary, finish."""
    summary = journeys.get(cid)
    was_final = summary.final if summary is not None else False
    new_ids = {id(r) for r in added} if stored else None
    latest: HopRow | None = None  # the latest earlier hop that can cause one (not a DLQ)
    latest_by_source: dict[str, HopRow] = {}
    for row in sorted(stored + added, key=row_order) if stored else added:
        if new_ids is None or id(row) in new_ids:
            if latest is not None and not row[DLQ]:
                service = row[SERVICE]
                prev = _cause(reads.get(service) if service else None, latest, latest_by_source)
                result.edges.append(
                    Edge(prev[SERVICE], row[SERVICE], prev[ETYPE], row[AT] - prev[AT])
                )
            if summary is None:
                summary = journeys[cid] = JourneyRow.first(row)
            else:
                summary.add(row)
            summary.dlq = summary.dlq or bool(row[DLQ])
            summary.compensated = summary.compensated or row[ETYPE] in classes.compensation
            summary.terminal = summary.terminal or row[ETYPE] in classes.terminal
            if summary.final and not was_final:
                was_final = True
                result.finished.append(
                    (summary.first_event_type, max(0.0, row[AT] - summary.started_at))
                )
        if not row[DLQ]:
            latest = latest_by_source[row[SOURCE]] = row


def _cause(
    reads: set[str] | None, latest: HopRow, latest_by_source: Mapping[str, HopRow]
) -> HopRow:
    """The latest earlier hop on a source the hop's service reads, else the latest one."""
    best: HopRow | None = None
    if reads:
        for source, row in latest_by_source.items():
            if source in reads and (best is None or row_order(row) > row_order(best)):
                best = row
    return best or latest


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

    @classmethod
    def first(cls, row: HopRow) -> JourneyRow:
        return cls(row[CID], row[AT], row[AT], 1, row[ETYPE], row[SERVICE], row[ETYPE],
                   False, False, False, f"|{row[SERVICE]}|", f"|{row[ETYPE]}|")  # fmt: skip

    @property
    def final(self) -> bool:
        return self.dlq or self.compensated or self.terminal

    def add(self, row: HopRow) -> None:
        at, service, event_type = row[AT], row[SERVICE], row[ETYPE]
        self.hops += 1
        if at < self.started_at:
            self.started_at, self.first_event_type = at, event_type
        if at >= self.ended_at:
            self.ended_at, self.last_service, self.last_event_type = at, service, event_type
        if f"|{service}|" not in self.services:
            self.services += f"{service}|"
        if f"|{event_type}|" not in self.event_types:
            self.event_types += f"{event_type}|"

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


def _earlier_rows(
    db: sqlite3.Connection, summaries: Mapping[str, JourneyRow], last_id: int
) -> dict[str, list[HopRow]]:
    """The stored hops of these journeys from before this batch (the latest RECENT_HOPS)."""
    out: dict[str, list[HopRow]] = {}
    small = sorted(cid for cid, s in summaries.items() if s.hops <= RECENT_HOPS)
    rows: list[HopRow] = []
    for chunk in _chunks(small):
        marks = ",".join("?" * len(chunk))
        rows += db.execute(
            f"SELECT {HOP_COLUMNS} FROM hops WHERE correlation_id IN ({marks}) AND id <= ?",
            (*chunk, last_id),
        ).fetchall()
    for cid in sorted(cid for cid, s in summaries.items() if s.hops > RECENT_HOPS):
        rows += db.execute(
            f"SELECT {HOP_COLUMNS} FROM hops WHERE correlation_id = ? AND id <= ?"
            " ORDER BY produced_at DESC LIMIT ?",
            (cid, last_id, RECENT_HOPS),
        ).fetchall()
    for row in rows:
        out.setdefault(row[CID], []).append(row)
    return out


def _chunks(ids: list[str], size: int = 500) -> list[list[str]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]

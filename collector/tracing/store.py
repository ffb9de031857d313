"""The trace store: embedded SQLite in WAL mode, idempotent, bounded by age and size.

Tables:
    hops          one row per event; UNIQUE (broker, cluster_name, source, partition, offset)
                  makes inserts idempotent; indexed by (correlation_id, produced_at) and time
    consumptions  who consumed which hop and when, keyed like hops (either may arrive first)
    commit_marks  each Kafka group's last committed offset per partition, with the poll it was
                  seen at (and the one before), so a hop the tap stores late still learns when it
                  was consumed
    readers       which groups read which source (for "stuck at" and the service graph)
    journeys      one summary row per correlation ID, kept by every insert, for search

Writes go through one connection under a lock, in one transaction per batch: a tap commits its
broker offsets / acks only after `insert_hops` returned. Reads use a connection per thread.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from collector.tracing.hop import Consumption, Hop
from collector.tracing.journey import SourceKey, hop_order, previous_hop

SCHEMA = """
CREATE TABLE IF NOT EXISTS hops (
  id INTEGER PRIMARY KEY, correlation_id TEXT NOT NULL, event_type TEXT NOT NULL,
  broker TEXT NOT NULL, cluster_name TEXT NOT NULL, source TEXT NOT NULL,
  partition INTEGER NOT NULL, offset INTEGER NOT NULL, produced_at REAL NOT NULL,
  service TEXT NOT NULL, traceparent TEXT NOT NULL, dlq INTEGER NOT NULL,
  dlq_reason TEXT NOT NULL, retries INTEGER NOT NULL, fields TEXT NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS hops_identity
  ON hops (broker, cluster_name, source, partition, offset);
CREATE INDEX IF NOT EXISTS hops_by_id ON hops (correlation_id, produced_at);
CREATE INDEX IF NOT EXISTS hops_by_time ON hops (produced_at);
CREATE TABLE IF NOT EXISTS consumptions (
  broker TEXT, cluster_name TEXT, source TEXT, partition INTEGER, offset INTEGER,
  grp TEXT, service TEXT, consumed_at REAL,
  PRIMARY KEY (broker, cluster_name, source, partition, offset, grp)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS commit_marks (
  cluster_name TEXT, topic TEXT, partition INTEGER, grp TEXT, committed INTEGER, seen_at REAL,
  prev_committed INTEGER, prev_seen_at REAL,
  PRIMARY KEY (cluster_name, topic, partition, grp)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS readers (
  broker TEXT, cluster_name TEXT, source TEXT, grp TEXT, service TEXT, last_seen REAL,
  PRIMARY KEY (broker, cluster_name, source, grp)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS journeys (
  correlation_id TEXT PRIMARY KEY, started_at REAL, ended_at REAL, hops INTEGER,
  first_event_type TEXT, last_service TEXT, last_event_type TEXT,
  dlq INTEGER, compensated INTEGER, terminal INTEGER, services TEXT, event_types TEXT);
CREATE INDEX IF NOT EXISTS journeys_by_end ON journeys (ended_at);
"""

_HOP_COLUMNS = (
    "correlation_id, event_type, broker, cluster_name, source, partition, offset, produced_at, "
    "service, traceparent, dlq, dlq_reason, retries, fields"
)


class StoreError(RuntimeError):
    """The store could not be opened or written (disk full, read-only, corrupt file)."""


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


class TraceStore:
    def __init__(self, path: str | Path, classes: EventClasses) -> None:
        self.path = str(path)
        self.classes = classes
        self._lock = threading.Lock()
        self._local = threading.local()
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = self._connect()
            self._db.executescript(SCHEMA)
            self.hop_count = int(self._db.execute("SELECT COUNT(*) FROM hops").fetchone()[0])
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open trace store {self.path}: {exc}") from exc
        self._readers: dict[str, set[str]] = {}
        for source, service in self._db.execute("SELECT source, service FROM readers"):
            self._readers.setdefault(source, set()).add(service)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable at checkpoint, fast
        return db

    def reader(self) -> sqlite3.Connection:
        """This thread's read connection (WAL lets readers run beside the writer)."""
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = self._connect()
        return db

    def close(self) -> None:
        with self._lock:
            self._db.close()
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    # -- writes ----------------------------------------------------------------------------

    def insert_hops(self, hops: Sequence[Hop]) -> IngestResult:
        """Store `hops` in one transaction; a hop already stored (same identity) is skipped."""
        result = IngestResult()
        with self._lock:
            db = self._db
            try:
                db.execute("BEGIN IMMEDIATE")
                for hop in sorted(hops, key=hop_order):
                    self._insert_one(db, hop, result)
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise StoreError(f"trace store write failed: {exc}") from exc
        self.hop_count += result.inserted
        return result

    def _insert_one(self, db: sqlite3.Connection, hop: Hop, result: IngestResult) -> None:
        summary = db.execute(
            "SELECT started_at, dlq, compensated, terminal, first_event_type FROM journeys"
            " WHERE correlation_id = ?",
            (hop.correlation_id,),
        ).fetchone()
        cur = db.execute(
            f"INSERT OR IGNORE INTO hops ({_HOP_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                hop.correlation_id, hop.event_type, hop.broker, hop.cluster_name, hop.source,
                hop.partition, hop.offset, hop.produced_at, hop.service, hop.traceparent,
                int(hop.dlq), hop.dlq_reason, hop.retries,
                json.dumps(dict(hop.fields)) if hop.fields else "",
            ),
        )  # fmt: skip
        if cur.rowcount == 0:
            result.duplicates += 1
            return
        result.inserted += 1
        if hop.broker == "kafka":
            self._consumed_before_stored(db, hop)
        if summary is not None and not hop.dlq:
            earlier = self._hops_of(db, hop.correlation_id, limit=50)
            prev = previous_hop(hop, earlier, self._readers)
            if prev is not None and hop.produced_at >= prev.produced_at:
                result.edges.append(
                    Edge(
                        prev.service,
                        hop.service,
                        prev.event_type,
                        hop.produced_at - prev.produced_at,
                    )
                )
        comp = hop.event_type in self.classes.compensation
        term = hop.event_type in self.classes.terminal
        was_open = summary is None or not (summary[1] or summary[2] or summary[3])
        if was_open and (hop.dlq or comp or term):
            started = hop.produced_at if summary is None else min(summary[0], hop.produced_at)
            flow = hop.event_type if summary is None else summary[4]
            result.finished.append((flow, max(0.0, hop.produced_at - started)))
            result.finished_ids.append(hop.correlation_id)
        db.execute(
            "INSERT INTO journeys VALUES (?,?,?,1,?,?,?,?,?,?,?,?)"
            " ON CONFLICT (correlation_id) DO UPDATE SET"
            " first_event_type = CASE WHEN excluded.started_at < started_at"
            "   THEN excluded.first_event_type ELSE first_event_type END,"
            " last_service = CASE WHEN excluded.ended_at >= ended_at"
            "   THEN excluded.last_service ELSE last_service END,"
            " last_event_type = CASE WHEN excluded.ended_at >= ended_at"
            "   THEN excluded.last_event_type ELSE last_event_type END,"
            " started_at = min(started_at, excluded.started_at),"
            " ended_at = max(ended_at, excluded.ended_at), hops = hops + 1,"
            " dlq = max(dlq, excluded.dlq), compensated = max(compensated, excluded.compensated),"
            " terminal = max(terminal, excluded.terminal),"
            " services = CASE WHEN instr(services, excluded.services) THEN services"
            "   ELSE services || substr(excluded.services, 2) END,"
            " event_types = CASE WHEN instr(event_types, excluded.event_types) THEN event_types"
            "   ELSE event_types || substr(excluded.event_types, 2) END",
            (
                hop.correlation_id, hop.produced_at, hop.produced_at, hop.event_type,
                hop.service, hop.event_type, int(hop.dlq), int(comp), int(term),
                f"|{hop.service}|", f"|{hop.event_type}|",
            ),
        )  # fmt: skip

    def _consumed_before_stored(self, db: sqlite3.Connection, hop: Hop) -> None:
        """A group already committed past this hop before the tap stored it (tap behind)."""
        db.execute(
            "INSERT OR IGNORE INTO consumptions"
            " SELECT 'kafka', m.cluster_name, m.topic, m.partition, ?, m.grp, r.service,"
            "  CASE WHEN m.prev_committed IS NULL OR ? >= m.prev_committed"
            "   THEN m.seen_at ELSE m.prev_seen_at END"
            " FROM commit_marks m LEFT JOIN readers r ON r.broker = 'kafka'"
            "  AND r.cluster_name = m.cluster_name AND r.source = m.topic AND r.grp = m.grp"
            " WHERE m.cluster_name = ? AND m.topic = ? AND m.partition = ? AND m.committed > ?",
            (hop.offset, hop.offset, hop.cluster_name, hop.source, hop.partition, hop.offset),
        )

    def record_commits(
        self, cluster: str, group: str, service: str, committed: Mapping[tuple[str, int], int],
        now: float,
    ) -> None:  # fmt: skip
        """A Kafka group's committed offsets at poll time `now`: every stored hop the group
        moved past since the last poll was consumed by `now` (so to within one poll)."""
        with self._lock:
            db = self._db
            try:
                db.execute("BEGIN IMMEDIATE")
                for (topic, partition), offset in committed.items():
                    self._record_commit(db, cluster, group, service, topic, partition, offset, now)
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise StoreError(f"trace store write failed: {exc}") from exc

    def _record_commit(
        self, db: sqlite3.Connection, cluster: str, group: str, service: str, topic: str,
        partition: int, offset: int, now: float,
    ) -> None:  # fmt: skip
        mark = db.execute(
            "SELECT committed, seen_at FROM commit_marks"
            " WHERE cluster_name = ? AND topic = ? AND partition = ? AND grp = ?",
            (cluster, topic, partition, group),
        ).fetchone()
        if mark is not None and mark[0] == offset:
            return
        low = mark[0] if mark is not None and mark[0] < offset else -1
        if mark is None or mark[0] < offset:
            db.execute(
                "INSERT OR IGNORE INTO consumptions SELECT broker, cluster_name, source, partition,"
                " offset, ?, ?, ? FROM hops WHERE broker = 'kafka' AND cluster_name = ?"
                " AND source = ? AND partition = ? AND offset >= ? AND offset < ?",
                (group, service, now, cluster, topic, partition, low, offset),
            )
        db.execute(
            "INSERT OR REPLACE INTO commit_marks VALUES (?,?,?,?,?,?,?,?)",
            (cluster, topic, partition, group, offset, now,
             None if mark is None else mark[0], None if mark is None else mark[1]),
        )  # fmt: skip
        self._note_reader(db, "kafka", cluster, topic, group, service, now)

    def record_deliveries(self, deliveries: Iterable[tuple[Hop, Consumption]]) -> None:
        """RabbitMQ firehose `deliver` events: hop identity, and the queue that got it."""
        with self._lock:
            db = self._db
            try:
                db.execute("BEGIN IMMEDIATE")
                for hop, c in deliveries:
                    db.execute(
                        "INSERT OR IGNORE INTO consumptions VALUES (?,?,?,?,?,?,?,?)",
                        (hop.broker, hop.cluster_name, hop.source, hop.partition, hop.offset,
                         c.group, c.service, c.consumed_at),
                    )  # fmt: skip
                    self._note_reader(
                        db, hop.broker, hop.cluster_name, hop.source, c.group, c.service,
                        c.consumed_at,
                    )  # fmt: skip
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise StoreError(f"trace store write failed: {exc}") from exc

    def _note_reader(
        self, db: sqlite3.Connection, broker: str, cluster: str, source: str, group: str,
        service: str, now: float,
    ) -> None:  # fmt: skip
        db.execute(
            "INSERT OR REPLACE INTO readers VALUES (?,?,?,?,?,?)",
            (broker, cluster, source, group, service, now),
        )
        self._readers.setdefault(source, set()).add(service)

    def prune(self, oldest: float, max_hops: int) -> int:
        """Delete hops produced before `oldest`, then the oldest beyond `max_hops`; returns how
        many hops were deleted. Journeys entirely older than the cut go with them."""
        with self._lock:
            db = self._db
            try:
                cut = oldest
                excess = self.hop_count - max_hops
                if excess > 0:
                    row = db.execute(
                        "SELECT produced_at FROM hops ORDER BY produced_at LIMIT 1 OFFSET ?",
                        (excess,),
                    ).fetchone()
                    if row is not None:
                        cut = max(cut, row[0])
                db.execute("BEGIN IMMEDIATE")
                deleted = db.execute("DELETE FROM hops WHERE produced_at < ?", (cut,)).rowcount
                db.execute("DELETE FROM journeys WHERE ended_at < ?", (cut,))
                db.execute("DELETE FROM consumptions WHERE consumed_at < ?", (cut,))
                db.execute("DELETE FROM readers WHERE last_seen < ?", (oldest,))
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise StoreError(f"trace store prune failed: {exc}") from exc
        self.hop_count = max(0, self.hop_count - deleted)
        return deleted

    # -- reads -----------------------------------------------------------------------------

    def _hops_of(self, db: sqlite3.Connection, correlation_id: str, limit: int) -> list[Hop]:
        rows = db.execute(
            f"SELECT {_HOP_COLUMNS} FROM hops WHERE correlation_id = ?"
            " ORDER BY produced_at DESC LIMIT ?",
            (correlation_id, limit),
        ).fetchall()
        return [_hop_of_row(row, ()) for row in rows]

    def hops(self, correlation_id: str, limit: int) -> list[Hop]:
        """The correlation ID's hops (the latest `limit`), each with its consumptions."""
        db = self.reader()
        rows = db.execute(
            f"SELECT {_HOP_COLUMNS} FROM hops WHERE correlation_id = ?"
            " ORDER BY produced_at DESC LIMIT ?",
            (correlation_id, limit),
        ).fetchall()
        out = []
        for row in rows:
            consumed = db.execute(
                "SELECT grp, service, consumed_at FROM consumptions WHERE broker = ?"
                " AND cluster_name = ? AND source = ? AND partition = ? AND offset = ?"
                " ORDER BY consumed_at, grp",
                (row[2], row[3], row[4], row[5], row[6]),
            ).fetchall()
            out.append(_hop_of_row(row, tuple(Consumption(g, s or g, t) for g, s, t in consumed)))
        return out

    def readers_of(self, hops: Iterable[Hop]) -> dict[SourceKey, tuple[str, ...]]:
        """The groups known to read each of these hops' sources."""
        db = self.reader()
        out: dict[SourceKey, tuple[str, ...]] = {}
        for key in {(h.broker, h.cluster_name, h.source) for h in hops}:
            rows = db.execute(
                "SELECT grp FROM readers WHERE broker = ? AND cluster_name = ? AND source = ?",
                key,
            ).fetchall()
            out[key] = tuple(sorted(r[0] for r in rows))
        return out


def _hop_of_row(row: tuple[object, ...], consumed: tuple[Consumption, ...]) -> Hop:
    (cid, etype, broker, cluster, source, part, off, at, svc, tp, dlq, reason, retries, fields) = (
        row
    )
    return Hop(
        correlation_id=str(cid), event_type=str(etype), broker=str(broker),
        cluster_name=str(cluster), source=str(source), partition=int(str(part)),
        offset=int(str(off)), produced_at=float(str(at)), service=str(svc),
        traceparent=str(tp), dlq=bool(dlq), dlq_reason=str(reason), retries=int(str(retries)),
        fields=json.loads(str(fields)) if fields else {}, consumed=consumed,
    )  # fmt: skip

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
    consumption_log, cursors   what the followers (consumer edges, span export) read next;
                  see `feeds`

Writes go through one connection under a lock, in one transaction per batch: a tap commits its
broker offsets / acks only after `insert_hops` returned. Reads borrow a connection from a small
pool (`reading()`): at most `READERS` at once, each with an 8 MB page cache, closed explicitly.
(A connection per thread, as before, leaked: the HTTP API serves each request on a new thread,
the connections were freed only by the cyclic GC, and each search filled its own 32 MB cache;
300 searches on a 700,000-hop store took the process from 71 MiB to 1.1 GiB.)
What a batch does is in `ingest`; consumption bookkeeping in `consumption`.

Durability: WAL with `synchronous=NORMAL`. A committed transaction is in the WAL file before
COMMIT returns, so a process crash (kill -9) loses none; a power loss or kernel crash may lose
the last transactions (not synced yet), never corrupt the file. The tap then re-reads them if
their broker offsets were not committed either, and loses them if they were.
Checkpoints (copying the WAL into the database, with an fsync) run on a thread of their own
every `CHECKPOINT_SECONDS`, so the writer never waits for one; SQLite's own automatic
checkpoint, on the writer, stays as a backstop if that thread falls behind.
A checkpoint copies the WAL but does not shorten it: SQLite starts the WAL over only when a
write begins just after a checkpoint that caught up, and with the taps, the poller and the
followers all writing, that race was almost never won (a 25-minute soak at 10x left a 1.6 GB
WAL beside a 340 MB database). So once the WAL passes `WAL_TRUNCATE_BYTES` the checkpoint thread
holds off writes and new reads, lets the reads under way finish and runs a TRUNCATE checkpoint:
tens of ms, since the passive rounds have copied almost everything.
"""

from __future__ import annotations

import _sqlite3
import ctypes
import dataclasses
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from collector.tracing import feeds
from collector.tracing.consumption import record_commit, record_delivery
from collector.tracing.hop import Consumption, Hop
from collector.tracing.ingest import (
    HOP_COLUMNS,
    EventClasses,
    HopRow,
    IngestResult,
    hop_of_row,
    hop_row,
    insert_batch,
)
from collector.tracing.journey import SourceKey

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

__all__ = ["EventClasses", "IngestResult", "StoreError", "TraceStore"]

log = logging.getLogger(__name__)

T = TypeVar("T")

CHECKPOINT_SECONDS = 0.25
WAL_TRUNCATE_BYTES = 64 * 1024 * 1024  # a WAL this large is checkpointed and cut to 0
TRUNCATE_WAIT_SECONDS = 2.0  # for the reads under way to finish, before giving up a round
WRITER_CACHE_KIB = 32_000  # the writer's page cache: the hot index pages of the insert path
READER_CACHE_KIB = 8_000  # each pooled reader's
READERS = 4  # read connections open at once; more readers wait for one
BACKSTOP_CHECKPOINT_PAGES = 16384  # 64 MB of WAL before the writer checkpoints itself


def _memory_used_function() -> Callable[[], int] | None:
    """SQLite's own count of the heap it holds (`sqlite3_memory_used`), from the library the
    sqlite3 module is linked with; None where that is not reachable (a static build)."""
    try:
        function = ctypes.CDLL(_sqlite3.__file__).sqlite3_memory_used
    except (OSError, AttributeError):
        return None
    function.restype, function.argtypes = ctypes.c_int64, []
    return lambda: int(function())


sqlite_memory_used = _memory_used_function()


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


class StoreError(RuntimeError):
    """The store could not be opened or written (disk full, read-only, corrupt file)."""


class TraceStore:
    def __init__(self, path: str | Path, classes: EventClasses) -> None:
        self.path = str(path)
        self.classes = classes
        self._lock = threading.Lock()
        self._reader_slots = threading.BoundedSemaphore(READERS)
        self._read_gate = threading.Lock()  # held by a WAL truncation: new reads wait at it
        self._idle: list[sqlite3.Connection] = []  # pooled read connections not in use
        self._idle_lock = threading.Lock()
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = self._connect(WRITER_CACHE_KIB)
            self._db.executescript(SCHEMA + feeds.SCHEMA)
            self.hop_count = int(self._db.execute("SELECT COUNT(*) FROM hops").fetchone()[0])
            self._readers: dict[str, set[str]] = {}
            self._marks: dict[tuple[str, str, str, int], int] = {}  # last commit written
            for source, service in self._db.execute("SELECT source, service FROM readers"):
                self._readers.setdefault(source, set()).add(service)
            # (cluster, topic) with some group's commit: new hops there may be consumed already
            self._marked: set[tuple[str, str]] = set(
                self._db.execute("SELECT DISTINCT cluster_name, topic FROM commit_marks")
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open trace store {self.path}: {exc}") from exc
        self._closing = threading.Event()
        self._checkpointer: threading.Thread | None = None
        if self.path != ":memory:":
            self._db.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_CHECKPOINT_PAGES}")
            self._checkpointer = threading.Thread(
                target=self._checkpoint_loop, name="trace-store-checkpoint", daemon=True
            )
            self._checkpointer.start()

    def _checkpoint_loop(self) -> None:
        """PASSIVE checkpoints beside the writer: SQLite runs them without the GIL and without
        blocking writers or readers."""
        try:
            db = self._connect(1000)  # copies WAL frames: no cache to speak of
        except sqlite3.Error as exc:
            log.warning("trace store: no checkpoint thread (%s); the writer checkpoints", exc)
            return
        wal = Path(f"{self.path}-wal")
        try:
            while not self._closing.wait(CHECKPOINT_SECONDS):
                try:
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    if _size(wal) > WAL_TRUNCATE_BYTES:
                        self._truncate_wal(db)
                except sqlite3.Error as exc:  # busy or I/O: the next round (or the backstop)
                    log.debug("trace store: checkpoint failed: %s", exc)
        finally:
            db.close()

    def _truncate_wal(self, db: sqlite3.Connection) -> None:
        """Copy what is left of the WAL and cut it to zero bytes. SQLite needs every reader out
        of the WAL for that, and pooled readers follow each other closely: so writes are held
        off (the write lock) and new reads too (every reader slot), the reads under way finish,
        and then the checkpoint has the file to itself. Readers never write while holding a
        slot, so taking the write lock first cannot deadlock."""
        with self._lock, self._read_gate:  # the gate: readers in a loop cannot starve this
            taken = 0
            try:
                while taken < READERS and self._reader_slots.acquire(timeout=TRUNCATE_WAIT_SECONDS):
                    taken += 1
                if taken < READERS:  # a long read: the next round tries again
                    log.debug("trace store: WAL truncation deferred (a read is running)")
                    return
                busy, _frames, _copied = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                if busy:
                    log.debug("trace store: WAL truncation deferred (busy)")
            finally:
                for _ in range(taken):
                    self._reader_slots.release()

    def _connect(self, cache_kib: int) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a crash loses no committed batch
        db.execute("PRAGMA temp_store=MEMORY")
        db.execute(f"PRAGMA cache_size=-{cache_kib}")
        return db

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """A read connection for the `with` block (WAL lets readers run beside the writer).
        At most `READERS` are out at once; finish the reads inside the block."""
        with self._read_gate:  # passed at once unless a WAL truncation is waiting for the slots
            pass
        with self._reader_slots:
            with self._idle_lock:
                db = self._idle.pop() if self._idle else None
            if db is None:
                try:
                    db = self._connect(READER_CACHE_KIB)
                except sqlite3.Error as exc:
                    raise StoreError(f"cannot read trace store {self.path}: {exc}") from exc
            try:
                yield db
            finally:
                if db.in_transaction:  # a read left open would pin the WAL
                    db.rollback()
                with self._idle_lock:
                    self._idle.append(db)

    def read(self, query: Callable[[sqlite3.Connection], T]) -> T:
        """`query(db)` on a pooled read connection: `store.read(feeds.log_end)`."""
        with self.reading() as db:
            return query(db)

    def close(self) -> None:
        self._closing.set()
        if self._checkpointer is not None:
            self._checkpointer.join()
        with self._lock:
            self._db.close()
        with self._idle_lock:
            idle, self._idle = self._idle, []
        for db in idle:
            db.close()

    # -- writes ----------------------------------------------------------------------------

    def _write(
        self, what: str, step: Callable[[sqlite3.Connection], T], hop_delta: Callable[[T], int]
    ) -> T:
        """Run `step` in one write transaction; any SQLite failure rolls back, as StoreError.
        `hop_delta(result)` is added to `hop_count` after the commit, still under the lock."""
        with self._lock:
            db = self._db
            try:
                db.execute("BEGIN IMMEDIATE")
                out = step(db)
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise StoreError(f"trace store {self.path}: {what} failed: {exc}") from exc
            self.hop_count = max(0, self.hop_count + hop_delta(out))
            return out

    def insert_hops(self, hops: Sequence[Hop]) -> IngestResult:
        """Store `hops` in one transaction; a hop already stored (same identity) is skipped."""
        return self.insert_rows([hop_row(h) for h in hops])

    def insert_rows(self, rows: Sequence[HopRow]) -> IngestResult:
        """`insert_hops` for hops already in row form (`ingest.HopRow`): the Kafka tap's path."""
        if not rows:
            return IngestResult()
        return self._write(
            "write",
            lambda db: insert_batch(db, rows, self.classes, self._readers, self._marked),
            lambda result: result.inserted,
        )

    def record_commits(
        self, cluster: str, group: str, service: str, committed: Mapping[tuple[str, int], int],
        now: float,
    ) -> None:  # fmt: skip
        """A Kafka group's committed offsets at poll time `now` (see `consumption`).

        Unchanged commits are filtered in memory first: every poll reports every group, and
        most partitions have not moved since the last one."""
        changed = {
            tp: offset
            for tp, offset in committed.items()
            if self._marks.get((cluster, group, *tp)) != offset
        }
        if not changed:
            return

        def step(db: sqlite3.Connection) -> None:
            for (topic, partition), offset in changed.items():
                record_commit(db, cluster, group, service, topic, partition, offset, now)

        self._write("write", step, lambda _: 0)
        for (topic, partition), offset in changed.items():
            self._marks[(cluster, group, topic, partition)] = offset
            self._readers.setdefault(topic, set()).add(service)
            self._marked.add((cluster, topic))

    def record_deliveries(self, deliveries: Iterable[tuple[Hop, Consumption]]) -> None:
        """RabbitMQ firehose `deliver` events: hop identity, and the queue that got it."""
        pairs = list(deliveries)

        def step(db: sqlite3.Connection) -> None:
            for hop, consumption in pairs:
                record_delivery(db, hop, consumption)

        self._write("write", step, lambda _: 0)
        for hop, consumption in pairs:
            self._readers.setdefault(hop.source, set()).add(consumption.service)

    def advance(self, cursor: str, position: int) -> None:
        """Persist a follower's cursor (`feeds`); trims the consumption log behind it."""
        self._write("cursor", lambda db: feeds.set_cursor(db, cursor, position), lambda _: 0)

    def drop_cursor(self, cursor: str) -> None:
        self._write("cursor", lambda db: feeds.drop_cursor(db, cursor), lambda _: 0)

    def prune(self, oldest: float, max_hops: int) -> int:
        """Delete hops produced before `oldest`, then the oldest beyond `max_hops`; returns how
        many hops were deleted. Journeys entirely older than the cut go with them. The newest
        hop (highest id) stays whatever its age, so hop ids never go back (`feeds`)."""

        def step(db: sqlite3.Connection) -> int:
            cut = oldest
            excess = self.hop_count - max_hops
            if excess > 0:
                row = db.execute(
                    "SELECT produced_at FROM hops ORDER BY produced_at LIMIT 1 OFFSET ?", (excess,)
                ).fetchone()
                if row is not None:
                    cut = max(cut, row[0])
            newest = feeds.hop_end(db)
            deleted = int(
                db.execute(
                    "DELETE FROM hops WHERE produced_at < ? AND id < ?", (cut, newest)
                ).rowcount
            )
            db.execute("DELETE FROM journeys WHERE ended_at < ?", (cut,))
            db.execute("DELETE FROM consumptions WHERE consumed_at < ?", (cut,))
            db.execute("DELETE FROM readers WHERE last_seen < ?", (oldest,))
            return deleted

        return self._write("prune", step, lambda deleted: -deleted)

    # -- reads -----------------------------------------------------------------------------

    def hops(self, correlation_id: str, limit: int) -> list[Hop]:
        """The correlation ID's hops (the latest `limit`), each with its consumptions."""
        with self.reading() as db:
            rows = db.execute(
                f"SELECT {HOP_COLUMNS} FROM hops WHERE correlation_id = ?"
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
                consumptions = tuple(Consumption(*c) for c in consumed)
                out.append(dataclasses.replace(hop_of_row(row), consumed=consumptions))
        return out

    def readers_of(self, hops: Iterable[Hop]) -> dict[SourceKey, tuple[str, ...]]:
        """The groups known to read each of these hops' sources."""
        out: dict[SourceKey, tuple[str, ...]] = {}
        with self.reading() as db:
            for key in {(h.broker, h.cluster_name, h.source) for h in hops}:
                rows = db.execute(
                    "SELECT grp FROM readers WHERE broker = ? AND cluster_name = ? AND source = ?",
                    key,
                ).fetchall()
                out[key] = tuple(sorted(r[0] for r in rows))
        return out

"""What the store hands to its followers: new hops and new consumptions, in the order stored.

Two append-only sequences, each read by a cursor (a position kept in the `cursors` table, so a
restarted collector carries on where the last one stopped):

    hops             `hops.id`: SQLite numbers a row max(id) + 1, and the pruner never deletes
                     the newest hop, so ids only grow
    consumption_log  one row per consumption actually inserted (a trigger on `consumptions`:
                     an INSERT OR IGNORE of a consumption already stored fires nothing, so a
                     commit or delivery seen twice is logged once); AUTOINCREMENT ids

Followers: the consumer edges of the service graph (`consumer_edges`) and the span export
(`otel`). The log is trimmed below the lowest cursor of its readers. SQL only; the callers own
the connection (a read connection for reads, the store's write transaction for writes).
"""

from __future__ import annotations

import sqlite3

from collector.tracing.hop import Consumption, Hop
from collector.tracing.ingest import HOP_COLUMNS, Edge, hop_of_row

SCHEMA = """
CREATE TABLE IF NOT EXISTS consumption_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT, broker TEXT, cluster_name TEXT, source TEXT,
  partition INTEGER, offset INTEGER, grp TEXT);
CREATE TRIGGER IF NOT EXISTS consumption_logged AFTER INSERT ON consumptions BEGIN
  INSERT INTO consumption_log (broker, cluster_name, source, partition, offset, grp)
  VALUES (new.broker, new.cluster_name, new.source, new.partition, new.offset, new.grp);
END;
CREATE TABLE IF NOT EXISTS cursors (name TEXT PRIMARY KEY, position INTEGER NOT NULL)
  WITHOUT ROWID;
"""

LOG_CURSOR_SUFFIX = ".consumptions"  # cursors over consumption_log end so; they bound the trim

_SAME_HOP = (
    "{a}.broker = {b}.broker AND {a}.cluster_name = {b}.cluster_name AND {a}.source = {b}.source"
    " AND {a}.partition = {b}.partition AND {a}.offset = {b}.offset"
)

# Rule (consumer_edges; docs/tracing.md): a consumption of hop h by service S is an edge
# h.service -> S unless h is a dead letter, S produced a hop (not a dead letter) of h's journey at
# or after h (its reaction is an edge already, from the produced hops), or another group of S
# consumed h first.
# Rule 2 first asks the journey's summary whether S produced in it at all (`journeys.services`,
# a superset: it keeps every service that ever produced there; no row, as after a prune, means
# ask the hops). A consumer-only service in a long journey (a session ID with hundreds of hops,
# read by an analytics job) otherwise scanned every later hop of the journey per consumption:
# 0.3-1.1 s per 5,000 consumptions in the 10x soak, 0.04-0.09 s with the summary first.
_CONSUMER_EDGES = f"""
SELECT h.service, c.service, h.event_type, max(0.0, c.consumed_at - h.produced_at)
FROM consumption_log g
JOIN consumptions c ON {_SAME_HOP.format(a="c", b="g")} AND c.grp = g.grp
JOIN hops h ON {_SAME_HOP.format(a="h", b="g")}
WHERE g.id > ? AND g.id <= ? AND h.dlq = 0
  AND NOT (coalesce((SELECT instr(j.services, '|' || c.service || '|') FROM journeys j
                     WHERE j.correlation_id = h.correlation_id), 1) > 0
           AND EXISTS (SELECT 1 FROM hops l WHERE l.correlation_id = h.correlation_id
                       AND l.produced_at >= h.produced_at AND l.service = c.service
                       AND l.id != h.id AND l.dlq = 0))
  AND NOT EXISTS (SELECT 1 FROM consumptions d WHERE {_SAME_HOP.format(a="d", b="c")}
                  AND d.grp != c.grp AND d.service = c.service
                  AND (d.consumed_at < c.consumed_at
                       OR (d.consumed_at = c.consumed_at AND d.grp < c.grp)))
ORDER BY g.id
"""

_H_COLUMNS = ", ".join(f"h.{c.strip()}" for c in HOP_COLUMNS.split(","))

# a hop without traceparent needs the journey's root span, once: with its first such hop
_NEW_HOPS = f"""
SELECT h.id, {_H_COLUMNS}, CASE WHEN h.traceparent != '' THEN 0 ELSE NOT EXISTS (
  SELECT 1 FROM hops e WHERE e.correlation_id = h.correlation_id AND e.traceparent = ''
  AND e.id < h.id) END
FROM hops h WHERE h.id > ? AND h.id <= ? ORDER BY h.id LIMIT ?
"""

_NEW_CONSUMPTIONS = f"""
SELECT g.id, c.grp, c.service, c.consumed_at, h.id, {_H_COLUMNS}
FROM consumption_log g
JOIN consumptions c ON {_SAME_HOP.format(a="c", b="g")} AND c.grp = g.grp
LEFT JOIN hops h ON {_SAME_HOP.format(a="h", b="g")}
WHERE g.id > ? AND g.id <= ? ORDER BY g.id LIMIT ?
"""


def hop_end(db: sqlite3.Connection) -> int:
    """The id of the newest stored hop (0 when none)."""
    return int(db.execute("SELECT coalesce(max(id), 0) FROM hops").fetchone()[0])


def log_end(db: sqlite3.Connection) -> int:
    """The id of the newest consumption ever logged (0 when none), trimmed or not."""
    row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'consumption_log'").fetchone()
    return 0 if row is None else int(row[0])


def cursor(db: sqlite3.Connection, name: str) -> int | None:
    row = db.execute("SELECT position FROM cursors WHERE name = ?", (name,)).fetchone()
    return None if row is None else int(row[0])


def set_cursor(db: sqlite3.Connection, name: str, position: int) -> None:
    """Move cursor `name` (write transaction), then trim the log below every log cursor."""
    db.execute("INSERT OR REPLACE INTO cursors VALUES (?, ?)", (name, position))
    if name.endswith(LOG_CURSOR_SUFFIX):
        db.execute(
            "DELETE FROM consumption_log WHERE id <= (SELECT min(position) FROM cursors"
            " WHERE name LIKE ?)",
            (f"%{LOG_CURSOR_SUFFIX}",),
        )


def drop_cursor(db: sqlite3.Connection, name: str) -> None:
    """A follower that no longer runs (span export turned off) must not hold the log back."""
    db.execute("DELETE FROM cursors WHERE name = ?", (name,))


def consumer_edges(db: sqlite3.Connection, after: int, upto: int) -> list[Edge]:
    """Service-graph edges told by the consumptions logged in (after, upto]."""
    return [Edge(*row) for row in db.execute(_CONSUMER_EDGES, (after, upto))]


def new_hops(
    db: sqlite3.Connection, after: int, upto: int, limit: int
) -> list[tuple[int, Hop, bool]]:
    """Hops with ids in (after, upto], oldest first, at most `limit`: (id, hop, whether it
    opens the journey's root span)."""
    return [
        (int(row[0]), hop_of_row(row[1:-1]), bool(row[-1]))
        for row in db.execute(_NEW_HOPS, (after, upto, limit))
    ]


def new_consumptions(
    db: sqlite3.Connection, after: int, upto: int, limit: int
) -> list[tuple[int, Hop | None, Consumption]]:
    """Consumptions logged in (after, upto], oldest first, at most `limit`: (log id, the hop or
    None when it is not stored yet, the consumption). Consumptions pruned meanwhile are left
    out."""
    out: list[tuple[int, Hop | None, Consumption]] = []
    for row in db.execute(_NEW_CONSUMPTIONS, (after, upto, limit)):
        hop = None if row[4] is None else hop_of_row(row[5:])
        out.append((int(row[0]), hop, Consumption(row[1], row[2], float(row[3]))))
    return out


def consumption_of(db: sqlite3.Connection, log_id: int) -> tuple[Hop | None, Consumption] | None:
    """One logged consumption again (a follower waiting for its hop); None once trimmed."""
    for lid, hop, consumption in new_consumptions(db, log_id - 1, log_id, 1):
        if lid == log_id:
            return hop, consumption
    return None

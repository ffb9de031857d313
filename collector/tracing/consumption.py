"""Who consumed which hop, and when: Kafka commits seen at poll time, RabbitMQ deliveries.

SQL steps run inside the store's write transaction. A Kafka group's commit moving from offset
a to b at poll time `now` marks every stored hop of that partition with a <= offset < b as
consumed at `now` (so to within one poll); the mark is kept, with the one before it, so a hop
the tap stores late still learns when it was consumed (see ingest's consumed-before-stored).
On a group's first sighting, everything below its commit counts as consumed at that poll.
"""

from __future__ import annotations

import sqlite3

from collector.tracing.hop import Consumption, Hop


def record_commit(
    db: sqlite3.Connection, cluster: str, group: str, service: str, topic: str,
    partition: int, offset: int, now: float,
) -> None:  # fmt: skip
    mark = db.execute(
        "SELECT committed, seen_at FROM commit_marks"
        " WHERE cluster_name = ? AND topic = ? AND partition = ? AND grp = ?",
        (cluster, topic, partition, group),
    ).fetchone()
    if mark is not None and mark[0] == offset:
        return
    if mark is None or mark[0] < offset:  # a rewind (offset < mark) consumes nothing new
        low = -1 if mark is None else mark[0]
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
    note_reader(db, "kafka", cluster, topic, group, service, now)


def record_delivery(db: sqlite3.Connection, hop: Hop, consumption: Consumption) -> None:
    """A firehose `deliver`: keyed by the hop's identity, so it may arrive before the hop."""
    db.execute(
        "INSERT OR IGNORE INTO consumptions VALUES (?,?,?,?,?,?,?,?)",
        (hop.broker, hop.cluster_name, hop.source, hop.partition, hop.offset,
         consumption.group, consumption.service, consumption.consumed_at),
    )  # fmt: skip
    note_reader(
        db, hop.broker, hop.cluster_name, hop.source, consumption.group, consumption.service,
        consumption.consumed_at,
    )  # fmt: skip


def note_reader(
    db: sqlite3.Connection, broker: str, cluster: str, source: str, group: str, service: str,
    now: float,
) -> None:  # fmt: skip
    db.execute(
        "INSERT OR REPLACE INTO readers VALUES (?,?,?,?,?,?)",
        (broker, cluster, source, group, service, now),
    )

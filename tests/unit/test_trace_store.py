"""The SQLite trace store on a temp file: idempotent inserts, consumption, pruning, search."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from collector.tracing.hop import Consumption, Hop
from collector.tracing.search import UnknownStatus, search_journeys
from collector.tracing.store import EventClasses, StoreError, TraceStore

CLASSES = EventClasses(frozenset({"OrderConfirmed"}), frozenset({"OrderCancelled"}))


def hop(cid: str, event_type: str, at: float, offset: int, service: str = "svc",
        source: str = "orders", partition: int = 0, **kw) -> Hop:  # fmt: skip
    return Hop(cid, event_type, "kafka", "local", source, partition, offset, at, service, **kw)


@pytest.fixture
def store(tmp_path: Path) -> TraceStore:
    return TraceStore(tmp_path / "traces.db", CLASSES)


def test_insert_is_idempotent_on_broker_cluster_source_partition_offset(store, tmp_path):
    first = store.insert_hops([hop("a", "OrderPlaced", 1, 0), hop("a", "Paid", 2, 1)])
    again = store.insert_hops([hop("a", "OrderPlaced", 1, 0), hop("b", "OrderPlaced", 3, 2)])
    assert (first.inserted, first.duplicates) == (2, 0)
    assert (again.inserted, again.duplicates) == (1, 1)
    assert store.hop_count == 3
    reopened = TraceStore(tmp_path / "traces.db", CLASSES)
    assert reopened.hop_count == 3
    with sqlite3.connect(tmp_path / "traces.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_edges_and_finished_journeys_from_consecutive_hops(store):
    store.insert_hops([hop("a", "OrderPlaced", 10, 0, service="order-service")])
    result = store.insert_hops(
        [hop("a", "OrderConfirmed", 12.5, 1, service="notify", source="confirmed")]
    )
    (edge,) = result.edges
    assert (edge.from_service, edge.to_service, edge.event_type, edge.latency_seconds) == (
        "order-service", "notify", "OrderPlaced", 2.5,
    )  # fmt: skip
    assert result.finished == [("OrderPlaced", 2.5)]
    later = store.insert_hops([hop("a", "OrderConfirmed", 13, 2, source="confirmed")])
    assert later.finished == []  # a journey finishes once


def test_commits_mark_hops_consumed_at_the_poll_that_passed_them(store):
    store.insert_hops([hop("a", "OrderPlaced", 1, off) for off in range(3)])
    store.record_commits("local", "billing", "billing-svc", {("orders", 0): 2}, now=100.0)
    store.record_commits("local", "billing", "billing-svc", {("orders", 0): 3}, now=115.0)
    seen = {h.offset: h.consumed for h in store.hops("a", 10)}
    assert seen[0] == seen[1] == (Consumption("billing", "billing-svc", 100.0),)
    assert seen[2] == (Consumption("billing", "billing-svc", 115.0),)
    assert store.readers_of(store.hops("a", 10)) == {("kafka", "local", "orders"): ("billing",)}


def test_a_hop_stored_after_the_group_passed_it_learns_when(store):
    store.record_commits("local", "billing", "billing-svc", {("orders", 0): 5}, now=100.0)
    store.record_commits("local", "billing", "billing-svc", {("orders", 0): 9}, now=115.0)
    store.insert_hops([hop("late", "OrderPlaced", 1, 3), hop("late", "X", 2, 7)])
    seen = {h.offset: h.consumed for h in store.hops("late", 10)}
    assert seen[3] == (Consumption("billing", "billing-svc", 100.0),)  # passed by the 1st poll
    assert seen[7] == (Consumption("billing", "billing-svc", 115.0),)


def test_deliveries_record_rabbitmq_consumers(store):
    h = Hop("r", "OrderPlaced", "rabbitmq", "rabbit", "orders.placed", -1, 99, 1.0, "shop")
    store.record_deliveries([(h, Consumption("inventory", "inventory-service", 2.0))])
    store.insert_hops([h])  # the delivery may arrive first: keyed by identity, not row
    (stored,) = store.hops("r", 10)
    assert stored.consumed == (Consumption("inventory", "inventory-service", 2.0),)


def test_prune_by_age_then_by_size(store):
    store.insert_hops([hop(f"c{i}", "OrderPlaced", float(i), i) for i in range(10)])
    assert store.prune(oldest=3.0, max_hops=100) == 3
    assert store.hop_count == 7
    assert store.prune(oldest=0.0, max_hops=4) == 3  # the oldest go first
    assert [h.correlation_id for h in store.hops("c6", 5)] == ["c6"]
    assert store.hops("c5", 5) == []
    assert store.read(lambda db: search_journeys(
        db, status=None, since=None, until=None, service=None, event_type=None, limit=50, now=0,
        slow_seconds=1,
    )) != []  # fmt: skip


def test_search_filters(store):
    store.insert_hops([
        hop("ok", "OrderPlaced", 10, 0, service="shop"),
        hop("ok", "OrderConfirmed", 11, 1, service="shop", source="confirmed"),
        hop("cancel", "OrderPlaced", 20, 2, service="shop"),
        hop("cancel", "OrderCancelled", 21, 3, service="pay", source="cancelled"),
        hop("dead", "OrderPlaced", 30, 4, service="shop"),
        hop("dead", "OrderPlaced", 30, 0, service="inv", source="orders.dlq", dlq=True),
        hop("slow", "OrderPlaced", 40, 5, service="shop"),
    ])  # fmt: skip

    def ids(**kw):
        args = {
            "status": None,
            "since": None,
            "until": None,
            "service": None,
            "event_type": None,
            "limit": 50,
            "now": 100.0,
            "slow_seconds": 30.0,
            **kw,
        }
        return [r["correlation_id"] for r in store.read(lambda db: search_journeys(db, **args))]

    assert ids() == ["slow", "dead", "cancel", "ok"]  # newest activity first
    assert ids(status="complete") == ["ok"]
    assert ids(status="compensated") == ["cancel"]
    assert ids(status="dead_lettered") == ["dead"]
    assert ids(status="failed") == ["dead", "cancel"]
    assert ids(status="in_flight") == ["slow"]
    assert ids(status="slow") == ["slow"]  # in flight since 40, now 100
    assert ids(service="pay") == ["cancel"]
    assert ids(event_type="OrderConfirmed") == ["ok"]
    assert ids(since=20.5, until=35) == ["dead", "cancel"]
    assert ids(limit=1) == ["slow"]
    (row,) = store.read(lambda db: search_journeys(
        db, status="complete", since=None, until=None, service=None,
        event_type=None, limit=5, now=0, slow_seconds=1,
    ))  # fmt: skip
    assert row == {
        "correlation_id": "ok", "status": "complete", "started_at": 10, "ended_at": 11,
        "duration_seconds": 1, "hops": 2, "last_service": "shop",
        "last_event_type": "OrderConfirmed",
    }  # fmt: skip
    with pytest.raises(UnknownStatus):
        ids(status="bogus")


def test_an_unwritable_store_raises_store_error(tmp_path):
    (tmp_path / "ro").mkdir()
    store = TraceStore(tmp_path / "ro" / "traces.db", CLASSES)
    store._db.execute("PRAGMA query_only = 1")
    with pytest.raises(StoreError):
        store.insert_hops([hop("a", "OrderPlaced", 1, 0)])
    assert store.hop_count == 0


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ("{retention_hours: 0}", "tracing.retention_hours"),
        ("{id_headers: []}", "tracing.id_headers"),
        ("{kafka: {cluster: nope}}", "tracing.kafka.cluster"),
        ("{rabbitmq: {cluster: local}}", "tracing.rabbitmq.cluster"),  # local is a Kafka cluster
        ("{rabbitmq: {batch_size: 0}}", "tracing.rabbitmq.batch_size"),
        ("{otlp_endpoint: 'localhost:4318'}", "tracing.otlp_endpoint"),
        ("{kafka: {bogus: 1}}", "tracing.kafka.bogus"),
    ],
)
def test_tracing_config_errors_name_the_key(tmp_path, section, key):
    from collector.config import load_config
    from collector.errors import ConfigError
    from collector.tracing.config import validate_tracing

    path = tmp_path / "eventscope.yml"
    path.write_text(f"clusters: [{{name: local, bootstrap_servers: 'x:1'}}]\ntracing: {section}\n")
    with pytest.raises(ConfigError) as err:
        validate_tracing(load_config(path, env={}).tracing, {"local"}, set())
    assert key in str(err.value)


def _open_files(path: Path) -> int:
    """File descriptors of this process open on `path` (one per SQLite connection)."""
    fds = Path("/proc/self/fd")
    return sum(1 for fd in fds.iterdir() if fd.resolve() == path.resolve())


def test_reads_on_many_threads_share_a_bounded_pool_of_connections(store, tmp_path):
    """The HTTP API answers each request on a new thread: each used to open a connection of
    its own, freed only by the garbage collector, with its own 32 MB page cache."""
    import threading

    from collector.tracing.store import READERS

    store.insert_hops([hop(f"c{i}", "OrderPlaced", float(i), i) for i in range(100)])
    db_file = tmp_path / "traces.db"
    before = _open_files(db_file)
    counts: list[int] = []
    gate = threading.Barrier(8)

    def request() -> None:
        gate.wait()  # eight requests at once
        counts.append(store.read(lambda db: db.execute("SELECT count(*) FROM hops").fetchone()[0]))

    for _ in range(10):
        threads = [threading.Thread(target=request) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert counts == [100] * 80
    assert _open_files(db_file) - before <= READERS
    store.close()
    assert _open_files(db_file) == 0


def test_sqlite_heap_is_reported_and_grows_with_the_page_cache(tmp_path):
    """`eventscope_trace_store_memory_bytes`: the store's page caches, read from SQLite."""
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    from collector.tracing.metrics import TraceMetrics, TraceMetricsCollector
    from collector.tracing.store import sqlite_memory_used

    assert sqlite_memory_used is not None
    before = sqlite_memory_used()
    store = TraceStore(tmp_path / "mem.db", CLASSES)
    store.insert_hops([hop(f"c{i}", "OrderPlaced", float(i), i) for i in range(20_000)])
    registry = CollectorRegistry()
    registry.register(
        TraceMetricsCollector(TraceMetrics(lambda: store.hop_count, sqlite_memory_used))
    )
    families = {
        f.name: f for f in text_string_to_metric_families(generate_latest(registry).decode())
    }
    (sample,) = families["eventscope_trace_store_memory_bytes"].samples
    assert sample.value > before + 1_000_000  # 20,000 hops' pages are in the writer's cache
    store.close()
    assert sqlite_memory_used() < sample.value


def test_the_wal_stays_bounded_under_steady_writes_and_reads(tmp_path, monkeypatch):
    """SQLite starts its WAL over only when a write begins right after a checkpoint that caught
    up; with the taps, the poller's commits and the readers all busy that hardly happens (a
    soak's WAL reached 1.6 GB; without the truncation this test's passes 40 MB in 3 s)."""
    import threading
    import time

    from collector.tracing import store as store_module

    monkeypatch.setattr(store_module, "WAL_TRUNCATE_BYTES", 2 * 1024 * 1024)
    monkeypatch.setattr(store_module, "CHECKPOINT_SECONDS", 0.02)  # the size is checked often
    store = TraceStore(tmp_path / "wal.db", CLASSES)
    wal = tmp_path / "wal.db-wal"
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            store.read(
                lambda db: db.execute("SELECT count(*), max(produced_at) FROM hops").fetchone()
            )

    def commit_offsets() -> None:  # the poller's small transactions between the tap's batches
        n = 0
        while not stop.is_set():
            store.record_commits("local", f"g{n % 7}", "svc", {("orders", 0): n}, time.time())
            n += 1

    others = [threading.Thread(target=read) for _ in range(2)]
    others.append(threading.Thread(target=commit_offsets))
    for t in others:
        t.start()
    largest, offset = 0, 0
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        store.insert_hops(
            [hop(f"c{offset + i}", "OrderPlaced", 1.0, offset + i) for i in range(500)]
        )
        offset += 500
        largest = max(largest, wal.stat().st_size)
    stop.set()
    for t in others:
        t.join()
    assert store.hop_count == offset
    assert largest < 16 * 1024 * 1024
    store.close()
    with sqlite3.connect(tmp_path / "wal.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

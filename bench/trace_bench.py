"""Trace benchmarks: tap ingest rate vs. a bare consumer, journey lookup on a million hops.

    python -m bench --only trace            # through the harness (results.json, table)
    python -m bench.trace_bench --events 50000 --hops 1000000

1. Ingest (goal: the tap reads >= 80 % of a bare confluent-kafka consumer's rate): the same
   topic on a private Tansu broker, N records with the demo's headers. The floor is a bare
   consumer in a fresh group that reads what any tap must read to store a hop: each record's
   headers, topic, partition, offset and timestamp (`consume(batch_size)`, the tap's batch
   size). The figure is the Kafka tap as the collector runs it (`start()`: consume thread
   parsing headers, writer thread storing one SQLite transaction per batch, offsets committed
   after the store) in a fresh group and store. A bare consumer that touches nothing is
   reported for context. Each run measures the three back to back (same load), and the
   per-run ratio tap/floor is reported too. Rates count from the first record received to the
   last read (floors) or stored (tap), so group joins are not measured. The broker's CPU per
   event while the floor and the tap read is reported as well: on this machine it shares the
   two cores with them, so it is part of what bounds either rate.
2. Store alone: rows inserted per second through `TraceStore.insert_rows` (batches of 2,000)
   while filling the lookup store.
3. Lookup (goal: p99 < 50 ms): a store filled with `hops` hops (5 per journey, 2 consumers on
   the first hop), then `TraceService.journey`'s code path for random correlation IDs.
4. Pruning: `TraceStore.prune` deleting the oldest 10 % of that store (by `max_hops`).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from bench.soak import process_cpu_seconds
from bench.stats import Row, render_table, summarize
from collector.config import KafkaCluster
from collector.tracing.api import classes_of, journey_answer, rules_of
from collector.tracing.config import KafkaTapConfig, TracingConfig
from collector.tracing.ingest import HopRow
from collector.tracing.kafka_reader import KafkaTapProcess
from collector.tracing.kafka_tap import KafkaTap, consumer_settings
from collector.tracing.metrics import TraceMetrics
from collector.tracing.store import TraceStore
from demo.kafka_node import start_kafka

TYPES = ("OrderPlaced", "InventoryReserved", "PaymentCompleted", "OrderConfirmed", "Notified")
SERVICES = ("order-service", "inventory-service", "payment-service", "order-service", "notify")


def produce(bootstrap: str, topic: str, events: int) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for fut in admin.create_topics([NewTopic(topic, 4, 1)]).values():
        fut.result(10)
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for i in range(events):
        headers: list[tuple[str, str | bytes | None]] = [
            ("correlation_id", f"ord-{i // 5}".encode()),
            ("event_type", TYPES[i % 5].encode()),
            ("source", SERVICES[i % 5].encode()),
            ("traceparent", f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01".encode()),
        ]
        producer.produce(topic, b'{"amount": 42}', f"k{i // 5}".encode(), headers=headers)
        if i % 10_000 == 0:
            producer.poll(0)
    assert producer.flush(60) == 0


@dataclass(frozen=True)
class Rate:
    per_second: float  # events/s, wall clock
    cpu_us: float  # CPU microseconds per event, all threads of this process (librdkafka's too)
    broker_cpu_us: float = 0.0  # the broker's CPU microseconds per event meanwhile (when taken)


def tap_config(bootstrap: str, topic: str, group: str) -> tuple[TracingConfig, KafkaCluster]:
    tap = KafkaTapConfig(cluster="bench", group_id=group, topics=(topic,),
                         session_timeout_ms=6000, heartbeat_interval_ms=2000)  # fmt: skip
    return TracingConfig(enabled=True, kafka=tap), KafkaCluster("bench", bootstrap)


def bare_rate(bootstrap: str, topic: str, events: int, touch: bool = True) -> Rate:
    """A bare consumer's rate. `touch` (the floor) reads each record's headers, topic,
    partition, offset and timestamp: the least a tap must read to store a hop."""
    tracing, cluster = tap_config(bootstrap, topic, f"bare-{uuid.uuid4().hex[:6]}")
    consumer = Consumer(consumer_settings(tracing, cluster))
    consumer.subscribe([topic])
    batch = tracing.kafka.batch_size
    seen, first, cpu = 0, 0.0, 0.0
    deadline = time.monotonic() + 120
    while seen < events and time.monotonic() < deadline:
        got = [m for m in consumer.consume(num_messages=batch, timeout=0.5) if m.error() is None]
        if touch:
            for m in got:
                m.headers(), m.topic(), m.partition(), m.offset(), m.timestamp()
        if got and not first:
            first, cpu = time.perf_counter(), time.process_time()
        seen += len(got)
    elapsed, cpu = time.perf_counter() - first, time.process_time() - cpu
    consumer.close()
    if seen < events:
        raise RuntimeError(f"bare consumer read {seen} of {events}")
    return Rate(events / elapsed, cpu / events * 1e6)


def clock_first_record(tap: KafkaTap) -> list[float]:
    """A list the tap fills with (wall, CPU) clock readings when it reads its first record:
    rates count from there, so the group join is not measured."""
    first: list[float] = []
    batch_of = tap.batch_of

    def timed(messages: Any, now: float) -> Any:
        if messages and not first:
            first.extend((time.perf_counter(), time.process_time()))
        return batch_of(messages, now)

    tap.batch_of = timed  # type: ignore[method-assign]
    return first


def tap_rate(bootstrap: str, topic: str, events: int, workdir: Path) -> Rate:
    """The tap with its reader in a thread (`kafka.reader: thread`), from first record read to
    the last one stored."""
    tracing, cluster = tap_config(bootstrap, topic, f"tap-{uuid.uuid4().hex[:6]}")
    store = TraceStore(workdir / f"{uuid.uuid4().hex}.db", classes_of(tracing))
    tap = KafkaTap(tracing, cluster, store, TraceMetrics(lambda: store.hop_count), ())
    first = clock_first_record(tap)
    tap.start()
    deadline = time.monotonic() + 300
    while store.hop_count < events and time.monotonic() < deadline:
        time.sleep(0.002)
    elapsed = time.perf_counter() - first[0] if first else 0.0
    cpu = time.process_time() - first[1] if first else 0.0
    tap.stop(10)
    if store.hop_count != events:
        raise RuntimeError(f"tap stored {store.hop_count} of {events}")
    store.close()
    return Rate(events / elapsed, cpu / events * 1e6)


def tap_process_rate(bootstrap: str, topic: str, events: int, workdir: Path) -> Rate:
    """The tap as the collector runs it (`kafka.reader: process`, the default): reader process
    and this process's writer, from the first batch received to the last record stored. CPU
    is both processes' (the reader's counted from its start: it reads nothing before)."""
    tracing, cluster = tap_config(bootstrap, topic, f"tap-{uuid.uuid4().hex[:6]}")
    store = TraceStore(workdir / f"{uuid.uuid4().hex}.db", classes_of(tracing))
    tap = KafkaTapProcess(tracing, cluster, store, TraceMetrics(lambda: store.hop_count), ())
    tap.start()
    deadline = time.monotonic() + 300
    cpu0: float | None = None
    while store.hop_count < events and time.monotonic() < deadline:
        if cpu0 is None and tap.first_batch_at is not None:
            cpu0 = time.process_time()
        time.sleep(0.002)
    finished = time.perf_counter()
    cpu = time.process_time() - (cpu0 or 0.0)
    pid = tap.reader_pid
    if pid is not None:
        cpu += process_cpu_seconds(pid)
    tap.stop(10)
    if store.hop_count != events or tap.first_batch_at is None:
        raise RuntimeError(f"tap stored {store.hop_count} of {events}")
    store.close()
    return Rate(events / (finished - tap.first_batch_at), cpu / events * 1e6)


def fill_store(path: Path, hops: int) -> tuple[TraceStore, float]:
    """`hops` hops, 5 per journey, with two groups' commits on the first topic. Returns the
    store and its insert rate (rows/s, the `insert_rows` calls alone)."""
    tracing = TracingConfig()
    store = TraceStore(path, classes_of(tracing))
    spent = 0.0
    batch: list[HopRow] = []
    t0 = 1_790_000_000.0
    for i in range(hops):
        j, k = divmod(i, 5)
        batch.append((f"ord-{j}", TYPES[k], "kafka", "bench", f"t{k}", j % 12, j,
                      t0 + j * 0.01 + k * 0.2, SERVICES[k], "", 0, "", 0, ""))  # fmt: skip
        if len(batch) == 2000 or i == hops - 1:
            started = time.perf_counter()
            store.insert_rows(batch)
            spent += time.perf_counter() - started
            batch = []
    journeys = hops // 5
    for group in ("inventory-service", "billing"):
        commits = {("t0", p): journeys for p in range(12)}
        store.record_commits("bench", group, group, commits, t0 + journeys * 0.01)
    return store, hops / spent


def prune_seconds(store: TraceStore) -> tuple[float, int]:
    """Time to prune the oldest 10 % by `max_hops` (the pruner's size bound)."""
    started = time.perf_counter()
    deleted = store.prune(0.0, store.hop_count - store.hop_count // 10)
    return time.perf_counter() - started, deleted


def lookup_ms(store: TraceStore, journeys: int, samples: int) -> list[float]:
    rules, rng, out = rules_of(TracingConfig()), random.Random(7), []
    for _ in range(samples):
        cid = f"ord-{rng.randrange(journeys)}"
        t = time.perf_counter()
        journey = journey_answer(store, rules, cid, 2e9, 1000)
        out.append((time.perf_counter() - t) * 1000)
        assert journey is not None and len(journey["hops"]) == 5
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(
    runs: int = 3, events: int = 200_000, hops: int = 1_000_000
) -> tuple[list[Row], dict[str, Any]]:
    raw: dict[str, Any] = {"events": events, "hops": hops}
    floor: list[Rate] = []
    bare: list[Rate] = []
    tap: list[Rate] = []
    threaded: list[Rate] = []
    with tempfile.TemporaryDirectory(prefix="trace-bench-") as tmp:
        workdir = Path(tmp)
        node = start_kafka(workdir, name="kafka-trace-bench")
        broker = node.process
        try:
            bootstrap = node.bootstrap
            produce(bootstrap, "bench.orders", events)

            def broker_cpu(measure: Any, *args: Any) -> Rate:
                """`measure(*args)`, and the broker's CPU per event while it ran (the broker
                shares the two cores: what it takes is the tap's budget too)."""
                before = process_cpu_seconds(broker.pid)
                rate = measure(*args)
                used = process_cpu_seconds(broker.pid) - before
                return Rate(rate.per_second, rate.cpu_us, used / events * 1e6)

            for _ in range(runs):  # the three back to back: each ratio under the same load
                floor.append(broker_cpu(bare_rate, bootstrap, "bench.orders", events))
                bare.append(bare_rate(bootstrap, "bench.orders", events, touch=False))
                tap.append(broker_cpu(tap_process_rate, bootstrap, "bench.orders", events, workdir))
                threaded.append(tap_rate(bootstrap, "bench.orders", events, workdir))
        finally:
            broker.stop()
        store, insert_rate = fill_store(workdir / "million.db", hops)
        latencies = lookup_ms(store, hops // 5, 2000)
        pruned_s, pruned = prune_seconds(store)
        store.close()
    ratios = [t.per_second / f.per_second for t, f in zip(tap, floor, strict=True)]
    raw.update(
        {
            name: [r.per_second for r in rates]
            for name, rates in (
                ("bare_headers_rate", floor),
                ("bare_rate", bare),
                ("tap_rate", tap),
                ("tap_thread_rate", threaded),
            )
        }
    )
    raw.update(
        {
            name: [r.cpu_us for r in rates]
            for name, rates in (
                ("bare_headers_cpu_us", floor),
                ("bare_cpu_us", bare),
                ("tap_cpu_us", tap),
                ("tap_thread_cpu_us", threaded),
            )
        }
    )
    raw.update(
        {
            name: [r.broker_cpu_us for r in rates]
            for name, rates in (("broker_cpu_us_floor", floor), ("broker_cpu_us_tap", tap))
        }
    )
    raw.update(tap_ratio=ratios, store_insert_rate=insert_rate)
    raw.update(prune_seconds=pruned_s, pruned_hops=pruned)
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    raw.update(lookup_p50_ms=p50, lookup_p99_ms=p99, lookup_mean_ms=statistics.mean(latencies))
    tap_s, floor_s = summarize(r.per_second for r in tap), summarize(r.per_second for r in floor)
    floor_cpu = summarize(r.cpu_us for r in floor)
    case = f"{events:,} events"
    rows = [
        Row("trace", case, "tap ingest rate", "events/s", tap_s, floor_s,
            ">= 80 % of bare", tap_s.median >= 0.8 * floor_s.median),
        Row("trace", case, "tap / bare-with-headers, per run", "ratio", summarize(ratios)),
        Row("trace", case, "tap, reader in a thread (kafka.reader: thread)", "events/s",
            summarize(r.per_second for r in threaded), floor_s),
        Row("trace", case, "bare consumer, headers not read", "events/s",
            summarize(r.per_second for r in bare), floor_s),
        Row("trace", case, "tap CPU per event (both processes)", "us",
            summarize(r.cpu_us for r in tap), floor_cpu),
        Row("trace", case, "tap CPU per event, reader in a thread", "us",
            summarize(r.cpu_us for r in threaded), floor_cpu),
        Row("trace", case, "bare consumer CPU per event, headers not read", "us",
            summarize(r.cpu_us for r in bare), floor_cpu),
        Row("trace", case, "broker (Tansu) CPU per event, serving the tap", "us",
            summarize(r.broker_cpu_us for r in tap), summarize(r.broker_cpu_us for r in floor)),
        Row("trace", f"{hops:,} hops", "store insert rate", "hops/s", summarize([insert_rate])),
        Row("trace", f"{hops:,} hops", "journey lookup p50", "ms", summarize([p50])),
        Row("trace", f"{hops:,} hops", "journey lookup p99", "ms", summarize([p99]), None,
            "< 50 ms", p99 < 50),
        Row("trace", f"{hops:,} hops", f"prune oldest {pruned:,} hops", "s",
            summarize([pruned_s])),
    ]  # fmt: skip
    return rows, raw


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.trace_bench")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--events", type=int, default=200_000)
    p.add_argument("--hops", type=int, default=1_000_000)
    args = p.parse_args(argv)
    rows, raw = run(args.runs, args.events, args.hops)
    print(render_table(rows))
    print({k: v for k, v in raw.items() if not isinstance(v, list)}, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

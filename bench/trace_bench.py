"""Trace benchmarks: tap ingest rate vs. a bare consumer, journey lookup on a million hops.

    python -m bench --only trace            # through the harness (results.json, table)
    python -m bench.trace_bench --events 50000 --hops 1000000

1. Ingest (goal: the tap reads >= 80 % of a bare confluent-kafka consumer's rate): the same
   topic on a private Tansu broker, N records with the demo's headers; the floor is a bare
   consumer (`consume(500)`, nothing else) in a fresh group; the figure is the Kafka tap
   (parse headers, one SQLite transaction per batch, commit offsets) in a fresh group and store.
   Rates count from the first record received to the last, so group joins are not measured.
2. Lookup (goal: p99 < 50 ms): a store filled with `hops` hops (5 per journey, 2 consumers on
   the first hop), then `TraceService.journey`'s code path for random correlation IDs.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from bench.stats import Row, render_table, summarize
from collector.config import KafkaCluster
from collector.tracing.api import classes_of, journey_answer, rules_of
from collector.tracing.config import KafkaTapConfig, TracingConfig
from collector.tracing.hop import Hop
from collector.tracing.kafka_tap import KafkaTap, consumer_settings
from collector.tracing.metrics import TraceMetrics
from collector.tracing.store import TraceStore
from demo.services import free_port, start_tansu

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


def tap_config(bootstrap: str, topic: str, group: str) -> tuple[TracingConfig, KafkaCluster]:
    tap = KafkaTapConfig(cluster="bench", group_id=group, topics=(topic,),
                         session_timeout_ms=2000, heartbeat_interval_ms=500)  # fmt: skip
    return TracingConfig(enabled=True, kafka=tap), KafkaCluster("bench", bootstrap)


def bare_rate(bootstrap: str, topic: str, events: int, touch: bool = False) -> float:
    """A bare consumer's rate; `touch` also reads each record's headers and timestamp (the
    least any tap must do), as a second, fairer floor."""
    tracing, cluster = tap_config(bootstrap, topic, f"bare-{uuid.uuid4().hex[:6]}")
    consumer = Consumer(consumer_settings(tracing, cluster))
    consumer.subscribe([topic])
    seen, first = 0, 0.0
    deadline = time.monotonic() + 120
    while seen < events and time.monotonic() < deadline:
        got = [m for m in consumer.consume(num_messages=500, timeout=0.5) if m.error() is None]
        if touch:
            for m in got:
                m.headers(), m.timestamp(), m.partition(), m.offset()
        if got and not first:
            first = time.perf_counter()
        seen += len(got)
    elapsed = time.perf_counter() - first
    consumer.close()
    if seen < events:
        raise RuntimeError(f"bare consumer read {seen} of {events}")
    return events / elapsed


def tap_rate(bootstrap: str, topic: str, events: int, workdir: Path) -> float:
    tracing, cluster = tap_config(bootstrap, topic, f"tap-{uuid.uuid4().hex[:6]}")
    store = TraceStore(workdir / f"{uuid.uuid4().hex}.db", classes_of(tracing))
    tap = KafkaTap(tracing, cluster, store, TraceMetrics(lambda: store.hop_count), ())
    tap._consumer = Consumer(consumer_settings(tracing, cluster))  # driven here, not threaded
    seen, first = 0, 0.0
    deadline = time.monotonic() + 300
    while seen < events and time.monotonic() < deadline:
        got = tap.run_once()
        if got and not first:
            first = time.perf_counter()
        seen += got
    elapsed = time.perf_counter() - first
    tap.stop(5)
    if store.hop_count != events:
        raise RuntimeError(f"tap stored {store.hop_count} of {events}")
    store.close()
    return events / elapsed


def fill_store(path: Path, hops: int) -> tuple[TraceStore, float]:
    """`hops` hops, 5 per journey, with two groups' commits on the first topic."""
    tracing = TracingConfig()
    store = TraceStore(path, classes_of(tracing))
    started = time.perf_counter()
    batch: list[Hop] = []
    t0 = 1_790_000_000.0
    for i in range(hops):
        j, k = divmod(i, 5)
        batch.append(Hop(f"ord-{j}", TYPES[k], "kafka", "bench", f"t{k}", j % 12, j,
                         t0 + j * 0.01 + k * 0.2, SERVICES[k]))  # fmt: skip
        if len(batch) == 5000:
            store.insert_hops(batch)
            batch = []
    if batch:
        store.insert_hops(batch)
    journeys = hops // 5
    for group in ("inventory-service", "billing"):
        commits = {("t0", p): journeys for p in range(12)}
        store.record_commits("bench", group, group, commits, t0 + journeys * 0.01)
    return store, hops / (time.perf_counter() - started)


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
    runs: int = 3, events: int = 50_000, hops: int = 1_000_000
) -> tuple[list[Row], dict[str, Any]]:
    raw: dict[str, Any] = {"events": events, "hops": hops}
    with tempfile.TemporaryDirectory(prefix="trace-bench-") as tmp:
        workdir = Path(tmp)
        port = free_port()
        broker = start_tansu(port, workdir, name=f"tansu-bench-{port}")
        try:
            bootstrap = f"127.0.0.1:{port}"
            produce(bootstrap, "bench.orders", events)
            bare = [bare_rate(bootstrap, "bench.orders", events) for _ in range(runs)]
            touched = [bare_rate(bootstrap, "bench.orders", events, True) for _ in range(runs)]
            tap = [tap_rate(bootstrap, "bench.orders", events, workdir) for _ in range(runs)]
        finally:
            broker.stop()
        store, insert_rate = fill_store(workdir / "million.db", hops)
        latencies = lookup_ms(store, hops // 5, 2000)
        store.close()
    raw.update(bare_rate=bare, bare_headers_rate=touched, tap_rate=tap)
    raw.update(store_insert_rate=insert_rate)
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    raw.update(lookup_p50_ms=p50, lookup_p99_ms=p99, lookup_mean_ms=statistics.mean(latencies))
    tap_s, bare_s = summarize(tap), summarize(bare)
    rows = [
        Row("trace", f"{events} events", "tap ingest rate", "events/s", tap_s, bare_s,
            ">= 80 % of bare", tap_s.median >= 0.8 * bare_s.median),
        Row("trace", f"{events} events", "bare consumer + headers", "events/s",
            summarize(touched), bare_s),
        Row("trace", f"{hops} hops", "journey lookup p50", "ms", summarize([p50])),
        Row("trace", f"{hops} hops", "journey lookup p99", "ms", summarize([p99]), None,
            "< 50 ms", p99 < 50),
        Row("trace", f"{hops} hops", "store insert rate", "hops/s", summarize([insert_rate])),
    ]  # fmt: skip
    return rows, raw


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.trace_bench")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--events", type=int, default=50_000)
    p.add_argument("--hops", type=int, default=1_000_000)
    args = p.parse_args(argv)
    rows, raw = run(args.runs, args.events, args.hops)
    print(render_table(rows))
    print({k: v for k, v in raw.items() if not isinstance(v, list)}, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

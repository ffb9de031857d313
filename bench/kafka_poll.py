"""Kafka poll benchmark: the collector's poll vs. the bare confluent-kafka floor, N groups.

Each run starts two fresh processes against the same broker (through the latency proxy): the
*collector* (`ClusterPoller.poll_once()`: adapter snapshot + the pure view it renders) and the
*floor* (raw AdminClient futures, everything issued as early as its inputs allow:
ListGroups + Metadata, then DescribeGroups + one OffsetFetch per group + ListOffsets at once).
Each process polls once to warm up (connections, topic configs), then `polls` times, and
reports its poll wall times, the requests of its last poll and its peak RSS (VmHWM).

    python -m bench.kafka_poll worker collector --bootstrap 127.0.0.1:PORT --polls 3
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.kafka_world import PARTITIONS, TOPICS, KafkaWorld
from bench.stats import Row, summarize

POLL_GOAL_SECONDS = 5.0  # at 1,000 groups
RSS_GOAL_MB = 300.0
WORKER_TIMEOUT = 600.0
NARROW_CONCURRENCY = 8  # the collector again with the old default: fewer OffsetFetch in flight


def protocol_minimum_requests(brokers: int = 1) -> int:
    """Requests one poll needs on the wire, at best, whatever the group count.

    ListGroups (1 per broker) + DescribeGroups (1 per coordinator) + OffsetFetch (v8+ batches
    many groups: 1 per coordinator) + Metadata (1) + ListOffsets (1 per leader). With one
    broker: 1 + 1 + 1 + 1 + 1 = 5.
    """
    return brokers + brokers + brokers + 1 + brokers


def librdkafka_minimum_requests(groups: int, brokers: int = 1) -> int:
    """As `protocol_minimum_requests`, but librdkafka sends one OffsetFetch per group.

    1,000 groups on one broker: 1 + 1 + 1,000 + 1 + 1 = 1,004.
    """
    return protocol_minimum_requests(brokers) - brokers + groups


def peak_rss_mb() -> float:
    """Peak resident set size of this process (VmHWM), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("VmHWM missing from /proc/self/status")


# -- the two workers (each in its own process) ------------------------------------------------


def collector_worker(bootstrap: str, polls: int, max_concurrency: int | None) -> dict[str, Any]:
    from collector.brokers.kafka import KafkaAdapter
    from collector.compute.view import ViewSettings
    from collector.config import KafkaCluster
    from collector.poller import ClusterPoller

    cluster = KafkaCluster(name="bench", bootstrap_servers=bootstrap)
    if max_concurrency is not None:
        cluster = replace(cluster, max_concurrency=max_concurrency)
    adapter = KafkaAdapter(cluster)
    poller = ClusterPoller(adapter, interval=60.0, settings=ViewSettings())
    seconds: list[float] = []
    cpu: list[float] = []
    requests: dict[str, int] = {}
    phases: dict[str, float] = {}
    before: dict[str, int] = {}
    view = None
    for i in range(polls + 1):
        started, cpu_started = time.perf_counter(), time.process_time()
        view = poller.poll_once()
        elapsed = time.perf_counter() - started
        cpu_used = time.process_time() - cpu_started
        if not view.up:
            raise RuntimeError(f"collector poll failed: {view.error}")
        total = dict(view.requests_total)
        requests = {k: n - before.get(k, 0) for k, n in total.items() if n - before.get(k, 0)}
        before = total
        phases = dict(view.phase_seconds)
        if i > 0:  # poll 0 warms up: connections, topic configs
            seconds.append(elapsed)
            cpu.append(cpu_used)
    adapter.close()
    assert view is not None
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "requests": requests,
        "phases": phases,
        "groups": len(view.groups),
        "lag_rows": len(view.lags),
        "rss_mb": peak_rss_mb(),
    }


def floor_worker(bootstrap: str, polls: int) -> dict[str, Any]:
    from confluent_kafka import ConsumerGroupTopicPartitions
    from confluent_kafka import TopicPartition as KTopicPartition
    from confluent_kafka.admin import AdminClient, OffsetSpec

    admin = AdminClient({"bootstrap.servers": bootstrap})
    timeout = 30.0
    seconds: list[float] = []
    cpu: list[float] = []
    requests: dict[str, int] = {}
    groups = partitions = 0
    for i in range(polls + 1):
        started, cpu_started = time.perf_counter(), time.process_time()
        listed = admin.list_consumer_groups(request_timeout=timeout)
        md = admin.list_topics(timeout=timeout)  # blocking, but ListGroups is already in flight
        tps = {
            KTopicPartition(name, p): OffsetSpec.latest()
            for name, t in md.topics.items()
            if not name.startswith("__")
            for p in t.partitions
        }
        names = sorted(g.group_id for g in listed.result().valid)
        pending: list[Future[Any]] = list(admin.list_offsets(tps, request_timeout=timeout).values())
        pending.extend(admin.describe_consumer_groups(names, request_timeout=timeout).values())
        for name in names:
            req = [ConsumerGroupTopicPartitions(name)]
            pending.extend(admin.list_consumer_group_offsets(req, request_timeout=timeout).values())
        for fut in pending:
            fut.result()
        elapsed = time.perf_counter() - started
        cpu_used = time.process_time() - cpu_started
        groups, partitions = len(names), len(tps)
        requests = {
            "list_groups": 1,
            "metadata": 1,
            "list_offsets": 1,
            "describe_groups": 1,
            "offset_fetch": len(names),
        }
        if i > 0:
            seconds.append(elapsed)
            cpu.append(cpu_used)
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "requests": requests,
        "groups": groups,
        "partitions": partitions,
        "rss_mb": peak_rss_mb(),
    }


def run_worker(
    kind: str, bootstrap: str, polls: int, max_concurrency: int | None = None
) -> dict[str, Any]:
    """Run one worker in a fresh interpreter; its last stdout line is its JSON result."""
    argv = [sys.executable, "-m", "bench.kafka_poll", "worker", kind]
    argv += ["--bootstrap", bootstrap, "--polls", str(polls)]
    if max_concurrency is not None:
        argv += ["--max-concurrency", str(max_concurrency)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=WORKER_TIMEOUT)
    if done.returncode != 0:
        raise RuntimeError(f"{kind} worker failed ({done.returncode}):\n{done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# -- the benchmark ----------------------------------------------------------------------------


def run(
    group_counts: Sequence[int],
    runs: int,
    polls: int,
    delay_ms: float,
    workdir: Path,
    broker: str = "apache",
) -> tuple[list[Row], dict[str, Any]]:
    """Rows for the table, and the raw per-run results for results.json."""
    rows: list[Row] = []
    raw: dict[str, Any] = {
        "broker": broker,
        "delay_ms_each_way": delay_ms,
        "topics": TOPICS,
        "partitions": PARTITIONS,
    }
    world = KafkaWorld(workdir, delay_ms / 1000.0, broker_kind=broker).start()
    try:
        for n in sorted(group_counts):
            started = time.monotonic()
            world.grow_to(n)
            setup = time.monotonic() - started
            coll: list[dict[str, Any]] = []
            narrow: list[dict[str, Any]] = []
            floor: list[dict[str, Any]] = []
            for _ in range(runs):  # interleaved, so load on the machine hits all three alike
                floor.append(run_worker("floor", world.bootstrap, polls))
                coll.append(run_worker("collector", world.bootstrap, polls))
                narrow.append(run_worker("collector", world.bootstrap, polls, NARROW_CONCURRENCY))
            raw[str(n)] = {
                "setup_seconds": setup,
                "collector": coll,
                f"collector_max_concurrency_{NARROW_CONCURRENCY}": narrow,
                "floor": floor,
            }
            rows.extend(_rows(n, broker, coll, narrow, floor))
    finally:
        world.stop()
    return rows, raw


def _rows(
    n: int,
    broker: str,
    coll: list[dict[str, Any]],
    narrow: list[dict[str, Any]],
    floor: list[dict[str, Any]],
) -> list[Row]:
    case = f"{n:,} groups ({broker})"
    poll = summarize(s for r in coll for s in r["seconds"])
    goal_poll = n == 1000
    reqs = summarize(sum(r["requests"].values()) for r in coll)
    minimum = float(protocol_minimum_requests())
    rss = summarize(r["rss_mb"] for r in coll)
    return [
        Row(
            "kafka_poll",
            case,
            "poll wall time",
            "s",
            poll,
            summarize(s for r in floor for s in r["seconds"]),
            goal=f"< {POLL_GOAL_SECONDS:g} s" if goal_poll else "",
            met=(poll.median < POLL_GOAL_SECONDS) if goal_poll else None,
        ),
        Row(
            "kafka_poll",
            case,
            f"poll wall time, max_concurrency={NARROW_CONCURRENCY} (old default)",
            "s",
            summarize(s for r in narrow for s in r["seconds"]),
            summarize(s for r in floor for s in r["seconds"]),
        ),
        Row(
            "kafka_poll",
            case,
            "poll CPU time",
            "s",
            summarize(s for r in coll for s in r["cpu_seconds"]),
            summarize(s for r in floor for s in r["cpu_seconds"]),
        ),
        Row(
            "kafka_poll",
            case,
            f"requests/poll (librdkafka min {librdkafka_minimum_requests(n)})",
            "requests",
            reqs,
            summarize([minimum]),
        ),
        Row(
            "kafka_poll",
            case,
            "peak RSS",
            "MiB",
            rss,
            summarize(r["rss_mb"] for r in floor),
            goal=f"< {RSS_GOAL_MB:g} MiB",
            met=rss.high < RSS_GOAL_MB,
        ),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.kafka_poll")
    sub = parser.add_subparsers(dest="command", required=True)
    worker = sub.add_parser("worker", help="one measuring process (used by the benchmark)")
    worker.add_argument("kind", choices=("collector", "floor"))
    worker.add_argument("--bootstrap", required=True)
    worker.add_argument("--polls", type=int, default=3)
    worker.add_argument("--max-concurrency", type=int, default=None)
    args = parser.parse_args(argv)
    if args.kind == "collector":
        result = collector_worker(args.bootstrap, args.polls, args.max_concurrency)
    else:
        result = floor_worker(args.bootstrap, args.polls)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

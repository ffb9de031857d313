"""Apache Kafka start-up: how long the single KRaft node of the demo and the tests takes.

Each run formats a fresh log dir and starts `demo/kafka_node.py`'s node, timing three phases:
the storage format (Kafka's own tool, a JVM of its own), start → ready (a real Metadata request
answered with this broker, not an open port), and stop (SIGTERM: a controlled shutdown). The
node's RSS once ready is read from /proc. Tansu, the fallback, is timed the same way as the floor.

    python -m bench --only kafka_start --runs 5
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from bench.stats import Row, summarize
from demo import kafka_node
from demo.services import free_port, start_tansu

START_GOAL_SECONDS = 15.0


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def one_kafka(workdir: Path) -> dict[str, float]:
    t0 = time.monotonic()
    node = kafka_node.start_kafka(workdir, name="kafka-start-bench")
    ready = time.monotonic() - t0
    rss = rss_mib(node.process.pid)
    t1 = time.monotonic()
    node.stop()
    return {"ready_seconds": ready, "stop_seconds": time.monotonic() - t1, "rss_mib": rss}


def one_tansu(workdir: Path) -> dict[str, float]:
    t0 = time.monotonic()
    proc = start_tansu(free_port(), workdir, name="tansu-start-bench")
    ready = time.monotonic() - t0
    rss = rss_mib(proc.pid)
    t1 = time.monotonic()
    proc.stop()
    return {"ready_seconds": ready, "stop_seconds": time.monotonic() - t1, "rss_mib": rss}


def run(runs: int = 3) -> tuple[list[Row], dict[str, Any]]:
    kafka_node.ensure_kafka()  # the fetch is set-up, not start-up
    kafka: list[dict[str, float]] = []
    tansu: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="kafka-start-bench-") as tmp:
        for i in range(runs):
            kafka.append(one_kafka(Path(tmp) / f"k{i}"))
            tansu.append(one_tansu(Path(tmp) / f"t{i}"))
    case = f"Apache Kafka {kafka_node.kafka_version()} (floor: Tansu)"
    ready = summarize(r["ready_seconds"] for r in kafka)
    rows = [
        Row("kafka_start", case, "start to ready (format + JVM + Metadata answered)", "s", ready,
            summarize(r["ready_seconds"] for r in tansu),
            goal=f"< {START_GOAL_SECONDS:g} s", met=ready.median < START_GOAL_SECONDS),
        Row("kafka_start", case, "stop (SIGTERM, controlled shutdown)", "s",
            summarize(r["stop_seconds"] for r in kafka),
            summarize(r["stop_seconds"] for r in tansu)),
        Row("kafka_start", case, "RSS once ready", "MiB",
            summarize(r["rss_mib"] for r in kafka), summarize(r["rss_mib"] for r in tansu)),
    ]  # fmt: skip
    return rows, {"kafka": kafka, "tansu": tansu, "heap": kafka_node.HEAP}

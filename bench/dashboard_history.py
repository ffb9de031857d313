"""An hour of 15 s history for 100 consumer groups, for the dashboard benchmark.

The dashboard's load grows with the groups and the time range it shows, not with the demo's
handful of services, so the benchmark adds a synthetic Kafka cluster `bench` to the demo's
Prometheus, rendered by the collector's own `ViewCollector` (the same families and labels the
collector serves):

- the past hour is backfilled before Prometheus starts: one sample every 15 s of every series,
  written as OpenMetrics and turned into TSDB blocks by `promtool tsdb create-blocks-from
  openmetrics` in Prometheus' data directory;
- from then on `HistoryExporter` serves the same model at the current time, scraped every 15 s
  under the same job and instance labels, so the series go on without a break in meaning
  (instant queries look 5 minutes back, so a backfill alone would go stale mid-run).

The model is a pure function of time: `synthetic_view(t)` for any t gives counters that only
grow and lag that moves smoothly, with some groups lagging (WARN), one stalled, one stopped and
a few dead-letter topics filling, so every page has something to draw. 25 topics of 6
partitions, 4 groups per topic: 600 partition-lag series, about 3,300 series in all.
"""

from __future__ import annotations

import math
import subprocess
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from prometheus_client import CollectorRegistry

from collector.config import Thresholds
from collector.exporters.exposition import render_exposition
from collector.exporters.prometheus import ViewCollector
from collector.model import (
    Broker,
    ClusterView,
    DeadLetterSample,
    GroupRow,
    LagMethod,
    LagRow,
    Status,
    TopicPartition,
)

CLUSTER = "bench"
GROUPS = 100
TOPICS = 25
PARTITIONS = 6
STEP_SECONDS = 15
HISTORY_SECONDS = 3600
JOB = "bench-history"
ORIGIN = 1_700_000_000.0  # counters count from here: any fixed instant before the history
DLQ_TOPICS = (0, 5, 10, 15, 20)
STALLED, STOPPED = 37, 73


def topic_name(t: int) -> str:
    return f"bench.stream-{t:02d}"


def group_name(g: int) -> str:
    return f"bench-consumer-{g:03d}"


def produce_rate(topic: int) -> float:
    """Messages per second into one topic: 5 to 23."""
    return 5.0 + 3.0 * (topic % 7)


def _partition_lag(g: int, p: int, t: float) -> int:
    """Smooth lag: a 10-minute wave around a base, plus a 30-minute ramp for every 10th group
    (a consumer falling behind, then catching up). Its rate of change stays under the produce
    rate, so the consumed counter still only grows."""
    wave = 40.0 * (1.0 + math.sin(2 * math.pi * t / 600.0 + g + p))
    ramp = 1.2 * ((t - ORIGIN) % 1800.0) / PARTITIONS if g % 10 == 3 else 0.0
    frozen = 500.0 if g in (STALLED, STOPPED) else 0.0
    return int(5 + g % 17 + wave + ramp + frozen)


def _status(g: int, t: float) -> Status:
    if g == STALLED:
        return Status.STALL
    if g == STOPPED:
        return Status.STOP
    if g % 10 == 3 and (t - ORIGIN) % 1800.0 > 300.0:
        return Status.WARN
    return Status.OK


def synthetic_view(t: float) -> ClusterView:
    """The `bench` cluster as the collector would report it at time t."""
    lags: list[LagRow] = []
    groups: list[GroupRow] = []
    consumed: dict[tuple[str, str], int] = {}
    produced = {topic_name(k): int(produce_rate(k) * (t - ORIGIN)) for k in range(TOPICS)}
    ends = {
        TopicPartition(topic_name(k), p): produced[topic_name(k)] // PARTITIONS
        for k in range(TOPICS)
        for p in range(PARTITIONS)
    }
    for g in range(GROUPS):
        k = g % TOPICS
        name, topic = group_name(g), topic_name(k)
        per_partition_rate = produce_rate(k) / PARTITIONS
        total_lag = 0
        for p in range(PARTITIONS):
            lag = _partition_lag(g, p, t)
            end = ends[TopicPartition(topic, p)]
            total_lag += lag
            lags.append(
                LagRow(name, topic, p, lag, lag / per_partition_rate, LagMethod.EXACT, end - lag,
                       end)
            )  # fmt: skip
        consumed[(name, topic)] = produced[topic] - total_lag
        stopped = g == STOPPED
        groups.append(
            GroupRow(name, _status(g, t), "", "Empty" if stopped else "Stable", 0 if stopped else 3)
        )
    dead = tuple(
        DeadLetterSample(
            f"{topic_name(k)}.dlq",
            topic_name(k),
            int(0.02 * (k + 1) * (t - ORIGIN)) % 5000,
            {
                "poison": int(0.015 * (k + 1) * (t - ORIGIN)),
                "max_retries": int(0.005 * (k + 1) * (t - ORIGIN)),
            },
        )
        for k in DLQ_TOPICS
    )
    return ClusterView(
        broker=Broker.KAFKA,
        cluster=CLUSTER,
        up=True,
        auth_failed=False,
        polled_at=t,
        last_success_at=t,
        lags=tuple(lags),
        groups=tuple(groups),
        produced_total=produced,
        consumed_total=consumed,
        end_offsets=ends,
        dead_letters=dead,
        phase_seconds={"total": 0.4},
    )


def _registry(t: float | None) -> CollectorRegistry:
    """A registry rendering the model at t (None: at each collect, the current time)."""
    import time

    registry = CollectorRegistry(auto_describe=False)
    registry.register(
        ViewCollector(
            lambda: [synthetic_view(time.time() if t is None else t)],
            Thresholds(messages=1000, seconds=300.0),
            float(STEP_SECONDS),
        )
    )
    return registry


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def openmetrics_history(times: Iterable[float], instance: str) -> Iterable[str]:
    """OpenMetrics lines for every series at every time, family by family, each series in time
    order (what promtool's backfill wants), with the job and instance a scrape would add."""
    families: dict[str, tuple[str, dict[tuple[str, tuple[tuple[str, str], ...]], list[str]]]] = {}
    for t in times:
        for metric in _registry(t).collect():
            kind = "counter" if metric.type == "counter" else "gauge"
            _, series = families.setdefault(metric.name, (kind, {}))
            for s in metric.samples:
                labels = tuple(sorted({**s.labels, "job": JOB, "instance": instance}.items()))
                series.setdefault((s.name, labels), []).append(f"{s.value!r} {t:.3f}")
    for name, (kind, series) in families.items():
        yield f"# TYPE {name} {kind}\n"
        for (sample, labels), points in series.items():
            text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
            for point in points:
                yield f"{sample}{{{text}}} {point}\n"
    yield "# EOF\n"


def backfill(data_dir: Path, end: float, instance: str, workdir: Path) -> int:
    """Write the hour before `end` into TSDB blocks under `data_dir`; returns samples written."""
    end = end // STEP_SECONDS * STEP_SECONDS
    times = [
        end - HISTORY_SECONDS + i * STEP_SECONDS for i in range(HISTORY_SECONDS // STEP_SECONDS + 1)
    ]
    source = workdir / "history.om"
    samples = 0
    with source.open("w") as out:
        for line in openmetrics_history(times, instance):
            samples += not line.startswith("#")
            out.write(line)
    data_dir.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["promtool", "tsdb", "create-blocks-from", "openmetrics", str(source), str(data_dir)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"promtool backfill failed: {done.stderr.strip()[-2000:]}")
    source.unlink()
    return samples


class HistoryExporter:
    """/metrics of the model at the current time, on 127.0.0.1:port, in a daemon thread."""

    def __init__(self, port: int) -> None:
        registry = _registry(None)

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = render_exposition(registry.collect())
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> HistoryExporter:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def scrape_job(port: int) -> str:
    """The scrape_configs entry to append to the demo's prometheus.yml."""
    return (
        f"  - job_name: {JOB}\n"
        f"    scrape_interval: {STEP_SECONDS}s\n"
        f"    scrape_timeout: 10s\n"
        f"    static_configs:\n"
        f'      - targets: ["127.0.0.1:{port}"]\n'
    )

"""/metrics benchmark: render time and size of the exposition at 10k, 50k and 100k series.

The collector side is what `collector/http_api.py` serves: `render_exposition` over a registry
holding the real `ViewCollector`, fed synthetic `ClusterView`s (groups of 10 partitions, each
partition lagging, exact lag seconds); it includes building the families from the views. The
floor is prometheus-client's `generate_latest` rendering the same number of plain gauge samples
with the same label names, from a family built before the clock starts. `generate_latest` over
the same `ViewCollector` (what /metrics did before) is reported too.

Series per group of 10 partitions: 10 x (lag messages, lag seconds, committed offset) + 6 status
+ 6 state + members + folded + 2 thresholds = 46, plus one end offset per partition; the group
count is solved from the target so the rendered sample count lands within a group of it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bench.stats import Row, summarize
from collector.config import Thresholds
from collector.exporters.exposition import render_exposition
from collector.exporters.prometheus import ViewCollector
from collector.model import Broker, ClusterView, GroupRow, LagMethod, LagRow, Status, TopicPartition

PARTITIONS_PER_GROUP = 10
TOPICS = 100
RENDER_GOAL_SECONDS = 1.0  # at 50k series
NOW = 1_800_000_000.0  # synthetic poll time: views carry it, nothing reads a clock


def synthetic_view(groups: int) -> ClusterView:
    """One Kafka cluster with `groups` groups, group g reading all partitions of topic g % 100."""
    lags: list[LagRow] = []
    rows: list[GroupRow] = []
    for g in range(groups):
        name, topic = f"group-{g:06d}", f"topic-{g % TOPICS:03d}"
        for p in range(PARTITIONS_PER_GROUP):
            lags.append(
                LagRow(name, topic, p, 5 + p, 12.5 + p, LagMethod.EXACT, 1000 + p, 1005 + 2 * p)
            )
        rows.append(GroupRow(name, Status.OK, "", "Stable", 3))
    ends = {
        TopicPartition(f"topic-{t:03d}", p): 2000 + p
        for t in range(min(groups, TOPICS))
        for p in range(PARTITIONS_PER_GROUP)
    }
    return ClusterView(
        broker=Broker.KAFKA,
        cluster="bench",
        up=True,
        auth_failed=False,
        polled_at=NOW,
        last_success_at=NOW,
        lags=tuple(lags),
        groups=tuple(rows),
        end_offsets=ends,
        phase_seconds={"total": 1.0},
        requests_total={"offset_fetch": groups},
    )


def sample_lines(body: bytes) -> int:
    """Samples in an exposition: lines that are neither comments nor blank."""
    return sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))


class PlainGauges(Collector):
    """The floor: one prebuilt gauge family of `n` samples, labelled like lag series."""

    def __init__(self, n: int) -> None:
        self.family = GaugeMetricFamily(
            "bench_plain_gauge",
            "Plain gauge samples for the render floor.",
            labels=["broker", "cluster_name", "group", "topic", "partition"],
        )
        for i in range(n):
            self.family.add_metric(
                ["kafka", "bench", f"group-{i // 10:06d}", f"topic-{i % 100:03d}", str(i % 10)],
                float(i),
            )

    def collect(self) -> Iterator[Metric]:
        yield self.family


def rendered_series(groups: int) -> int:
    view = synthetic_view(groups)
    return sample_lines(generate_latest(_registry(view_collector(view))))


def groups_for(target_series: int) -> int:
    """Group count whose rendering has about `target_series` samples.

    Samples are linear in groups once every topic is read (>= 100 groups): s(g) = a + b*g, solved
    from two probes; e.g. b = 46, a = 1,020 gives 1,065 groups for 50,000 series.
    """
    low, high = 200, 400
    s_low, s_high = rendered_series(low), rendered_series(high)
    per_group = (s_high - s_low) / (high - low)
    fixed = s_low - per_group * low
    return max(1, round((target_series - fixed) / per_group))


def view_collector(view: ClusterView) -> ViewCollector:
    views = [view]
    return ViewCollector(lambda: views, Thresholds(), 15)


def _registry(collector: Collector) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry


def served(registry: CollectorRegistry) -> bytes:
    """What /metrics sends (collector/http_api.py)."""
    return render_exposition(registry.collect())


def _time_render(render: Callable[[], bytes], runs: int) -> tuple[list[float], list[float], bytes]:
    """Wall and CPU seconds of each rendering, and the last body."""
    seconds: list[float] = []
    cpu: list[float] = []
    body = b""
    for _ in range(runs):
        started, cpu_started = time.perf_counter(), time.process_time()
        body = render()
        seconds.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
    return seconds, cpu, body


def run(targets: Sequence[int], runs: int) -> tuple[list[Row], dict[str, Any]]:
    rows: list[Row] = []
    raw: dict[str, Any] = {}
    for target in targets:
        view = synthetic_view(groups_for(target))
        registry = _registry(view_collector(view))
        coll_s, coll_cpu, body = _time_render(partial(served, registry), runs)
        series = sample_lines(body)
        floor_reg = _registry(PlainGauges(series))
        floor_s, floor_cpu, floor_body = _time_render(partial(generate_latest, floor_reg), runs)
        old_s, old_cpu, old_body = _time_render(partial(generate_latest, registry), runs)
        if old_body != body:
            raise RuntimeError("render_exposition and generate_latest disagree on the same views")
        raw[str(target)] = {
            "series": series,
            "groups": len(view.groups),
            "bytes": len(body),
            "floor_bytes": len(floor_body),
            "seconds": coll_s,
            "floor_seconds": floor_s,
            "cpu_seconds": coll_cpu,
            "floor_cpu_seconds": floor_cpu,
            "generate_latest_seconds": old_s,
            "generate_latest_cpu_seconds": old_cpu,
        }
        case = f"{series:,} series"
        value = summarize(coll_s)
        goal = target == 50_000
        rows.append(
            Row(
                "metrics_render",
                case,
                "render time",
                "s",
                value,
                summarize(floor_s),
                goal=f"< {RENDER_GOAL_SECONDS:g} s" if goal else "",
                met=value.median < RENDER_GOAL_SECONDS if goal else None,
            )
        )
        rows.append(
            Row(
                "metrics_render",
                case,
                "render CPU time",
                "s",
                summarize(coll_cpu),
                summarize(floor_cpu),
                goal=f"< {RENDER_GOAL_SECONDS:g} s" if goal else "",
                met=summarize(coll_cpu).median < RENDER_GOAL_SECONDS if goal else None,
            )
        )
        rows.append(
            Row(
                "metrics_render",
                case,
                "render CPU time, generate_latest (before)",
                "s",
                summarize(old_cpu),
                summarize(floor_cpu),
            )
        )
        rows.append(
            Row(
                "metrics_render",
                case,
                "body size",
                "MB",
                summarize([len(body) / 1e6]),
                summarize([len(floor_body) / 1e6]),
            )
        )
    return rows, raw

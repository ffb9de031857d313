"""Group churn: thousands of consumer groups appear and disappear; the collector's memory returns.

    .venv/bin/python -m bench --only churn --churn-groups 2000 --churn-cycles 10   # opt-in

A private Apache Kafka (bench/kafka_world.py: 100 topics x 10 partitions, 3 records each) and
the real collector process (`eventscope collect`, polling every `POLL_INTERVAL` s, tracing off).
Each cycle commits offsets for `groups` new groups with the admin API (group g of cycle c is
`churn-c<c>-g<g>`, reading topic g % 100 on all 10 partitions, lagging by 0-2 per partition),
waits until /metrics shows every one of them, then deletes them all
(`AdminClient.delete_consumer_groups`) and waits until /metrics shows none, plus two more
polls. Group names are new every cycle, so any state kept per group name would pile up.

Recorded per cycle: the collector's RSS (`VmRSS`) with the groups present and after they are
gone, the number of series on /metrics, and the polls it took for the deleted groups' series to
disappear. Memory "returns to baseline" when the RSS after deletion does not grow from one
cycle to the next (CPython keeps freed arenas, so the first cycle's high-water mark is reused,
not given back to the OS).
"""

from __future__ import annotations

import math
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
from confluent_kafka.admin import AdminClient
from prometheus_client.parser import text_string_to_metric_families

from bench import kafka_world
from bench.kafka_world import KafkaWorld
from bench.soak import MiB, rss_bytes, slope_per_hour
from bench.stats import Row, Summary, summarize
from demo.services import ManagedProcess, free_port, wait_for_http

POLL_INTERVAL = 5.0
WAIT_SECONDS = 300.0  # generous: a 2-core machine shared with test suites
DELETE_BATCH = 200


def group_name(cycle: int, g: int) -> str:
    return f"churn-c{cycle}-g{g:05d}"


def collector_config(bootstrap: str, port: int) -> str:
    return (
        f"poll_interval_seconds: {POLL_INTERVAL}\nlisten: 127.0.0.1:{port}\n"
        "clusters:\n  - name: churn\n    kind: kafka\n"
        f"    bootstrap_servers: {bootstrap}\n    request_timeout_seconds: 30\n"
    )


def series_keys(metrics_url: str) -> set[str]:
    """Every series on /metrics, as `name{labels}` text."""
    text = requests.get(metrics_url, timeout=30).text
    return {
        f"{s.name}{dict(sorted(s.labels.items()))}"
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }


def scrape_groups(metrics_url: str) -> tuple[int, set[str], float]:
    """(series on /metrics, churn groups named in any series, the last poll's timestamp)."""
    text = requests.get(metrics_url, timeout=30).text
    series, groups, last_poll = 0, set(), 0.0
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            series += 1
            group = s.labels.get("group", "")
            if group.startswith("churn-"):
                groups.add(group)
            if s.name == "eventscope_collector_last_poll_timestamp_seconds":
                last_poll = s.value
    return series, groups, last_poll


def wait_for(predicate: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise RuntimeError(f"churn: timed out after {WAIT_SECONDS:.0f} s waiting for {what}")


def commit_groups(admin: AdminClient, cycle: int, groups: int) -> None:
    kafka_world.commit_groups(admin, range(groups), lambda g: group_name(cycle, g))


def delete_groups(admin: AdminClient, cycle: int, groups: int) -> None:
    names = [group_name(cycle, g) for g in range(groups)]
    for i in range(0, len(names), DELETE_BATCH):
        futures = admin.delete_consumer_groups(names[i : i + DELETE_BATCH], request_timeout=60)
        for fut in futures.values():
            fut.result(60)


def polls_after(metrics_url: str, last_poll: float, polls: int) -> None:
    """Wait until the collector has completed `polls` more polls after `last_poll`."""
    wait_for(
        lambda: scrape_groups(metrics_url)[2] >= last_poll + (polls - 0.5) * POLL_INTERVAL,
        f"{polls} more polls",
    )


def churn(groups: int, cycles: int, workdir: Path) -> dict[str, Any]:
    world = KafkaWorld(workdir, delay_seconds=0.0).start()
    port = free_port()
    config = workdir / "churn.yml"
    config.write_text(collector_config(world.bootstrap, port))
    proc = ManagedProcess(
        "churn-collector",
        [sys.executable, "-m", "collector.cli", "collect", "--config", str(config)],
        workdir / "collector.log",
    ).start()
    metrics = f"http://127.0.0.1:{port}/metrics"
    admin = AdminClient({"bootstrap.servers": world.bootstrap})
    raw: dict[str, Any] = {"groups": groups, "cycles": []}
    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz", 60)
        _, _, last = wait_for(lambda: (s := scrape_groups(metrics))[2] and s, "a first poll")
        polls_after(metrics, last, 2)
        baseline_keys = series_keys(metrics)
        raw["baseline"] = {"rss": rss_bytes(proc.pid), "series": len(baseline_keys)}
        print(f"[churn] baseline {raw['baseline']}", file=sys.stderr, flush=True)
        for cycle in range(cycles):
            row: dict[str, Any] = {"cycle": cycle}
            started = time.monotonic()
            commit_groups(admin, cycle, groups)
            row["commit_seconds"] = time.monotonic() - started
            names = {group_name(cycle, g) for g in range(groups)}
            present = wait_for(
                lambda: (s := scrape_groups(metrics))[1] >= names and s,  # noqa: B023
                f"all {groups} groups of cycle {cycle} on /metrics",
            )
            polls_after(metrics, present[2], 1)  # one more poll with them all: history filled
            row["with_groups"] = {"rss": rss_bytes(proc.pid), "series": scrape_groups(metrics)[0]}
            delete_groups(admin, cycle, groups)
            deleted_at = time.time()
            gone = wait_for(
                lambda: not (s := scrape_groups(metrics))[1] and s,
                f"the deleted groups of cycle {cycle} to leave /metrics",
            )
            # polls completed between the deletion and the first one without the groups
            row["polls_to_disappear"] = max(1, math.ceil((gone[2] - deleted_at) / POLL_INTERVAL))
            polls_after(metrics, gone[2], 2)
            keys = series_keys(metrics)
            row["after_delete"] = {
                "rss": rss_bytes(proc.pid),
                "series": len(keys),
                "series_not_in_baseline": sorted(keys - baseline_keys)[:20],
            }
            if not proc.alive():
                raise RuntimeError(f"the collector died:\n{proc.log_tail(30)}")
            raw["cycles"].append(row)
            print(f"[churn] {row}", file=sys.stderr, flush=True)
        raw["collector_log_tail"] = proc.log_tail(20)
    finally:
        proc.stop()
        world.stop()
    return raw


def one(value: float) -> Summary:
    return Summary(value, value, value, 1)


def rows_from(raw: dict[str, Any]) -> list[Row]:
    case = f"{raw['groups']:,} groups x {len(raw['cycles'])} cycles"
    base_rss = raw["baseline"]["rss"] / MiB
    cycles = raw["cycles"]
    present = [c["with_groups"]["rss"] / MiB for c in cycles]
    after = [c["after_delete"]["rss"] / MiB for c in cycles]
    per_cycle = slope_per_hour([(3600.0 * i, v) for i, v in enumerate(after)])
    return [
        Row("churn", case, "collector RSS before any group", "MiB", one(base_rss)),
        Row("churn", case, "collector RSS with the groups", "MiB", summarize(present)),
        Row("churn", case, "collector RSS after deletion, first cycle", "MiB", one(after[0])),
        Row("churn", case, "collector RSS after deletion, last cycle", "MiB", one(after[-1])),
        Row("churn", case, "RSS after deletion, growth per cycle", "MiB", one(per_cycle or 0.0)),
        Row(
            "churn",
            case,
            "series with the groups",
            "series",
            summarize([c["with_groups"]["series"] for c in cycles]),
        ),
        Row(
            "churn",
            case,
            "series after deletion",
            "series",
            summarize([c["after_delete"]["series"] for c in cycles]),
            one(raw["baseline"]["series"]),
        ),
        Row(
            "churn",
            case,
            "polls until deleted groups left /metrics",
            "polls",
            summarize([c["polls_to_disappear"] for c in cycles]),
        ),
    ]


def run(runs: int = 1, groups: int = 2000, cycles: int = 10) -> tuple[list[Row], dict[str, Any]]:
    """The harness entry point; `runs` is ignored (the cycles are the repetitions)."""
    del runs
    with tempfile.TemporaryDirectory(prefix="bench-churn-") as tmp:
        raw = churn(groups, cycles, Path(tmp))
    return rows_from(raw), raw

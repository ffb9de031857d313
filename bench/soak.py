"""Soak: the demo at N x its default rate for M minutes; memory, polls and the tap's backlog.

    .venv/bin/python -m bench --only soak --minutes 30 --rate-multiplier 10 \\
        --out bench/results-soak.json          # ~33 min; not in the default `make bench`

Starts `eventscope demo --auto-ports` (Apache Kafka, RabbitMQ vhost, pipeline, collector polling
every 5 s, Prometheus, Alertmanager, dashboard), turns the pipeline's rate knob to `multiplier`
times its defaults (orders and interactions, per broker), and every `sample_seconds` records:

- RSS (`VmRSS` from /proc) of the collector, the dashboard (Streamlit) and the pipeline, each
  with its child processes (the collector's Kafka tap reader);
- from the collector's own /metrics: the last poll's total duration per cluster, the poll
  overrun counter, how stale the last poll is, the trace tap's backlog, hops stored;
- from the pipeline's /status: orders placed (the achieved rate) and orders still open.

Meanwhile one dashboard page a minute is opened in headless Chromium (a fresh browser context
each time, rotating through every page), so Streamlit holds and drops real sessions as a user
would make it. At the end Prometheus (which scraped the collector every 5 s all along) gives the
largest gap between polls it saw: no poll was missed if it stays under two poll intervals.

The memory slope is a least-squares fit over the samples after a warm-up (the first fifth of
the run, at most 5 minutes): caches and the bounded history fill during the warm-up by design.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import requests
from prometheus_client.parser import text_string_to_metric_families

from bench.stats import Row, Summary, summarize
from demo.client import start_demo
from demo.pipeline.config import PipelineConfig
from demo.stack import drop_vhost, management_auth

POLL_INTERVAL = 5.0  # the demo's default collector poll interval
MANAGEMENT = "http://127.0.0.1:15672"  # the demo's default RabbitMQ management API
VHOST_PREFIX = "eventscope-soak-"  # + the soak's pid
MiB = 1024 * 1024
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
N = TypeVar("N", int, float)


@dataclass(frozen=True)
class SoakPlan:
    minutes: float
    multiplier: float
    sample_seconds: float = 30.0
    page_seconds: float = 60.0
    page_range: str = ""  # the dashboard's time range for the visits ("" = its default, 1h)
    # The demo's pipeline is the load generator, not what is measured: at 10x on 2 cores it
    # takes every cycle it can get, and the collector, Kafka and RabbitMQ would wait behind it.
    # A niced pipeline yields the CPU to them; it still runs as fast as what is left allows
    # (its achieved rate is in the table). 0 runs it at the collector's priority.
    pipeline_nice: int = 10

    @property
    def warmup_seconds(self) -> float:
        return min(300.0, self.minutes * 60 / 5)


def rss_bytes(pid: int, field: str = "VmRSS") -> int | None:
    """Resident set size of a live process (`field`: "RssAnon" for its anonymous memory, the
    heap: file pages mapped from libraries come and go with the page cache), None once it has
    gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of one live process, from /proc (OSError once it has gone)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime (fields 14 and 15)


def _tree_total(pid: int, own: Callable[[int], N | None]) -> N | None:
    """`own(pid)` summed over a process and all its descendants; None once it has gone."""
    mine = own(pid)
    if mine is None:
        return None
    return mine + sum(_tree_total(child, own) or 0 for child in children(pid))


def tree_rss_bytes(pid: int, field: str = "VmRSS") -> int | None:
    """RSS of a process and all its descendants (the collector's Kafka tap reader is a child
    process of its own); None once the process has gone."""
    return _tree_total(pid, lambda p: rss_bytes(p, field))


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process and its live descendants; None once it has gone."""

    def own(p: int) -> float | None:
        try:
            return process_cpu_seconds(p)
        except OSError:
            return None

    return _tree_total(pid, own)


def broker_pids() -> dict[str, int]:
    """The machine's RabbitMQ (not started by the demo, but loaded by it): its Erlang VM."""
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if entry.name.isdigit() and (entry / "comm").read_text().strip() == "beam.smp":
                return {"rabbitmq": int(entry.name)}
    return {}


def cpu_rates(samples: list[dict[str, Any]], name: str) -> list[tuple[float, float]]:
    """(time, cores used since the previous sample) for one process, from cumulative CPU time.

    cpu_rates([{"t": 0, "cpu": {"a": 1.0}}, {"t": 30, "cpu": {"a": 16.0}}], "a") == [(30, 0.5)]
    """
    points = [(s["t"], s["cpu"][name]) for s in samples if s.get("cpu", {}).get(name) is not None]
    return [(t1, (c1 - c0) / (t1 - t0)) for (t0, c0), (t1, c1) in itertools.pairwise(points)
            if t1 > t0 and c1 >= c0]  # fmt: skip


def children(pid: int) -> list[int]:
    """Direct children of a process, from every thread's /proc children list."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError):
                text = Path(f"/proc/{pid}/task/{tid}/children").read_text()
                found.extend(int(c) for c in text.split())
    return found


def slope_per_hour(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, value) points, in value per hour; None for < 2 points.

    slope_per_hour([(0, 10), (1800, 15), (3600, 20)]) == 10.0
    """
    if len(points) < 2:
        return None
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return None
    cov = sum((t - mean_t) * (v - mean_v) for t, v in points)
    return cov / var * 3600


def renice(pid: int, nice: int) -> int:
    """Set the nice value of every thread of a process (Linux nice is per thread; threads
    started later inherit it from their parent thread). Returns the threads changed."""
    changed = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(ProcessLookupError):
            os.setpriority(os.PRIO_PROCESS, int(tid), nice)
            changed += 1
    return changed


def collector_figures(metrics_url: str) -> dict[str, Any]:
    """The collector's own view of its health, from one /metrics scrape."""
    started = time.perf_counter()
    text = requests.get(metrics_url, timeout=10).text
    out: dict[str, Any] = {
        "scrape_seconds": time.perf_counter() - started,
        "scrape_bytes": len(text),
        "poll_seconds": {},
        "poll_phases": {},
        "overruns": {},
        "poll_age_seconds": {},
        "up": {},
        "tap_lag": {},
        "lag_messages": {},
        "series": 0,
    }
    now = time.time()
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out["series"] += 1
            cluster = s.labels.get("cluster_name", "")
            match s.name:
                case "eventscope_collector_poll_duration_seconds" if s.labels["phase"] == "total":
                    out["poll_seconds"][cluster] = s.value
                case "eventscope_collector_poll_duration_seconds":
                    out["poll_phases"].setdefault(cluster, {})[s.labels["phase"]] = s.value
                case "eventscope_collector_poll_overruns_total":
                    out["overruns"][cluster] = s.value
                case "eventscope_collector_last_poll_timestamp_seconds":
                    out["poll_age_seconds"][cluster] = now - s.value
                case "eventscope_collector_up":
                    out["up"][cluster] = s.value
                case "eventscope_trace_tap_lag_messages":
                    out["tap_lag"][f"{s.labels['broker']}/{cluster}"] = s.value
                case "eventscope_consumer_lag_messages":
                    out["lag_messages"][cluster] = out["lag_messages"].get(cluster, 0.0) + s.value
                case "eventscope_trace_store_hops":
                    out["store_hops"] = s.value
                case "eventscope_trace_store_up":
                    out["store_up"] = s.value
                case "eventscope_trace_store_memory_bytes":
                    out["sqlite_bytes"] = s.value
                case "eventscope_trace_events_total":
                    out["trace_events"] = out.get("trace_events", 0.0) + s.value
    return out


def pipeline_figures(control_url: str) -> dict[str, Any]:
    status = requests.get(f"{control_url}/status", timeout=10).json()
    return {
        broker: {"orders_placed": b["orders_placed"], "orders_open": b["orders_open"]}
        for broker, b in status["brokers"].items()
    }


class PageVisitor(threading.Thread):
    """Opens one dashboard page every `every` seconds in a fresh Chromium context."""

    def __init__(
        self, base: str, every: float, stop: threading.Event, time_range: str = ""
    ) -> None:
        super().__init__(name="soak-pages", daemon=True)
        self.base, self.every, self.stop = base, every, stop
        self.query = f"?range={time_range}" if time_range else ""
        self.visits: list[dict[str, Any]] = []

    def run(self) -> None:
        from demo.screenshots import PAGES, browser, open_page

        with browser() as b:
            i = 0
            while not self.stop.is_set():
                path, text, chart = PAGES[i % len(PAGES)]
                started = time.perf_counter()
                visit: dict[str, Any] = {"page": path, "at": time.time()}
                try:
                    page = open_page(
                        b, f"{self.base}/{path}{self.query}", text, chart, timeout_ms=60_000
                    )
                    visit["seconds"] = time.perf_counter() - started
                    page.context.close()
                except Exception as exc:  # a failed visit is a figure, not the end of the soak
                    visit["error"] = f"{type(exc).__name__}: {str(exc)[:200]}"
                self.visits.append(visit)
                i += 1
                self.stop.wait(max(0.0, self.every - (time.perf_counter() - started)))


def max_poll_gap(prometheus: str, seconds: float) -> dict[str, float]:
    """Largest time between polls per cluster that Prometheus saw over the last `seconds`."""
    window = f"{int(seconds)}s"
    query = (
        "max_over_time((timestamp(eventscope_collector_last_poll_timestamp_seconds)"
        f" - eventscope_collector_last_poll_timestamp_seconds)[{window}:5s])"
    )
    resp = requests.get(f"{prometheus}/api/v1/query", params={"query": query}, timeout=30)
    resp.raise_for_status()
    return {
        r["metric"].get("cluster_name", ""): float(r["value"][1])
        for r in resp.json()["data"]["result"]
    }


def drop_orphan_vhosts(management: str = MANAGEMENT) -> list[str]:
    """Remove the vhosts of soaks that were killed (their pid is gone): a killed soak cannot
    clean up, and at 10x its firehose queue holds a million messages within the hour."""
    try:
        resp = requests.get(f"{management}/api/vhosts", auth=management_auth(), timeout=10)
        resp.raise_for_status()
    except requests.RequestException as exc:
        print(f"[soak] cannot list RabbitMQ vhosts ({exc}); none removed", file=sys.stderr)
        return []
    dropped = []
    for name in (v["name"] for v in resp.json()):
        pid = name.removeprefix(VHOST_PREFIX)
        if name.startswith(VHOST_PREFIX) and pid.isdigit() and not _alive(int(pid)):
            drop_vhost(management, name)
            dropped.append(name)
    return dropped


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def soak(plan: SoakPlan, workdir: Path) -> dict[str, Any]:
    """Run the soak; returns every sample and the page visits (the raw figures)."""
    for name in drop_orphan_vhosts():
        print(f"[soak] removed the vhost {name} of a soak that was killed", file=sys.stderr)
    # `kill` (SIGTERM) unwinds like Ctrl-C, so the demo below is stopped and its vhost dropped
    # (a soak started in the background ignores SIGINT)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("[soak] terminated"))
    defaults = PipelineConfig()
    target = {
        "orders": defaults.order_rate * plan.multiplier,
        "interactions": defaults.interaction_rate * plan.multiplier,
    }
    args = [
        "--poll-interval",
        str(POLL_INTERVAL),
        "--rabbitmq-vhost",
        f"{VHOST_PREFIX}{os.getpid()}",
    ]
    proc, demo = start_demo(workdir, args, name="soak-demo")
    urls, pids, brokers = demo.urls, demo.pids, broker_pids()
    stop = threading.Event()
    visitor = PageVisitor(urls["dashboard"], plan.page_seconds, stop, plan.page_range)
    samples: list[dict[str, Any]] = []
    raw: dict[str, Any] = {"plan": plan.__dict__, "target_rate_per_broker": target}
    try:
        if plan.pipeline_nice:
            renice(pids["pipeline"], plan.pipeline_nice)
        requests.post(f"{urls['control']}/rate", json=target, timeout=10).raise_for_status()
        visitor.start()
        t0 = time.monotonic()
        end = t0 + plan.minutes * 60
        while True:
            sample: dict[str, Any] = {"t": time.monotonic() - t0, "load": os.getloadavg()[0]}
            sample["rss"] = {name: tree_rss_bytes(pid) for name, pid in pids.items()}
            sample["rss_anon"] = {n: tree_rss_bytes(pid, "RssAnon") for n, pid in pids.items()}
            sample["cpu"] = {n: cpu_seconds(pid) for n, pid in {**pids, **brokers}.items()}
            try:
                sample["collector"] = collector_figures(urls["metrics"])
                sample["pipeline"] = pipeline_figures(urls["control"])
            except requests.RequestException as exc:
                sample["error"] = f"{type(exc).__name__}: {exc}"
            samples.append(sample)
            print(_progress(sample), file=sys.stderr, flush=True)
            if not proc.alive():
                raise RuntimeError(f"the demo stopped during the soak:\n{proc.log_tail(40)}")
            if time.monotonic() >= end:
                break
            time.sleep(max(0.0, min(plan.sample_seconds, end - time.monotonic())))
        raw["max_poll_gap_seconds"] = max_poll_gap(urls["prometheus"], plan.minutes * 60)
    finally:
        stop.set()
        visitor.join(timeout=90)
        proc.stop(timeout=60)
    raw["samples"], raw["page_visits"] = samples, visitor.visits
    return raw


def _progress(sample: dict[str, Any]) -> str:
    rss = " ".join(f"{k}={v / MiB:.0f}MiB" for k, v in sample["rss"].items() if v and k in _RSS)
    col = sample.get("collector", {})
    if "sqlite_bytes" in col:
        rss += f" (collector's SQLite {col['sqlite_bytes'] / MiB:.0f}MiB)"
    return (
        f"[soak] t={sample['t']:.0f}s load={sample['load']:.1f} {rss} "
        f"poll={col.get('poll_seconds')} tap_lag={col.get('tap_lag')}"
    )


_RSS = ("collector", "dashboard", "pipeline", "kafka")


def one(value: float) -> Summary:
    return Summary(value, value, value, 1)


def rows_from(raw: dict[str, Any]) -> list[Row]:
    """The table: memory start/end/max/slope, polls, tap backlog, achieved rate, page visits."""
    plan = SoakPlan(**raw["plan"])
    samples = raw["samples"]
    rows: list[Row] = []

    def add(case: str, metric: str, unit: str, value: Summary, floor: float | None = None) -> None:
        rows.append(Row("soak", case, metric, unit, value, None if floor is None else one(floor)))

    run_case = f"{plan.minutes:g} min at {plan.multiplier:g}x"

    def memory(what: str, series: list[tuple[float, float]], peak: bool = True) -> None:
        """Start, after warm-up, end, (max,) and the slope after warm-up of a MiB series."""
        if not series:
            return
        warm = [(t, v) for t, v in series if t >= plan.warmup_seconds]
        add(run_case, f"{what} at start", "MiB", one(series[0][1]))
        if warm:
            add(run_case, f"{what} after warm-up", "MiB", one(warm[0][1]))
        add(run_case, f"{what} at end", "MiB", one(series[-1][1]))
        if peak:
            add(run_case, f"{what} max", "MiB", one(max(v for _, v in series)))
        slope = slope_per_hour(warm)
        if slope is not None:
            add(run_case, f"{what} slope after warm-up", "MiB/h", one(slope))

    for name in ("collector", "dashboard"):
        memory(
            f"{name} RSS", [(s["t"], s["rss"][name] / MiB) for s in samples if s["rss"].get(name)]
        )
        anon = [(s["t"], s["rss_anon"][name] / MiB) for s in samples
                if s.get("rss_anon", {}).get(name)]  # fmt: skip
        memory(f"{name} anonymous RSS (heap)", anon)
    # the demo's Kafka process is "kafka" (Apache Kafka, or Tansu when asked); soaks before
    # December 2026 named it "tansu" and ran Tansu (memory storage)
    for key, what in (("kafka", "Kafka broker RSS (the demo's)"), ("tansu", "Tansu RSS")):
        broker = [(s["t"], s["rss"][key] / MiB) for s in samples if s["rss"].get(key)]
        memory(what, broker)
    # where the 2 cores went: a component whose CPU climbs while the rate stays is the suspect
    for name in sorted({n for s in samples for n in s.get("cpu", {})}):
        rates = [(t, r) for t, r in cpu_rates(samples, name) if t >= plan.warmup_seconds]
        if rates:
            add(f"CPU {name}", "cores used, per sample after warm-up", "cores",
                summarize(r for _, r in rates))  # fmt: skip
            last = rates[-max(1, len(rates) // 5) :]
            add(f"CPU {name}", "cores used, last fifth of the run", "cores",
                one(sum(r for _, r in last) / len(last)))  # fmt: skip
    cols = [s["collector"] for s in samples if "collector" in s]
    sqlite = [(s["t"], s["collector"]["sqlite_bytes"] / MiB) for s in samples
              if "sqlite_bytes" in s.get("collector", {})]  # fmt: skip
    memory("collector SQLite heap", sqlite, peak=False)  # bounded page caches: part of the RSS
    for cluster in sorted({c for col in cols for c in col["poll_seconds"]}):
        polls = [col["poll_seconds"][cluster] for col in cols if cluster in col["poll_seconds"]]
        add(cluster, "poll wall time (sampled)", "s", summarize(polls), POLL_INTERVAL)
        phases = [col.get("poll_phases", {}).get(cluster, {}) for col in cols]
        for phase in sorted({p for ph in phases for p in ph} - {"total"}):
            took = [ph[phase] for ph in phases if phase in ph]
            if max(took) >= 0.5:  # the phases that matter next to a 5 s interval
                add(cluster, f"poll phase {phase} (sampled)", "s", summarize(took))
        overruns = [col["overruns"].get(cluster, 0.0) for col in cols]
        add(cluster, "poll overruns during the run", "polls", one(overruns[-1] - overruns[0]))
        oldest = raw.get("max_poll_gap_seconds", {}).get(cluster)
        if oldest is not None:
            metric = "oldest last poll seen by a scrape (every 5 s)"
            add(cluster, metric, "s", one(oldest), POLL_INTERVAL)
    if cols:
        add(run_case, "/metrics series at start", "series", one(cols[0]["series"]))
        add(run_case, "/metrics series at end", "series", one(cols[-1]["series"]))
    for cluster in sorted({c for col in cols for c in col["lag_messages"]}):
        lag = [col["lag_messages"][cluster] for col in cols if cluster in col["lag_messages"]]
        add(cluster, "pipeline consumer lag at end (sum)", "messages", one(lag[-1]))
    steady = [s["collector"] for s in samples if "collector" in s and s["t"] >= plan.warmup_seconds]
    for tap in sorted({k for col in cols for k in col["tap_lag"]}):
        lags = [col["tap_lag"][tap] for col in cols if tap in col["tap_lag"]]
        add(f"tap {tap}", "backlog at start", "messages", one(lags[0]))
        add(f"tap {tap}", "backlog at end", "messages", one(lags[-1]))
        steady_lags = [col["tap_lag"][tap] for col in steady if tap in col["tap_lag"]]
        if steady_lags:
            add(f"tap {tap}", "backlog after warm-up", "messages", summarize(steady_lags))
    pipes = [(s["t"], s["pipeline"]) for s in samples if "pipeline" in s]
    if len(pipes) >= 2:
        (t_first, first), (t_last, last) = pipes[0], pipes[-1]
        target = raw["target_rate_per_broker"]["orders"]
        for broker in sorted(last):
            placed = last[broker]["orders_placed"] - first[broker]["orders_placed"]
            case = f"pipeline {broker}"
            add(case, "orders placed per second", "1/s", one(placed / (t_last - t_first)), target)
            add(case, "orders not finished at start", "orders", one(first[broker]["orders_open"]))
            add(case, "orders not finished at end", "orders", one(last[broker]["orders_open"]))
    visits = raw.get("page_visits", [])
    ok = [v["seconds"] for v in visits if "seconds" in v]
    if visits:
        metric = f"page visit time ({len(ok)} ok, {len(visits) - len(ok)} failed)"
        add("dashboard", metric, "s", summarize(ok) if ok else one(0))
    return rows


def run(
    runs: int = 1,
    minutes: float = 30.0,
    multiplier: float = 10.0,
    pipeline_nice: int = 10,
    page_seconds: float = 60.0,
    page_range: str = "",
) -> tuple[list[Row], dict[str, Any]]:
    """The harness entry point; `runs` is ignored (one soak is the figure: it is long)."""
    del runs
    plan = SoakPlan(
        minutes,
        multiplier,
        page_seconds=page_seconds,
        page_range=page_range,
        pipeline_nice=pipeline_nice,
    )
    with tempfile.TemporaryDirectory(prefix="bench-soak-") as tmp:
        raw = soak(plan, Path(tmp))
    return rows_from(raw), raw

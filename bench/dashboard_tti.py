"""Dashboard time to interactive per page, in headless Chromium, with 100 groups and an hour of
15 s history.

The stack is `eventscope demo --auto-ports --only kafka` (Tansu, demo pipeline, collector,
Prometheus, Alertmanager, dashboard), whose Prometheus also holds the synthetic `bench` cluster
of `bench/dashboard_history.py`: 100 groups on 25 topics of 6 partitions, the past hour
backfilled at 15 s before Prometheus starts, the present scraped every 15 s. Before measuring,
the run checks in Prometheus that the hour is there (points of one bench series over the last
hour) and counts the groups; both go in the results.

Each page is visited once to warm up (Streamlit has imported the page), then `runs` times, each
in a fresh browser context (cold browser cache). The figure runs from navigation until the page
is interactive: its heading shown, Streamlit done running the script (no running indicator, no
skeleton left) and, on chart pages, a plotly chart drawn. The floor is a one-line Streamlit app
(`st.title`) measured the same way while the demo runs: what Streamlit itself costs, under
the same load, before any of ours.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests
from playwright.sync_api import Browser, Page

from bench import dashboard_history as history
from bench.stats import Row, summarize
from demo.screenshots import PAGES, browser
from demo.services import ManagedProcess, free_port, wait_for_http

REPO = Path(__file__).resolve().parents[1]
START_TIMEOUT = 180.0
FLOOR_TEXT = "Streamlit floor"
PAGE_TIMEOUT_MS = 120_000
BENCH_LAG = f'eventscope_consumer_lag_messages{{cluster_name="{history.CLUSTER}"}}'
DONE_JS = (
    "!document.querySelector('[data-testid=\"stStatusWidget\"]') && "
    "!document.querySelector('[data-testid=\"stSkeleton\"]')"
)


def _streamlit(app: Path, port: int, workdir: Path, name: str) -> ManagedProcess:
    argv = [
        sys.executable, "-m", "streamlit", "run", str(app),
        "--server.headless", "true", "--server.address", "127.0.0.1",
        "--server.port", str(port), "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    return ManagedProcess(name, argv, workdir / f"{name}.log").start()


def _demo(workdir: Path) -> tuple[ManagedProcess, dict[str, str]]:
    proc = ManagedProcess(
        "bench-demo",
        [
            sys.executable, "-m", "collector.cli", "demo", "--auto-ports", "--only", "kafka",
            "--workdir", str(workdir), "--poll-interval", "2",
        ],
        workdir / "demo.out",
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    ).start()  # fmt: skip
    state = workdir / "state.json"
    deadline = time.monotonic() + START_TIMEOUT
    while not state.exists():
        if not proc.alive() or time.monotonic() > deadline:
            proc.stop()
            raise RuntimeError(f"the demo stack did not start:\n{proc.log_tail(40)}")
        time.sleep(0.5)
    return proc, dict(json.loads(state.read_text())["urls"])


def _promql(prometheus: str, query: str) -> list[dict[str, Any]]:
    resp = requests.get(f"{prometheus}/api/v1/query", params={"query": query}, timeout=10)
    resp.raise_for_status()
    return list(resp.json()["data"]["result"])


def _add_history_job(workdir: Path, prometheus: str, port: int) -> None:
    """Scrape the history exporter from now on: append its job and reload Prometheus."""
    config = workdir / "prometheus.yml"
    config.write_text(config.read_text().rstrip("\n") + "\n" + history.scrape_job(port))
    requests.post(f"{prometheus}/-/reload", timeout=10).raise_for_status()


def _check_history(prometheus: str, timeout: float = 120.0) -> dict[str, Any]:
    """Wait until the bench cluster is scraped live, then say what Prometheus holds: groups
    (all clusters and bench's) and the 15 s points of one bench series over the last hour."""
    one = f'eventscope_consumer_lag_messages{{cluster_name="{history.CLUSTER}",partition="0"}}'
    live = f'up{{job="{history.JOB}"}} == 1'
    deadline = time.monotonic() + timeout
    while not _promql(prometheus, live):
        if time.monotonic() > deadline:
            raise RuntimeError(f"Prometheus never scraped the {history.JOB} job")
        time.sleep(1)
    deadline = time.monotonic() + timeout
    while True:  # the demo's own groups show up once its consumers have committed
        groups = _promql(prometheus, "count(group by (cluster_name, group) "
                                     "(eventscope_consumer_lag_messages))")  # fmt: skip
        bench = _promql(prometheus, f"count(group by (group) ({BENCH_LAG}))")
        total = int(float(groups[0]["value"][1])) if groups else 0
        if total > history.GROUPS or time.monotonic() > deadline:
            break
        time.sleep(2)
    points = _promql(prometheus, f"min(count_over_time({one}[1h]))")
    return {
        "groups_total": total,
        "groups_bench": int(float(bench[0]["value"][1])) if bench else 0,
        "points_last_hour_per_series": int(float(points[0]["value"][1])) if points else 0,
    }


def open_interactive(b: Browser, url: str, text: str, chart: bool) -> Page:
    """Open `url` in a fresh context and return once the page is interactive (module doc)."""
    page = b.new_page(viewport={"width": 1440, "height": 1800})
    page.goto(url, wait_until="domcontentloaded", timeout=PAGE_TIMEOUT_MS)
    page.get_by_role("heading", name=text).first.wait_for(timeout=PAGE_TIMEOUT_MS)
    page.wait_for_function(DONE_JS, timeout=PAGE_TIMEOUT_MS)
    if chart:
        page.wait_for_selector(".js-plotly-plot", timeout=PAGE_TIMEOUT_MS)
    return page


def _tti(base: str, path: str, text: str, chart: bool, runs: int) -> list[float]:
    """Seconds from navigation to interactive, one fresh browser context per run."""
    seconds: list[float] = []
    with browser() as b:
        open_interactive(b, f"{base}/{path}", text, chart).context.close()  # warm-up
        for _ in range(runs):
            started = time.perf_counter()
            page = open_interactive(b, f"{base}/{path}", text, chart)
            seconds.append(time.perf_counter() - started)
            page.context.close()
    return seconds


def run(runs: int = 3) -> tuple[list[Row], dict[str, Any]]:
    raw: dict[str, Any] = {"pages": {}}
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-tti-") as tmp:
        workdir = Path(tmp)
        app = workdir / "floor_app.py"
        app.write_text(f"import streamlit as st\n\nst.title({FLOOR_TEXT!r})\n")
        port = free_port()
        floor_proc = _streamlit(app, port, workdir, "streamlit-floor")
        demo, exporter = None, None
        try:
            exporter_port = free_port()
            demo_dir = workdir / "demo"
            raw["history_samples"] = history.backfill(
                demo_dir / "prometheus-data",
                time.time(),
                f"127.0.0.1:{exporter_port}",
                workdir,
            )
            exporter = history.HistoryExporter(exporter_port).start()
            demo, urls = _demo(demo_dir)
            _add_history_job(demo_dir, urls["prometheus"], exporter_port)
            raw["data"] = _check_history(urls["prometheus"])
            print(f"[dashboard_tti] Prometheus holds {raw['data']}", file=sys.stderr, flush=True)
            # the floor is measured while the demo runs, under the same load as the pages
            wait_for_http(f"http://127.0.0.1:{port}/_stcore/health", 60)
            floor_s = _tti(f"http://127.0.0.1:{port}", "", FLOOR_TEXT, False, runs)
            raw["floor"] = floor_s
            floor_proc.stop()
            for path, text, chart in PAGES:
                seconds = _tti(urls["dashboard"], path, text, chart, runs)
                raw["pages"][path] = seconds
                rows.append(
                    Row(
                        "dashboard_tti",
                        f"/{path}",
                        "time to interactive" + (" (chart drawn)" if chart else ""),
                        "s",
                        summarize(seconds),
                        summarize(floor_s),
                        goal="< 3 s",
                        met=summarize(seconds).median < 3.0,
                    )
                )
        finally:
            if demo is not None:
                demo.stop(timeout=30)
            if exporter is not None:
                exporter.stop()
            floor_proc.stop()
    return rows, raw

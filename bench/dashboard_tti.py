"""Dashboard time to interactive per page, in headless Chromium, with 100 groups and an hour of
15 s history.

The stack is `eventscope demo --auto-ports --only kafka` (Apache Kafka, demo pipeline, collector,
Prometheus, Alertmanager, dashboard), whose Prometheus also holds the synthetic `bench` cluster
of `bench/dashboard_history.py`: 100 groups on 25 topics of 6 partitions, the past hour
backfilled at 15 s before Prometheus starts, the present scraped every 15 s. Before measuring,
the run checks in Prometheus that the hour is there (points of one bench series over the last
hour) and counts the groups; both go in the results.

Three figures per page, each from `runs` samples, all with the same condition for
"interactive": the page's heading shown in a live (not stale) element, Streamlit done running
the script (its `data-test-script-state` is `notRunning`, no running indicator, no skeleton, no
stale element left) and, on chart pages, a live chart drawn (Vega-Lite or plotly).

- cold first visit: each run in a fresh browser context (empty HTTP cache), after one warm-up
  visit (Streamlit has imported the page); from navigation to interactive.
- returning visitor: a persistent Chromium profile (`launch_persistent_context`, its own
  user-data-dir) opens every page once, then each run starts a new browser on that profile and
  opens the page's URL (HTTP cache and V8 code cache warm); the bytes the visit still fetched
  over the network are kept with the seconds.
- page switch: one open tab clicks each page's sidebar link in turn (`st.navigation`, no
  reload), one unmeasured round first; from the click to interactive.

The floors are a one-line Streamlit app (`st.title`) measured while the demo runs, under the
same load: cold and returning visits the same way, and for the page switch a rerun of that app
in its open tab (the "r" shortcut). They are what Streamlit itself costs before any of ours.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    ViewportSize,
    sync_playwright,
)

from bench import dashboard_history as history
from bench.stats import Row, summarize
from dashboard.layout import PAGES as NAV_PAGES
from dashboard.screenshots import CHART_SELECTOR, CHROMIUM, CHROMIUM_ARGS
from dashboard.settings import streamlit_argv, streamlit_env
from demo.screenshots import PAGES, browser
from demo.services import ManagedProcess, free_port, wait_for_http

REPO = Path(__file__).resolve().parents[1]
START_TIMEOUT = 180.0
FLOOR_TEXT = "Streamlit floor"
PAGE_TIMEOUT_MS = 120_000
BENCH_LAG = f'eventscope_consumer_lag_messages{{cluster_name="{history.CLUSTER}"}}'
VIEWPORT: ViewportSize = {"width": 1440, "height": 1800}


def _streamlit(app: Path, port: int, workdir: Path, name: str) -> ManagedProcess:
    argv = [sys.executable, *streamlit_argv("127.0.0.1", port, app)]
    env = streamlit_env(os.environ)  # as `eventscope dashboard` serves it
    return ManagedProcess(name, argv, workdir / f"{name}.log", env=env).start()


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


def interactive_js(text: str, chart: bool) -> str:
    """The interactive condition as one browser-side expression (module doc): the heading
    `text` in a live (not stale) element, Streamlit's own script state `notRunning`, no running
    indicator, no skeleton, no stale element left and, when `chart`, a live chart drawn."""
    live = '[data-testid="stElementContainer"]:not([data-stale="true"])'
    checks = [
        f"[...document.querySelectorAll('{live} h1')]"
        f".some(h => h.textContent.includes({json.dumps(text)}))",
        '!!document.querySelector(\'[data-testid="stApp"][data-test-script-state="notRunning"]\')',
        "!document.querySelector('[data-testid=\"stStatusWidget\"]')",
        "!document.querySelector('[data-testid=\"stSkeleton\"]')",
        "!document.querySelector('[data-stale=\"true\"]')",
    ]
    if chart:
        chart_js = ", ".join(f"{live} {one.strip()}" for one in CHART_SELECTOR.split(","))
        checks.append(f"!!document.querySelector({json.dumps(chart_js)})")
    return " && ".join(f"({c})" for c in checks)


# bytes this document fetched over the network (0 for what came from the HTTP cache)
TRANSFERRED_JS = (
    "performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))"
    ".reduce((n, e) => n + (e.transferSize || 0), 0)"
)
# Streamlit's scriptRunState, watched from before a click: true once a run has started
WATCH_RUN_JS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  window.__benchRan = false;
  new MutationObserver(() => {
    if (app.getAttribute('data-test-script-state') !== 'notRunning') window.__benchRan = true;
  }).observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
}"""


def wait_interactive(page: Page, text: str, chart: bool, after_run: bool = False) -> None:
    condition = interactive_js(text, chart)
    if after_run:  # a rerun in an open tab: the condition may already hold before it starts
        condition = f"window.__benchRan && {condition}"
    page.wait_for_function(condition, timeout=PAGE_TIMEOUT_MS)


def open_interactive(b: Browser | BrowserContext, url: str, text: str, chart: bool) -> Page:
    """Open `url` in a new tab and return once the page is interactive (module doc)."""
    page = b.new_page(viewport=VIEWPORT) if isinstance(b, Browser) else b.new_page()
    page.goto(url, wait_until="domcontentloaded", timeout=PAGE_TIMEOUT_MS)
    wait_interactive(page, text, chart)
    return page


def _tti(base: str, path: str, text: str, chart: bool, runs: int) -> list[float]:
    """Cold: seconds from navigation to interactive, one fresh browser context per run."""
    seconds: list[float] = []
    with browser() as b:
        open_interactive(b, f"{base}/{path}", text, chart).context.close()  # warm-up
        for _ in range(runs):
            started = time.perf_counter()
            page = open_interactive(b, f"{base}/{path}", text, chart)
            seconds.append(time.perf_counter() - started)
            page.context.close()
    return seconds


@contextmanager
def _profile(pw: Playwright, user_data_dir: Path) -> Iterator[BrowserContext]:
    """Chromium on a persistent profile: its HTTP cache and V8 code cache outlive the browser."""
    context = pw.chromium.launch_persistent_context(
        str(user_data_dir), executable_path=CHROMIUM, args=CHROMIUM_ARGS, viewport=VIEWPORT
    )
    try:
        yield context
    finally:
        context.close()


def _returning(
    base: str, pages: Sequence[tuple[str, str, bool]], runs: int, workdir: Path
) -> dict[str, dict[str, list[float]]]:
    """Returning visitor: a profile that has opened every page once (yesterday), then per run a
    new browser on that profile opens the page's URL. Seconds from navigation to interactive,
    and the bytes the visit still fetched over the network."""
    out: dict[str, dict[str, list[float]]] = {}
    user_data = Path(tempfile.mkdtemp(prefix="profile-", dir=workdir))
    with sync_playwright() as pw:
        with _profile(pw, user_data) as context:  # the first visit, not measured
            for path, text, chart in pages:
                open_interactive(context, f"{base}/{path}", text, chart).close()
        for path, text, chart in pages:
            seconds, fetched = [], []
            for _ in range(runs):
                with _profile(pw, user_data) as context:
                    started = time.perf_counter()
                    page = open_interactive(context, f"{base}/{path}", text, chart)
                    seconds.append(time.perf_counter() - started)
                    fetched.append(float(page.evaluate(TRANSFERRED_JS)))
            out[path] = {"seconds": seconds, "bytes_fetched": fetched}
    return out


def _switch(base: str, pages: Sequence[tuple[str, str, bool]], runs: int) -> dict[str, list[float]]:
    """Page switch: one open tab clicks the sidebar link of each page in turn (st.navigation, no
    reload); seconds from the click to interactive. One unmeasured round first, then `runs`."""
    out: dict[str, list[float]] = {path: [] for path, _, _ in pages}
    titles = {path: title for _, title, path, _ in NAV_PAGES}
    with browser() as b:
        last_path, last_text, last_chart = pages[-1]
        page = open_interactive(b, f"{base}/{last_path}", last_text, last_chart)
        for round_ in range(runs + 1):
            for path, text, chart in pages:
                link = page.locator('[data-testid="stSidebarNavLink"]', has_text=titles[path])
                page.evaluate(WATCH_RUN_JS)
                started = time.perf_counter()
                link.first.click()
                wait_interactive(page, text, chart, after_run=True)
                if round_:
                    out[path].append(time.perf_counter() - started)
        page.context.close()
    return out


def _floor_rerun(base: str, runs: int) -> list[float]:
    """The floor of a page switch: the one-line app rerun in its open tab (the "r" shortcut)."""
    seconds: list[float] = []
    with browser() as b:
        page = open_interactive(b, base, FLOOR_TEXT, False)
        for i in range(runs + 1):
            page.evaluate(WATCH_RUN_JS)
            started = time.perf_counter()
            page.keyboard.press("r")
            wait_interactive(page, FLOOR_TEXT, False, after_run=True)
            if i:
                seconds.append(time.perf_counter() - started)
        page.context.close()
    return seconds


def _row(case: str, metric: str, seconds: list[float], floor: list[float]) -> Row:
    value = summarize(seconds)
    return Row(
        "dashboard_tti", case, metric, "s", value, summarize(floor), goal="< 3 s",
        met=value.median < 3.0,
    )  # fmt: skip


def run(runs: int = 3) -> tuple[list[Row], dict[str, Any]]:
    raw: dict[str, Any] = {"pages": {}, "returning": {}, "switch": {}}
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
            # the floors are measured while the demo runs, under the same load as the pages
            floor_url = f"http://127.0.0.1:{port}"
            wait_for_http(f"{floor_url}/_stcore/health", 60)
            floor_cold = _tti(floor_url, "", FLOOR_TEXT, False, runs)
            floor_back = _returning(floor_url, [("", FLOOR_TEXT, False)], runs, workdir)[""]
            floor_rerun = _floor_rerun(floor_url, runs)
            raw["floor"] = floor_cold
            raw["floor_returning"] = floor_back
            raw["floor_rerun"] = floor_rerun
            floor_proc.stop()
            dashboard = urls["dashboard"]
            print("[dashboard_tti] cold first visits", file=sys.stderr, flush=True)
            for path, text, chart in PAGES:
                raw["pages"][path] = _tti(dashboard, path, text, chart, runs)
            print("[dashboard_tti] returning visits", file=sys.stderr, flush=True)
            raw["returning"] = _returning(dashboard, PAGES, runs, workdir)
            print("[dashboard_tti] page switches", file=sys.stderr, flush=True)
            raw["switch"] = _switch(dashboard, PAGES, runs)
            for path, _, chart in PAGES:
                drawn = ", chart drawn" if chart else ""
                rows.append(
                    _row(f"/{path}", f"cold first visit{drawn}", raw["pages"][path], floor_cold)
                )
                rows.append(
                    _row(
                        f"/{path}",
                        f"returning visitor{drawn}",
                        raw["returning"][path]["seconds"],
                        floor_back["seconds"],
                    )
                )
                rows.append(
                    _row(f"/{path}", f"page switch{drawn}", raw["switch"][path], floor_rerun)
                )
        finally:
            if demo is not None:
                demo.stop(timeout=30)
            if exporter is not None:
                exporter.stop()
            floor_proc.stop()
    return rows, raw

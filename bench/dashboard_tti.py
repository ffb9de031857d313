"""Dashboard time-to-interactive per page, in headless Chromium, against the running demo stack.

The stack is `eventscope demo --auto-ports --only kafka` (Tansu, demo pipeline, collector,
Prometheus, Alertmanager, dashboard). Each page is visited once to warm up (Prometheus has data,
Streamlit has imported the page), then `runs` times, each in a fresh browser context (cold
browser cache): the figure is the time from navigation to the page's heading being shown and,
for chart pages, a plotly chart drawn (`demo.screenshots.open_page`). The floor is a one-line
Streamlit app (`st.title`) served the same way: what Streamlit itself costs before any of ours.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.stats import Row, summarize
from demo.screenshots import PAGES, browser, open_page
from demo.services import ManagedProcess, free_port, wait_for_http

REPO = Path(__file__).resolve().parents[1]
START_TIMEOUT = 180.0
FLOOR_TEXT = "Streamlit floor"


def _streamlit(app: Path, port: int, workdir: Path, name: str) -> ManagedProcess:
    argv = [
        sys.executable, "-m", "streamlit", "run", str(app),
        "--server.headless", "true", "--server.address", "127.0.0.1",
        "--server.port", str(port), "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    return ManagedProcess(name, argv, workdir / f"{name}.log").start()


def _demo(workdir: Path) -> tuple[ManagedProcess, str]:
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
    return proc, str(json.loads(state.read_text())["urls"]["dashboard"])


def _tti(base: str, path: str, text: str, chart: bool, runs: int) -> list[float]:
    """Seconds from navigation to interactive, one fresh browser context per run."""
    seconds: list[float] = []
    with browser() as b:
        open_page(b, f"{base}/{path}", text, chart).context.close()  # warm-up
        for _ in range(runs):
            started = time.perf_counter()
            page = open_page(b, f"{base}/{path}", text, chart)
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
        demo, dashboard = None, ""
        try:
            wait_for_http(f"http://127.0.0.1:{port}/_stcore/health", 60)
            floor_s = _tti(f"http://127.0.0.1:{port}", "", FLOOR_TEXT, False, runs)
            raw["floor"] = floor_s
            demo, dashboard = _demo(workdir / "demo")
            for path, text, chart in PAGES:
                seconds = _tti(dashboard, path, text, chart, runs)
                raw["pages"][path] = seconds
                rows.append(
                    Row(
                        "dashboard_tti",
                        f"/{path}",
                        "time to interactive" + (" (chart drawn)" if chart else ""),
                        "s",
                        summarize(seconds),
                        summarize(floor_s),
                    )
                )
        finally:
            if demo is not None:
                demo.stop(timeout=30)
            floor_proc.stop()
    return rows, raw

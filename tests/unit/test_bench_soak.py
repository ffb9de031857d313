"""The soak and churn benchmarks' pure parts: the memory slope and the table built from samples."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from bench.churn import rows_from as churn_rows
from bench.soak import (
    MiB,
    cpu_seconds,
    renice,
    rows_from,
    rss_bytes,
    slope_per_hour,
    tree_rss_bytes,
)


@pytest.mark.parametrize(
    ("points", "expected"),
    [
        ([(0, 10), (1800, 15), (3600, 20)], 10.0),  # +5 per half hour
        ([(0, 7), (60, 7), (120, 7)], 0.0),  # flat
        ([(0, 20), (3600, 10)], -10.0),  # shrinking
        ([(0, 5)], None),  # one point: no slope
        ([(30, 5), (30, 6)], None),  # no time between the points
    ],
)
def test_slope_per_hour(points, expected):
    assert slope_per_hour(points) == expected


def sample(t: float, collector_mib: float, tap_lag: float, placed: int) -> dict:
    return {
        "t": t,
        "load": 1.0,
        "rss": {"collector": collector_mib * MiB, "dashboard": 100 * MiB},
        "rss_anon": {"collector": (collector_mib - 20) * MiB, "dashboard": 80 * MiB},
        "collector": {
            "poll_seconds": {"k": 0.5},
            "poll_phases": {"k": {"groups": 0.1, "commit_timestamps": t / 600, "total": 0.5}},
            "overruns": {"k": 0.0},
            "poll_age_seconds": {"k": 1.0},
            "up": {"k": 1.0},
            "tap_lag": {"kafka/k": tap_lag},
            "lag_messages": {"k": 3.0},
            "series": 100,
            "sqlite_bytes": collector_mib / 2 * MiB,
        },
        "pipeline": {"kafka": {"orders_placed": placed, "orders_open": 2}},
        # the broker's CPU climbs: 0.1 cores, then 0.5
        "cpu": {"tansu": 0.1 * min(t, 300) + 0.5 * max(0, t - 300), "collector": t * 0.2},
    }


def test_soak_table_reports_start_end_slope_and_the_achieved_rate():
    raw = {
        "plan": {"minutes": 10.0, "multiplier": 10.0, "sample_seconds": 30.0, "page_seconds": 60.0},
        "target_rate_per_broker": {"orders": 50.0, "interactions": 200.0},
        "samples": [sample(0, 50, 0, 0), sample(300, 100, 10, 15000), sample(600, 100, 4, 30000)],
        "max_poll_gap_seconds": {"k": 5.5},
        "page_visits": [{"page": "overview", "seconds": 3.0}, {"page": "lag", "error": "x"}],
    }
    rows = {(r.case, r.metric): r for r in rows_from(raw)}
    assert rows[("10 min at 10x", "collector RSS at start")].value.median == 50
    assert rows[("10 min at 10x", "collector RSS at end")].value.median == 100
    # warm-up is the first fifth (120 s): the fit sees the two flat samples after it
    assert rows[("10 min at 10x", "collector RSS slope after warm-up")].value.median == 0
    assert rows[("10 min at 10x", "collector anonymous RSS (heap) at end")].value.median == 80
    assert rows[("10 min at 10x", "collector SQLite heap at end")].value.median == 50
    assert rows[("10 min at 10x", "collector SQLite heap slope after warm-up")].value.median == 0
    assert rows[("pipeline kafka", "orders placed per second")].value.median == 50
    assert rows[("tap kafka/k", "backlog at end")].value.median == 4
    assert ("dashboard", "page visit time (1 ok, 1 failed)") in rows
    # a phase that took >= 0.5 s somewhere gets a row; the small ones do not
    assert rows[("k", "poll phase commit_timestamps (sampled)")].value.high == 1.0
    assert ("k", "poll phase groups (sampled)") not in rows
    # CPU per component from cumulative seconds: after warm-up the one 300-600 s interval
    assert rows[("CPU tansu", "cores used, last fifth of the run")].value.median == 0.5
    assert rows[("CPU collector", "cores used, per sample after warm-up")].value.median == 0.2


def test_renice_reaches_every_thread_of_the_load_generator():
    code = (
        "import threading, time\n"
        "for _ in range(3): threading.Thread(target=time.sleep, args=(30,)).start()\n"
        "time.sleep(30)"
    )
    child = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 10
        while len(os.listdir(f"/proc/{child.pid}/task")) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert renice(child.pid, 7) == 4
        tasks = os.listdir(f"/proc/{child.pid}/task")
        assert [os.getpriority(os.PRIO_PROCESS, int(tid)) for tid in tasks] == [7] * 4
    finally:
        child.kill()
        child.wait()


def test_collector_rss_counts_its_child_processes():
    # a parent that starts a child (from a thread, as the tap reader is) holding 64 MiB
    grandchild = "b = bytearray(64 * 1024 * 1024); import time; time.sleep(30)"
    code = (
        "import subprocess, sys, threading, time\n"
        f"threading.Thread(target=subprocess.run, args=([sys.executable, '-c', {grandchild!r}],))"
        ".start()\n"
        "time.sleep(30)"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            own, tree = rss_bytes(parent.pid), tree_rss_bytes(parent.pid)
            if own and tree and tree - own > 64 * MiB:
                break
            time.sleep(0.05)
        assert own is not None and tree is not None
        assert tree - own > 64 * MiB  # the child's bytearray is in the collector's figure
    finally:
        os.killpg(parent.pid, signal.SIGKILL)  # the child too
        parent.wait()
    assert tree_rss_bytes(parent.pid) is None


def test_cpu_seconds_count_a_busy_child_and_stop_with_the_process():
    spin = "import time\nend = time.process_time() + 1.5\nwhile time.process_time() < end: pass"
    code = f"import subprocess, sys, time\nsubprocess.Popen([sys.executable, '-c', {spin!r}])\n"
    parent = subprocess.Popen([sys.executable, "-c", code + "time.sleep(30)"],
                              start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        used = 0.0
        while used < 1.0 and time.monotonic() < deadline:
            time.sleep(0.1)
            used = cpu_seconds(parent.pid) or 0.0
        assert used >= 1.0  # the parent sleeps: the child's spinning is what was counted
    finally:
        os.killpg(parent.pid, signal.SIGKILL)
        parent.wait()
    assert cpu_seconds(parent.pid) is None


def test_churn_table_reports_growth_per_cycle_after_deletion():
    def cycle(after_mib: float) -> dict:
        return {
            "with_groups": {"rss": 120 * MiB, "series": 9000},
            "after_delete": {"rss": after_mib * MiB, "series": 1001},
            "polls_to_disappear": 1,
        }

    raw = {
        "groups": 2000,
        "baseline": {"rss": 50 * MiB, "series": 1000},
        "cycles": [cycle(110), cycle(111), cycle(112)],
    }
    rows = {r.metric: r for r in churn_rows(raw)}
    assert rows["RSS after deletion, growth per cycle"].value.median == pytest.approx(1.0)
    assert rows["series after deletion"].floor is not None
    assert rows["polls until deleted groups left /metrics"].value.median == 1

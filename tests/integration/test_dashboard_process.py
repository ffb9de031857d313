"""`eventscope dashboard` as users run it: SIGTERM or SIGINT stops Streamlit with it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from demo.services import free_port
from tests.conftest import wait_until

pytestmark = pytest.mark.service


def streamlit_pids(port: int) -> list[int]:
    """Processes whose command line serves Streamlit on `port` (this test's only)."""
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"streamlit" in argv and str(port).encode() in argv:
            pids.append(int(cmdline.parent.name))
    return pids


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_stops_streamlit_too(sig: signal.Signals) -> None:
    port = free_port()
    env = {**os.environ, "EVENTSCOPE_PROMETHEUS_URL": "http://127.0.0.1:9"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "collector.cli", "dashboard", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        health = f"http://127.0.0.1:{port}/_stcore/health"
        wait_until(lambda: requests.get(health, timeout=2).ok, 90, "Streamlit's health check")
        assert streamlit_pids(port)
        proc.send_signal(sig)
        code = proc.wait(timeout=30)
        wait_until(lambda: not streamlit_pids(port), 30, "no Streamlit process left")
        with pytest.raises(requests.ConnectionError):
            requests.get(health, timeout=2)
        assert code == 0  # a requested stop, not a crash
    finally:
        if proc.poll() is None:
            proc.kill()
        for pid in streamlit_pids(port):  # only what this test started, if the fix failed
            os.kill(pid, signal.SIGKILL)

"""A soak that was killed leaves its RabbitMQ vhost (a million firehose messages at 10x within
the hour); the next soak removes it, and only vhosts of soaks whose process is gone."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import requests

from bench.soak import MANAGEMENT, VHOST_PREFIX, drop_orphan_vhosts
from demo.stack import drop_vhost, ensure_vhost

pytestmark = pytest.mark.service


def _vhosts() -> set[str]:
    resp = requests.get(f"{MANAGEMENT}/api/vhosts", auth=("guest", "guest"), timeout=10)
    resp.raise_for_status()
    return {v["name"] for v in resp.json()}


def test_vhosts_of_killed_soaks_are_removed_and_live_ones_kept():
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    dead, alive = f"{VHOST_PREFIX}{gone.stdout.strip()}", f"{VHOST_PREFIX}{os.getpid()}"
    for name in (dead, alive):
        ensure_vhost(MANAGEMENT, name)
    try:
        assert {dead, alive} <= _vhosts()
        assert dead in drop_orphan_vhosts(MANAGEMENT)
        left = _vhosts()
        assert dead not in left
        assert alive in left
    finally:
        for name in (dead, alive):
            drop_vhost(MANAGEMENT, name)

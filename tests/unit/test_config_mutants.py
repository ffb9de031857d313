"""Configs that cannot lie: `check-config` on mutated copies of the reference config either
accepts (exit 0) and then `collect` can build everything it runs, or refuses (exit 2) with one
line naming the key — never a traceback, never a hang (tests/config_mutants.py makes them)."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import random
import re
import signal
from collections.abc import Iterator
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.cli import main
from collector.config import KafkaCluster, load_config
from collector.service import CollectorService
from tests.config_mutants import mutant

SECONDS_PER_CHECK = 5
REFUSAL = re.compile(r"eventscope: config error( at [^\n]+?)?: [^\n]+\n")


@contextlib.contextmanager
def time_bound(seconds: int) -> Iterator[None]:
    """A hang becomes a failure: SIGALRM interrupts the check after `seconds`."""

    def expired(*_: object) -> None:
        raise TimeoutError(f"check-config still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def inside(folder: Path) -> Iterator[None]:
    """Relative paths of the config (the trace store) land in `folder`."""
    before = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


def check_config(path: Path) -> tuple[int, str]:
    """`eventscope check-config --config path`, in this process: exit code and stderr."""
    err = io.StringIO()
    out = contextlib.redirect_stdout(io.StringIO())
    with time_bound(SECONDS_PER_CHECK), contextlib.redirect_stderr(err), out:
        code = main(["check-config", "--config", str(path)])
    return code, err.getvalue()


def build_what_collect_builds(path: Path) -> None:
    """What `collect` builds before it starts: adapters, pollers, exporter, trace service. Kafka
    clusters point at a closed port: their clients are built, and nothing is reached."""
    config = load_config(path)
    offline = tuple(
        dataclasses.replace(c, bootstrap_servers="127.0.0.1:1")
        if isinstance(c, KafkaCluster)
        else c
        for c in config.clusters
    )
    service = CollectorService(dataclasses.replace(config, clusters=offline), config.listen)
    for poller in service.poller.pollers:
        poller.adapter.close()
    if service.traces is not None:
        service.traces.stop(1.0)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(rng=st.randoms(use_true_random=False))
def test_check_config_accepts_what_runs_and_names_what_it_refuses(
    rng: random.Random, tmp_path: Path
) -> None:
    path = tmp_path / "mutant.yml"
    path.write_bytes(mutant(rng))
    with inside(tmp_path):
        code, stderr = check_config(path)
        assert code in (0, 2), stderr
        if code == 2:
            assert REFUSAL.fullmatch(stderr), stderr
        else:
            build_what_collect_builds(path)

"""Shared fixtures: real services on free ports, and the no-silent-skip rule.

With EVENTSCOPE_REQUIRE_SERVICES=1 (set by `make test`, so by CI) any skipped test fails the
run: a test that needs a broker, RabbitMQ, Prometheus, Alertmanager or Chromium must never pass
by skipping when that service is missing.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from demo.kafka_node import KafkaNode, start_kafka
from demo.services import ManagedProcess, free_port, start_tansu

REQUIRE_SERVICES = os.environ.get("EVENTSCOPE_REQUIRE_SERVICES") == "1"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if not REQUIRE_SERVICES or reporter is None:
        return
    skipped = reporter.stats.get("skipped", [])
    if skipped:
        reporter.write_line(
            f"EVENTSCOPE_REQUIRE_SERVICES=1: {len(skipped)} skipped test(s) count as failures",
            red=True,
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def session_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("services")


@pytest.fixture(scope="session")
def kafka_node(session_dir: Path) -> Iterator[KafkaNode]:
    """Apache Kafka (single KRaft node) for the whole session. Tests isolate by unique topic and
    group names; a test that must stop, pause or reconfigure a broker uses `kafka_factory`."""
    node = start_kafka(session_dir, name="kafka-session")
    yield node
    node.stop()


@pytest.fixture(scope="session")
def kafka(kafka_node: KafkaNode) -> str:
    """The session's Apache Kafka bootstrap address."""
    return kafka_node.bootstrap


@pytest.fixture(scope="module")
def module_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private Apache Kafka for one test module: for modules whose topic names are fixed (the
    demo pipeline's `orders.placed`, …) and so cannot share the session broker."""
    node = start_kafka(tmp_path_factory.mktemp("kafka"), name="kafka-module")
    yield node.bootstrap
    node.stop()


@pytest.fixture
def kafka_factory(tmp_path: Path) -> Iterator[Callable[..., KafkaNode]]:
    """Start private Apache Kafka nodes a test may kill, pause, restart or configure
    (keyword arguments go to `start_kafka`: port, sasl, sasl_users, overrides, …)."""
    started: list[KafkaNode] = []

    def make(**kwargs: object) -> KafkaNode:
        node = start_kafka(tmp_path, name=f"kafka-{len(started)}", **kwargs)  # type: ignore[arg-type]
        started.append(node)
        return node

    yield make
    for node in started:
        node.stop()


@pytest.fixture(scope="session")
def tansu(session_dir: Path) -> Iterator[str]:
    """A Tansu broker (the no-Java fallback) for the whole session; its bootstrap address."""
    port = free_port()
    proc = start_tansu(port, session_dir, name=f"tansu-{port}")
    yield f"127.0.0.1:{port}"
    proc.stop()


@pytest.fixture
def tansu_factory(tmp_path: Path) -> Iterator[Callable[[], tuple[str, ManagedProcess]]]:
    """Start private brokers a test may kill, pause or restart."""
    started: list[ManagedProcess] = []

    def make(port: int | None = None) -> tuple[str, ManagedProcess]:
        port = port or free_port()
        proc = start_tansu(port, tmp_path, name=f"tansu-{port}")
        started.append(proc)
        return f"127.0.0.1:{port}", proc

    yield make
    for proc in started:
        proc.stop()


def scrape(url: str, timeout: float = 5.0) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """GET /metrics and parse it with prometheus-client's parser: {(name, labels): value}."""
    text = requests.get(url, timeout=timeout).text
    out: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def wait_until(predicate: Callable[[], object], timeout: float, what: str, every: float = 0.2):
    """Poll `predicate` until it returns something truthy; fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # retried until the deadline
            last_exc = exc
        time.sleep(every)
    raise AssertionError(
        f"timed out after {timeout:.0f} s waiting for {what} (last error: {last_exc})"
    )


class DemoStack:
    """A running `eventscope demo` (subprocess) and the URLs from its state.json."""

    def __init__(self, proc: ManagedProcess, workdir: Path, vhost: str) -> None:
        self.proc, self.workdir, self.vhost = proc, workdir, vhost
        self.urls: dict[str, str] = json.loads((workdir / "state.json").read_text())["urls"]

    def state(self) -> dict:
        return json.loads((self.workdir / "state.json").read_text())

    def ctl(self, knob: str, **args: object) -> dict:
        resp = requests.post(f"{self.urls['control']}/{knob}", json=args, timeout=10)
        resp.raise_for_status()
        return resp.json()

    def prom_query(self, query: str) -> list[dict]:
        resp = requests.get(
            f"{self.urls['prometheus']}/api/v1/query", params={"query": query}, timeout=10
        )
        resp.raise_for_status()
        return resp.json()["data"]["result"]

    def notifications(self) -> list[dict]:
        resp = requests.get(f"{self.urls['collector']}/api/alerts/notifications", timeout=10)
        return resp.json()["notifications"]


@pytest.fixture(scope="session")
def demo_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoStack]:
    """The whole embedded stack, as `make demo` runs it, on free ports, once per session."""
    vhost = f"eventscope-test-{os.getpid()}"
    yield from run_demo("test-demo", ["--rabbitmq-vhost", vhost], vhost)


def run_demo(name: str, args: list[str], vhost: str) -> Iterator[DemoStack]:
    """`eventscope demo --auto-ports --poll-interval 2 ARGS` until the generator is closed.
    Its workdir is .eventscope/NAME-PID, kept after the run (not in pytest's rotating tmp) so
    a failure's logs can be read."""
    workdir = Path(__file__).resolve().parents[1] / ".eventscope" / f"{name}-{os.getpid()}"
    workdir.mkdir(parents=True, exist_ok=True)
    proc = ManagedProcess(
        f"eventscope-{name.removeprefix('test-')}",
        [
            sys.executable, "-m", "collector.cli", "demo", "--auto-ports",
            "--workdir", str(workdir), "--poll-interval", "2", *args,
        ],
        workdir / "demo.out",
    ).start()  # fmt: skip
    try:
        wait_until(lambda: (workdir / "state.json").exists() or not proc.alive(), 120, "demo start")
        if not proc.alive():
            raise AssertionError(f"eventscope demo exited:\n{proc.log_tail(40)}")
        yield DemoStack(proc, workdir, vhost)
    finally:
        proc.stop(timeout=30)

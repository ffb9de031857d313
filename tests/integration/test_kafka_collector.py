"""The Kafka collector against a real Tansu broker: exact lag, time lag, failure and recovery."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests

from collector.config import load_config
from collector.service import CollectorService
from demo.kafka_node import restart_kafka
from demo.services import free_port
from tests.conftest import scrape, wait_until
from tests.kafka_world import commit, create_topic, produce, unique

pytestmark = pytest.mark.service


def start_collector(tmp_path: Path, clusters_yaml: str, extra: str = "") -> CollectorService:
    cfg_path = tmp_path / "eventscope.yml"
    cfg_path.write_text(f"poll_interval_seconds: 1\n{extra}clusters:\n{clusters_yaml}")
    service = CollectorService(load_config(cfg_path, env={}), f"127.0.0.1:{free_port()}")
    service.start()
    return service


def kafka_cluster(name: str, bootstrap: str, timeout: float = 2.0) -> str:
    return (
        f"  - name: {name}\n    kind: kafka\n    bootstrap_servers: {bootstrap}\n"
        f"    request_timeout_seconds: {timeout}\n"
    )


def value(metrics, name, **labels):
    return metrics.get((name, frozenset(labels.items())))


def test_exact_lag_per_partition(kafka, tmp_path):
    topic, group = unique("orders"), unique("billing")
    create_topic(kafka, topic, 3)
    produce(kafka, topic, [10, 20, 30])
    commit(kafka, group, topic, {0: 4, 1: 20, 2: 7})
    service = start_collector(tmp_path, kafka_cluster("local", kafka))
    try:
        url = f"http://127.0.0.1:{service.port}/metrics"
        base = {"broker": "kafka", "cluster_name": "local", "group": group, "topic": topic}

        def lags():
            m = scrape(url)
            got = {
                p: value(m, "eventscope_consumer_lag_messages", **base, partition=str(p))
                for p in range(3)
            }
            return got if None not in got.values() else None

        assert wait_until(lags, 20, "lag series") == {0: 6.0, 1: 0.0, 2: 23.0}
        m = scrape(url)
        assert value(m, "eventscope_collector_up", broker="kafka", cluster_name="local") == 1.0
        produced = {"broker": "kafka", "cluster_name": "local", "topic": topic}
        assert value(m, "eventscope_produced_messages_total", **produced) == 60.0
        consumed = {"broker": "kafka", "cluster_name": "local", "group": group, "topic": topic}
        assert value(m, "eventscope_consumed_messages_total", **consumed) == 31.0
        assert (
            value(m, "eventscope_lag_threshold_messages", cluster_name="local", group=group)
            == 1000.0
        )
    finally:
        service.stop()


def test_uncommitted_partition_is_reported_not_minus_one(kafka, tmp_path):
    topic, group = unique("payments"), unique("ledger")
    create_topic(kafka, topic, 3)
    produce(kafka, topic, [5, 5, 5])
    commit(kafka, group, topic, {0: 5})
    service = start_collector(tmp_path, kafka_cluster("local", kafka))
    try:
        url = f"http://127.0.0.1:{service.port}/metrics"
        labels = {"broker": "kafka", "cluster_name": "local", "group": group, "topic": topic}
        wait_until(
            lambda: value(scrape(url), "eventscope_consumer_uncommitted_partitions", **labels),
            20,
            "uncommitted partitions",
        )
        m = scrape(url)
        assert value(m, "eventscope_consumer_uncommitted_partitions", **labels) == 2.0
        lag_samples = [
            v
            for (name, lbl), v in m.items()
            if name == "eventscope_consumer_lag_messages" and ("group", group) in lbl
        ]
        assert lag_samples == [0.0]  # only the committed partition has a lag, never -1
    finally:
        service.stop()


def test_exact_lag_seconds_from_record_timestamps(kafka, tmp_path):
    topic, group = unique("clicks"), unique("ml")
    create_topic(kafka, topic, 1)
    now = time.time()
    stamps = [now - 600 + i for i in range(10)]  # written 10 minutes ago, 1 s apart
    produce(kafka, topic, [10], timestamps=stamps)
    commit(kafka, group, topic, {0: 3})  # oldest unconsumed: record 3, written at now-597
    service = start_collector(tmp_path, kafka_cluster("local", kafka))
    try:
        url = f"http://127.0.0.1:{service.port}/metrics"
        labels = {
            "broker": "kafka",
            "cluster_name": "local",
            "group": group,
            "topic": topic,
            "partition": "0",
            "method": "exact",
        }
        age = wait_until(
            lambda: value(scrape(url), "eventscope_consumer_lag_seconds", **labels), 20, "lag s"
        )
        polled = value(scrape(url), "eventscope_collector_last_poll_timestamp_seconds",
                       broker="kafka", cluster_name="local")  # fmt: skip
        # exact within a second of the truth at the poll's own time
        assert age == pytest.approx(polled - stamps[3], abs=1.0)
    finally:
        service.stop()


def test_broker_down_lowers_up_and_metrics_keep_answering(kafka_factory, kafka, tmp_path):
    flaky = kafka_factory()
    flaky_bootstrap = flaky.bootstrap
    topic, group = unique("stock"), unique("inventory")
    create_topic(kafka, topic, 1)
    produce(kafka, topic, [3])
    commit(kafka, group, topic, {0: 1})
    service = start_collector(
        tmp_path, kafka_cluster("flaky", flaky_bootstrap, 1.0) + kafka_cluster("steady", kafka)
    )
    url = f"http://127.0.0.1:{service.port}/metrics"

    def up(cluster: str) -> float | None:
        return value(scrape(url), "eventscope_collector_up", broker="kafka", cluster_name=cluster)

    try:
        wait_until(lambda: up("flaky") == 1.0, 20, "flaky cluster up")
        flaky.stop()
        wait_until(lambda: up("flaky") == 0.0, 20, "collector_up=0 after broker stop")
        started = time.monotonic()
        resp = requests.get(url, timeout=5)
        assert resp.status_code == 200 and time.monotonic() - started < 2.0
        # the other cluster is unaffected and still reports its lag
        m = scrape(url)
        assert up("steady") == 1.0
        steady = {"broker": "kafka", "cluster_name": "steady", "group": group, "topic": topic}
        assert value(m, "eventscope_consumer_lag_messages", **steady, partition="0") == 2.0
        assert requests.get(url.replace("/metrics", "/healthz"), timeout=5).status_code == 200
        # the broker comes back on the same port and data: up again, no collector restart
        restart_kafka(flaky)
        wait_until(lambda: up("flaky") == 1.0, 30, "collector_up=1 after broker restart")
    finally:
        service.stop()

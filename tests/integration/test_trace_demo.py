"""The demo pipeline's orders, traced by the collector on Tansu and RabbitMQ (firehose), compared
with the pipeline's own ground truth: every order's journey ends where the pipeline says it did,
and the service graph in /metrics counts each event received once, notification-service (which
only consumes) included.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from collector.config import load_config
from collector.service import CollectorService
from collector.tracing import feeds
from demo.pipeline import KafkaSettings, Pipeline, PipelineConfig, RabbitSettings
from demo.pipeline.control import send
from demo.pipeline.kafka_link import create_topics
from demo.pipeline.rabbit_link import declare_topology
from demo.services import free_port
from tests.conftest import wait_until

pytestmark = pytest.mark.service

MANAGEMENT = "http://127.0.0.1:15672"
AUTH = ("guest", "guest")
ORDERS = 20
STATUS_OF_OUTCOME = {
    "confirmed": "complete",
    "cancelled": "compensated",
    "dead_lettered": "dead_lettered",
}


@pytest.fixture(scope="module")
def kafka(module_kafka: str) -> str:
    """The demo pipeline's topic names are fixed: this module gets a broker of its own."""
    return module_kafka


@pytest.fixture
def vhost() -> Iterator[str]:
    name = f"eventscope-trace-demo-{uuid.uuid4().hex[:8]}"
    url = f"{MANAGEMENT}/api/vhosts/{quote(name, safe='')}"
    requests.put(url, json={"tracing": True}, auth=AUTH, timeout=10).raise_for_status()
    perms = {"configure": ".*", "write": ".*", "read": ".*"}
    requests.put(
        f"{MANAGEMENT}/api/permissions/{quote(name, safe='')}/guest",
        json=perms,
        auth=AUTH,
        timeout=10,
    ).raise_for_status()
    yield name
    requests.delete(url, auth=AUTH, timeout=30)


def test_demo_orders_end_where_the_pipeline_says(kafka, vhost, tmp_path: Path):
    amqp = f"amqp://guest:guest@127.0.0.1:5672/{quote(vhost, safe='')}"
    config = PipelineConfig(
        kafka=KafkaSettings(kafka),
        rabbitmq=RabbitSettings(amqp),
        orders=ORDERS,
        order_rate=20.0,
        interaction_rate=0.0,
        poison_rate=0.15,
        seed=7,
    )
    # topics and queues first, so the taps see every event from the first one
    create_topics(config.kafka)
    declare_topology(config.rabbitmq)
    cfg = tmp_path / "eventscope.yml"
    cfg.write_text(
        f"""
poll_interval_seconds: 1
clusters:
  - {{name: local, kind: kafka, bootstrap_servers: "{kafka}"}}
  - {{name: rabbit, kind: rabbitmq, management_url: "{MANAGEMENT}", vhosts: ["{vhost}"]}}
tracing:
  enabled: true
  store_path: "{tmp_path / "traces.db"}"
  consumer_edge_delay_seconds: 5
  kafka: {{cluster: local, group_id: "tap-{vhost}", topics: ["orders.*", "inventory.*",
          "payments.*"], session_timeout_ms: 6000, heartbeat_interval_ms: 2000,
          topic_refresh_seconds: 1}}
  rabbitmq: {{cluster: rabbit, url: "{amqp}", mode: firehose, exchanges: [events.dlx]}}
"""
    )
    collector = CollectorService(load_config(cfg, env={}), f"127.0.0.1:{free_port()}")
    collector.start()
    base = f"http://127.0.0.1:{collector.port}/api/traces"
    pipeline = None
    try:
        wait_until(lambda: collector.traces.store.hop_count == 0 and _tap_bound(vhost), 15, "binds")
        pipeline = Pipeline(config).start()

        def settled():
            status = send(pipeline.control_url, "status", ids=True)["brokers"]
            ended = all(
                s["orders_placed"] == ORDERS and s["orders_open"] == 0 for s in status.values()
            )
            return status if ended else None

        truth = wait_until(settled, 60, "every demo order to end")

        def traced_as_truth():
            wrong = []
            for broker, view in truth.items():
                for outcome, ids in view["ids"]["terminal"].items():
                    for cid in ids:
                        got = requests.get(f"{base}/{cid}", timeout=5)
                        status = got.json().get("status") if got.status_code == 200 else None
                        if status != STATUS_OF_OUTCOME[outcome]:
                            wrong.append((broker, cid, outcome, status))
            return not wrong or None, wrong

        last: list[list[tuple[str, str, str, str | None]]] = [[]]

        def matched() -> bool:
            ok, last[0] = traced_as_truth()
            return bool(ok)

        try:
            wait_until(matched, 30, "journeys to match the pipeline")
        except AssertionError as exc:
            raise AssertionError(f"{exc}: (broker, id, truth, traced) {last[0][:10]}") from None
        sample = truth["kafka"]["ids"]["terminal"]["confirmed"][0]
        journey = requests.get(f"{base}/{sample}", timeout=5).json()
        metrics_url = f"http://127.0.0.1:{collector.port}/metrics"
        notified = sum(v["terminal"]["confirmed"] + v["terminal"]["cancelled"]
                       for v in truth.values())  # fmt: skip
        expected = {
            # the consumer-only service, from consumptions (Kafka commits, RabbitMQ deliveries)
            ("order-service", "notification-service"): notified,
            # every order reached inventory-service once: its reaction, or its consumption of
            # a poison order it dead-lettered, never both
            ("order-service", "inventory-service"): ORDERS * len(truth),
        }
        seen: list[dict[tuple[str, str], float]] = [{}]

        def graph_matches() -> bool:
            seen[0] = _edges(metrics_url)
            return all(seen[0].get(pair) == n for pair, n in expected.items())

        try:
            wait_until(graph_matches, 60, "the service graph to count each received event once")
        except AssertionError as exc:
            raise AssertionError(f"{exc}: expected {expected}, /metrics has {seen[0]}") from None
        # and stays so once every consumption logged by now has been judged
        traces = collector.traces
        logged = traces.store.read(feeds.log_end)
        wait_until(lambda: traces.edges.position >= logged, 30, "consumptions judged")
        graph = _edges(metrics_url)
        assert {pair: graph.get(pair) for pair in expected} == expected
    finally:
        if pipeline is not None:
            pipeline.stop()
        collector.stop()
    for view in truth.values():  # every ending was exercised on both brokers
        assert all(view["terminal"][outcome] > 0 for outcome in STATUS_OF_OUTCOME), view
    assert [h["event_type"] for h in journey["hops"]] == truth["kafka"]["ids"]["journeys"][sample]
    assert all(h["traceparent"] for h in journey["hops"])
    assert ("notification-service", "order-service") not in graph  # it never produces
    # the latencies of the consumer-only edge are produce-to-consumed times (to within a poll)
    assert (
        graph[("latency_count", "notification-service")]
        == expected[("order-service", "notification-service")]
    )


def _edges(url: str) -> dict[tuple[str, str], float]:
    """flow_events_total per (from, to), summed over event types (OrderPlaced only for
    order-service -> inventory-service), plus the hop-latency count into notification-service."""
    out: dict[tuple[str, str], float] = {}
    text = requests.get(url, timeout=5).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if sample.name == "eventscope_flow_events_total":
                if labels["to_service"] == "inventory-service" and (
                    labels["event_type"] != "OrderPlaced"
                ):
                    continue
                pair = (labels["from_service"], labels["to_service"])
                out[pair] = out.get(pair, 0) + sample.value
            elif sample.name == "eventscope_hop_latency_seconds_count" and (
                labels["to_service"] == "notification-service"
            ):
                key = ("latency_count", "notification-service")
                out[key] = out.get(key, 0) + sample.value
    return out


def _tap_bound(vhost: str) -> bool:
    url = f"{MANAGEMENT}/api/queues/{quote(vhost, safe='')}/eventscope.tap/bindings"
    got = requests.get(url, auth=AUTH, timeout=5)
    return got.status_code == 200 and {"amq.rabbitmq.trace", "events.dlx"} <= {
        b["source"] for b in got.json()
    }

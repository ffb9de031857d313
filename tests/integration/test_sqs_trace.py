"""The SQS trace tap wired by `tracing.sqs` in a running collector, against moto's server:
events put on an EventBridge bus reach the tap queue, the tap stores hops, and the journey is
served by `GET /api/traces/{id}` and printed by `eventscope trace ID`. The same collector serves
the bus → rule → queue → service routing (`/api/topology`, `eventscope_topology_edge`)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
import requests

from demo.services import free_port
from tests.conftest import scrape, wait_until
from tests.integration.test_sqs_collector import (
    REGION,
    arn_of,
    client,
    start_collector,
    value,
)
from tests.kafka_world import unique

pytestmark = pytest.mark.service


# A payload value no generated name can contain: "4111" alone matched a random queue prefix
# ("trace-1608411123") and failed a fresh-clone CI run.
CARD = "card-4111-1111-1111-1111"


def shop(moto: str, prefix: str) -> dict[str, str]:
    """Bus `<p>` with two rules that both match OrderPlaced (so the tap queue gets two copies
    of it): to-billing → billing queue + tap, to-audit → audit queue + tap."""
    sqs, events = client("sqs", moto), client("events", moto)
    urls = {
        name: str(sqs.create_queue(QueueName=f"{prefix}-{name}")["QueueUrl"])
        for name in ("billing", "audit", "tap")
    }
    events.create_event_bus(Name=prefix)
    rules = {"to-billing": ["OrderPlaced"], "to-audit": ["OrderPlaced", "OrderConfirmed"]}
    for rule, types in rules.items():
        queue = "billing" if rule == "to-billing" else "audit"
        events.put_rule(
            Name=rule, EventBusName=prefix, EventPattern=json.dumps({"detail-type": types})
        )
        events.put_targets(Rule=rule, EventBusName=prefix, Targets=[
            {"Id": queue, "Arn": arn_of(sqs, urls[queue])},
            {"Id": "tap", "Arn": arn_of(sqs, urls["tap"])},
        ])  # fmt: skip
    return urls


def put(moto: str, bus: str, service: str, event_type: str, correlation_id: str) -> None:
    detail = {"correlation_id": correlation_id, "card": CARD}
    entry = {"Source": service, "DetailType": event_type, "Detail": json.dumps(detail),
             "EventBusName": bus}  # fmt: skip
    assert client("events", moto).put_events(Entries=[entry])["FailedEntryCount"] == 0


def collector_yaml(moto: str, prefix: str, store: str) -> str:
    return (
        f"  - name: aws\n    kind: aws\n    region: {REGION}\n    endpoint_url: {moto}\n"
        f"    queue_prefixes: [{prefix}]\n    event_buses: [{prefix}]\n"
        "    exclude_queues: ['*-tap']\n    request_timeout_seconds: 2\n"
        f"tracing:\n  enabled: true\n  store_path: {store}\n"
        f"  group_services: {{{prefix}-billing: billing-service}}\n"
        f"  sqs: {{cluster: aws, queue: {prefix}-tap, source: {prefix}}}\n"
    )


def test_events_on_the_bus_become_a_journey_through_the_tap(moto, tmp_path):
    prefix, cid = unique("trace"), unique("ord")
    urls = shop(moto, prefix)
    service = start_collector(tmp_path, collector_yaml(moto, prefix, str(tmp_path / "t.db")))
    base = f"http://127.0.0.1:{service.port}"
    try:
        put(moto, prefix, "order-service", "OrderPlaced", cid)
        put(moto, prefix, "billing-service", "OrderConfirmed", cid)

        def journey() -> dict[str, Any] | None:
            resp = requests.get(f"{base}/api/traces/{cid}", timeout=5)
            body = resp.json() if resp.status_code == 200 else None
            return body if body and len(body["hops"]) >= 2 else None

        answer = wait_until(journey, 20, "both events in the journey")
        hops = answer["hops"]
        # OrderPlaced reached the tap queue twice (two rules) and is one hop
        assert [(h["event_type"], h["service"]) for h in hops] == [
            ("OrderPlaced", "order-service"),
            ("OrderConfirmed", "billing-service"),
        ]
        assert {(h["broker"], h["source"]) for h in hops} == {("sqs", prefix)}
        assert answer["status"] == "complete"  # OrderConfirmed is a terminal event
        assert CARD not in json.dumps(answer)  # no payload field is kept

        cli = subprocess.run(
            [sys.executable, "-m", "collector.cli", "trace", cid, "--collector", base],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        assert cli.returncode == 0, cli.stderr
        assert "OrderPlaced" in cli.stdout and "OrderConfirmed" in cli.stdout

        sqs = client("sqs", moto)
        attributes = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]

        def depth(url: str) -> int:
            got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=attributes)
            return sum(int(v) for v in got["Attributes"].values())

        wait_until(lambda: depth(urls["tap"]) == 0, 10, "the tap to delete its copies")
        assert depth(urls["billing"]) == 1  # the service's own queue is never read by the tap
        metrics = scrape(f"{base}/metrics")
        read = value(
            metrics,
            "eventscope_trace_events_total",
            broker="sqs",
            cluster_name="aws",
            source=prefix,
        )
        assert read is not None and read >= 2
    finally:
        service.stop()


def test_routing_is_served_with_the_consuming_service_and_without_the_tap(moto, tmp_path):
    prefix = unique("route")
    shop(moto, prefix)
    service = start_collector(tmp_path, collector_yaml(moto, prefix, str(tmp_path / "t.db")))
    base = f"http://127.0.0.1:{service.port}"
    try:

        def routing() -> list[dict[str, Any]] | None:
            clusters = requests.get(f"{base}/api/topology", timeout=5).json()["clusters"]
            return clusters[0]["edges"] if clusters and clusters[0]["edges"] else None

        edges = {
            (e["source"], e["target"], e["relation"]) for e in wait_until(routing, 20, "edges")
        }
        rule = f"rule:{prefix}/to-billing"
        assert edges >= {
            (f"bus:{prefix}", rule, "routes"),
            (rule, f"queue:{prefix}-billing", "delivers"),
            (f"queue:{prefix}-billing", "service:billing-service", "consumed_by"),
            (f"rule:{prefix}/to-audit", f"queue:{prefix}-audit", "delivers"),
        }
        assert not any(f"{prefix}-tap" in s + t for s, t, _ in edges)  # excluded queue
        metrics = scrape(f"{base}/metrics")
        labels = {"broker": "sqs", "cluster_name": "aws", "source": rule,
                  "target": f"queue:{prefix}-billing", "relation": "delivers"}  # fmt: skip
        assert value(metrics, "eventscope_topology_edge", **labels) == 1.0
    finally:
        service.stop()


def test_tap_started_while_aws_is_down_keeps_the_collector_serving(aws_env, tmp_path):
    dead = f"http://127.0.0.1:{free_port()}"
    service = start_collector(tmp_path, collector_yaml(dead, "none", str(tmp_path / "t.db")))
    try:
        up = wait_until(
            lambda: value(scrape(f"http://127.0.0.1:{service.port}/metrics"),
                          "eventscope_collector_up", broker="sqs", cluster_name="aws") is not None,
            20, "the aws cluster polled",
        )  # fmt: skip
        assert up
        resp = requests.get(f"http://127.0.0.1:{service.port}/api/traces/nothing", timeout=5)
        assert resp.status_code == 404
    finally:
        service.stop()

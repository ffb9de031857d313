"""`eventscope demo --only aws` end to end: the order flow on EventBridge + SQS against moto's
server, the collector's `kind: aws` cluster and SQS trace tap, Prometheus scraping it.

`--only aws` is the smallest stack with the AWS parts (no Tansu, no RabbitMQ); `--aws` adds the
same parts beside them (its generated config is checked in tests/unit/test_demo_aws_config.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from demo.pipeline.events import ALL_CONSUMERS
from tests.conftest import DemoStack, run_demo, wait_until

pytestmark = pytest.mark.service
BUS = "shop-events"


@pytest.fixture(scope="module")
def aws_demo() -> Iterator[DemoStack]:
    yield from run_demo("test-demo-aws", ["--only", "aws", "--no-dashboard"], vhost="")


def truth(stack: DemoStack) -> dict[str, Any]:
    status = requests.get(f"{stack.urls['control']}/status?ids=1", timeout=10).json()
    return dict(status["brokers"]["sqs"])


def test_only_the_aws_parts_run(aws_demo: DemoStack):
    assert set(aws_demo.state()["pids"]) == {
        "moto", "aws-pipeline", "collector", "alertmanager", "prometheus",
    }  # fmt: skip
    # --no-dashboard: no Dashboard URL is printed or recorded for a dashboard that is not there
    assert "dashboard" not in aws_demo.urls
    assert "Dashboard" not in (aws_demo.workdir / "demo.out").read_text()
    config = (aws_demo.workdir / "eventscope.yml").read_text()
    assert "kind: aws" in config and "kind: kafka" not in config


def test_prometheus_scrapes_sqs_backlog_and_the_parked_queues(aws_demo: DemoStack):
    def series() -> list[dict] | None:
        rows = aws_demo.prom_query('eventscope_consumer_lag_messages{broker="sqs"}')
        return (
            rows
            if {r["metric"]["group"] for r in rows} >= {f"shop-{s}" for s in ALL_CONSUMERS}
            else None
        )

    wait_until(series, 90, "an SQS lag series per demo queue in Prometheus")
    # the parked queues are not called "dlq": found through the queues' redrive policies
    rows = aws_demo.prom_query('eventscope_dlq_depth_messages{broker="sqs"}')
    assert {(r["metric"]["dlq"], r["metric"]["source"]) for r in rows} == {
        (f"shop-{s}-parked", f"shop-{s}") for s in ALL_CONSUMERS
    }


def test_routing_bus_rule_queue_service_for_every_consumer(aws_demo: DemoStack):
    def edges() -> set[tuple[str, str, str]] | None:
        clusters = requests.get(f"{aws_demo.urls['collector']}/api/topology", timeout=10).json()
        found = {(e["source"], e["target"], e["relation"]) for c in clusters["clusters"]
                 for e in c["edges"]}  # fmt: skip
        return found or None

    found = wait_until(edges, 60, "EventBridge routing from the collector")
    for service in ALL_CONSUMERS:
        rule, queue = f"rule:{BUS}/shop-{service}", f"queue:shop-{service}"
        assert (f"bus:{BUS}", rule, "routes") in found
        assert (rule, queue, "delivers") in found
        assert (queue, f"service:{service}", "consumed_by") in found
        assert (queue, f"queue:shop-{service}-parked", "redrives") in found
    assert not any("eventscope-tap" in s + t for s, t, _ in found)  # the tap is no step

    def in_prometheus() -> bool:
        rows = aws_demo.prom_query('eventscope_topology_edge{relation="consumed_by"}')
        return len(rows) == len(ALL_CONSUMERS)

    wait_until(in_prometheus, 60, "the consumed_by edges in Prometheus")


def test_a_confirmed_order_is_traced_hop_by_hop_through_the_sqs_tap(aws_demo: DemoStack):
    def confirmed() -> str | None:
        ids = truth(aws_demo)["ids"]["terminal"]["confirmed"]
        return ids[0] if ids else None

    order = wait_until(confirmed, 120, "a confirmed order on EventBridge + SQS")
    expected = truth(aws_demo)["ids"]["journeys"][order]
    collector = aws_demo.urls["collector"]

    def journey() -> dict | None:
        resp = requests.get(f"{collector}/api/traces/{order}", timeout=10)
        body = resp.json() if resp.status_code == 200 else None
        return body if body and len(body["hops"]) >= len(expected) else None

    answer = wait_until(journey, 60, f"the journey of {order} in the trace store")
    assert [h["event_type"] for h in answer["hops"]] == expected
    assert {(h["broker"], h["source"]) for h in answer["hops"]} == {("sqs", BUS)}
    assert answer["hops"][0]["service"] == "order-service"
    cli = subprocess.run(
        [sys.executable, "-m", "collector.cli", "trace", order, "--collector", collector],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    assert "OrderConfirmed" in cli.stdout


def test_demo_ctl_turns_the_aws_pipeline_knobs(aws_demo: DemoStack):
    ctl = [sys.executable, "-m", "collector.cli", "demo", "--workdir", str(aws_demo.workdir), "ctl"]
    done = subprocess.run([*ctl, "slow", "ml-training", "300"], capture_output=True, text=True,
                          timeout=30, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    status = subprocess.run([*ctl, "status"], capture_output=True, text=True, timeout=30,
                            check=False)  # fmt: skip
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["knobs"]["slow_ms"] == {"ml-training": 300}

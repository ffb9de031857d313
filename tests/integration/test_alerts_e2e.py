"""Alerts end to end on the demo stack, driven by its fault knobs, with the delivery time measured.

The demo's copy of the rules caps `for:` at 30 s (see `demo.stack.demo_rules`); scrape and
evaluation run every 5 s, the collector polls every 2 s. Each test prints the fault-to-webhook
time (`pytest -s` shows them; docs/alerts.md records measured figures).
"""

from __future__ import annotations

import os
import signal
import time

import pytest
import requests

from demo.client import delivered
from tests.conftest import DemoStack, wait_until

pytestmark = pytest.mark.service


def test_stopped_consumer_fires_then_resolves(demo_stack: DemoStack):
    # stopped before its first commit, the group would never be listed (Tansu lists groups
    # with commits), so wait until it is there and healthy
    wait_until(
        lambda: demo_stack.prom_query(
            'eventscope_consumer_group_status{cluster_name="demo-kafka",'
            'group="payment-service",status="OK"} == 1'
        ),
        180,
        "payment-service OK before the fault",
    )
    started = time.time()
    demo_stack.ctl("stop", service="payment-service")
    try:
        alerts = wait_until(
            lambda: delivered(
                demo_stack.notifications(), "ConsumerGroupStopped", "firing", started,
                cluster_name="demo-kafka", group="payment-service",
            ),
            180,
            "ConsumerGroupStopped for payment-service at the webhook",
        )  # fmt: skip
        print(f"\nconsumer stopped -> notification: {time.time() - started:.0f} s")
        assert alerts[0]["labels"]["severity"] in {"warning", "critical"}
    finally:
        restarted = time.time()
        demo_stack.ctl("start", service="payment-service")
    wait_until(
        lambda: delivered(
            demo_stack.notifications(), "ConsumerGroupStopped", "resolved", restarted,
            cluster_name="demo-kafka", group="payment-service",
        ),
        180,
        "the resolved notification after restarting payment-service",
    )  # fmt: skip
    print(f"consumer restarted -> resolved: {time.time() - restarted:.0f} s")


def firing_in_prometheus(stack: DemoStack, alertname: str) -> list[dict]:
    query = f'ALERTS{{alertname="{alertname}", alertstate="firing"}}'
    return [r["metric"] for r in stack.prom_query(query)]


def test_poison_burst_fires_dlq_growing(demo_stack: DemoStack):
    # the demo's default 2 % poison may already have fired it: then the burst keeps it firing,
    # and either way it must be firing in Prometheus and have reached the webhook
    already = firing_in_prometheus(demo_stack, "DeadLetterQueueGrowing")
    started = time.time()
    demo_stack.ctl("poison", rate=1.0)
    demo_stack.ctl("burst", orders=30)
    try:
        firing = wait_until(
            lambda: firing_in_prometheus(demo_stack, "DeadLetterQueueGrowing"),
            180,
            "DeadLetterQueueGrowing firing in Prometheus",
        )
        if not already:
            print(f"\npoison burst -> firing: {time.time() - started:.0f} s")
        assert {a["source"] for a in firing} - {""}, "the DLQ's source is labelled"
        notified = wait_until(
            lambda: delivered(demo_stack.notifications(), "DeadLetterQueueGrowing", "firing", 0),
            120,
            "DeadLetterQueueGrowing at the webhook",
        )
        assert {a["labels"]["dlq"] for a in notified} & {a["dlq"] for a in firing}
    finally:
        demo_stack.ctl("poison", rate=0.02)


def test_paused_broker_fires_unreachable_and_inhibits_lag_alerts(demo_stack: DemoStack):
    # the slow group's lag alert is firing on the Kafka cluster before the fault
    wait_until(
        lambda: delivered(
            demo_stack.notifications(), "ConsumerLagHigh", "firing", 0, cluster_name="demo-kafka"
        ),
        180,
        "ConsumerLagHigh on demo-kafka before the fault",
    )
    pid = int(demo_stack.state()["pids"]["kafka"])
    started = time.time()
    os.kill(pid, signal.SIGSTOP)  # requests hang rather than fail: the harder case
    try:
        wait_until(
            lambda: delivered(
                demo_stack.notifications(), "EventscopeBrokerUnreachable", "firing", started,
                cluster_name="demo-kafka",
            ),
            180,
            "EventscopeBrokerUnreachable for demo-kafka at the webhook",
        )  # fmt: skip
        print(f"\nbroker paused -> notification: {time.time() - started:.0f} s")
        am = demo_stack.urls["alertmanager"]
        lag = [
            a
            for a in requests.get(f"{am}/api/v2/alerts", timeout=10).json()
            if a["labels"]["alertname"] == "ConsumerLagHigh"
            and a["labels"].get("cluster_name") == "demo-kafka"
        ]
        assert lag, "the lag alert is still active in Alertmanager"
        assert all(a["status"]["inhibitedBy"] for a in lag), lag
        assert not delivered(
            demo_stack.notifications(),
            "ConsumerLagHigh",
            "firing",
            started,
            cluster_name="demo-kafka",
        )
    finally:
        os.kill(pid, signal.SIGCONT)
    resumed = time.time()
    wait_until(
        lambda: delivered(
            demo_stack.notifications(), "EventscopeBrokerUnreachable", "resolved", resumed,
            cluster_name="demo-kafka",
        ),
        180,
        "the broker alert resolving after the broker resumed",
    )  # fmt: skip
    print(f"broker resumed -> resolved: {time.time() - resumed:.0f} s")

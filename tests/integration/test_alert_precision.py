"""Alert precision on the demo stack: with no fault injected, no alert is pending or firing for
a group that is healthy by construction; an injected slowdown still fires.

The demo's copy of the rules caps `for:` at 30 s, so a noisy rule shows up as pending within a
few evaluations. The steady state is read from Prometheus' own `ALERTS` series over the whole
observed span (`max_over_time`), so no evaluation between two checks is missed. This module runs
before tests/integration/test_alerts_e2e.py (which injects stop and poison) on the same session
stack; its fault is reset before it ends. The steady state takes ~2.5 minutes (the demo's first
minute is warm-up: groups join, the start's backlog drains), the slowdown 1-3 minutes.
"""

from __future__ import annotations

import time

import pytest

from demo.client import delivered
from demo.pipeline.events import HEALTHY_CONSUMERS as HEALTHY
from tests.conftest import DemoStack, wait_until

pytestmark = pytest.mark.service

# healthy by construction (ml-training is slow on purpose; its alerts are true)
HEALTHY_RE = "(.+/)?(" + "|".join(HEALTHY) + ")"  # Kafka groups, and RabbitMQ vhost/queue
SETTLED_SECONDS = 30  # warm-up ends once no healthy group has had an alert for this long
STEADY_SECONDS = 90.0  # 45 polls: noisy rules went pending within 1-3 min before (docs)


def healthy_alerts(stack: DemoStack, span_seconds: float) -> list[dict]:
    alerts = f'ALERTS{{group=~"{HEALTHY_RE}"}}[{int(span_seconds)}s]'
    query = f"max by (alertname, alertstate, cluster_name, group) (max_over_time({alerts}))"
    return [r["metric"] for r in stack.prom_query(query)]


@pytest.mark.timeout(600)  # start + settling + STEADY_SECONDS, on a loaded machine
def test_no_alert_for_healthy_groups_in_steady_state(demo_stack: DemoStack):
    def all_groups_reported():
        rows = demo_stack.prom_query(
            f'count by (broker) (eventscope_consumer_group_status{{group=~"{HEALTHY_RE}"}} == 1)'
        )
        return {r["metric"]["broker"]: float(r["value"][1]) for r in rows} == {
            "kafka": len(HEALTHY),
            "rabbitmq": len(HEALTHY),
        }

    wait_until(all_groups_reported, 180, "a status for every healthy group on both brokers")
    # the pipeline's first minute (groups joining, the backlog of the start) is not steady
    wait_until(
        lambda: not healthy_alerts(demo_stack, SETTLED_SECONDS), 300, "the demo's start to settle"
    )
    time.sleep(STEADY_SECONDS)  # the span observed, not an assertion
    noisy = healthy_alerts(demo_stack, STEADY_SECONDS)
    assert noisy == [], f"alerts pending or firing for healthy groups: {noisy}"
    # the rules did evaluate: the slow-by-construction group alerts in the same span
    assert demo_stack.prom_query('ALERTS{group=~"(.+/)?ml-training"}'), "ml-training alerts"


def test_slowed_consumer_fires_falling_behind(demo_stack: DemoStack):
    group, names = "inventory-service", ("ConsumerGroupFallingBehind", "ConsumerLagHigh")
    started = time.time()
    demo_stack.ctl("slow", service=group, ms=1000)  # ~1 event/s against 5 orders/s
    try:

        def fired():
            return [
                (name, a["received_at"])
                for name in names
                for a in delivered(
                    demo_stack.notifications(), name, "firing", started,
                    cluster_name="demo-kafka", group=group,
                )
            ]  # fmt: skip

        first = min(wait_until(fired, 300, f"{' or '.join(names)} for {group}"), key=lambda x: x[1])
        print(f"\nconsumer slowed -> {first[0]} notification: {first[1] - started:.0f} s")
    finally:
        demo_stack.ctl("slow", service=group, ms=0)
    wait_until(
        lambda: demo_stack.prom_query(
            f'eventscope_consumer_group_status{{cluster_name="demo-kafka",group="{group}",'
            'status="OK"} == 1'
        ),
        300,
        f"{group} OK again after the slowdown",
    )

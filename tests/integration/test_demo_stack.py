"""`eventscope demo` end to end: Prometheus scrapes the collector, alerts reach the webhook."""

from __future__ import annotations

import pytest
import requests

from tests.conftest import DemoStack, wait_until

pytestmark = pytest.mark.service


def test_prometheus_scrapes_lag_from_both_brokers(demo_stack: DemoStack):
    def brokers():
        rows = demo_stack.prom_query("count by (broker) (eventscope_consumer_lag_messages)")
        return {r["metric"]["broker"] for r in rows} >= {"kafka", "rabbitmq"}

    wait_until(brokers, 90, "kafka and rabbitmq lag series in Prometheus")


def test_slow_group_shows_lag_within_a_minute(demo_stack: DemoStack):
    query = 'sum(eventscope_consumer_lag_messages{broker="kafka", group="ml-training"})'

    def lag():
        rows = demo_stack.prom_query(query)
        return rows and float(rows[0]["value"][1]) > 0

    wait_until(lag, 60, "non-zero lag for ml-training in Prometheus")


def test_lag_alert_reaches_the_webhook(demo_stack: DemoStack):
    def delivered():
        return [
            a
            for n in demo_stack.notifications()
            for a in n["alerts"]
            if a["labels"]["alertname"] == "ConsumerLagHigh"
            and a["labels"].get("group") == "ml-training"
            and a["status"] == "firing"
        ]

    alerts = wait_until(delivered, 180, "ConsumerLagHigh for ml-training at the webhook")
    labels = alerts[0]["labels"]
    assert labels["severity"] == "warning"
    assert labels["cluster_name"] in {"demo-kafka", "demo-rabbitmq"}
    assert alerts[0]["annotations"]["runbook_url"].endswith("#consumerlaghigh")


def test_no_correlation_id_reaches_a_metric_label(demo_stack: DemoStack):
    def placed_ids():
        status = requests.get(f"{demo_stack.urls['control']}/status?ids=1", timeout=10).json()
        ids = [i for b in status["brokers"].values() for i in b.get("ids", {}).get("placed", [])]
        return ids if len(ids) >= 20 else None

    ids = wait_until(placed_ids, 60, "orders placed by the demo")
    exposition = requests.get(demo_stack.urls["metrics"], timeout=10).text
    assert "eventscope_" in exposition
    leaked = [i for i in ids if i in exposition]
    assert leaked == []


def test_the_demo_runs_apache_kafka_with_real_members_and_states(demo_stack: DemoStack):
    """On Apache Kafka (not Tansu, which reports no members) every running demo service's group
    is Stable with its one member, as `kafka-consumer-groups --describe` would say."""
    assert demo_stack.state()["kafka_broker"] == "apache"
    labels = 'cluster_name="demo-kafka", group=~"inventory-service|payment-service"'

    def members():
        rows = demo_stack.prom_query(f"eventscope_consumer_group_members{{{labels}}}")
        got = {r["metric"]["group"]: float(r["value"][1]) for r in rows}
        return got if len(got) == 2 else None

    assert wait_until(members, 90, "member counts of two demo groups") == {
        "inventory-service": 1.0,
        "payment-service": 1.0,
    }
    stable = demo_stack.prom_query(f'eventscope_consumer_group_state{{{labels}, state="Stable"}}')
    assert {r["metric"]["group"]: r["value"][1] for r in stable} == {
        "inventory-service": "1",
        "payment-service": "1",
    }

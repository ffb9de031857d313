"""Alertmanager down while an alert fires: the notification arrives once Alertmanager is back.

A small real stack on free ports: a private Tansu, the collector (its webhook is the receiver),
Alertmanager with the demo's routing, and Prometheus with the rule pack (`for:` capped at 5 s, as
the demo caps it at 30 s) and `--rules.alert.resend-delay=2s` (default 1 m: Prometheus re-sends
every firing alert at that interval, which is what carries an alert over an Alertmanager outage).
"""

from __future__ import annotations

import sys
import time

import pytest
import requests

from demo.client import delivered
from demo.services import (
    ManagedProcess,
    free_port,
    start_alertmanager,
    start_prometheus,
    wait_for_http,
)
from demo.stack import REPO, demo_rules, fill
from tests.conftest import scrape, wait_until

pytestmark = pytest.mark.service

CLUSTER = "am-outage"


def prom_query(prometheus: str, query: str) -> list[dict]:
    resp = requests.get(f"{prometheus}/api/v1/query", params={"query": query}, timeout=10)
    resp.raise_for_status()
    return resp.json()["data"]["result"]


def notifications(collector: str) -> list[dict]:
    resp = requests.get(f"{collector}/api/alerts/notifications", timeout=10)
    resp.raise_for_status()
    return resp.json()["notifications"]


def test_alert_fired_while_alertmanager_is_down_arrives_after_it_returns(kafka_factory, tmp_path):
    broker = kafka_factory()
    bootstrap = broker.bootstrap
    ports = {name: free_port() for name in ("collector", "alertmanager", "prometheus")}
    collector = f"http://127.0.0.1:{ports['collector']}"
    prometheus = f"http://127.0.0.1:{ports['prometheus']}"
    config = tmp_path / "eventscope.yml"
    config.write_text(
        f"poll_interval_seconds: 1\nlisten: 127.0.0.1:{ports['collector']}\nclusters:\n"
        f"  - name: {CLUSTER}\n    kind: kafka\n    bootstrap_servers: {bootstrap}\n"
        "    request_timeout_seconds: 2\n"
    )
    started: list[ManagedProcess] = []
    try:
        started.append(
            ManagedProcess(
                "collector",
                [sys.executable, "-m", "collector.cli", "collect", "--config", str(config)],
                tmp_path / "collector.log",
            ).start()
        )
        wait_for_http(f"{collector}/healthz", 60)
        am_config = fill(
            REPO / "deploy" / "alertmanager" / "alertmanager.demo.yml",
            tmp_path / "alertmanager.yml",
            {"__WEBHOOK_URL__": f"{collector}/api/alerts/webhook"},
        )
        alertmanager = start_alertmanager(am_config, ports["alertmanager"], tmp_path)
        started.append(alertmanager)
        prom_config = fill(
            REPO / "deploy" / "prometheus" / "prometheus.demo.yml",
            tmp_path / "prometheus.yml",
            {
                "__COLLECTOR_TARGET__": f"127.0.0.1:{ports['collector']}",
                "__ALERTMANAGER_TARGET__": f"127.0.0.1:{ports['alertmanager']}",
                "__RULES_GLOB__": demo_rules(tmp_path, cap_seconds=5),
            },
        )
        started.append(
            start_prometheus(
                prom_config,
                ports["prometheus"],
                tmp_path,
                extra_args=["--rules.alert.resend-delay=2s"],
            )
        )
        wait_until(
            lambda: prom_query(
                prometheus, f'eventscope_collector_up{{cluster_name="{CLUSTER}"}} == 1'
            ),
            120,
            "Prometheus to scrape the collector with the broker up",
        )

        alertmanager.stop()  # Alertmanager goes down first ...
        broker.stop()  # ... then the broker it should have told us about
        wait_until(
            lambda: prom_query(
                prometheus,
                f'ALERTS{{alertname="EventscopeBrokerUnreachable", cluster_name="{CLUSTER}",'
                ' alertstate="firing"}',
            ),
            180,
            "EventscopeBrokerUnreachable firing in Prometheus while Alertmanager is down",
        )
        errors = wait_until(
            lambda: sum(
                v
                for (name, _), v in scrape(f"{prometheus}/metrics").items()
                if name == "prometheus_notifications_errors_total"
            ),
            60,
            "Prometheus to report that it could not send the alert",
        )
        assert errors > 0
        assert not delivered(notifications(collector), "EventscopeBrokerUnreachable", "firing", 0)

        back = time.time()
        started.append(start_alertmanager(am_config, ports["alertmanager"], tmp_path))
        alerts = wait_until(
            lambda: delivered(
                notifications(collector), "EventscopeBrokerUnreachable", "firing", back,
                cluster_name=CLUSTER,
            ),
            180,
            "the notification at the webhook after Alertmanager came back",
        )  # fmt: skip
        print(f"\nAlertmanager back -> notification: {alerts[0]['received_at'] - back:.1f} s")
        assert alerts[0]["labels"]["broker"] == "kafka"
        assert alerts[0]["annotations"]["runbook_url"]
    finally:
        for proc in reversed(started):
            proc.stop()

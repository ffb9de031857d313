"""Partial failures are not health, on Apache Kafka with a SASL/PLAIN listener and ACLs.

The collector logs in as `collector` (password from an env var through `${…}` in `client:`),
which may describe group A but not group B. Group B is named in config (ListGroups hides groups
the principal may not Describe), so it is reported ERR with the broker's reason while group A
keeps reporting exact lag; a second cluster entry with a wrong password fails cluster-wide
(collector_up=0, auth_failed=1) and the collector keeps serving /metrics.

The ACLs granted here are the minimal set docs/production.md lists for a monitoring principal.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import requests
from confluent_kafka.admin import (
    AclBinding,
    AclOperation,
    AclPermissionType,
    ResourcePatternType,
    ResourceType,
)
from prometheus_client.parser import text_string_to_metric_families

from collector.config import load_config
from collector.service import CollectorService
from demo.services import free_port
from tests.conftest import wait_until
from tests.kafka_world import admin, commit, create_topic, produce

pytestmark = pytest.mark.service

PASSWORD = "collector-secret"
WRONG = "wrong-Pa55word-never-logged"


def allow(kind: ResourceType, name: str, op: AclOperation) -> AclBinding:
    return AclBinding(
        kind, name, ResourcePatternType.LITERAL, "User:collector", "*", op, AclPermissionType.ALLOW
    )


def monitoring_acls(topics: list[str], groups: list[str]) -> list[AclBinding]:
    """What a monitoring principal needs: Describe (metadata, ListOffsets, OffsetFetch),
    DescribeConfigs (retention.ms) and Read (the record timestamps behind exact lag seconds) on
    topics; Describe on groups. Nothing on the cluster: ListGroups then lists only the groups
    the principal may Describe."""
    topic_ops = (AclOperation.DESCRIBE, AclOperation.DESCRIBE_CONFIGS, AclOperation.READ)
    return [allow(ResourceType.TOPIC, t, op) for t in topics for op in topic_ops] + [
        allow(ResourceType.GROUP, g, AclOperation.DESCRIBE) for g in groups
    ]


def sasl_client(password_var: str) -> str:
    return (
        "    client:\n"
        "      security.protocol: SASL_PLAINTEXT\n"
        "      sasl.mechanism: PLAIN\n"
        "      sasl.username: collector\n"
        f"      sasl.password: ${{{password_var}}}\n"
    )


@pytest.fixture
def world(kafka_factory, tmp_path: Path, monkeypatch):
    node = kafka_factory(sasl=True, sasl_users={"admin": "admin-secret", "collector": PASSWORD})
    plain = node.bootstrap  # PLAINTEXT = ANONYMOUS = super user: sets the world up
    create_topic(plain, "orders", 2)
    create_topic(plain, "payments", 1)
    produce(plain, "orders", [5, 7])
    produce(plain, "payments", [9])
    commit(plain, "group-a", "orders", {0: 2, 1: 3})  # lag 3 + 4
    commit(plain, "group-b", "payments", {0: 4})
    client = admin(plain)
    for fut in client.create_acls(monitoring_acls(["orders", "payments"], ["group-a"])).values():
        fut.result(10)
    monkeypatch.setenv("EVENTSCOPE_TEST_SASL_PASSWORD", PASSWORD)
    monkeypatch.setenv("EVENTSCOPE_TEST_SASL_WRONG", WRONG)
    cfg = tmp_path / "c.yml"
    cfg.write_text(
        "poll_interval_seconds: 1\n"
        # frozen commits with lag would read STOP after the window; that is Burrow's business
        # (test_kafka_health.py), here OK vs. ERR is: the window never fills
        "status_window: {commits: 1000, min_commits: 1000}\n"
        "clusters:\n"
        f"  - name: acl\n    kind: kafka\n    bootstrap_servers: {node.sasl_bootstrap}\n"
        "    request_timeout_seconds: 5\n    groups: [group-b]\n"
        + sasl_client("EVENTSCOPE_TEST_SASL_PASSWORD")
        + f"  - name: badpw\n    kind: kafka\n    bootstrap_servers: {node.sasl_bootstrap}\n"
        "    request_timeout_seconds: 3\n" + sasl_client("EVENTSCOPE_TEST_SASL_WRONG")
    )
    service = CollectorService(load_config(cfg), f"127.0.0.1:{free_port()}")
    service.start()
    yield f"http://127.0.0.1:{service.port}"
    service.stop()


def samples(base: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = requests.get(f"{base}/metrics", timeout=5).text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }


def value(got: dict, name: str, **labels: str) -> float | None:
    return got.get((f"eventscope_{name}", frozenset(labels.items())))


def groups(base: str) -> dict[tuple[str, str], dict]:
    rows = requests.get(f"{base}/api/groups", timeout=5).json()["groups"]
    return {(g["cluster_name"], g["group"]): g for g in rows}


def test_denied_group_is_err_the_allowed_one_reports_and_secrets_stay_secret(world, caplog):
    caplog.set_level(logging.DEBUG)  # everything the collector and librdkafka log
    acl = {"broker": "kafka", "cluster_name": "acl"}

    def both_reported():
        g = groups(world)
        return ("acl", "group-a") in g and ("acl", "group-b") in g and g

    g = wait_until(both_reported, 60, "both groups in /api/groups")
    a, b = g[("acl", "group-a")], g[("acl", "group-b")]
    assert (a["status"], a["state"]) == ("OK", "Empty")
    assert (b["status"], b["reason"]) == ("ERR", "OffsetFetch denied: GROUP_AUTHORIZATION_FAILED")
    assert b["state"] == "Unknown"  # DescribeGroups is denied too: the state is not known

    exact = {"group": "group-a", "topic": "orders", "partition": "1", "method": "exact"}

    def settled():
        s = samples(world)
        seconds = value(s, "consumer_lag_seconds", **acl, **exact)  # Read on topics allows it
        up, down = value(s, "collector_up", **acl), value(s, "collector_up", **bad)
        return up == 1 and down == 0 and seconds is not None and s

    bad = {"broker": "kafka", "cluster_name": "badpw"}
    got = wait_until(settled, 60, "group-a's exact lag, acl up and badpw down in /metrics")
    lag_a = {
        dict(labels)["partition"]: v
        for (name, labels), v in got.items()
        if name == "eventscope_consumer_lag_messages" and dict(labels)["group"] == "group-a"
    }
    assert lag_a == {"0": 3.0, "1": 4.0}  # end − committed, exactly
    assert not any(
        name.startswith("eventscope_consumer_lag") and dict(labels).get("group") == "group-b"
        for name, labels in got
    )  # no invented lag for the group nobody could read
    assert value(got, "consumer_group_status", **acl, group="group-b", status="ERR") == 1
    assert value(got, "consumer_group_status", **acl, group="group-b", status="OK") == 0
    assert value(got, "collector_auth_failed", **acl) == 0
    week = 7 * 24 * 3600.0  # Kafka's default retention.ms, read with DescribeConfigs
    assert value(got, "topic_retention_seconds", **acl, topic="orders") == week

    # the wrong password fails its cluster as a whole, and /metrics keeps answering
    assert value(got, "collector_auth_failed", **bad) == 1
    clusters = requests.get(f"{world}/api/clusters", timeout=5).json()
    assert "Invalid username or password" in str(clusters)

    for secret in (PASSWORD, WRONG):
        assert secret not in caplog.text
        assert secret not in requests.get(f"{world}/metrics", timeout=5).text
        assert secret not in str(clusters)

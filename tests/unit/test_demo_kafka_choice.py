"""Which Kafka the demo runs, and the Apache Kafka node's server.properties (pure parts)."""

from __future__ import annotations

from pathlib import Path

import pytest

from demo import stack
from demo.kafka_node import server_properties
from demo.services import ServiceError


def test_auto_prefers_apache_kafka_and_says_why_it_falls_back(monkeypatch):
    monkeypatch.setattr(stack, "kafka_available", lambda: None)
    assert stack.choose_kafka_broker("auto")[0] == "apache"
    monkeypatch.setattr(stack, "kafka_available", lambda: "no `java` on PATH")
    broker, why = stack.choose_kafka_broker("auto")
    assert broker == "tansu" and "no `java` on PATH" in why
    assert stack.choose_kafka_broker("tansu")[0] == "tansu"
    with pytest.raises(ServiceError, match="no `java` on PATH"):
        stack.choose_kafka_broker("apache")


def test_single_node_properties_bind_loopback_and_replicate_internal_topics_once():
    props = server_properties(Path("/d"), 9092, 9093)
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:9092"
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["transaction.state.log.min.isr"] == "1"
    assert props["log.dirs"] == "/d/data"
    assert "authorizer.class.name" not in props


def test_sasl_listener_enforces_acls_and_advertises_the_proxy_port():
    props = server_properties(
        Path("/d"), 1, 2, advertised_port=3, sasl_port=4,
        sasl_users={"admin": "a", "collector": "c"}, overrides={"num.partitions": "4"},
    )  # fmt: skip
    assert props["advertised.listeners"] == ("PLAINTEXT://127.0.0.1:3,SASL_PLAINTEXT://127.0.0.1:4")
    assert 'user_collector="c"' in props["listener.name.sasl_plaintext.plain.sasl.jaas.config"]
    assert props["authorizer.class.name"].endswith("StandardAuthorizer")
    assert props["num.partitions"] == "4"

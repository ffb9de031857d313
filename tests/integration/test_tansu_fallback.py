"""Tansu, the demo's no-Java fallback (`eventscope demo --kafka-broker tansu`), still works: the
collector reads its lag, and the pipeline's Tansu settings are the ones its quirks need.

Everything else Kafka runs on Apache Kafka; this file keeps the fallback honest."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import Producer

from collector.brokers.kafka import KafkaAdapter
from collector.config import KafkaCluster
from collector.model import TopicPartition
from demo.pipeline.config import KafkaSettings
from tests.kafka_world import commit, create_topic, unique

pytestmark = pytest.mark.service


def test_collector_reads_exact_lag_from_tansu_with_one_record_per_batch(tansu):
    topic, group = unique("fallback"), unique("fallback-g")
    create_topic(tansu, topic, 2)
    # Tansu's ListOffsets is right only for one record per batch: what the demo sends there
    settings = KafkaSettings(bootstrap=tansu).for_tansu()
    assert settings.one_record_per_batch and settings.session_timeout_ms < 6000
    producer = Producer({"bootstrap.servers": tansu, "batch.num.messages": 1, "linger.ms": 0})
    for partition, n in ((0, 7), (1, 4)):
        for _ in range(n):
            producer.produce(topic, b"x", partition=partition)
    assert producer.flush(10) == 0
    commit(tansu, group, topic, {0: 2, 1: 4})
    adapter = KafkaAdapter(
        KafkaCluster(name="tansu", bootstrap_servers=tansu, include_groups=(group,))
    )
    try:
        snap = adapter.snapshot(time.time())
    finally:
        adapter.close()
    (sample,) = snap.groups
    committed = sample.committed
    end = snap.end_offsets
    lag = {tp.partition: end[tp] - committed[tp] for tp in committed}
    assert lag == {0: 5, 1: 0}
    assert end[TopicPartition(topic, 0)] == 7

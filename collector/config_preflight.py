"""Config checks only a library can answer, run by `load_config` for check-config and collect.

- librdkafka properties: the Kafka clients the collector will build (the adapter's AdminClient,
  the lag-seconds probe, the trace tap's consumer) are built here with the same properties minus
  `bootstrap.servers`, then dropped. librdkafka checks every property name, value, range and
  combination at construction and, with no broker to contact, opens no connection. Its error
  names a property; the error names the config key that set it (`clusters[0].client.<prop>`).
- AWS profiles: a named `profile` must exist in the shared AWS config of this machine.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from collector.config import AwsCluster, Config, KafkaCluster
from collector.errors import ConfigError

# librdkafka writes its warnings (e.g. "no bootstrap.servers") through this, not to stderr
_quiet = logging.getLogger("eventscope.librdkafka.preflight")
_quiet.addHandler(logging.NullHandler())
_quiet.propagate = False

_PROPERTY = re.compile(r'[`"]([a-z][a-z0-9._]*)[`"]')

# librdkafka properties set from eventscope keys, relative to the cluster or the tracing section
_ADAPTER_KEYS = {
    "bootstrap.servers": "bootstrap_servers",
    "socket.timeout.ms": "request_timeout_seconds",
    "fetch.max.bytes": "lag_seconds.fetch_max_bytes",
    "max.partition.fetch.bytes": "lag_seconds.fetch_max_bytes",
    "fetch.wait.max.ms": "lag_seconds.fetch_wait_max_ms",
}
_TAP_KEYS = {
    "group.id": "group_id",
    "client.id": "group_id",
    "session.timeout.ms": "session_timeout_ms",
    "heartbeat.interval.ms": "heartbeat_interval_ms",
}


def check_with_libraries(config: Config) -> None:
    for i, cluster in enumerate(config.clusters):
        if isinstance(cluster, KafkaCluster):
            check_kafka_cluster(cluster, f"clusters[{i}]")
        if isinstance(cluster, AwsCluster) and cluster.profile:
            check_aws_profile(cluster, f"clusters[{i}].profile")
    tap = config.tracing.kafka
    if config.tracing.enabled and tap.cluster:
        from collector.tracing.kafka_tap import consumer_settings

        i, cluster = next((i, c) for i, c in enumerate(config.clusters) if c.name == tap.cluster)
        assert isinstance(cluster, KafkaCluster)  # validate_tracing checked the kind
        keys = {
            **{prop: f"clusters[{i}].client.{prop}" for prop in cluster.client},
            **{prop: f"tracing.kafka.{key}" for prop, key in _TAP_KEYS.items()},
            **{prop: f"tracing.kafka.client.{prop}" for prop in tap.client},
        }
        check_librdkafka(
            "consumer", consumer_settings(config.tracing, cluster), keys, "tracing.kafka.client"
        )


def check_kafka_cluster(cluster: KafkaCluster, key: str) -> None:
    from collector.brokers.kafka import admin_settings, probe_settings

    keys = {
        **{prop: f"{key}.{name}" for prop, name in _ADAPTER_KEYS.items()},
        **{prop: f"{key}.client.{prop}" for prop in cluster.client},
    }
    check_librdkafka("admin", admin_settings(cluster), keys, f"{key}.client")
    check_librdkafka("consumer", probe_settings(cluster), keys, f"{key}.client")


def check_librdkafka(
    kind: str, settings: Mapping[str, Any], keys: Mapping[str, str], fallback: str
) -> None:
    """Build (and drop) a librdkafka client from `settings` without brokers; its refusal is a
    ConfigError at the key that set the property it names (`keys`), else at `fallback`."""
    from confluent_kafka import Consumer, KafkaException
    from confluent_kafka.admin import AdminClient

    conf = {k: v for k, v in settings.items() if k != "bootstrap.servers"}
    try:
        if kind == "admin":
            AdminClient(conf, logger=_quiet)
        else:
            Consumer(conf, logger=_quiet).close()
    except (KafkaException, ValueError, TypeError) as exc:
        reason = exc.args[0].str() if isinstance(exc, KafkaException) else str(exc)
        reason = " ".join(reason.split())  # librdkafka ends some messages with a newline
        named = [keys[p] for p in _PROPERTY.findall(reason) if p in keys]
        raise ConfigError(named[0] if named else fallback, f"librdkafka: {reason}") from exc


def check_aws_profile(cluster: AwsCluster, key: str) -> None:
    import boto3
    from botocore.exceptions import BotoCoreError

    try:
        boto3.session.Session(profile_name=cluster.profile, region_name=cluster.region)
    except BotoCoreError as exc:  # ProfileNotFound
        raise ConfigError(key, str(exc)) from exc

"""Broker adapters: one module per broker, behind the small `BrokerAdapter` protocol.

Adding a broker = one adapter module, one entry in `ADAPTERS` (and its config class in
`collector.config.CLUSTER_KINDS`), one integration test.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from collector.brokers.base import BrokerAdapter


def _kafka(config: Any) -> BrokerAdapter:
    from collector.brokers.kafka import KafkaAdapter

    return KafkaAdapter(config)


def _rabbitmq(config: Any) -> BrokerAdapter:
    from collector.brokers.rabbitmq import RabbitMQAdapter

    return RabbitMQAdapter(config)


ADAPTERS: dict[str, Callable[[Any], BrokerAdapter]] = {"kafka": _kafka, "rabbitmq": _rabbitmq}


def adapter_for(cluster: Any) -> BrokerAdapter:
    return ADAPTERS[cluster.kind](cluster)

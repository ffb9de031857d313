"""Broker adapters: one module per broker, behind the small `BrokerAdapter` protocol.

Adding a broker = one adapter module, one entry in `ADAPTERS` (and its config class in
`collector.config.CLUSTER_KINDS`), one integration test.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from collector.brokers.base import BrokerAdapter
from collector.sharding import ShardFilter

Factory = Callable[[Any, Sequence[str], ShardFilter, float | None], BrokerAdapter]


def _kafka(
    config: Any, dlq_patterns: Sequence[str], shard: ShardFilter, poll_seconds: float | None
) -> BrokerAdapter:
    from collector.brokers.kafka import KafkaAdapter

    return KafkaAdapter(config, dlq_patterns=dlq_patterns, shard=shard, poll_seconds=poll_seconds)


def _rabbitmq(
    config: Any, dlq_patterns: Sequence[str], shard: ShardFilter, poll_seconds: float | None
) -> BrokerAdapter:
    from collector.brokers.rabbitmq import RabbitMQAdapter

    return RabbitMQAdapter(config, dlq_patterns=tuple(dlq_patterns))


def _aws(
    config: Any, dlq_patterns: Sequence[str], shard: ShardFilter, poll_seconds: float | None
) -> BrokerAdapter:
    from collector.brokers.sqs import SqsAdapter

    return SqsAdapter(config)


ADAPTERS: dict[str, Factory] = {
    "kafka": _kafka,
    "rabbitmq": _rabbitmq,
    "aws": _aws,
}


def adapter_for(
    cluster: Any,
    dlq_patterns: Sequence[str] = (),
    shard: ShardFilter | None = None,
    poll_seconds: float | None = None,
) -> BrokerAdapter:
    """The adapter for `cluster`; `poll_seconds` is the poll interval its optional work (Kafka's
    lag-seconds probe) must fit in."""
    return ADAPTERS[cluster.kind](cluster, dlq_patterns, shard or ShardFilter(), poll_seconds)

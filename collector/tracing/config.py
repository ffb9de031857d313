"""The `tracing` section of the collector's config (see docs/tracing.md for every key).

Frozen dataclasses read by `collector.config`'s loader, which checks keys and types; the rules
the types cannot say live in `validate_tracing`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from collector.config_bounds import bounded
from collector.errors import ConfigError

DEFAULT_ID_HEADERS = ("correlation_id", "correlation-id", "x-correlation-id")
DEFAULT_TERMINAL_EVENTS = ("OrderConfirmed",)
DEFAULT_COMPENSATION_EVENTS = ("InventoryReleased", "OrderCancelled")


@dataclass(frozen=True)
class KafkaTapConfig:
    """The Kafka tap: a consumer group of its own on `topics` (fnmatch patterns, DLQs included)."""

    cluster: str = ""  # name of a kafka cluster in `clusters`; "" = no Kafka tap
    group_id: str = "eventscope-tap"
    topics: tuple[str, ...] = ("*",)
    exclude_topics: tuple[str, ...] = ("__*", "_schemas")
    client: Mapping[str, str] = field(default_factory=dict)  # librdkafka overrides
    # librdkafka's ranges
    session_timeout_ms: int = bounded(45000, 1, 3_600_000)  # Kafka's default; Tansu wants 2000
    heartbeat_interval_ms: int = bounded(3000, 1, 3_600_000)
    batch_size: int = bounded(500, 1, 100_000)
    poll_timeout_seconds: float = bounded(0.5, 0, 60, lo_open=True)
    topic_refresh_seconds: float = bounded(30.0, 0, 86_400, lo_open=True)
    # "process": read and parse in a child process, store in the collector (two cores; see
    # kafka_reader.py); "thread": both in the collector's process (one GIL, ~45 MiB less)
    reader: Literal["process", "thread"] = "process"


@dataclass(frozen=True)
class RabbitTapConfig:
    """The RabbitMQ tap: the firehose (`amq.rabbitmq.trace`) or a tap queue on `exchanges`."""

    cluster: str = ""  # name of a rabbitmq cluster in `clusters`; "" = no RabbitMQ tap
    url: str = "amqp://guest:guest@127.0.0.1:5672/%2F"
    mode: Literal["firehose", "tap_queue"] = "firehose"
    # tap_queue mode binds these with "#"; firehose mode binds them too when listed, because
    # dead-lettering republishes inside the broker and never passes through the firehose
    exchanges: tuple[str, ...] = ()
    queue: str = "eventscope.tap"
    # the tap queue drops its oldest beyond this
    queue_max_length: int = bounded(1_000_000, 1, 1_000_000_000)
    prefetch: int = bounded(1000, 1, 65_535)  # AMQP's prefetch-count is 16 bits
    batch_size: int = bounded(500, 1, 100_000)


@dataclass(frozen=True)
class SqsTapConfig:
    """The SQS tap: a tap queue that the traced EventBridge rules deliver a copy to (an SQS
    receive hides a message from its consumer, so the real queues are never read; docs/aws.md)."""

    cluster: str = ""  # name of an aws cluster in `clusters`; "" = no SQS tap
    queue: str = ""  # the tap queue: its URL, or its name (looked up with GetQueueUrl)
    source: str = ""  # what hops say they were read from (e.g. the bus); "" = the queue's name
    wait_seconds: int = bounded(1, 0, 20)  # ReceiveMessage long poll, 0..20 (SQS long-poll limit)


@dataclass(frozen=True)
class TracingConfig:
    enabled: bool = False
    store_path: str = ".eventscope/traces.db"
    retention_hours: float = bounded(72.0, 0, 87_600, lo_open=True)
    # the store prunes the oldest hops beyond this
    max_hops: int = bounded(5_000_000, 1, 10_000_000_000)
    prune_interval_seconds: float = bounded(60.0, 0, 86_400, lo_open=True)
    max_hops_per_journey: int = bounded(1000, 1, 1_000_000)
    id_headers: tuple[str, ...] = DEFAULT_ID_HEADERS
    event_type_headers: tuple[str, ...] = ("event_type", "event-type", "ce_type")
    service_headers: tuple[str, ...] = ("source", "service")
    topic_services: Mapping[str, str] = field(default_factory=dict)  # topic/queue → producer
    group_services: Mapping[str, str] = field(default_factory=dict)  # group/queue → service
    payload_fields: tuple[str, ...] = ()  # JSON fields of the payload kept; empty = none
    max_header_bytes: int = bounded(8192, 1, 1_048_576)
    terminal_event_types: tuple[str, ...] = DEFAULT_TERMINAL_EVENTS
    compensation_event_types: tuple[str, ...] = DEFAULT_COMPENSATION_EVENTS
    slow_seconds: float = bounded(30.0, 0, 31_536_000, lo_open=True)
    # a consumption is judged for the service graph this long after it was seen (consumer_edges)
    consumer_edge_delay_seconds: float = bounded(30.0, 0, 86_400)
    otlp_endpoint: str = ""  # e.g. http://127.0.0.1:4318/v1/traces; "" = no export
    otlp_service_name: str = "eventscope"
    kafka: KafkaTapConfig = KafkaTapConfig()
    rabbitmq: RabbitTapConfig = RabbitTapConfig()
    sqs: SqsTapConfig = SqsTapConfig()


def validate_tracing(
    tracing: TracingConfig,
    kafka_clusters: set[str],
    rabbit: set[str],
    aws: frozenset[str] | set[str] = frozenset(),
) -> None:
    """Cross-field rules (ranges are declared on the fields): tap clusters exist, URLs."""
    path = tracing.store_path
    if not path or "\0" in path or any(len(p.encode()) > 255 for p in path.split("/")):
        raise ConfigError("tracing.store_path", "must be a file path (no NUL, names of 255 bytes)")
    if not tracing.id_headers:
        raise ConfigError("tracing.id_headers", "name at least one header")
    if tracing.kafka.cluster and tracing.kafka.cluster not in kafka_clusters:
        raise ConfigError("tracing.kafka.cluster", f"no kafka cluster {tracing.kafka.cluster!r}")
    if tracing.rabbitmq.cluster and tracing.rabbitmq.cluster not in rabbit:
        raise ConfigError(
            "tracing.rabbitmq.cluster", f"no rabbitmq cluster {tracing.rabbitmq.cluster!r}"
        )
    if tracing.sqs.cluster and tracing.sqs.cluster not in aws:
        raise ConfigError("tracing.sqs.cluster", f"no aws cluster {tracing.sqs.cluster!r}")
    if tracing.sqs.cluster and not tracing.sqs.queue:
        raise ConfigError("tracing.sqs.queue", "name the tap queue (its name or URL)")
    if tracing.rabbitmq.cluster and not tracing.rabbitmq.url.startswith(("amqp://", "amqps://")):
        raise ConfigError("tracing.rabbitmq.url", "must be an amqp:// or amqps:// URL")
    if tracing.otlp_endpoint and not tracing.otlp_endpoint.startswith(("http://", "https://")):
        raise ConfigError("tracing.otlp_endpoint", "must be an http(s):// URL or empty")

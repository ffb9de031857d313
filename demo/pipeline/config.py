"""Settings of the demo pipeline, validated before anything connects."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from urllib.parse import urlparse

from demo.pipeline.flow import FlowRates, RetryPolicy

BROKERS = ("kafka", "rabbitmq")


class PipelineConfigError(ValueError):
    """A setting is missing or out of range; the message names it."""


@dataclass(frozen=True)
class KafkaSettings:
    bootstrap: str = ""  # host:port; "" = do not run on Kafka
    partitions: int = 3
    # Apache Kafka's smallest accepted session (group.min.session.timeout.ms): a stopped consumer
    # leaves at once, a hung one is noticed within 6 s. Tansu joins a group in ~session / 2, so
    # `for_tansu()` shortens it there.
    session_timeout_ms: int = 6000
    heartbeat_interval_ms: int = 2000
    # Tansu's ListOffsets reports the last batch's base offset + 1 (ENVIRONMENT.md): on Tansu the
    # producers send one record per batch; on Apache Kafka they batch as real producers do
    one_record_per_batch: bool = False
    extra: tuple[tuple[str, str], ...] = ()  # passed through to librdkafka (TLS, SASL, ...)

    def for_tansu(self) -> KafkaSettings:
        """The same settings with Tansu's workarounds: short sessions, one record per batch."""
        return replace(
            self, session_timeout_ms=2000, heartbeat_interval_ms=500, one_record_per_batch=True
        )


@dataclass(frozen=True)
class RabbitSettings:
    url: str = ""  # amqp://user:pass@host:port/vhost; "" = do not run on RabbitMQ
    prefix: str = ""  # prepended to every exchange and queue name, to share a vhost
    prefetch: int = 20


@dataclass(frozen=True)
class PipelineConfig:
    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    rabbitmq: RabbitSettings = field(default_factory=RabbitSettings)
    control: str = "127.0.0.1:0"  # host:port of the control endpoint; port 0 = any free port
    otlp_endpoint: str = ""  # OTLP/HTTP traces URL; "" = spans only live in the headers
    order_rate: float = 5.0  # orders per second, per broker
    interaction_rate: float = 20.0  # user-interaction events per second, per broker
    orders: int | None = None  # stop placing orders after this many per broker (None = forever)
    poison_rate: float = 0.02
    seed: int | None = None
    rates: FlowRates = field(default_factory=FlowRates)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    ml_training_delay_ms: int = 60  # ml-training's own pace: slower than interactions arrive
    batch_period_s: float = 20.0  # batch-analytics sleeps, then drains its backlog in one go
    batch_awake_s: float = 4.0

    def brokers(self) -> tuple[str, ...]:
        wanted = (self.kafka.bootstrap, self.rabbitmq.url)
        return tuple(b for b, on in zip(BROKERS, wanted, strict=True) if on)

    def validate(self) -> PipelineConfig:
        if not self.brokers():
            raise PipelineConfigError("kafka.bootstrap / rabbitmq.url: give at least one broker")
        if self.rabbitmq.url and urlparse(self.rabbitmq.url).scheme not in ("amqp", "amqps"):
            raise PipelineConfigError(f"rabbitmq.url: not an amqp:// URL: {self.rabbitmq.url!r}")
        for name, value in (("order_rate", self.order_rate),
                            ("interaction_rate", self.interaction_rate)):  # fmt: skip
            if value < 0:
                raise PipelineConfigError(f"{name}: must be >= 0, got {value}")
        for name, share in (("poison_rate", self.poison_rate),
                            ("rates.shortage", self.rates.shortage),
                            ("rates.payment_failure", self.rates.payment_failure),
                            ("rates.transient", self.rates.transient)):  # fmt: skip
            if not 0 <= share <= 1:
                raise PipelineConfigError(f"{name}: must be within 0..1, got {share}")
        if self.orders is not None and self.orders < 0:
            raise PipelineConfigError(f"orders: must be >= 0, got {self.orders}")
        if self.kafka.partitions < 1:
            raise PipelineConfigError("kafka.partitions: must be >= 1")
        if not 0 < self.batch_awake_s <= self.batch_period_s:
            raise PipelineConfigError("batch_awake_s: must be within (0, batch_period_s]")
        host, _, port = self.control.rpartition(":")
        if not host or not port.isdigit():
            raise PipelineConfigError(f"control: expected host:port, got {self.control!r}")
        return self

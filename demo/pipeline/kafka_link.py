"""Kafka links via confluent-kafka.

On Apache Kafka producers batch as real ones do (librdkafka's defaults). On Tansu
(`KafkaSettings.for_tansu()`) they send one record per batch: its ListOffsets reports the last
batch's base offset + 1, so batching would make lag look smaller than it is (ENVIRONMENT.md).
Consumers store offsets only after processing and let auto-commit send them (at-least-once).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from demo.pipeline import events as ev
from demo.pipeline.config import KafkaSettings
from demo.pipeline.link import LinkError, Received

log = logging.getLogger(__name__)

Headers = list[tuple[str, str | bytes | None]]


def topic_names() -> tuple[str, ...]:
    """Every stream, and a `.dlq` topic for each stream that someone consumes."""
    names = [s.name for s in ev.STREAMS]
    names += [ev.dlq_name(s.name) for s in ev.STREAMS if s.consumers]
    return tuple(names)


def create_topics(settings: KafkaSettings, timeout: float = 15.0) -> None:
    """Create the topics with `settings.partitions` partitions; existing ones are kept.

    Explicitly, before any client touches them: Tansu auto-creates unknown topics with 4
    partitions on the first metadata request.
    """
    admin = AdminClient({"bootstrap.servers": settings.bootstrap, **dict(settings.extra)})
    futures = admin.create_topics(
        [NewTopic(name, settings.partitions, 1) for name in topic_names()],
        request_timeout=timeout,
        operation_timeout=timeout,
    )
    for name, future in futures.items():
        try:
            future.result(timeout)
        except KafkaException as exc:
            error: KafkaError = exc.args[0]
            if error.code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise LinkError(f"cannot create topic {name}: {exc}") from exc
        except TimeoutError as exc:
            raise LinkError(f"cannot create topic {name}: no answer in {timeout} s") from exc


def shared_producer(settings: KafkaSettings) -> Producer:
    """One producer for all threads of one pipeline (confluent-kafka producers are thread-safe)."""
    return Producer(
        {
            "bootstrap.servers": settings.bootstrap,
            "client.id": "eventscope-demo",
            **({"batch.num.messages": 1, "linger.ms": 0} if settings.one_record_per_batch else {}),
            "acks": "all",
            **dict(settings.extra),
        }
    )


def _headers(msg: Message) -> dict[str, str]:
    out: dict[str, str] = {}
    pairs: Any = msg.headers() or []  # a list of (key, bytes) on consumed messages
    for key, value in pairs:
        out[key] = value.decode(errors="replace") if isinstance(value, bytes) else str(value or "")
    return out


class KafkaLink:
    def __init__(self, settings: KafkaSettings, producer: Producer, group: str) -> None:
        self._settings = settings
        self._producer = producer
        self._group = group
        self._consumer: Consumer | None = None

    def _send(
        self, topic: str, key: bytes | None, value: bytes | None, headers: Headers, ts_ms: int
    ) -> None:
        done = threading.Event()
        failure: list[str] = []

        def report(err: KafkaError | None, _msg: Message) -> None:
            if err is not None:
                failure.append(str(err))
            done.set()

        self._producer.produce(
            topic, value, key, headers=headers, timestamp=ts_ms, on_delivery=report
        )
        # Any thread's poll serves every callback; wait for ours, not for the whole queue.
        deadline = time.monotonic() + 10
        while not done.is_set() and time.monotonic() < deadline:
            self._producer.poll(0.05)
        if failure or not done.is_set():
            raise LinkError(f"produce to {topic} failed: {failure or 'no delivery report in 10 s'}")

    def publish(self, event: ev.Event) -> None:
        headers: Headers = [(k, v.encode()) for k, v in event.headers().items()]
        self._send(
            event.stream.name, event.key.encode(), event.encode_body(), headers, event.timestamp_ms
        )

    def start_consuming(self) -> None:
        if self._consumer is not None:
            return
        consumer = Consumer(
            {
                "bootstrap.servers": self._settings.bootstrap,
                "group.id": self._group,
                "client.id": self._group,
                "auto.offset.reset": "earliest",
                "enable.auto.commit": True,
                "enable.auto.offset.store": False,  # stored by settle(), after processing
                "auto.commit.interval.ms": 1000,
                "session.timeout.ms": self._settings.session_timeout_ms,
                "heartbeat.interval.ms": self._settings.heartbeat_interval_ms,
                **dict(self._settings.extra),
            }
        )
        consumer.subscribe([s.name for s in ev.streams_consumed_by(self._group)])
        self._consumer = consumer

    def stop_consuming(self) -> None:
        if self._consumer is not None:
            consumer, self._consumer = self._consumer, None
            consumer.close()  # commits stored offsets and leaves the group at once

    def receive(self, timeout: float) -> Received | None:
        if self._consumer is None:
            raise LinkError("receive() before start_consuming()")
        msg = self._consumer.poll(timeout)
        if msg is None:
            return None
        if msg.error() is not None:
            error = msg.error()
            if error is not None and error.code() != KafkaError._PARTITION_EOF:
                log.warning("%s: consumer error %s", self._group, error)
            return None
        where = f"{msg.topic()}/{msg.partition()}@{msg.offset()}"
        try:
            event = ev.decode_event(_headers(msg), msg.value() or b"", msg.timestamp()[1])
        except ev.MalformedEvent as exc:
            return Received(None, str(exc), where, msg)
        return Received(event, "", where, msg)

    def settle(self, received: Received) -> None:
        if self._consumer is not None:
            self._consumer.store_offsets(message=received.handle)

    def dead_letter(self, received: Received, error: str, retries: int) -> None:
        msg: Message = received.handle
        extra = {
            ev.H_DLQ_ERROR: error,
            ev.H_DLQ_SERVICE: self._group,
            ev.H_DLQ_TOPIC: str(msg.topic()),
            ev.H_DLQ_PARTITION: str(msg.partition()),
            ev.H_DLQ_OFFSET: str(msg.offset()),
            ev.H_DLQ_RETRIES: str(retries),
        }
        original: Any = msg.headers() or []
        headers: Headers = list(original)
        headers += [(k, v.encode()) for k, v in extra.items()]
        key: Any = msg.key()
        self._send(ev.dlq_name(str(msg.topic())), key, msg.value(), headers, msg.timestamp()[1])
        self.settle(received)

    def idle(self, seconds: float) -> None:
        threading.Event().wait(seconds)

    def close(self) -> None:
        self.stop_consuming()

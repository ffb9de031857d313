"""RabbitMQ links via pika (one BlockingConnection per thread: pika is not thread-safe).

Topology, every name behind an optional prefix so tests can share a vhost:

    exchange `events` (topic) ──routing key = stream name──► queue `<service>` (one per consumer)
    queue `<service>`: x-dead-letter-exchange = `events.dlx`,
                       x-dead-letter-routing-key = `<service>.dlq`
    exchange `events.dlx` (direct) ──► queue `<service>.dlq`

A message that fails for good is rejected (requeue=False), so RabbitMQ dead-letters it and adds
the `x-death` header (reason, queue, exchange, routing keys, count, time).
"""

from __future__ import annotations

import time

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel

from demo.pipeline import events as ev
from demo.pipeline.config import RabbitSettings
from demo.pipeline.link import LinkError, Received


def exchange_name(settings: RabbitSettings) -> str:
    return settings.prefix + "events"


def dlx_name(settings: RabbitSettings) -> str:
    return settings.prefix + "events.dlx"


def queue_name(settings: RabbitSettings, service: str) -> str:
    return settings.prefix + service


def _connect(settings: RabbitSettings, name: str) -> pika.BlockingConnection:
    params = pika.URLParameters(settings.url)
    params.client_properties = {"connection_name": f"eventscope-demo {name}"}
    try:
        return pika.BlockingConnection(params)
    except pika.exceptions.AMQPError as exc:
        raise LinkError(f"cannot connect to RabbitMQ for {name}: {exc!r}") from exc


def declare_topology(settings: RabbitSettings) -> None:
    """Declare the exchanges, service queues, their dead-letter queues and bindings (idempotent)."""
    connection = _connect(settings, "setup")
    try:
        channel = connection.channel()
        channel.exchange_declare(exchange_name(settings), "topic", durable=True)
        channel.exchange_declare(dlx_name(settings), "direct", durable=True)
        for service in ev.ALL_CONSUMERS:
            queue = queue_name(settings, service)
            dlq = ev.dlq_name(queue)
            channel.queue_declare(dlq, durable=True)
            channel.queue_bind(dlq, dlx_name(settings), routing_key=dlq)
            channel.queue_declare(
                queue,
                durable=True,
                arguments={
                    "x-dead-letter-exchange": dlx_name(settings),
                    "x-dead-letter-routing-key": dlq,
                },
            )
            for stream in ev.streams_consumed_by(service):
                channel.queue_bind(queue, exchange_name(settings), routing_key=stream.name)
    finally:
        connection.close()


class RabbitLink:
    def __init__(self, settings: RabbitSettings, service: str) -> None:
        self._settings = settings
        self._service = service
        self._connection = _connect(settings, service)
        self._channel: BlockingChannel = self._connection.channel()
        self._channel.confirm_delivery()  # basic_publish returns once the broker has it
        self._channel.basic_qos(prefetch_count=settings.prefetch)
        self._consuming = False

    def publish(self, event: ev.Event) -> None:
        headers: dict[str, object] = dict(event.headers())
        headers[ev.H_TIMESTAMP_MS] = event.timestamp_ms
        properties = pika.BasicProperties(
            content_type="application/json",
            delivery_mode=pika.DeliveryMode.Persistent,
            message_id=event.event_id,
            correlation_id=event.correlation_id,
            timestamp=event.timestamp_ms // 1000,
            type=event.event_type,
            app_id=event.source,
            headers=headers,
        )
        try:
            self._channel.basic_publish(
                exchange_name(self._settings), event.stream.name, event.encode_body(), properties
            )
        except pika.exceptions.AMQPError as exc:
            raise LinkError(f"publish {event.event_type} failed: {exc!r}") from exc

    def start_consuming(self) -> None:
        self._consuming = True

    def stop_consuming(self) -> None:
        if self._consuming:
            self._consuming = False
            self._channel.cancel()  # rejects prefetched, unacked deliveries back to the queue

    def receive(self, timeout: float) -> Received | None:
        if not self._consuming:
            raise LinkError("receive() before start_consuming()")
        queue = queue_name(self._settings, self._service)
        # consume() keeps one server-side consumer alive across calls with the same arguments.
        for method, props, body in self._channel.consume(queue, inactivity_timeout=timeout):
            if method is None:
                return None
            headers = {k: str(v) for k, v in (props.headers or {}).items() if k != "x-death"}
            raw_ms = (props.headers or {}).get(ev.H_TIMESTAMP_MS)
            timestamp_ms = int(raw_ms) if raw_ms else int(props.timestamp or 0) * 1000
            try:
                event = ev.decode_event(headers, body, timestamp_ms)
            except ev.MalformedEvent as exc:
                return Received(None, str(exc), queue, method)
            return Received(event, "", queue, method)
        return None

    def settle(self, received: Received) -> None:
        self._channel.basic_ack(received.handle.delivery_tag)

    def dead_letter(self, received: Received, error: str, retries: int) -> None:
        # No way to add headers on reject: the DLQ copy carries x-death (reason "rejected").
        self._channel.basic_reject(received.handle.delivery_tag, requeue=False)

    def idle(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self._connection.process_data_events(time_limit=min(left, 0.5))

    def close(self) -> None:
        try:
            self.stop_consuming()
            self._connection.close()
        except pika.exceptions.AMQPError:
            pass  # already gone; nothing left to release

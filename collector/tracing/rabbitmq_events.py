"""Turn what the RabbitMQ tap receives into hops and deliveries. Pure: no I/O, `now` passed in.

Two shapes arrive:
- firehose (`amq.rabbitmq.trace`): routing key `publish.<exchange>` or `deliver.<queue>`; the
  original routing keys and properties (headers, message_id, timestamp, ...) are in the trace
  message's headers `routing_keys` and `properties`;
- direct (a tap queue bound to an exchange, and the dead-letter exchanges in firehose mode,
  because dead-lettering happens inside the broker and never passes through the firehose): the
  message's own routing key and properties; a dead-lettered copy carries `x-death`.

A message's identity is its `message_id` property, else a hash of its headers and timestamp;
`message_number` turns it into the hop's 60-bit "offset" (partition -1), so a publish seen twice
(firehose and a direct binding, or after a restart) is one hop, and a `deliver` finds its hop.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from collector.tracing.headers import (
    HeaderRules,
    Skipped,
    Where,
    allowed_fields,
    build_hop,
    parse_headers,
)
from collector.tracing.hop import NO_PARTITION, Consumption, Hop

TIMESTAMP_MS_HEADERS = ("timestamp_in_ms", "timestamp_ms")


@dataclass(frozen=True)
class RabbitRules:
    cluster_name: str
    header_rules: HeaderRules
    topic_services: Mapping[str, str]
    group_services: Mapping[str, str]
    dlq_patterns: tuple[str, ...]
    payload_fields: tuple[str, ...]
    tap_queue: str


@dataclass(frozen=True)
class Delivery:
    hop: Hop  # identity only (broker, cluster_name, source, partition, offset)
    consumption: Consumption


def message_number(properties: Mapping[str, Any], routing_key: str) -> int:
    """60-bit identity of a message: from message_id when set, else headers + timestamp.

    Example: message_id "e-1" → int(sha1("id:e-1")[:15], 16), the same at publish and deliver.
    """
    message_id = properties.get("message_id")
    if message_id:
        basis = f"id:{message_id}"
    else:
        headers = properties.get("headers") or {}
        plain = {str(k): _plain(v) for k, v in headers.items() if k != "x-death"}
        basis = json.dumps(
            [plain, properties.get("timestamp"), routing_key], sort_keys=True, default=str
        )
    return int(hashlib.sha1(basis.encode("utf-8", "replace")).hexdigest()[:15], 16)


def read_message(
    routing_key: str,
    properties: Mapping[str, Any],
    body: bytes | None,
    rules: RabbitRules,
    now: float,
) -> Hop | Delivery | Skipped | None:
    """A firehose or direct message → a hop, a delivery, a skip, or None (not ours to trace)."""
    headers = properties.get("headers") or {}
    if routing_key.startswith("deliver.") and "routing_keys" in headers:
        queue = routing_key[len("deliver.") :]
        if queue == rules.tap_queue:
            return None
        original = headers.get("properties") or {}
        source = _first_key(headers.get("routing_keys"))
        where = Where("rabbitmq", rules.cluster_name, source, NO_PARTITION, 0, now)
        number = message_number(original, source)
        identity = Hop(
            "", "", where.broker, where.cluster_name, source, NO_PARTITION, number, 0, ""
        )
        service = rules.group_services.get(queue, queue)
        return Delivery(identity, Consumption(queue, service, now))
    if routing_key.startswith("publish.") and "routing_keys" in headers:
        source = _first_key(headers.get("routing_keys"))
        return _hop(source, headers.get("properties") or {}, body, rules, now)
    return _hop(routing_key, properties, body, rules, now)


def _hop(
    source: str, props: Mapping[str, Any], body: bytes | None, rules: RabbitRules, now: float
) -> Hop | Skipped:
    headers = props.get("headers") or {}
    pairs: list[tuple[str, Any]] = [
        (str(k), _header_value(v)) for k, v in headers.items() if k != "x-death"
    ]
    # AMQP properties are the fallbacks for what headers do not say
    pairs += [
        (rules.header_rules.id_headers[0], props.get("correlation_id")),
        (rules.header_rules.event_type_headers[0], props.get("type")),
        (rules.header_rules.service_headers[0], props.get("app_id")),
    ]
    parsed = parse_headers([(k, v) for k, v in pairs if v is not None], rules.header_rules)
    if isinstance(parsed, Skipped):
        return parsed
    death = _first_death(headers.get("x-death"))
    where = Where(
        "rabbitmq",
        rules.cluster_name,
        source,
        NO_PARTITION,
        message_number(props, source),
        _produced_at(headers, props, now),
    )
    is_dlq = death is not None or any(fnmatch.fnmatchcase(source, p) for p in rules.dlq_patterns)
    fields = allowed_fields(body, rules.payload_fields, 65536) if rules.payload_fields else {}
    hop = build_hop(parsed, where, rules.topic_services, is_dlq, fields)
    if death is None:
        return hop
    queue = _text(death.get("queue"))
    return dataclasses.replace(
        hop,
        service=rules.group_services.get(queue, queue) or hop.service,
        dlq_reason=hop.dlq_reason or _text(death.get("reason")),
        retries=hop.retries or _int(death.get("count")),
    )


def _produced_at(headers: Mapping[str, Any], props: Mapping[str, Any], now: float) -> float:
    for name in TIMESTAMP_MS_HEADERS:
        value = _int(headers.get(name))
        if value > 0:
            return value / 1000
    seconds = props.get("timestamp")
    if isinstance(seconds, int | float) and not isinstance(seconds, bool) and seconds > 0:
        return float(seconds)
    return now


def _first_death(value: Any) -> Mapping[str, Any] | None:
    if isinstance(value, Sequence) and value and isinstance(value[0], Mapping):
        return value[0]
    return None


def _first_key(value: Any) -> str:
    if isinstance(value, Sequence) and not isinstance(value, str | bytes) and value:
        return _text(value[0])
    return _text(value)


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)


def _header_value(value: Any) -> bytes | str | None:
    if value is None or isinstance(value, bytes | str):
        return value
    if isinstance(value, bool | int | float):
        return str(value)
    return None  # tables and arrays carry nothing tracing reads


def _plain(value: Any) -> Any:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _int(value: Any) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    text = _text(value)
    return int(text) if re.fullmatch(r"[0-9]{1,18}", text) else 0

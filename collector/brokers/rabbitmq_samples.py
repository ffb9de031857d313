"""Management API documents → `QueueSample` / `DeadLetterSample`. Pure: no I/O, no clock.

The mapping (see docs/rabbitmq.md for the why):

    ready           = messages_ready
    unacked         = messages_unacknowledged
    consumers       = consumers
    published_total = message_stats.publish           (cumulative; resets on broker restart)
    acked_total     = message_stats.ack + deliver_no_ack + get_no_ack
    head_timestamp  = head_message_timestamp           (only when publishers set `timestamp`)
    utilisation     = consumer_utilisation (or consumer_capacity); None without consumers
    name            = `<queue>` in vhost "/", `<vhost>/<queue>` elsewhere

Unknown stays unknown (None), never 0: a missing `message_stats` means either no traffic yet or
statistics that are not collected (`management.rates_mode = none` drops them even from a queue
whose consumer holds messages), so both totals are None. RabbitMQ adds the consumption counters
(ack, deliver, get, …) together, on the first delivery: with `message_stats` but none of them
(a fresh queue that was only published to), acked_total is None; once any is there, a missing
`ack` is a real 0 (a consumer holding its prefetch without acking).

A missing `messages_ready` means the broker has not reported the queue's depth yet (it was
declared since the last statistics round): such a queue is left out of this poll rather than
reported with a false backlog of 0. Streams are skipped:
they keep messages after consumption, so ready + unacked is no backlog there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from collector.brokers.rabbitmq_topology import (
    Binding,
    QueueTopology,
    dead_letter_sources,
    display_name,
    matches_any,
)
from collector.config import DEFAULT_DLQ_PATTERNS
from collector.model import DeadLetterSample, QueueSample

CONSUMED_STATS = ("ack", "deliver_no_ack", "get_no_ack")
# present once anything was delivered from the queue: then a missing `ack` means 0 acks
DELIVERY_STATS = (*CONSUMED_STATS, "deliver", "deliver_get", "get")


@dataclass(frozen=True)
class QueueSelection:
    """Which queues are reported. Globs match the bare name or the `<vhost>/<queue>` label."""

    include: tuple[str, ...] = ("*",)
    exclude: tuple[str, ...] = ("amq.*",)
    dlq_patterns: tuple[str, ...] = DEFAULT_DLQ_PATTERNS

    def wanted(self, name: str, label: str) -> bool:
        candidates = (name, label)
        return any(matches_any(c, self.include) for c in candidates) and not any(
            matches_any(c, self.exclude) for c in candidates
        )


def build_samples(
    raw: Sequence[Mapping[str, Any]],
    exchanges: Mapping[tuple[str, str], str],
    bindings: Sequence[Binding],
    selection: QueueSelection,
) -> tuple[tuple[QueueSample, ...], tuple[DeadLetterSample, ...]]:
    """Queue items of `/api/queues` → samples and dead letters, sorted by name.

    DLQ detection looks at every queue (an excluded source still marks its DLQ); the selection
    then decides what is reported. A DLQ fed by several queues is one `DeadLetterSample` whose
    source is the sorted, comma-joined list, so its depth is never counted twice.
    """
    raw = [q for q in raw if q.get("type") != "stream"]
    topology = [
        QueueTopology(
            vhost=str(q.get("vhost", "/")),
            name=str(q.get("name", "")),
            arguments=_mapping(q.get("arguments")),
            policy=_mapping(q.get("effective_policy_definition")),
        )
        for q in raw
    ]
    sources = dead_letter_sources(topology, exchanges, bindings)
    names = {t.key for t in topology}
    queues: list[QueueSample] = []
    dead_letters: list[DeadLetterSample] = []
    for item, topo in zip(raw, topology, strict=True):
        label = display_name(topo.vhost, topo.name)
        if not selection.wanted(topo.name, label) or "messages_ready" not in item:
            continue  # no depth yet (a queue declared since the last stats round) is not 0
        fed_by = sorted(display_name(*s) for s in sources.get(topo.key, ()))
        is_dlq = bool(fed_by) or matches_any(topo.name, selection.dlq_patterns)
        sample = queue_sample(item, label, fed_by, is_dlq)
        queues.append(sample)
        if is_dlq:
            source = ",".join(fed_by) or source_by_name(topo.vhost, topo.name, names)
            dead_letters.append(
                DeadLetterSample(dlq=label, source=source, depth=sample.ready + sample.unacked)
            )
    queues.sort(key=lambda q: q.name)
    dead_letters.sort(key=lambda d: d.dlq)
    return tuple(queues), tuple(dead_letters)


def queue_sample(
    item: Mapping[str, Any], label: str, fed_by: Sequence[str], is_dlq: bool
) -> QueueSample:
    """One `/api/queues` item → `QueueSample` (the mapping in the module docstring)."""
    raw_stats = item.get("message_stats")
    stats = _mapping(raw_stats)
    known = isinstance(raw_stats, dict)
    head = _number(item.get("head_message_timestamp"))
    consumers = item.get("consumers")
    return QueueSample(
        name=label,
        ready=_count(item.get("messages_ready")),
        unacked=_count(item.get("messages_unacknowledged")),
        consumers=consumers if isinstance(consumers, int) else None,
        published_total=_count(stats.get("publish")) if known else None,
        acked_total=acked_total(stats),
        head_timestamp=head if head is not None and head > 0 else None,
        utilisation=_utilisation(item) if consumers else None,
        vhost=str(item.get("vhost", "/")),
        is_dlq=is_dlq,
        dlq_sources=tuple(fed_by),
    )


def acked_total(stats: Mapping[str, Any]) -> int | None:
    """ack + deliver_no_ack + get_no_ack, or None when no delivery counter is reported at all.

    `{"publish": 3}` → None (unknown, not 0: STALL must not be concluded from it);
    `{"publish": 3, "ack": 0, "deliver": 3, …}` → 0; no `message_stats` → `{}` → None.
    """
    if not any(_is_number(stats.get(k)) for k in DELIVERY_STATS):
        return None
    return sum(_count(stats.get(k)) for k in CONSUMED_STATS)


def source_by_name(vhost: str, dlq: str, names: set[tuple[str, str]]) -> str:
    """A pattern-only DLQ's source, when its name says so and that queue exists.

    `orders.dlq`, `orders-dlq`, `orders.DLT`, `dlq.orders` → `orders` if `orders` exists, else "".
    """
    candidates = [dlq[: -len(s)] for s in (".dlq", "-dlq", ".DLT") if dlq.endswith(s)]
    if dlq.startswith("dlq."):
        candidates.append(dlq[4:])
    for name in candidates:
        if (vhost, name) in names:
            return display_name(vhost, name)
    return ""


def _utilisation(item: Mapping[str, Any]) -> float | None:
    """`consumer_utilisation`, or its newer name `consumer_capacity`.

    Only asked for queues with consumers: RabbitMQ reports 0 for a queue without any, which
    means "no one", not "slow consumers".
    """
    value = item.get("consumer_utilisation")
    return _number(item.get("consumer_capacity") if value is None else value)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number(value: Any) -> float | None:
    return float(value) if _is_number(value) else None


def _count(value: Any) -> int:
    return int(value) if _is_number(value) and value > 0 else 0

"""Producer → topic/queue edges for the flow graph, from what traces and consumption tell.

The traces give service → service edges per event type (`eventscope_flow_events_total`: A's
event was followed by B's); consumption gives topic/queue → group edges. An event type of A → B
travelled through the topic/queue of B's that carried it, when that can be told:

- B reads only one topic/queue, and no other known topic/queue is named after the event type
  (the trace edge links consecutive hops of a journey, which is not always cause and effect);
- or exactly one of B's topics/queues is named after the event type: every word of the type in
  the name, ignoring case and a plural "s" (PaymentFailed → payments.failed).

Such an event type is drawn A → topic (labelled with the event types, at their rate) and
topic → B (with the hop's p95 latency): producers, topics and consumers then line up left to
right. What cannot be told stays a direct service → service edge.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

_CAMEL = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


@dataclass(frozen=True)
class ProducedHop:
    """One event type of a trace edge, placed on the topic/queue that carried it."""

    producer: str
    channel: str
    consumer: str
    event_type: str
    rate: float


def words(name: str) -> frozenset[str]:
    """Lower-case words of an event type or a topic, singular: "OrderPlaced" -> {"order",
    "placed"}; "shop/orders.placed" -> {"shop", "order", "placed"}."""
    return frozenset(w.lower().removesuffix("s") or w.lower() for w in _CAMEL.findall(name))


def named_after(event_type: str, channel: str) -> bool:
    said = words(event_type)
    return bool(said) and said <= words(channel)


def carrier(event_type: str, reads: Sequence[str], known: Collection[str] = ()) -> str | None:
    """The topic/queue among `reads` (what the consumer reads) that carried `event_type`, or
    None when unsure; `known` are all topics/queues in view (module doc)."""
    if len(reads) == 1:
        elsewhere = any(named_after(event_type, c) for c in known if c != reads[0])
        return None if elsewhere and not named_after(event_type, reads[0]) else reads[0]
    matches = [c for c in reads if named_after(event_type, c)]
    return matches[0] if len(matches) == 1 else None


def readers(consumption: pd.DataFrame, hidden: Collection[str]) -> dict[str, list[str]]:
    """Consumer group → the topics/queues it reads (the pipeline's, not a queue's own name)."""
    reads: dict[str, set[str]] = defaultdict(set)
    for r in consumption.itertuples():
        group, topic = str(r.group), str(r.topic)
        if group not in hidden and group != topic:
            reads[group].add(topic)
    return {g: sorted(ts) for g, ts in reads.items()}


def route_flows(
    flow_rates: pd.DataFrame, reads: Mapping[str, Sequence[str]]
) -> tuple[pd.DataFrame, list[ProducedHop]]:
    """Split the trace edges (from_service, to_service, event_type, value) into those that stay
    direct and those placed on a topic/queue."""
    known = sorted({c for cs in reads.values() for c in cs})
    direct: list[int] = []
    produced: list[ProducedHop] = []
    for i, r in enumerate(flow_rates.itertuples()):
        src, dst, event = str(r.from_service), str(r.to_service), str(r.event_type)
        via = carrier(event, reads.get(dst, []), known)
        if via is None:
            direct.append(i)
        else:
            value = float(r.value) if r.value == r.value else 0.0
            produced.append(ProducedHop(src, via, dst, event, value))
    return flow_rates.iloc[direct], produced


def production(hops: Sequence[ProducedHop]) -> dict[tuple[str, str], tuple[str, float]]:
    """(producer, channel) → (event types, rate). Each consumer's follow-ups count the same
    events, so the rate is the largest of the consumers' sums, not their total."""
    per_consumer: dict[tuple[str, str, str], float] = defaultdict(float)
    types: dict[tuple[str, str], set[str]] = defaultdict(set)
    for h in hops:
        per_consumer[(h.producer, h.channel, h.consumer)] += h.rate
        types[(h.producer, h.channel)].add(h.event_type)
    rate: dict[tuple[str, str], float] = defaultdict(float)
    for (src, channel, _), value in per_consumer.items():
        rate[(src, channel)] = max(rate[(src, channel)], value)
    return {key: (", ".join(sorted(types[key])), rate[key]) for key in sorted(types)}

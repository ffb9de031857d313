"""Producer → topic/queue edges for the flow graph, from what traces and consumption tell.

The traces give service → service edges (`eventscope_flow_events_total`: A's event was
followed by B's); consumption gives topic/queue → group edges. When B reads exactly one
topic/queue, or the event types name one of them better than the others, A's events travelled
through it, so the edge A → B is drawn as A → topic (labelled with the event types and their
rate) and topic → B (with the hop's p95 latency): producers, topics and consumers then line up
left to right. An edge whose carrier cannot be told stays a direct service → service edge.

Matching by name compares words, ignoring case and a plural "s":
carrier("PaymentFailed", ["payments.completed", "payments.failed"]) -> "payments.failed".
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from dashboard.flow import HEALTH_ORDER, FlowEdge

_CAMEL = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


def words(name: str) -> set[str]:
    """Lower-case words of an event type or a topic, singular: "OrderPlaced" -> {"order",
    "placed"}; "shop/orders.placed" -> {"shop", "order", "placed"}."""
    found = _CAMEL.findall(name)
    return {w.lower().removesuffix("s") or w.lower() for w in found}


def carrier(event_types: Iterable[str], channels: Sequence[str]) -> str | None:
    """The one channel among `channels` that carried these events, or None when unsure: the
    only one, else the one whose name holds every word of the most event types."""
    if len(channels) == 1:
        return channels[0]
    said = [words(e) for e in event_types if e]
    scores = sorted(((sum(w <= words(c) for w in said), c) for c in channels), reverse=True)
    if scores and scores[0][0] > 0 and (len(scores) == 1 or scores[1][0] < scores[0][0]):
        return scores[0][1]
    return None


def _worst(healths: Iterable[str]) -> str:
    return max(healths, key=HEALTH_ORDER.index, default="idle")


def through_channels(edges: Sequence[FlowEdge], kinds: Mapping[str, str]) -> list[FlowEdge]:
    """`edges` with each service → service edge whose carrier is known replaced by producer →
    channel (merged per producer and channel) and its p95 put on channel → consumer."""
    reads: dict[str, list[str]] = defaultdict(list)
    for e in edges:
        if not e.relation and kinds.get(e.source) == "channel" and e.source != e.target:
            reads[e.target].append(e.source)
    produced: dict[tuple[str, str], list[FlowEdge]] = defaultdict(list)
    pickup: dict[tuple[str, str], float] = {}
    kept: list[FlowEdge] = []
    for e in edges:
        both = kinds.get(e.source) == kinds.get(e.target) == "service"
        via = carrier(e.label.split(", "), reads[e.target]) if both and not e.relation else None
        if via is None:
            kept.append(e)
            continue
        produced[(e.source, via)].append(e)
        if e.p95_seconds is not None and e.p95_seconds == e.p95_seconds:
            pickup[(via, e.target)] = max(pickup.get((via, e.target), 0.0), e.p95_seconds)
    out = [
        replace(e, p95_seconds=pickup[(e.source, e.target)])
        if (e.source, e.target) in pickup and e.p95_seconds is None
        else e
        for e in kept
    ]
    for (src, channel), parts in sorted(produced.items()):
        label = ", ".join(sorted({t for p in parts for t in p.label.split(", ") if t}))
        rate = max(p.rate for p in parts)  # each consumer's follow-up counts the same events
        out.append(FlowEdge(src, channel, label, rate, None, _worst(p.health for p in parts)))
    return out

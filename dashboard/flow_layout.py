"""Where the flow graph's nodes go: services left to right in the order events flow, each
topic/queue just left of its first consumer, EventBridge rules and buses left of the queues they
route to. Pure and deterministic (stable across reruns).

Services are layered by breadth-first distance over the service → service edges. Event flows
have cycles (a failed payment flows back to inventory; a confirmation back to the order
service), so first the weaker direction of each two-way pair is set aside, then every cycle
still left is entered at the service that emits the most more than it receives.

Example (events/s): order→inventory 1.9, inventory→order 0.2, inventory→payment 1.8,
payment→inventory 0.3, payment→order 1.8. Setting aside the weaker directions leaves the cycle
order→inventory→payment→order; net outflow: order +0.1, inventory −0.1, payment 0.0, so the
layers are order 0, inventory 1, payment 2.
"""

from __future__ import annotations

from collections import defaultdict, deque

from dashboard.flow import FlowGraph

Position = tuple[float, float]
CHANNEL_DROP = 0.35


def _service_layers(graph: FlowGraph) -> dict[str, int]:
    services = {n.id for n in graph.nodes if n.kind == "service"}
    rate: dict[tuple[str, str], float] = defaultdict(float)
    for e in graph.edges:
        if e.source in services and e.target in services and e.source != e.target:
            rate[(e.source, e.target)] += max(e.rate, 0.0)
    kept = {
        (a, b): r
        for (a, b), r in rate.items()
        if r > rate.get((b, a), -1.0) or (r == rate.get((b, a)) and a < b)
    }
    outgoing: dict[str, list[str]] = defaultdict(list)
    incoming: dict[str, int] = defaultdict(int)
    net: dict[str, float] = defaultdict(float)
    for (a, b), r in sorted(kept.items()):
        outgoing[a].append(b)
        incoming[b] += 1
        net[a] += r
        net[b] -= r
    in_flow = {s for pair in kept for s in pair}
    layer: dict[str, int] = {}
    while unplaced := sorted(in_flow - layer.keys()):
        roots = [s for s in unplaced if incoming[s] == 0] or [
            min(unplaced, key=lambda s: (-net[s], s))
        ]
        queue = deque(roots)
        for root in roots:
            layer[root] = 0
        while queue:
            node = queue.popleft()
            for nxt in outgoing[node]:
                if nxt not in layer:
                    layer[nxt] = layer[node] + 1
                    queue.append(nxt)
    return layer


def layered_positions(graph: FlowGraph) -> dict[str, Position]:
    """x: services at whole numbers by flow order (services outside any service edge, such as
    analytics consumers, in one column right of the flow), topics/queues half a step left of
    their first consumer; y: each column's nodes spread evenly, sorted by name (topic columns
    shifted down by CHANNEL_DROP)."""
    layer: dict[str, float] = {k: float(v) for k, v in _service_layers(graph).items()}
    kinds = {n.id: n.kind for n in graph.nodes}
    # consumers outside the traced flow (analytics fan-out) get a column of their own, right
    # of the flow, so their topics do not crowd the flow's columns
    apart = max(layer.values(), default=-1.0) + 1.0
    for name, kind in kinds.items():
        if kind == "service":
            layer.setdefault(name, apart)
    consumers: dict[str, list[float]] = defaultdict(list)
    for e in graph.edges:
        if kinds.get(e.source) == "channel" and e.target in layer:
            consumers[e.source].append(layer[e.target])
    for name, kind in kinds.items():
        if kind == "channel":
            layer[name] = min(consumers[name], default=1.0) - 0.5
    _place_routing(graph, kinds, layer, {c for c, xs in consumers.items() if xs})
    low = min(layer.values(), default=0.0)
    columns: dict[float, list[str]] = defaultdict(list)
    for name in sorted(layer):
        columns[layer[name] - low].append(name)
    positions: dict[str, Position] = {}
    for x, names in columns.items():
        # topics sit a little below the line between services, so service -> service edges
        # do not run through them when both columns hold one node
        for i, name in enumerate(names):
            drop = CHANNEL_DROP if kinds[name] == "channel" else 0.0
            positions[name] = (x, (len(names) - 1) / 2 - i - drop)
    return positions


def _place_routing(
    graph: FlowGraph, kinds: dict[str, str], layer: dict[str, float], consumed: set[str]
) -> None:
    """EventBridge routing: each rule a quarter step left of the first queue it delivers to,
    each bus a quarter step left of its first rule, and a DLQ nobody consumes a quarter step
    right of the first queue or rule that dead-letters into it."""
    routed = [e for e in graph.edges if e.relation]
    dlqs = {
        e.target
        for e in routed
        if e.relation in ("dead_letters", "redrives") and e.target not in consumed
    }
    for kind, relation, default in (("rule", "delivers", 0.5), ("bus", "routes", 0.25)):
        firsts: dict[str, list[float]] = defaultdict(list)
        for e in routed:
            if e.relation == relation and e.target in layer and e.target not in dlqs:
                firsts[e.source].append(layer[e.target])
        for name in sorted(n for n, k in kinds.items() if k == kind):
            layer[name] = min(firsts[name], default=default) - 0.25
    for dlq in sorted(dlqs):
        feeds = [layer[e.source] for e in routed if e.target == dlq and e.source in layer]
        layer[dlq] = min(feeds, default=layer.get(dlq, 0.25) - 0.25) + 0.25

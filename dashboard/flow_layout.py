"""Where the flow graph's nodes go: a layered drawing, left to right as events flow, producers
→ topics/queues → consumers (EventBridge: bus → rule → queue → service). Pure and deterministic
(stable across reruns).

Steps (a small Sugiyama layout):

1. Cycles are broken. Event flows have them (a failed payment flows back to inventory; a
   confirmation back to the order service), so a depth-first walk starts at the services in
   flow order and sets aside every edge that leads back to a node still on its path. Flow
   order: breadth-first over the service → service rates, after the weaker direction of each
   two-way pair is set aside and every cycle left is entered at the service that emits the most
   (a pipeline loses events step by step: to shortages, failures, filters).
2. Columns by longest path: a node sits one column right of everything that feeds it; a
   direct service → service edge spans two columns (room for the topic between them). A topic
   or queue that no known producer feeds sits just left of its first consumer. Empty columns
   are dropped.
3. Rows: each column is ordered by the mean row of its neighbours in the column before, then
   after (a few sweeps), which removes most crossings; ties by name. Then each node is pulled
   level with its neighbours, a row apart at least from the node above it.

Example (events/s): order→inventory 1.9, inventory→order 0.2, inventory→payment 1.8,
payment→inventory 0.3, payment→order 1.8. Setting aside the weaker directions leaves the cycle
order→inventory→payment→order; order emits 1.9, inventory and payment 1.8 each, so the flow
order, and the columns, are order 0, inventory 1, payment 2.
"""

from __future__ import annotations

from collections import defaultdict, deque

from dashboard.flow import FlowGraph

Position = tuple[float, float]
SWEEPS = 4
GRID_COLUMNS = 4  # at least this many nodes a row in the grid of unlinked nodes


def flow_order(graph: FlowGraph) -> dict[str, int]:
    """Services by breadth-first distance over the service → service rates, a producer →
    topic edge counting as producer → each reader of the topic (module doc)."""
    services = {n.id for n in graph.nodes if n.kind == "service"}
    rate: dict[tuple[str, str], float] = defaultdict(float)
    readers: dict[str, list[str]] = defaultdict(list)
    for e in graph.edges:
        if e.source not in services and e.target in services:
            readers[e.source].append(e.target)
    for e in graph.edges:
        if e.source in services and e.target in services:
            pairs = [(e.source, e.target)]
        elif e.source in services:  # producer -> topic -> its readers counts as producer -> reader
            pairs = [(e.source, reader) for reader in readers[e.target]]
        else:
            continue
        for a, b in pairs:
            if a != b:
                rate[(a, b)] += max(e.rate, 0.0)
    kept = {
        (a, b): r
        for (a, b), r in rate.items()
        if r > rate.get((b, a), -1.0) or (r == rate.get((b, a)) and a < b)
    }
    outgoing: dict[str, list[str]] = defaultdict(list)
    incoming: dict[str, int] = defaultdict(int)
    out_rate: dict[str, float] = defaultdict(float)
    for (a, b), r in sorted(kept.items()):
        outgoing[a].append(b)
        incoming[b] += 1
        out_rate[a] += r
    in_flow = {s for pair in kept for s in pair}
    layer: dict[str, int] = {}
    while unplaced := sorted(in_flow - layer.keys()):
        roots = [s for s in unplaced if incoming[s] == 0] or [
            min(unplaced, key=lambda s: (-out_rate[s], s))
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


def _forward_edges(graph: FlowGraph, order: dict[str, int]) -> list[tuple[str, str, int]]:
    """(source, target, span) of the edges left once cycles are broken (module doc, step 1)."""
    kinds = {n.id: n.kind for n in graph.nodes}
    span: dict[tuple[str, str], int] = {}
    for e in graph.edges:
        if e.source != e.target and e.source in kinds and e.target in kinds:
            both_services = kinds[e.source] == kinds[e.target] == "service"
            span[(e.source, e.target)] = max(
                span.get((e.source, e.target), 1), 2 if both_services else 1
            )
    outgoing: dict[str, list[str]] = defaultdict(list)
    for a, b in sorted(span):
        outgoing[a].append(b)
    # start where the flow starts, then wherever nothing flows in, then anywhere
    has_input = {b for _, b in span}
    starts = sorted(order, key=lambda s: (order[s], s))
    starts += sorted(n for n in kinds if n not in has_input and n not in order)
    starts += sorted(kinds)
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    kept: list[tuple[str, str, int]] = []
    for start in starts:
        if start in state:
            continue
        state[start] = 1
        stack = [(start, iter(outgoing[start]))]
        while stack:
            node, nexts = stack[-1]
            nxt = next(nexts, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
            elif state.get(nxt) != 1:  # an edge back onto the path closes a cycle: set aside
                kept.append((node, nxt, span[(node, nxt)]))
                if nxt not in state:
                    state[nxt] = 1
                    stack.append((nxt, iter(outgoing[nxt])))
    return kept


def columns_of(graph: FlowGraph) -> dict[str, int]:
    """Each node's column (module doc, step 2)."""
    kinds = {n.id: n.kind for n in graph.nodes}
    edges = _forward_edges(graph, flow_order(graph))
    incoming: dict[str, list[tuple[str, int]]] = defaultdict(list)
    outgoing: dict[str, list[str]] = defaultdict(list)
    for a, b, s in edges:
        incoming[b].append((a, s))
        outgoing[a].append(b)
    column: dict[str, int] = {}
    pending = {n: len(incoming[n]) for n in kinds}
    ready = deque(sorted(n for n, k in pending.items() if k == 0))
    while ready:
        node = ready.popleft()
        column[node] = max((column[a] + s for a, s in incoming[node]), default=0)
        for nxt in outgoing[node]:
            pending[nxt] -= 1
            if pending[nxt] == 0:
                ready.append(nxt)
    # nothing known feeds it: just left of its first consumer rather than at the far left
    for name in sorted(kinds, key=lambda n: -max((column[b] for b in outgoing[n]), default=0)):
        if not incoming[name] and outgoing[name] and kinds[name] != "service":
            column[name] = min(column[b] for b in outgoing[name]) - 1
    used = sorted(set(column.values()))
    dense = {c: i for i, c in enumerate(used)}
    return {name: dense[c] for name, c in column.items()}


def _ordered_rows(graph: FlowGraph, column: dict[str, int]) -> list[list[str]]:
    """Each column's nodes top to bottom (module doc, step 3)."""
    width = max(column.values(), default=-1) + 1
    rows: list[list[str]] = [sorted(n for n, c in column.items() if c == x) for x in range(width)]
    neighbours: dict[str, set[str]] = defaultdict(set)
    for e in graph.edges:
        if e.source in column and e.target in column and e.source != e.target:
            neighbours[e.source].add(e.target)
            neighbours[e.target].add(e.source)
    for sweep in range(SWEEPS):
        forward = sweep % 2 == 0
        order = range(1, width) if forward else range(width - 2, -1, -1)
        for x in order:
            ref = x - 1 if forward else x + 1
            index = {name: i for i, name in enumerate(rows[ref])}
            current = {name: i for i, name in enumerate(rows[x])}

            def centre(
                name: str, index: dict[str, int] = index, current: dict[str, int] = current
            ) -> tuple[float, str]:
                seen = [index[n] for n in neighbours[name] if n in index]
                return (sum(seen) / len(seen) if seen else float(current[name]), name)

            rows[x] = sorted(rows[x], key=centre)
    return rows


def _aligned_heights(graph: FlowGraph, rows: list[list[str]]) -> dict[str, float]:
    """Heights, a row apart at least within a column, each node pulled level with the mean of
    its neighbours in the column before (then after): a topic sits beside its readers instead of
    in the middle of a tall column."""
    y = {name: -float(i) for names in rows for i, name in enumerate(names)}
    neighbours: dict[str, set[str]] = defaultdict(set)
    for e in graph.edges:
        if e.source in y and e.target in y and e.source != e.target:
            neighbours[e.source].add(e.target)
            neighbours[e.target].add(e.source)
    column = {name: x for x, names in enumerate(rows) for name in names}
    for step in (1, -1):
        order = range(1, len(rows)) if step == 1 else range(len(rows) - 2, -1, -1)
        for x in order:
            top = float("inf")
            for name in rows[x]:
                seen = [y[n] for n in neighbours[name] if column[n] == x - step]
                wanted = sum(seen) / len(seen) if seen else y[name]
                y[name] = top = min(wanted, top - 1.0)
    high = max(y.values(), default=0.0)
    return {name: v - high for name, v in y.items()}


def layered_positions(graph: FlowGraph) -> dict[str, Position]:
    """x: the node's column; y: its height (0 for the top row, one per row downwards). Nodes
    with no edge to another node (a RabbitMQ queue whose consumers are only known as the queue
    itself) go in a grid below the rest, so that they do not crowd the flow's first column."""
    linked = {n for e in graph.edges if e.source != e.target for n in (e.source, e.target)}
    flowing = FlowGraph(tuple(n for n in graph.nodes if n.id in linked), graph.edges)
    rows = _ordered_rows(flowing, columns_of(flowing))
    y = _aligned_heights(flowing, rows)
    positions = {name: (float(x), y[name]) for x, names in enumerate(rows) for name in names}
    alone = sorted(n.id for n in graph.nodes if n.id not in linked)
    width = max(len(rows), GRID_COLUMNS)
    top = min(y.values(), default=1.0) - 1.0
    for i, name in enumerate(alone):
        positions[name] = (float(i % width), top - i // width)
    return positions

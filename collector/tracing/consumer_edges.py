"""Service-graph edges told by consumptions: how consumer-only services join the graph.

The produced hops give an edge per hop that followed another (`ingest`). A service that only
consumes (a notification service, an analytics job) never produces a hop, so it would never
appear; its consumptions (Kafka commits passing a hop, RabbitMQ deliveries) give the edge
instead: hop.service -> consuming service, event type = the hop's, latency = consumed_at −
produced_at.

Rule against double counting (the SQL is `feeds._CONSUMER_EDGES`): a consumption of hop h by
service S counts unless

1. h is a dead letter (dead letters cause no edges, as in `ingest`);
2. S produced a hop of h's journey at or after h: S reacted, and the produced hop already
   counts the edge h.service -> S (with the produce-to-produce latency). A dead letter S
   produced is no reaction (it causes no edge), so a poison event still counts as received;
3. another group of S consumed h earlier (one edge per hop and service).

Rule 2 needs S's reaction stored before the consumption is judged. A Kafka group commits after
it produced, but the tap may store the reaction later, and a RabbitMQ delivery is seen before
the consumer has even reacted. So a consumption is judged `delay_seconds` after it was logged
(`tracing.consumer_edge_delay_seconds`, 30 s by default): a reaction stored later than that is
counted twice. Each consumption is judged once: the log holds only consumptions actually
inserted (a commit seen again after a restart is not), and the cursor is kept in the store.

Example: OrderConfirmed (order-service, produced 10.0) consumed by notification-service, seen
at the poll of 12.0, judged at 42.0 or later: notification-service produced nothing in that
journey, so flow_events_total{order-service, notification-service, OrderConfirmed} += 1 and
hop_latency_seconds{order-service, notification-service} observes 2.0.
"""

from __future__ import annotations

import threading
from collections import deque

from collector.tracing import feeds
from collector.tracing.ingest import Edge
from collector.tracing.store import TraceStore

CURSOR = "edges" + feeds.LOG_CURSOR_SUFFIX
CHUNK = 5000  # consumptions judged per query


class ConsumerEdges:
    """Judges logged consumptions once they are `delay_seconds` old; call `tick(now)` often."""

    def __init__(self, store: TraceStore, delay_seconds: float) -> None:
        self.store = store
        self.delay_seconds = delay_seconds
        # (time, log end then): a consumption logged by then is old enough at time + delay
        self._ends: deque[tuple[float, int]] = deque()
        self._lock = threading.Lock()
        with store.reading() as db:
            start = feeds.cursor(db, CURSOR)
            self.position = feeds.log_end(db) if start is None else start
        if start is None:  # kept at once: the log is trimmed below the lowest cursor
            store.advance(CURSOR, self.position)

    def tick(self, now: float) -> list[Edge]:
        """The edges of the consumptions that became old enough since the last tick."""
        with self._lock:  # one judge at a time, or a consumption could be counted twice
            return self._tick(now)

    def _tick(self, now: float) -> list[Edge]:
        with self.store.reading() as db:
            self._ends.append((now, feeds.log_end(db)))
            ripe = self.position
            while self._ends and self._ends[0][0] <= now - self.delay_seconds:
                ripe = max(ripe, self._ends.popleft()[1])
            if ripe <= self.position:
                return []
            edges: list[Edge] = []
            for start in range(self.position, ripe, CHUNK):
                edges += feeds.consumer_edges(db, start, min(start + CHUNK, ripe))
        self.position = ripe
        self.store.advance(CURSOR, ripe)
        return edges

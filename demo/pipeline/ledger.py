"""What the pipeline did, counted as it happens: the ground truth `GET /status` reports.

Per broker: the orders placed with the outcome each must reach, the outcome each did reach
(first terminal state wins; a second, different one is counted as a conflict), and counters per
consuming service. Thread-safe: every worker thread writes here.

Bounded: the latest `max_orders` orders per broker are kept one by one (their IDs are what
`snapshot(include_ids=True)` lists); older ones are folded into counters, so a demo left running
for days does not grow (it used to keep every order: +180 MiB in 30 minutes at 10x). An order
retired while still open stays counted as open.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from typing import Any

from demo.pipeline.flow import Outcome

SERVICE_COUNTERS = ("processed", "duplicates_skipped", "retries", "dead_lettered", "published")
MAX_ORDERS = 20_000  # per broker: ~1.1 hours at the default 5 orders/s, ~7 minutes at 10x


class Ledger:
    def __init__(self, brokers: tuple[str, ...], max_orders: int = MAX_ORDERS) -> None:
        self._lock = threading.Lock()
        self._max_orders = max_orders
        # what retired orders counted: placed, open, and per outcome expected / reached
        self._retired: dict[str, Counter[str]] = {b: Counter() for b in brokers}
        self._expected: dict[str, dict[str, Outcome]] = {b: {} for b in brokers}
        self._reached: dict[str, dict[str, Outcome]] = {b: {} for b in brokers}
        self._conflicts: dict[str, list[str]] = {b: [] for b in brokers}
        self._services: dict[str, defaultdict[str, Counter[str]]] = {
            b: defaultdict(Counter) for b in brokers
        }
        self._published: dict[str, Counter[str]] = {b: Counter() for b in brokers}
        self._journeys: dict[str, dict[str, tuple[str, ...]]] = {b: {} for b in brokers}

    def order_placed(
        self, broker: str, correlation_id: str, expected: Outcome, journey: tuple[str, ...] = ()
    ) -> None:
        """Record a new order, the end it must reach and the event types it must show."""
        with self._lock:
            expected_now = self._expected[broker]
            expected_now[correlation_id] = expected
            self._journeys[broker][correlation_id] = journey
            if len(expected_now) > self._max_orders:
                self._retire(broker, next(iter(expected_now)))

    def _retire(self, broker: str, correlation_id: str) -> None:
        """Fold the oldest order into the counters (under the lock)."""
        retired = self._retired[broker]
        outcome = self._expected[broker].pop(correlation_id)
        self._journeys[broker].pop(correlation_id, None)
        reached = self._reached[broker].pop(correlation_id, None)
        retired["placed"] += 1
        retired[f"expected:{outcome.value}"] += 1
        if reached is None:
            retired["open"] += 1
        else:
            retired[f"terminal:{reached.value}"] += 1

    def published(self, broker: str, service: str, event_type: str) -> None:
        with self._lock:
            self._published[broker][event_type] += 1
            self._services[broker][service]["published"] += 1

    def count(self, broker: str, service: str, counter: str, by: int = 1) -> None:
        with self._lock:
            self._services[broker][service][counter] += by

    def terminal(self, broker: str, correlation_id: str, outcome: Outcome) -> None:
        with self._lock:
            reached = self._reached[broker]
            if correlation_id not in self._expected[broker]:
                return  # an interaction session, or an order from an earlier run
            previous = reached.setdefault(correlation_id, outcome)
            if previous is not outcome:
                self._conflicts[broker].append(correlation_id)

    def snapshot(self, include_ids: bool) -> dict[str, Any]:
        with self._lock:
            out: dict[str, Any] = {}
            for broker, expected in self._expected.items():
                reached = self._reached[broker]
                retired = self._retired[broker]
                view: dict[str, Any] = {
                    "orders_placed": retired["placed"] + len(expected),
                    "orders_open": retired["open"] + sum(1 for c in expected if c not in reached),
                    "terminal": {o.value: retired[f"terminal:{o.value}"] for o in Outcome},
                    "expected": {o.value: retired[f"expected:{o.value}"] for o in Outcome},
                    "conflicts": len(self._conflicts[broker]),
                    "published": dict(self._published[broker]),
                    "services": {
                        s: {c: counts[c] for c in SERVICE_COUNTERS}
                        for s, counts in sorted(self._services[broker].items())
                    },
                }
                for outcome in reached.values():
                    view["terminal"][outcome.value] += 1
                for outcome in expected.values():
                    view["expected"][outcome.value] += 1
                if include_ids:
                    view["ids"] = {
                        "placed": sorted(expected),
                        "expected": _group(expected),
                        "terminal": _group(reached),
                        "conflicts": list(self._conflicts[broker]),
                        "journeys": {c: list(j) for c, j in self._journeys[broker].items()},
                    }
                out[broker] = view
            return out


def _group(outcomes: dict[str, Outcome]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {o.value: [] for o in Outcome}
    for correlation_id, outcome in outcomes.items():
        grouped[outcome.value].append(correlation_id)
    return {k: sorted(v) for k, v in grouped.items()}

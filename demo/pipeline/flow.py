"""The order flow's business rules: pure functions, no clock, no I/O, no broker.

Every decision is derived from stable hashes of IDs, so the same order always takes the same path
(whichever broker carries it, however often it is redelivered) and the expected outcome of an
order can be computed up front and compared with what the services did:

    OrderPlaced ─inventory─► InventoryReserved ─payment─► PaymentCompleted ─order─► OrderConfirmed
                         └─► InventoryShortage ─order─► OrderCancelled               (notified)
                                                  PaymentFailed ─inventory─► InventoryReleased
                                                               └─order────► OrderCancelled
    unknown product (poison) → retried, then dead-lettered by inventory-service.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from demo.pipeline import events as ev

CATALOG: Mapping[str, int] = {f"SKU-{n:03d}": 5 + 7 * n for n in range(1, 21)}  # sku → cents/100
POISON_SKU = "SKU-UNKNOWN"
_ID_NAMESPACE = uuid.UUID("6f1d3c2e-0d5b-4c8e-9a55-0e7c5d1b2a90")


class Outcome(StrEnum):
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    DEAD_LETTERED = "dead_lettered"


class UnknownProduct(Exception):
    """The order names a product the catalog does not have: retrying can never succeed."""


class TransientFailure(Exception):
    """A simulated passing failure (a timeout to a downstream store): a retry may succeed."""


@dataclass(frozen=True)
class FlowRates:
    """Shares of orders that take each unhappy path (0..1)."""

    shortage: float = 0.10
    payment_failure: float = 0.15
    transient: float = 0.05  # per processing attempt


@dataclass(frozen=True)
class Output:
    event_type: str
    body: Mapping[str, Any]


@dataclass(frozen=True)
class Reaction:
    """What a service does with one event: the events it publishes and the order's end, if any."""

    outputs: tuple[Output, ...] = ()
    outcome: Outcome | None = None


def stable_fraction(key: str) -> float:
    """A number in [0, 1) fixed by `key`: the first 32 bits of its SHA-256 over 2**32.

    Example: stable_fraction("x") is the same on every run and machine, so
    `stable_fraction(order_id + "/payment") < 0.15` fails the same 15 % of orders everywhere.
    """
    digest = hashlib.sha256(key.encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32


def derived_event_id(consumed_event_id: str, event_type: str) -> str:
    """The ID of the event published in reaction to another: the same on every redelivery,
    so a reprocessed input yields an output the next service recognises as a duplicate."""
    return str(uuid.uuid5(_ID_NAMESPACE, f"{consumed_event_id}/{event_type}"))


def has_shortage(order_id: str, rates: FlowRates) -> bool:
    return stable_fraction(order_id + "/inventory") < rates.shortage


def payment_fails(order_id: str, rates: FlowRates) -> bool:
    return stable_fraction(order_id + "/payment") < rates.payment_failure


TRANSIENT_ATTEMPTS = 2  # glitches hit the first two attempts at most: the third succeeds


def is_transient_failure(event_id: str, service: str, attempt: int, rates: FlowRates) -> bool:
    """Whether attempt `attempt` (1-based) of `service` on `event_id` hits a simulated glitch.

    Only attempts 1 and 2 can fail, so with 2 or more retries a glitch never dead-letters an
    event: the DLQs hold poison and unreadable messages only, and outcomes stay predictable.
    """
    if attempt > TRANSIENT_ATTEMPTS:
        return False
    return stable_fraction(f"{event_id}/{service}/{attempt}") < rates.transient


def expected_outcome(order: Mapping[str, Any], rates: FlowRates) -> Outcome:
    """The end an OrderPlaced body must reach, assuming transient failures are retried away."""
    order_id = str(order["order_id"])
    if order.get("sku") not in CATALOG:
        return Outcome.DEAD_LETTERED
    if has_shortage(order_id, rates) or payment_fails(order_id, rates):
        return Outcome.CANCELLED
    return Outcome.CONFIRMED


def expected_event_types(order: Mapping[str, Any], rates: FlowRates) -> tuple[str, ...]:
    """The event types one order's correlation ID must show on the streams, in causal order."""
    order_id = str(order["order_id"])
    if order.get("sku") not in CATALOG:
        return ("OrderPlaced",)
    if has_shortage(order_id, rates):
        return ("OrderPlaced", "InventoryShortage", "OrderCancelled")
    if payment_fails(order_id, rates):
        return ("OrderPlaced", "InventoryReserved", "PaymentFailed", "InventoryReleased",
                "OrderCancelled")  # fmt: skip
    return ("OrderPlaced", "InventoryReserved", "PaymentCompleted", "OrderConfirmed")


def new_order(rng: random.Random, poison_rate: float) -> tuple[str, dict[str, Any]]:
    """A random order as (correlation ID, OrderPlaced body); a `poison_rate` share name an
    unknown product. The body's `event_id` is added by the publisher."""
    correlation_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    order_id = f"ord-{rng.getrandbits(48):012x}"
    sku = POISON_SKU if rng.random() < poison_rate else rng.choice(sorted(CATALOG))
    quantity = rng.randint(1, 4)
    price = CATALOG.get(sku, 10)
    body = {
        "order_id": order_id,
        "customer": f"cust-{rng.randint(1, 500):04d}",
        "sku": sku,
        "items": quantity,
        "amount": round(price * quantity, 2),
    }
    return correlation_id, body


def react(service: str, event: ev.Event, rates: FlowRates) -> Reaction:
    """The rules of each service. Raises UnknownProduct for poison orders."""
    body = event.body
    order_id = str(body.get("order_id", ""))
    keep = {"order_id": order_id}
    match (service, event.event_type):
        case (ev.INVENTORY_SERVICE, "OrderPlaced"):
            if body.get("sku") not in CATALOG:
                raise UnknownProduct(f"unknown product {body.get('sku')!r}")
            if has_shortage(order_id, rates):
                return Reaction((Output("InventoryShortage", {**keep, "sku": body["sku"]}),))
            reserved = {**keep, "customer": body["customer"], "amount": body["amount"]}
            return Reaction((Output("InventoryReserved", reserved),))
        case (ev.INVENTORY_SERVICE, "PaymentFailed"):
            return Reaction((Output("InventoryReleased", keep),))
        case (ev.PAYMENT_SERVICE, "InventoryReserved"):
            if payment_fails(order_id, rates):
                return Reaction((Output("PaymentFailed", {**keep, "reason": "card_declined"}),))
            return Reaction((Output("PaymentCompleted", {**keep, "amount": body["amount"]}),))
        case (ev.ORDER_SERVICE, "PaymentCompleted"):
            return Reaction((Output("OrderConfirmed", keep),), Outcome.CONFIRMED)
        case (ev.ORDER_SERVICE, "PaymentFailed"):
            cancelled = {**keep, "reason": "payment_failed"}
            return Reaction((Output("OrderCancelled", cancelled),), Outcome.CANCELLED)
        case (ev.ORDER_SERVICE, "InventoryShortage"):
            cancelled = {**keep, "reason": "out_of_stock"}
            return Reaction((Output("OrderCancelled", cancelled),), Outcome.CANCELLED)
        case _:
            return Reaction()  # notification and analytics consumers only record what they saw


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: attempt n (1-based) failing waits base × factor^(n−1), at most cap.

    Example: base 0.05 s, factor 2, cap 1 s, max_retries 3 → waits 0.05, 0.1, 0.2 s; the
    4th failed attempt dead-letters the event with retry count 3.
    """

    max_retries: int = 3
    base_seconds: float = 0.05
    factor: float = 2.0
    cap_seconds: float = 1.0

    def delay_after(self, attempt: int) -> float | None:
        """Seconds to wait after failed attempt `attempt`, or None: give up and dead-letter."""
        if attempt > self.max_retries:
            return None
        return min(self.cap_seconds, self.base_seconds * self.factor ** (attempt - 1))

    def schedule(self) -> tuple[float, ...]:
        return tuple(d for a in range(1, self.max_retries + 1) if (d := self.delay_after(a)))


class ProcessedEvents:
    """The event IDs a consumer has already processed, oldest forgotten beyond `capacity`.

    In memory only: a duplicate that arrives after a restart of the service is processed again
    (the published reaction reuses its derived event ID, so the next service still skips it).
    """

    def __init__(self, capacity: int = 100_000) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._capacity = capacity

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, event_id: str) -> None:
        self._ids[event_id] = None
        self._ids.move_to_end(event_id)
        while len(self._ids) > self._capacity:
            self._ids.popitem(last=False)


def batch_window_open(now: float, period_s: float, awake_s: float) -> bool:
    """Whether a periodic batch consumer works at `now`: the first `awake_s` of every period.

    Example: period 20 s, awake 4 s → works at t = 40.0 .. 43.9, sleeps at t = 44 .. 59.9.
    """
    return now % period_s < awake_s

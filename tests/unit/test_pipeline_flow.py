"""The demo order flow's pure rules: outcomes, reactions, backoff, idempotency, batch window."""

from __future__ import annotations

import random

import pytest

from demo.pipeline import events as ev
from demo.pipeline.flow import (
    CATALOG,
    POISON_SKU,
    FlowRates,
    Outcome,
    ProcessedEvents,
    RetryPolicy,
    UnknownProduct,
    batch_window_open,
    derived_event_id,
    expected_event_types,
    expected_outcome,
    has_shortage,
    is_transient_failure,
    new_order,
    payment_fails,
    react,
    stable_fraction,
)

NEVER = FlowRates(shortage=0.0, payment_failure=0.0, transient=0.0)
SHORT = FlowRates(shortage=1.0, payment_failure=0.0, transient=0.0)
DECLINE = FlowRates(shortage=0.0, payment_failure=1.0, transient=0.0)
ORDER = {"order_id": "ord-1", "customer": "cust-0001", "sku": "SKU-001", "items": 2, "amount": 24}
POISON = {**ORDER, "sku": POISON_SKU}


def event(event_type: str, body: dict[str, object]) -> ev.Event:
    return ev.Event("e-1", event_type, "corr-1", "x", 1_700_000_000_000, body)


@pytest.mark.parametrize(
    ("order", "rates", "outcome", "journey"),
    [
        (ORDER, NEVER, Outcome.CONFIRMED,
         ("OrderPlaced", "InventoryReserved", "PaymentCompleted", "OrderConfirmed")),
        (ORDER, SHORT, Outcome.CANCELLED, ("OrderPlaced", "InventoryShortage", "OrderCancelled")),
        (ORDER, DECLINE, Outcome.CANCELLED,
         ("OrderPlaced", "InventoryReserved", "PaymentFailed", "InventoryReleased",
          "OrderCancelled")),
        (POISON, NEVER, Outcome.DEAD_LETTERED, ("OrderPlaced",)),
        (POISON, SHORT, Outcome.DEAD_LETTERED, ("OrderPlaced",)),  # poison wins over shortage
    ],
)  # fmt: skip
def test_expected_outcome_and_journey(order, rates, outcome, journey):
    assert expected_outcome(order, rates) is outcome
    assert expected_event_types(order, rates) == journey


@pytest.mark.parametrize(
    ("service", "event_type", "body", "rates", "outputs", "outcome"),
    [
        (ev.INVENTORY_SERVICE, "OrderPlaced", ORDER, NEVER, ["InventoryReserved"], None),
        (ev.INVENTORY_SERVICE, "OrderPlaced", ORDER, SHORT, ["InventoryShortage"], None),
        (ev.INVENTORY_SERVICE, "PaymentFailed", ORDER, NEVER, ["InventoryReleased"], None),
        (ev.PAYMENT_SERVICE, "InventoryReserved", ORDER, NEVER, ["PaymentCompleted"], None),
        (ev.PAYMENT_SERVICE, "InventoryReserved", ORDER, DECLINE, ["PaymentFailed"], None),
        (ev.ORDER_SERVICE, "PaymentCompleted", ORDER, NEVER, ["OrderConfirmed"],
         Outcome.CONFIRMED),
        (ev.ORDER_SERVICE, "PaymentFailed", ORDER, NEVER, ["OrderCancelled"], Outcome.CANCELLED),
        (ev.ORDER_SERVICE, "InventoryShortage", ORDER, NEVER, ["OrderCancelled"],
         Outcome.CANCELLED),
        (ev.NOTIFICATION_SERVICE, "OrderConfirmed", ORDER, NEVER, [], None),
        (ev.ML_TRAINING, "UserInteraction", {"session_id": "s"}, NEVER, [], None),
    ],
)  # fmt: skip
def test_react_table(service, event_type, body, rates, outputs, outcome):
    reaction = react(service, event(event_type, body), rates)
    assert [o.event_type for o in reaction.outputs] == outputs
    assert reaction.outcome is outcome
    for output in reaction.outputs:
        assert output.body["order_id"] == "ord-1"  # every order event names its order


def test_every_reaction_is_a_declared_stream_of_its_producer():
    for service, event_type, rates in [
        (ev.INVENTORY_SERVICE, "OrderPlaced", NEVER), (ev.INVENTORY_SERVICE, "OrderPlaced", SHORT),
        (ev.PAYMENT_SERVICE, "InventoryReserved", DECLINE),
        (ev.ORDER_SERVICE, "PaymentCompleted", NEVER),
    ]:  # fmt: skip
        assert service in ev.STREAM_BY_TYPE[event_type].consumers
        for output in react(service, event(event_type, ORDER), rates).outputs:
            assert ev.STREAM_BY_TYPE[output.event_type].producer == service


def test_poison_order_raises_unknown_product():
    with pytest.raises(UnknownProduct, match="SKU-UNKNOWN"):
        react(ev.INVENTORY_SERVICE, event("OrderPlaced", POISON), NEVER)


def test_decisions_are_stable_and_near_their_rates():
    rates = FlowRates(shortage=0.1, payment_failure=0.15)
    ids = [f"ord-{n}" for n in range(4000)]
    shortages = sum(has_shortage(i, rates) for i in ids) / len(ids)
    failures = sum(payment_fails(i, rates) for i in ids) / len(ids)
    assert 0.08 < shortages < 0.12
    assert 0.13 < failures < 0.17
    assert [has_shortage(i, rates) for i in ids] == [has_shortage(i, rates) for i in ids]
    assert stable_fraction("x") == stable_fraction("x") != stable_fraction("y")


def test_transient_failures_follow_the_rate_and_spare_the_third_attempt():
    rates = FlowRates(transient=0.05)
    ids = [f"e-{n}" for n in range(4000)]
    first = sum(is_transient_failure(i, "payment-service", 1, rates) for i in ids) / len(ids)
    assert 0.04 < first < 0.06
    always = FlowRates(transient=1.0)
    assert is_transient_failure("e-1", "payment-service", 2, always)
    assert not is_transient_failure("e-1", "payment-service", 3, always)


def test_derived_event_id_is_the_same_on_redelivery_and_differs_per_type():
    reserved = derived_event_id("e-1", "InventoryReserved")
    assert reserved == derived_event_id("e-1", "InventoryReserved")
    assert reserved != derived_event_id("e-1", "PaymentFailed")
    assert reserved != derived_event_id("e-2", "InventoryReserved")


def test_new_order_is_reproducible_with_a_seed_and_poison_follows_the_rate():
    a = [new_order(random.Random(5), 0.5) for _ in range(3)]
    b = [new_order(random.Random(5), 0.5) for _ in range(3)]
    assert a == b
    rng = random.Random(1)
    skus = [new_order(rng, 0.25)[1]["sku"] for _ in range(2000)]
    assert 0.21 < skus.count(POISON_SKU) / len(skus) < 0.29
    assert all(s in CATALOG for s in skus if s != POISON_SKU)
    assert all(new_order(rng, 0.0)[1]["sku"] in CATALOG for _ in range(200))


@pytest.mark.parametrize(
    ("policy", "attempt", "delay"),
    [
        (RetryPolicy(3, 0.05, 2.0, 1.0), 1, 0.05),
        (RetryPolicy(3, 0.05, 2.0, 1.0), 2, 0.1),
        (RetryPolicy(3, 0.05, 2.0, 1.0), 3, 0.2),
        (RetryPolicy(3, 0.05, 2.0, 1.0), 4, None),  # limit reached: dead-letter
        (RetryPolicy(6, 0.5, 3.0, 2.0), 3, 2.0),  # 4.5 s capped at 2 s
        (RetryPolicy(0, 0.05, 2.0, 1.0), 1, None),  # no retries: first failure dead-letters
    ],
)
def test_backoff_delay(policy, attempt, delay):
    got = policy.delay_after(attempt)
    if delay is None:
        assert got is None
    else:
        assert got == pytest.approx(delay)


def test_backoff_schedule_lists_every_wait():
    assert RetryPolicy(4, 0.1, 2.0, 0.5).schedule() == pytest.approx((0.1, 0.2, 0.4, 0.5))


def test_processed_events_skips_seen_ids_and_forgets_the_oldest():
    seen = ProcessedEvents(capacity=2)
    seen.add("a")
    seen.add("b")
    assert "a" in seen and "b" in seen and "c" not in seen
    seen.add("a")  # seen again: now the newest
    seen.add("c")
    assert "b" not in seen
    assert "a" in seen and "c" in seen and len(seen) == 2


@pytest.mark.parametrize(
    ("now", "open_"),
    [(40.0, True), (43.9, True), (44.0, False), (59.9, False), (60.0, True)],
)
def test_batch_window(now, open_):
    assert batch_window_open(now, period_s=20.0, awake_s=4.0) is open_

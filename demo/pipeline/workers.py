"""The threads of one broker's pipeline: the consuming services and the two event sources.

A consuming service runs this loop on its own link: receive → skip duplicates → (slow knob) →
process with retries and exponential backoff → publish reactions → settle (commit/ack). A
message still failing after the retry limit, or unreadable, goes to the dead-letter topic/queue.
Broker failures close the link and reopen it a second later; unsettled messages come back.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace

from demo.pipeline import events as ev
from demo.pipeline.config import PipelineConfig
from demo.pipeline.flow import (
    Outcome,
    ProcessedEvents,
    TransientFailure,
    UnknownProduct,
    batch_window_open,
    derived_event_id,
    expected_event_types,
    expected_outcome,
    is_transient_failure,
    new_order,
    react,
)
from demo.pipeline.knobs import Knobs
from demo.pipeline.ledger import Ledger
from demo.pipeline.link import Link, Received
from demo.pipeline.tracing import Tracing

log = logging.getLogger(__name__)

RECONNECT_SECONDS = 1.0
POLL_SECONDS = 0.2


@dataclass(frozen=True)
class Context:
    """What every thread of one broker's pipeline shares."""

    broker: str
    config: PipelineConfig
    knobs: Knobs
    ledger: Ledger
    tracing: Tracing
    open_link: Callable[[str], Link]  # service name → a new link for the calling thread
    stop: threading.Event


def _now_ms() -> int:
    return int(time.time() * 1000)


def _with_link(ctx: Context, service: str, step: Callable[[Link], None]) -> None:
    """Run `step` repeatedly on a link until stop; reopen the link after a broker failure."""
    link: Link | None = None
    while not ctx.stop.is_set():
        try:
            if link is None:
                link = ctx.open_link(service)
            step(link)
        except Exception as exc:  # a worker thread must outlive broker failures
            log.warning("%s/%s: %s; reconnecting", ctx.broker, service, exc)
            if link is not None:
                _close_quietly(link)
                link = None
            ctx.stop.wait(RECONNECT_SECONDS)
    if link is not None:
        _close_quietly(link)


def _close_quietly(link: Link) -> None:
    try:
        link.close()
    except Exception as exc:  # closing a broken link may fail again
        log.debug("close failed: %s", exc)


def run_consumer(ctx: Context, service: str) -> None:
    processed = ProcessedEvents()

    def step(link: Link) -> None:
        if ctx.knobs.is_stopped(service):
            link.stop_consuming()
            link.idle(POLL_SECONDS)
            return
        if service == ev.BATCH_ANALYTICS and not batch_window_open(
            time.time(), ctx.config.batch_period_s, ctx.config.batch_awake_s
        ):
            link.idle(POLL_SECONDS)
            return
        link.start_consuming()
        received = link.receive(POLL_SECONDS)
        if received is not None:
            _handle(ctx, service, link, received, processed)

    _with_link(ctx, service, step)


def _handle(
    ctx: Context, service: str, link: Link, received: Received, processed: ProcessedEvents
) -> None:
    event = received.event
    if event is None:
        link.dead_letter(received, f"malformed: {received.malformed}", 0)
        ctx.ledger.count(ctx.broker, service, "dead_lettered")
        return
    if event.event_id in processed:
        ctx.ledger.count(ctx.broker, service, "duplicates_skipped")
        link.settle(received)
        return
    delay_ms = ctx.knobs.slow_ms(service)
    if service == ev.ML_TRAINING:
        delay_ms += ctx.config.ml_training_delay_ms
    if delay_ms and ctx.stop.wait(delay_ms / 1000):
        return  # shutting down: leave it unsettled, it is redelivered next run
    with ctx.tracing.consuming(service, ctx.broker, event):
        outcome = _process_with_retries(ctx, service, link, received, event)
    if outcome is None:
        return
    processed.add(event.event_id)
    ctx.ledger.count(ctx.broker, service, "processed")
    if isinstance(outcome, Outcome):
        ctx.ledger.terminal(ctx.broker, event.correlation_id, outcome)
    link.settle(received)


def _process_with_retries(
    ctx: Context, service: str, link: Link, received: Received, event: ev.Event
) -> Outcome | bool | None:
    """Outcome or True when processed, None when dead-lettered or interrupted by shutdown."""
    attempt = 1
    while True:
        try:
            if is_transient_failure(event.event_id, service, attempt, ctx.config.rates):
                raise TransientFailure(f"simulated timeout on attempt {attempt}")
            reaction = react(service, event, ctx.config.rates)
        except (TransientFailure, UnknownProduct) as exc:
            wait = ctx.config.retry.delay_after(attempt)
            if wait is None:
                link.dead_letter(received, f"{type(exc).__name__}: {exc}", attempt - 1)
                ctx.ledger.count(ctx.broker, service, "dead_lettered")
                ctx.ledger.terminal(ctx.broker, event.correlation_id, Outcome.DEAD_LETTERED)
                return None
            ctx.ledger.count(ctx.broker, service, "retries")
            if ctx.stop.wait(wait):
                return None
            attempt += 1
            continue
        for output in reaction.outputs:
            traceparent, tracestate = ctx.tracing.current_context()
            link.publish(
                ev.Event(
                    event_id=derived_event_id(event.event_id, output.event_type),
                    event_type=output.event_type,
                    correlation_id=event.correlation_id,
                    source=service,
                    timestamp_ms=_now_ms(),
                    body=output.body,
                    traceparent=traceparent,
                    tracestate=tracestate,
                )
            )
            ctx.ledger.published(ctx.broker, service, output.event_type)
        return reaction.outcome or True


class _Pacer:
    """Spaces sends at a rate that may change at any time; never catches up more than 1 s."""

    def __init__(self) -> None:
        self._next = time.monotonic()

    def due(self, rate: float) -> float:
        """Seconds until the next send is due (<= 0: send now)."""
        now = time.monotonic()
        if rate <= 0:
            self._next = now
            return POLL_SECONDS
        self._next = max(self._next, now - 1.0)
        return self._next - now

    def sent(self, rate: float) -> None:
        self._next += 1.0 / rate if rate > 0 else 0.0


def _publish_new(ctx: Context, link: Link, event: ev.Event) -> None:
    """Publish the first event of a journey, as the root span of a new trace."""
    with ctx.tracing.new_trace(event.source, ctx.broker, event.correlation_id):
        traceparent, tracestate = ctx.tracing.current_context()
        link.publish(replace(event, traceparent=traceparent, tracestate=tracestate))
    ctx.ledger.published(ctx.broker, event.source, event.event_type)


def _seeded(ctx: Context, stream: str) -> random.Random:
    seed = ctx.config.seed
    return random.Random(f"{seed}/{ctx.broker}/{stream}") if seed is not None else random.Random()


def run_order_source(ctx: Context) -> None:
    """order-service's front door: places orders at the order rate, plus any requested burst."""
    rng = _seeded(ctx, "orders")
    pacer = _Pacer()
    limit = ctx.config.orders
    placed = 0

    def place(link: Link) -> None:
        nonlocal placed
        correlation_id, body = new_order(rng, ctx.knobs.poison_rate())
        event_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        expected = expected_outcome(body, ctx.config.rates)
        journey = expected_event_types(body, ctx.config.rates)
        ctx.ledger.order_placed(ctx.broker, correlation_id, expected, journey)
        event = ev.Event(event_id, "OrderPlaced", correlation_id, ev.ORDER_SERVICE, _now_ms(), body)
        _publish_new(ctx, link, event)
        placed += 1

    def step(link: Link) -> None:
        for _ in range(ctx.knobs.take_burst(ctx.broker)):
            place(link)
        rate = ctx.knobs.order_rate()
        if limit is not None and placed >= limit:
            link.idle(POLL_SECONDS)
            return
        wait = pacer.due(rate)
        if wait > 0:
            link.idle(min(wait, POLL_SECONDS))
            return
        place(link)
        pacer.sent(rate)

    _with_link(ctx, ev.ORDER_SERVICE + "/orders", step)


ACTIONS = ("view", "search", "add_to_cart", "click", "scroll")


def run_interaction_source(ctx: Context) -> None:
    """web-frontend: user interactions (one correlation ID per browsing session)."""
    rng = _seeded(ctx, "interactions")
    sessions = [f"sess-{rng.getrandbits(40):010x}" for _ in range(50)]
    pacer = _Pacer()

    def step(link: Link) -> None:
        rate = ctx.knobs.interaction_rate()
        wait = pacer.due(rate)
        if wait > 0:
            link.idle(min(wait, POLL_SECONDS))
            return
        session = rng.choice(sessions)
        body: dict[str, object] = {
            "session_id": session,
            "user": f"user-{rng.randint(1, 300):04d}",
            "action": rng.choice(ACTIONS),
            "page": f"/p/{rng.randint(1, 40)}",
        }
        event_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        event = ev.Event(event_id, "UserInteraction", session, ev.WEB_FRONTEND, _now_ms(), body)
        _publish_new(ctx, link, event)
        pacer.sent(rate)

    _with_link(ctx, ev.WEB_FRONTEND, step)

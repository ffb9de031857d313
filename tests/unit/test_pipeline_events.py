"""Event encoding and decoding, the stream table, knobs and the ledger of the demo pipeline."""

from __future__ import annotations

import json

import pytest

from demo.pipeline import events as ev
from demo.pipeline.config import KafkaSettings, PipelineConfig, PipelineConfigError, RabbitSettings
from demo.pipeline.flow import FlowRates, Outcome
from demo.pipeline.knobs import Knobs, UnknownService
from demo.pipeline.ledger import Ledger

HEADERS = {"correlation_id": "c-1", "event_type": "OrderPlaced", "source": "order-service"}
KAFKA = PipelineConfig(kafka=KafkaSettings("127.0.0.1:9092"))


def test_event_round_trips_through_headers_and_body():
    event = ev.Event("e-1", "OrderPlaced", "c-1", "order-service", 123, {"order_id": "o-1"},
                     traceparent="00-" + "a" * 32 + "-" + "b" * 16 + "-01")  # fmt: skip
    body = event.encode_body()
    assert json.loads(body) == {"event_id": "e-1", "order_id": "o-1"}
    assert ev.decode_event(event.headers(), body, 123) == event
    assert event.key == "o-1"
    assert event.stream.name == "orders.placed"


@pytest.mark.parametrize(
    ("headers", "body", "reason"),
    [
        (HEADERS, b"not json", "not JSON"),
        (HEADERS, b'{"order_id": "o"}', "no event_id"),
        ({**HEADERS, "correlation_id": ""}, b'{"event_id": "e"}', "correlation_id"),
        ({k: v for k, v in HEADERS.items() if k != "source"}, b'{"event_id": "e"}', "source"),
        ({**HEADERS, "event_type": "Nope"}, b'{"event_id": "e"}', "unknown event_type"),
    ],
)
def test_decode_rejects_what_is_not_our_event(headers, body, reason):
    with pytest.raises(ev.MalformedEvent, match=reason):
        ev.decode_event(headers, body, 0)


def test_stream_table_is_consistent():
    names = [s.name for s in ev.STREAMS]
    assert len(set(names)) == len(names)
    for stream in ev.STREAMS:
        assert stream.producer not in stream.consumers
    consumed = {c for s in ev.STREAMS for c in s.consumers}
    assert consumed == set(ev.ALL_CONSUMERS)
    assert [s.name for s in ev.streams_consumed_by(ev.ORDER_SERVICE)] == [
        "inventory.shortage", "payments.completed", "payments.failed"]  # fmt: skip
    assert ev.dlq_name("orders.placed") == "orders.placed.dlq"


@pytest.mark.parametrize(
    ("config", "key"),
    [
        (PipelineConfig(), "at least one broker"),
        (PipelineConfig(rabbitmq=RabbitSettings("http://x")), "rabbitmq.url"),
        (PipelineConfig(kafka=KafkaSettings("h:1"), order_rate=-1), "order_rate"),
        (PipelineConfig(kafka=KafkaSettings("h:1"), poison_rate=2), "poison_rate"),
        (PipelineConfig(kafka=KafkaSettings("h:1"), rates=FlowRates(shortage=-0.1)),
         "rates.shortage"),
        (PipelineConfig(kafka=KafkaSettings("h:1"), control="8080"), "control"),
        (PipelineConfig(kafka=KafkaSettings("h:1"), batch_awake_s=30), "batch_awake_s"),
    ],
)  # fmt: skip
def test_config_errors_name_the_key(config, key):
    with pytest.raises(PipelineConfigError, match=key):
        config.validate()


def test_config_brokers_follow_the_settings():
    both = PipelineConfig(kafka=KafkaSettings("h:1"), rabbitmq=RabbitSettings("amqp://h/"))
    assert both.validate().brokers() == ("kafka", "rabbitmq")
    assert KAFKA.brokers() == ("kafka",)


def test_knobs_change_and_refuse_bad_values():
    knobs = Knobs(KAFKA)
    knobs.set_rate(orders=2)
    knobs.set_slow("payment-service", 250)
    knobs.set_stopped("payment-service", True)
    knobs.add_burst(10)
    snap = knobs.snapshot()
    assert snap["order_rate"] == 2 and snap["interaction_rate"] == 20
    assert snap["slow_ms"] == {"payment-service": 250}
    assert snap["stopped"] == ["payment-service"]
    assert knobs.take_burst("kafka") == 10 and knobs.take_burst("kafka") == 0
    knobs.set_stopped("payment-service", False)
    assert not knobs.is_stopped("payment-service")
    with pytest.raises(UnknownService):
        knobs.set_slow("billing", 1)
    with pytest.raises(ValueError):
        knobs.set_poison_rate(1.5)
    with pytest.raises(ValueError):
        knobs.set_rate(orders=-1)


def test_ledger_counts_outcomes_and_flags_a_second_different_end():
    ledger = Ledger(("kafka",))
    ledger.order_placed("kafka", "c-1", Outcome.CONFIRMED, ("OrderPlaced", "OrderConfirmed"))
    ledger.order_placed("kafka", "c-2", Outcome.DEAD_LETTERED)
    ledger.order_placed("kafka", "c-3", Outcome.CANCELLED)
    ledger.terminal("kafka", "c-1", Outcome.CONFIRMED)
    ledger.terminal("kafka", "c-1", Outcome.CONFIRMED)  # the same end twice is no conflict
    ledger.terminal("kafka", "c-2", Outcome.DEAD_LETTERED)
    ledger.terminal("kafka", "c-2", Outcome.CANCELLED)
    ledger.terminal("kafka", "sess-1", Outcome.CONFIRMED)  # not an order: ignored
    ledger.count("kafka", "inventory-service", "retries", 3)
    view = ledger.snapshot(include_ids=True)["kafka"]
    assert view["orders_placed"] == 3 and view["orders_open"] == 1
    assert view["terminal"] == {"confirmed": 1, "cancelled": 0, "dead_lettered": 1}
    assert view["expected"] == {"confirmed": 1, "cancelled": 1, "dead_lettered": 1}
    assert view["conflicts"] == 1 and view["ids"]["conflicts"] == ["c-2"]
    assert view["ids"]["terminal"]["confirmed"] == ["c-1"]
    assert view["ids"]["journeys"]["c-1"] == ["OrderPlaced", "OrderConfirmed"]
    assert view["services"]["inventory-service"]["retries"] == 3
    assert "ids" not in ledger.snapshot(include_ids=False)["kafka"]


def test_the_ledger_keeps_the_latest_orders_and_counts_the_rest():
    ledger = Ledger(("kafka",), max_orders=3)
    for i in range(10):
        ledger.order_placed("kafka", f"c-{i}", Outcome.CONFIRMED, ("OrderPlaced",))
        if i != 4:  # c-4 never ends
            ledger.terminal("kafka", f"c-{i}", Outcome.CONFIRMED)
    view = ledger.snapshot(include_ids=True)["kafka"]
    assert view["orders_placed"] == 10 and view["orders_open"] == 1
    assert view["terminal"]["confirmed"] == 9 and view["expected"]["confirmed"] == 10
    assert view["ids"]["placed"] == ["c-7", "c-8", "c-9"]
    assert sorted(view["ids"]["journeys"]) == ["c-7", "c-8", "c-9"]

"""Reading firehose and tap-queue messages into hops and deliveries (pure)."""

from __future__ import annotations

from collector.tracing.config import TracingConfig
from collector.tracing.headers import HeaderRules, Skipped
from collector.tracing.hop import Consumption, Hop
from collector.tracing.rabbitmq_events import Delivery, RabbitRules, message_number, read_message

RULES = RabbitRules(
    cluster_name="rabbit",
    header_rules=HeaderRules.from_config(TracingConfig()),
    topic_services={},
    group_services={"inv-q": "inventory-service"},
    dlq_patterns=("*.dlq",),
    payload_fields=(),
    tap_queue="eventscope.tap",
)
ORIGINAL = {
    "message_id": "e-1",
    "timestamp": 1700000000,
    "headers": {"correlation_id": b"ord-1", "event_type": b"OrderPlaced",
                "source": b"order-service", "timestamp_in_ms": 1700000000250},
}  # fmt: skip


def firehose(props: dict) -> dict:
    return {"headers": {"exchange_name": "events", "routing_keys": [b"orders.placed"],
                        "properties": props}}  # fmt: skip


def test_firehose_publish_is_a_hop_with_the_original_properties():
    hop = read_message("publish.events", firehose(ORIGINAL), b"{}", RULES, 5.0)
    assert isinstance(hop, Hop)
    assert (hop.correlation_id, hop.event_type, hop.service) == (
        "ord-1", "OrderPlaced", "order-service",
    )  # fmt: skip
    assert (hop.broker, hop.cluster_name, hop.source, hop.partition) == (
        "rabbitmq", "rabbit", "orders.placed", -1,
    )  # fmt: skip
    assert hop.produced_at == 1700000000.25  # the millisecond header beats the 1 s property
    assert hop.offset == message_number(ORIGINAL, "orders.placed")


def test_firehose_deliver_names_the_consuming_queue_and_finds_the_same_hop():
    published = read_message("publish.events", firehose(ORIGINAL), b"", RULES, 5.0)
    delivered = read_message("deliver.inv-q", firehose(ORIGINAL), b"", RULES, 6.0)
    assert isinstance(published, Hop) and isinstance(delivered, Delivery)
    assert delivered.hop.key == published.key
    assert delivered.consumption == Consumption("inv-q", "inventory-service", 6.0)
    assert read_message("deliver.eventscope.tap", firehose(ORIGINAL), b"", RULES, 6.0) is None


def test_dead_lettered_copy_names_the_queue_that_rejected_it():
    death = {"queue": b"inv-q", "reason": b"rejected", "count": 2, "exchange": b"events"}
    props = {**ORIGINAL, "headers": {**ORIGINAL["headers"], "x-death": [death]}}
    hop = read_message("inv-q.dlq", props, b"", RULES, 5.0)
    assert isinstance(hop, Hop)
    assert (hop.dlq, hop.dlq_reason, hop.retries, hop.service, hop.source) == (
        True, "rejected", 2, "inventory-service", "inv-q.dlq",
    )  # fmt: skip
    assert hop.offset == message_number(ORIGINAL, "inv-q.dlq")  # x-death is not identity


def test_amqp_properties_fill_in_for_missing_headers():
    props = {"correlation_id": "ord-2", "type": "OrderPlaced", "app_id": "shop",
             "timestamp": 1700000001, "headers": None}  # fmt: skip
    hop = read_message("orders.placed", props, b"", RULES, 5.0)
    assert isinstance(hop, Hop)
    assert (hop.correlation_id, hop.event_type, hop.service, hop.produced_at) == (
        "ord-2", "OrderPlaced", "shop", 1700000001.0,
    )  # fmt: skip


def test_identity_without_message_id_is_stable_and_distinct():
    a = {"headers": {"correlation_id": b"x", "n": 1}, "timestamp": 5}
    b = {"headers": {"n": 1, "correlation_id": b"x"}, "timestamp": 5}
    c = {"headers": {"correlation_id": b"x", "n": 2}, "timestamp": 5}
    assert message_number(a, "k") == message_number(b, "k") != message_number(c, "k")
    assert 0 <= message_number(a, "k") < 2**60


def test_malformed_messages_are_skipped_with_a_reason():
    assert read_message("k", {"headers": {}}, b"", RULES, 1.0) == Skipped("no_id")
    bad = {"headers": {"correlation_id": b"\xff"}}
    assert read_message("k", bad, b"", RULES, 1.0) == Skipped("not_utf8")
    odd = {"headers": {"correlation_id": "ok-1", "table": {"a": 1}, "list": [1, 2]}}
    assert isinstance(read_message("k", odd, b"", RULES, 1.0), Hop)  # tables are ignored

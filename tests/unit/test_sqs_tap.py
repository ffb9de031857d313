"""SQS tap messages → trace hops: which fields play headers, and what is never read."""

from __future__ import annotations

import json

import pytest

from collector.brokers.sqs_tap import (
    event_envelope,
    hop_of_message,
    message_number,
    produced_at,
    tap_headers,
)
from collector.tracing.config import TracingConfig
from collector.tracing.headers import HeaderRules, Skipped

TRACING = TracingConfig()
RULES = HeaderRules.from_config(TRACING)


def event_message(detail: dict, attributes: dict | None = None, message_id: str = "m-1") -> dict:
    body = {"version": "0", "id": "e-1", "detail-type": "OrderPlaced", "source": "shop",
            "time": "2026-11-26T07:00:00Z", "detail": detail}  # fmt: skip
    message = {"MessageId": message_id, "Body": json.dumps(body),
               "Attributes": {"SentTimestamp": "1795676400500"}}  # fmt: skip
    if attributes:
        message["MessageAttributes"] = attributes
    return message


def test_event_detail_and_envelope_make_the_hop():
    msg = event_message({"correlation_id": "ord-1", "total": 12, "card": "4111"})
    hop = hop_of_message(msg, RULES, "aws", "shop-bus", TRACING, now=0.0)
    assert not isinstance(hop, Skipped)
    assert (hop.correlation_id, hop.event_type, hop.service) == ("ord-1", "OrderPlaced", "shop")
    assert (hop.broker, hop.cluster_name, hop.source, hop.partition) == (
        "sqs",
        "aws",
        "shop-bus",
        -1,
    )
    assert hop.offset == message_number("e-1")  # the event id, not the MessageId
    # the event's time (whole seconds) refined by the SQS send time within that second
    assert hop.produced_at == 1795676400.5
    assert hop.fields == {}  # nothing of the payload unless payload_fields asks


def test_only_wanted_detail_fields_become_headers():
    headers = tap_headers(
        event_message({"correlation_id": "o", "card": "4111", "n": {"x": 1}}), RULES
    )
    assert ("card", "4111") not in headers
    assert headers == [("correlation_id", "o"), ("event_type", "OrderPlaced"), ("source", "shop")]


def test_message_attributes_win_over_the_event_body():
    msg = event_message(
        {"correlation_id": "from-body"},
        {"correlation_id": {"DataType": "String", "StringValue": "from-attr"},
         "event_type": {"DataType": "String", "StringValue": "PaymentTaken"}},
    )  # fmt: skip
    hop = hop_of_message(msg, RULES, "aws", "q", TRACING, now=0.0)
    assert not isinstance(hop, Skipped)
    assert (hop.correlation_id, hop.event_type) == ("from-attr", "PaymentTaken")


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (event_message({"order": 1}), "no_id"),
        ({"MessageId": "m", "Body": "plain text"}, "no_id"),
        (event_message({"correlation_id": "bad id with spaces"}), "bad_header"),
    ],
)
def test_skipped_messages_say_why(message, reason):
    assert hop_of_message(message, RULES, "aws", "q", TRACING, now=0.0) == Skipped(reason)


def test_plain_sqs_message_with_attributes_uses_sent_timestamp():
    attribute = {"DataType": "String", "StringValue": "o-9"}
    msg = {"MessageId": "m-2", "Body": "{}", "Attributes": {"SentTimestamp": "1795676400500"},
           "MessageAttributes": {"correlation_id": attribute}}  # fmt: skip
    hop = hop_of_message(msg, RULES, "aws", "q", TRACING, now=5.0)
    assert not isinstance(hop, Skipped)
    assert hop.produced_at == 1795676400.5
    assert produced_at({"Body": ""}, now=5.0) == 5.0


def test_payload_fields_are_allow_listed():
    tracing = TracingConfig(payload_fields=("order_id",))
    msg = event_message({"correlation_id": "o", "order_id": "A7", "card": "4111"})
    hop = hop_of_message(msg, HeaderRules.from_config(tracing), "aws", "q", tracing, now=0.0)
    assert not isinstance(hop, Skipped)
    assert hop.fields == {"order_id": "A7"}


def test_message_number_is_stable_and_63_bit():
    assert message_number("m-1") == message_number("m-1") != message_number("m-2")
    assert 0 <= message_number("m-1") < 2**63
    assert event_envelope("[]") is None and event_envelope("nope") is None


def test_copies_of_one_event_through_two_rules_are_one_hop_key():
    body = {"correlation_id": "ord-1"}
    first = hop_of_message(event_message(body, message_id="m-1"), RULES, "aws", "b", TRACING, 0.0)
    second = hop_of_message(event_message(body, message_id="m-2"), RULES, "aws", "b", TRACING, 0.0)
    assert not isinstance(first, Skipped) and not isinstance(second, Skipped)
    assert first.offset == second.offset


def test_a_plain_sqs_message_is_keyed_by_its_message_id():
    message = {
        "MessageId": "m-9",
        "Body": "not json",
        "MessageAttributes": {"correlation_id": {"DataType": "String", "StringValue": "c-1"}},
    }
    hop = hop_of_message(message, RULES, "aws", "q", TRACING, now=5.0)
    assert not isinstance(hop, Skipped)
    assert hop.offset == message_number("m-9")


def test_a_late_delivery_stays_within_the_event_second():
    message = event_message({"correlation_id": "o"})
    message["Attributes"] = {"SentTimestamp": "1795676403100"}  # delivered 3 s after the put
    assert produced_at(message, now=0.0) == 1795676400.999


def test_a_delivery_crossing_the_second_keeps_the_journey_in_order():
    # order-service puts OrderPlaced at …400.44 (time …400, delivered to the tap at …400.45);
    # inventory-service answers at …400.9 (time …400) but moto delivers it at …401.2
    placed = event_message({"correlation_id": "o"})
    placed["Attributes"] = {"SentTimestamp": "1795676400450"}
    reserved = event_message({"correlation_id": "o"})
    reserved["Attributes"] = {"SentTimestamp": "1795676401200"}
    assert produced_at(placed, now=0.0) < produced_at(reserved, now=0.0)

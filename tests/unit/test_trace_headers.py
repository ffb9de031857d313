"""Header parsing: table of cases, plus a property test that it never raises on any input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.tracing.config import TracingConfig
from collector.tracing.headers import (
    SKIP_REASONS,
    EventHeaders,
    HeaderRules,
    Skipped,
    Where,
    allowed_fields,
    build_hop,
    parse_headers,
    valid_traceparent,
)

RULES = HeaderRules.from_config(TracingConfig())
TP = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

CASES = [
    # (name, headers, expected)
    (
        "demo headers",
        [("correlation_id", b"ord-1"), ("event_type", b"OrderPlaced"), ("source", b"shop")],
        EventHeaders("ord-1", "OrderPlaced", "shop"),
    ),
    ("str values", [("correlation_id", "ord-1")], EventHeaders("ord-1")),
    ("dash name", [("correlation-id", b"c-2")], EventHeaders("c-2")),
    ("x- name, any case", [("X-Correlation-ID", b"c-3")], EventHeaders("c-3")),
    (
        "configured order wins over header order",
        [("x-correlation-id", b"second"), ("correlation_id", b"first")],
        EventHeaders("first"),
    ),
    (
        "duplicate key: first wins",
        [("correlation_id", b"a"), ("correlation_id", b"b")],
        EventHeaders("a"),
    ),
    (
        "empty first duplicate skipped",
        [("correlation_id", b""), ("correlation_id", b"b")],
        EventHeaders("b"),
    ),
    ("whitespace trimmed", [("correlation_id", b"  ord-9 ")], EventHeaders("ord-9")),
    (
        "service header fallback",
        [("correlation_id", b"c"), ("service", b"svc")],
        EventHeaders("c", service="svc"),
    ),
    (
        "valid traceparent kept",
        [("correlation_id", b"c"), ("traceparent", TP.encode())],
        EventHeaders("c", traceparent=TP),
    ),
    (
        "malformed traceparent dropped",
        [("correlation_id", b"c"), ("traceparent", b"00-xyz")],
        EventHeaders("c"),
    ),
    (
        "kafka dead-letter headers",
        [
            ("correlation_id", b"c"),
            ("dlq_error", b"poison"),
            ("dlq_service", b"inv"),
            ("dlq_retry_count", b"3"),
            ("dlq_original_topic", b"orders"),
        ],
        EventHeaders("c", dlq_marked=True, dlq_reason="poison", dlq_service="inv", retries=3),
    ),
    (
        "retry count not a number",
        [("correlation_id", b"c"), ("retries", b"\xd9\xa3")],
        EventHeaders("c"),
    ),
    (
        "event type not UTF-8 is absent",
        [("correlation_id", b"c"), ("event_type", b"\xff")],
        EventHeaders("c"),
    ),
    ("None headers", None, Skipped("no_id")),
    ("no headers", [], Skipped("no_id")),
    ("no ID header", [("event_type", b"OrderPlaced")], Skipped("no_id")),
    ("empty ID", [("correlation_id", b"   ")], Skipped("no_id")),
    ("None value", [("correlation_id", None)], Skipped("no_id")),
    ("ID not UTF-8", [("correlation_id", b"\xff\xfe")], Skipped("not_utf8")),
    ("ID with a space", [("correlation_id", b"a b")], Skipped("bad_header")),
    ("ID too long", [("correlation_id", b"a" * 201)], Skipped("bad_header")),
    ("oversize headers", [("correlation_id", b"c"), ("blob", b"x" * 9000)], Skipped("oversize")),
    ("not pairs", [("correlation_id",)], Skipped("bad_header")),
    ("a string, not a list", "correlation_id=c", Skipped("bad_header")),
    ("numeric name", [(42, b"x")], Skipped("bad_header")),
]


@pytest.mark.parametrize(("headers", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_parse_headers(headers, expected):
    assert parse_headers(headers, RULES) == expected


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        (TP, True),
        (TP.upper(), False),  # W3C requires lowercase hex
        ("ff" + TP[2:], False),  # version ff is invalid
        ("00-" + "0" * 32 + "-00f067aa0ba902b7-01", False),  # all-zero trace ID
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-" + "0" * 16 + "-01", False),
        (TP[:-1], False),
        ("", False),
    ],
)
def test_traceparent(value, kept):
    assert valid_traceparent(value) == (value if kept else "")


def test_only_allow_listed_payload_fields_are_kept():
    payload = b'{"order_id": "o-1", "amount": 42, "card": "4111", "nested": {"a": 1}}'
    assert allowed_fields(payload, ("order_id", "amount", "nested"), 1000) == {
        "order_id": "o-1",
        "amount": "42",
    }
    assert allowed_fields(payload, (), 1000) == {}
    assert allowed_fields(payload, ("order_id",), 10) == {}  # over the parse limit
    assert allowed_fields(b"\xff not json", ("order_id",), 1000) == {}
    assert allowed_fields(b"[1, 2]", ("order_id",), 1000) == {}


def test_a_dead_letter_hop_is_produced_by_the_service_that_dead_lettered_it():
    parsed = EventHeaders(
        "c",
        "OrderPlaced",
        "order-service",
        dlq_marked=True,
        dlq_reason="poison",
        dlq_service="inventory-service",
    )
    where = Where("kafka", "local", "orders.dlq", 0, 7, 100.0)
    hop = build_hop(parsed, where, {}, is_dlq_source=False, fields={})
    assert (hop.dlq, hop.service, hop.dlq_reason) == (True, "inventory-service", "poison")
    plain = build_hop(EventHeaders("c"), where, {"orders.dlq": "x"}, False, {})
    assert (plain.dlq, plain.service, plain.event_type) == (False, "x", "orders.dlq")


header_value = st.one_of(
    st.none(),
    st.binary(max_size=300),
    st.text(max_size=300),
    st.integers(),
    st.sampled_from([TP.encode(), b"00-zz", b"ord-1", "ord-2", b"\xff", b"x" * 10_000]),
)
header_name = st.one_of(
    st.sampled_from(
        [
            "correlation_id",
            "Correlation-Id",
            "x-correlation-id",
            "traceparent",
            "event_type",
            "source",
            "dlq_retry_count",
            "dlq_error",
        ]
    ),
    st.text(max_size=20),
    st.binary(max_size=20),
    st.integers(),
)
headers_strategy = st.one_of(
    st.none(),
    st.lists(st.tuples(header_name, header_value), max_size=12),
    st.lists(st.lists(header_value, max_size=3), max_size=3),  # not pairs
    st.binary(max_size=50),
    st.integers(),
)


@settings(max_examples=200, deadline=None)
@given(headers_strategy)
def test_parse_headers_never_raises_and_says_why_it_skipped(headers):
    result = parse_headers(headers, RULES)
    if isinstance(result, Skipped):
        assert result.reason in SKIP_REASONS
    else:
        assert 1 <= len(result.correlation_id) <= 200
        assert result.traceparent in ("", valid_traceparent(result.traceparent))
        assert result.retries >= 0

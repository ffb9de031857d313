"""DLQ detection from queue arguments, policies, exchange types and bindings (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from collector.brokers.rabbitmq_samples import (
    QueueSelection,
    acked_total,
    build_samples,
    source_by_name,
)
from collector.brokers.rabbitmq_topology import (
    Binding,
    QueueTopology,
    dead_letter_sources,
    display_name,
    topic_matches,
)


@pytest.mark.parametrize(
    ("pattern", "key", "expected"),
    [
        ("orders", "orders", True),
        ("orders.*", "orders.eu", True),
        ("orders.*", "orders", False),
        ("orders.*", "orders.eu.x", False),
        ("orders.#", "orders", True),
        ("orders.#", "orders.eu.x", True),
        ("#", "anything.at.all", True),
        ("*.failed", "pay.failed", True),
        ("#.failed", "a.b.failed", True),
        ("#.failed", "a.b.ok", False),
    ],
)
def test_topic_matches(pattern: str, key: str, expected: bool) -> None:
    assert topic_matches(pattern, key) is expected


def test_display_name_keeps_default_vhost_bare() -> None:
    assert (display_name("/", "orders"), display_name("shop", "orders")) == (
        "orders",
        "shop/orders",
    )


def default_bindings(*queues: tuple[str, str]) -> list[Binding]:
    """RabbitMQ lists every queue's binding on the default exchange with its own name."""
    return [Binding(v, "", n, "queue", n) for v, n in queues]


X = {("/", "dlx"): "direct", ("/", "dlt"): "topic", ("/", "fan"): "fanout", ("/", "hop"): "direct"}

CASES: list[tuple[int, list[QueueTopology], list[Binding], dict[tuple[str, str], set[str]]]] = [
    # 1: DLX argument, no routing key: the source's own key (its name) routes through dlx
    (
        1,
        [
            QueueTopology("/", "orders", {"x-dead-letter-exchange": "dlx"}),
            QueueTopology("/", "parked"),
        ],
        [Binding("/", "dlx", "parked", "queue", "orders")],
        {("/", "parked"): {"orders"}},
    ),
    # 2: explicit dead-letter routing key wins over the original keys
    (
        2,
        [
            QueueTopology(
                "/", "orders", {"x-dead-letter-exchange": "dlx", "x-dead-letter-routing-key": "bad"}
            ),
            QueueTopology("/", "parked"),
            QueueTopology("/", "graveyard"),
        ],
        [
            Binding("/", "dlx", "parked", "queue", "orders"),
            Binding("/", "dlx", "graveyard", "queue", "bad"),
        ],
        {("/", "graveyard"): {"orders"}},
    ),
    # 3: the policy's dead-letter-exchange and routing key, through a topic exchange
    (
        3,
        [
            QueueTopology(
                "/", "pay", policy={"dead-letter-exchange": "dlt", "dead-letter-routing-key": "p.x"}
            ),
            QueueTopology("/", "failures"),
        ],
        [Binding("/", "dlt", "failures", "queue", "p.*")],
        {("/", "failures"): {"pay"}},
    ),
    # 4: the argument wins over the policy
    (
        4,
        [
            QueueTopology(
                "/", "pay", {"x-dead-letter-exchange": "fan"}, {"dead-letter-exchange": "dlx"}
            ),
            QueueTopology("/", "a"),
            QueueTopology("/", "b"),
        ],
        [Binding("/", "fan", "a", "queue", ""), Binding("/", "dlx", "b", "queue", "pay")],
        {("/", "a"): {"pay"}},
    ),
    # 5: the default exchange as DLX routes the routing key to the queue of that name
    (
        5,
        [
            QueueTopology(
                "/", "orders", {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": "held"}
            ),
            QueueTopology("/", "held"),
        ],
        [],
        {("/", "held"): {"orders"}},
    ),
    # 6: exchange-to-exchange binding is followed (and a cycle does not loop)
    (
        6,
        [
            QueueTopology("/", "orders", {"x-dead-letter-exchange": "fan"}),
            QueueTopology("/", "end"),
        ],
        [
            Binding("/", "fan", "hop", "exchange", ""),
            Binding("/", "hop", "fan", "exchange", "orders"),
            Binding("/", "hop", "end", "queue", "orders"),
        ],
        {("/", "end"): {"orders"}},
    ),
    # 7: a delay/retry queue (message TTL) expiring back into the main queue marks no DLQ
    (
        7,
        [
            QueueTopology(
                "/",
                "orders.retry",
                {
                    "x-message-ttl": 5000,
                    "x-dead-letter-exchange": "",
                    "x-dead-letter-routing-key": "orders",
                },
            ),
            QueueTopology("/", "orders"),
        ],
        [],
        {},
    ),
    # 8: a direct binding with another key does not match
    (
        8,
        [
            QueueTopology("/", "orders", {"x-dead-letter-exchange": "dlx"}),
            QueueTopology("/", "other"),
        ],
        [Binding("/", "dlx", "other", "queue", "payments")],
        {},
    ),
    # 9: two sources into one DLQ; a queue never counts as its own DLQ
    (
        9,
        [
            QueueTopology("/", "a", {"x-dead-letter-exchange": "fan"}),
            QueueTopology("/", "b", {"x-dead-letter-exchange": "fan"}),
            QueueTopology("/", "dead"),
        ],
        [Binding("/", "fan", "dead", "queue", ""), Binding("/", "fan", "a", "queue", "")],
        {("/", "dead"): {"a", "b"}, ("/", "a"): {"b"}},
    ),
    # 10: vhosts are separate worlds: a same-named exchange elsewhere is not followed
    (
        10,
        [
            QueueTopology("shop", "orders", {"x-dead-letter-exchange": "dlx"}),
            QueueTopology("/", "parked"),
        ],
        [Binding("/", "dlx", "parked", "queue", "orders")],
        {},
    ),
]


@pytest.mark.parametrize(("case", "queues", "bindings", "expected"), CASES)
def test_dead_letter_sources(
    case: int,
    queues: list[QueueTopology],
    bindings: list[Binding],
    expected: dict[tuple[str, str], set[str]],
) -> None:
    all_bindings = default_bindings(*(q.key for q in queues)) + bindings
    found = dead_letter_sources(queues, X, all_bindings)
    assert {k: {n for _, n in v} for k, v in found.items()} == expected, case


def item(name: str, vhost: str = "/", **fields: Any) -> dict[str, Any]:
    return {"name": name, "vhost": vhost, "type": "classic", **fields}


def test_build_samples_maps_fields_and_names() -> None:
    raw = [
        item(
            "orders",
            messages_ready=7,
            messages_unacknowledged=2,
            consumers=3,
            consumer_utilisation=0.5,
            head_message_timestamp=1_700_000_000,
            message_stats={"publish": 100, "ack": 80, "deliver_no_ack": 5, "get_no_ack": 1},
            arguments={"x-dead-letter-exchange": "dlx"},
        ),
        item("parked", messages_ready=4, consumers=0, consumer_utilisation=0),
        item("orders", vhost="shop", messages_ready=1, consumers=0, head_message_timestamp=None),
        item("s", type="stream", messages_ready=99),
        item("amq.gen-1", messages_ready=1),
    ]
    bindings = [
        *default_bindings(("/", "orders"), ("/", "parked"), ("shop", "orders")),
        Binding("/", "dlx", "parked", "queue", "orders"),
    ]
    queues, dead = build_samples(raw, {("/", "dlx"): "direct"}, bindings, QueueSelection())
    by_name = {q.name: q for q in queues}
    assert sorted(by_name) == ["orders", "parked", "shop/orders"]  # no stream, no amq.*
    orders = by_name["orders"]
    assert (orders.ready, orders.unacked, orders.consumers) == (7, 2, 3)
    assert (orders.published_total, orders.acked_total) == (100, 86)
    assert (orders.head_timestamp, orders.utilisation, orders.is_dlq) == (1.7e9, 0.5, False)
    shop = by_name["shop/orders"]
    # no message_stats: unknown, not 0 (no traffic yet, or statistics not collected)
    assert (shop.vhost, shop.head_timestamp, shop.published_total, shop.acked_total) == (
        "shop",
        None,
        None,
        None,
    )
    assert by_name["parked"].is_dlq and by_name["parked"].dlq_sources == ("orders",)
    assert by_name["parked"].utilisation is None  # RabbitMQ's 0 without consumers means no one
    assert [(d.dlq, d.source, d.depth) for d in dead] == [("parked", "orders", 4)]


def test_pattern_dlq_source_by_name_and_selection() -> None:
    raw = [
        item("pay"),
        item("pay.dlq", messages_ready=2),
        item("dlq.ghost", messages_ready=0, messages_unacknowledged=1),
    ]
    selection = QueueSelection(include=("*",), exclude=("pay",))
    queues, dead = build_samples(raw, {}, default_bindings(("/", "pay")), selection)
    assert [q.name for q in queues] == ["dlq.ghost", "pay.dlq"]  # `pay` excluded, still a source
    assert [(d.dlq, d.source, d.depth) for d in dead] == [
        ("dlq.ghost", "", 1),
        ("pay.dlq", "pay", 2),
    ]


def test_selection_matches_vhost_label() -> None:
    selection = QueueSelection(include=("shop/*",), exclude=())
    assert selection.wanted("orders", "shop/orders")
    assert not selection.wanted("orders", "orders")


@pytest.mark.parametrize(
    ("dlq", "expected"),
    [
        ("orders.dlq", "orders"),
        ("orders-dlq", "orders"),
        ("orders.DLT", "orders"),
        ("dlq.orders", "orders"),
        ("x.dlq", ""),
    ],
)
def test_source_by_name(dlq: str, expected: str) -> None:
    assert source_by_name("/", dlq, {("/", "orders")}) == expected


def test_a_queue_without_reported_depth_is_left_out_not_zero() -> None:
    raw = [item("fresh"), item("known", messages_ready=0)]
    queues, _ = build_samples(raw, {}, [], QueueSelection())
    assert [q.name for q in queues] == ["known"]


@pytest.mark.parametrize(
    ("stats", "expected"),
    [
        ({}, None),  # no message_stats at all (rates_mode = none, or no traffic yet)
        ({"publish": 3, "publish_details": {"rate": 0.0}}, None),  # published to, never delivered
        ({"publish": 3, "ack": 0, "deliver": 3, "deliver_get": 3, "get": 0}, 0),  # held, unacked
        ({"publish": 3, "deliver": 3, "deliver_get": 3}, 0),  # delivered: a missing ack is 0
        ({"ack": 80, "deliver_no_ack": 5, "get_no_ack": 1}, 86),
        ({"ack": None, "deliver": "x"}, None),  # nothing numeric: nothing known
    ],
)
def test_acked_total_is_unknown_without_delivery_counters(
    stats: dict[str, Any], expected: int | None
) -> None:
    assert acked_total(stats) == expected

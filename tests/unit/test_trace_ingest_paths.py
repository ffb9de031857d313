"""The tap's fast paths give the same answers as the plain rules they stand in for.

- `read_headers`' one-dict fast path vs. the header-by-header path (a tuple of pairs always
  takes the latter), on random header lists;
- the store's edge choice per journey (rows, one pass) vs. `journey.previous_hop` over `Hop`s,
  on random journeys inserted in random batches;
- the Kafka tap's rows vs. `build_hop` for the same record.
"""

from __future__ import annotations

import random
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from collector.config import KafkaCluster
from collector.tracing.config import TracingConfig
from collector.tracing.headers import (
    EventHeaders,
    HeaderRules,
    Where,
    build_hop,
    parse_headers,
    read_headers,
)
from collector.tracing.hop import Hop
from collector.tracing.ingest import hop_of_row, hop_row
from collector.tracing.journey import hop_order, previous_hop
from collector.tracing.kafka_tap import KafkaTap
from collector.tracing.metrics import TraceMetrics
from collector.tracing.store import EventClasses, TraceStore

RULES = HeaderRules.from_config(TracingConfig())
TP = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

names = st.sampled_from(
    ["correlation_id", "Correlation-Id", "x-correlation-id", "traceparent", "event_type",
     "source", "service", "dlq_error", "dlq_service", "dlq_retry_count", "retries", "other"]
)  # fmt: skip
values = st.one_of(
    st.sampled_from(
        [
            b"ord-1",
            b"no_id",  # a skip reason's name is a valid ID
            b" ord-2 ",
            b"",
            b"OrderPlaced",
            b"shop",
            b"3",
            TP,
            b"\xff",
            TP.upper(),
            b"a b",
            b"x" * 300,
            "ord-3",
            None,
        ]
    ),
    st.binary(max_size=20),
)


@settings(max_examples=600, deadline=None)
@given(st.lists(st.tuples(names, values), max_size=8))
def test_the_one_dict_fast_path_reads_headers_as_the_rules_do(headers):
    assert read_headers(headers, RULES) == read_headers(tuple(headers), RULES)
    assert parse_headers(headers, RULES) == parse_headers(tuple(headers), RULES)


def test_oversize_on_the_fast_path():
    small = HeaderRules(RULES.id_headers, RULES.event_type_headers, RULES.service_headers, 40)
    headers = [("correlation_id", b"c"), ("blob", b"x" * 30)]
    assert read_headers(headers, small) == read_headers(tuple(headers), small) == "oversize"


SERVICES = ("order-service", "inventory-service", "payment-service", "")
SOURCES = ("orders", "inventory", "payments", "orders.dlq")


def random_journeys(rng: random.Random) -> list[Hop]:
    hops = []
    for j in range(12):
        for _ in range(rng.randint(1, 7)):
            source = rng.choice(SOURCES)
            hops.append(Hop(f"c{j}", rng.choice(("A", "B", "C")), "kafka", "local", source,
                            0, len(hops), float(rng.randint(0, 20)), rng.choice(SERVICES),
                            dlq=source == "orders.dlq"))  # fmt: skip
    return hops


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=0, max_value=10_000))
def test_store_edges_follow_previous_hop_whatever_the_batches(tmp_path_factory, seed):
    rng = random.Random(seed)
    hops = random_journeys(rng)
    readers = {"orders": {"inventory-service"}, "inventory": {"payment-service"}}
    store = TraceStore(
        tmp_path_factory.mktemp("s") / "t.db", EventClasses(frozenset(), frozenset())
    )
    for source, services in readers.items():
        for service in services:
            store.record_commits("local", service, service, {(source, 9): 0}, 0.0)
    arrival = hops[:]
    rng.shuffle(arrival)  # late hops: a journey's hops reach the store out of order
    stored: list[Hop] = []
    while arrival:
        n = rng.randint(1, 9)
        batch, arrival = arrival[:n], arrival[n:]
        got = [tuple(e) for e in store.insert_hops(batch).edges]
        expected = []
        for hop in sorted(batch, key=hop_order):  # the rule, over what was stored before
            earlier = [h for h in stored if h.correlation_id == hop.correlation_id]
            prev = None if hop.dlq else previous_hop(hop, earlier, readers)
            if prev is not None:
                expected.append((prev.service, hop.service, prev.event_type,
                                 hop.produced_at - prev.produced_at))  # fmt: skip
            stored.append(hop)
        assert sorted(got) == sorted(expected)
    store.close()


def test_the_tap_rows_are_the_hops_build_hop_makes(tmp_path: Path):
    class Record:
        def __init__(self, topic, partition, offset, headers, ts):
            self._v = (topic, partition, offset, headers, ts)

        def error(self):
            return None

        def topic(self):
            return self._v[0]

        def partition(self):
            return self._v[1]

        def offset(self):
            return self._v[2]

        def headers(self):
            return self._v[3]

        def timestamp(self):
            return (1, self._v[4]) if self._v[4] else (0, -1)

        def value(self):
            return b'{"amount": 42}'

    tracing = TracingConfig(topic_services={"orders": "shop"}, payload_fields=("amount",))
    store = TraceStore(tmp_path / "t.db", EventClasses(frozenset(), frozenset()))
    tap = KafkaTap(tracing, KafkaCluster("local", "x:1"), store, TraceMetrics(lambda: 0),
                   ("*.dlq",))  # fmt: skip
    records = [
        Record("orders", 0, 5, [("correlation_id", b"c1"), ("traceparent", TP)], 1_700_000_000_000),
        Record(
            "orders.dlq",
            1,
            7,
            [
                ("correlation_id", b"c1"),
                ("event_type", b"OrderPlaced"),
                ("dlq_error", b"poison"),
                ("dlq_service", b"inv"),
            ],
            0,
        ),
        Record("orders", 0, 6, [("event_type", b"no id")], 0),
    ]
    batch = tap.batch_of(records, now=123.0)
    assert batch.first == {("orders", 0): 5, ("orders.dlq", 1): 7}
    assert batch.ends == {("orders", 0): 7, ("orders.dlq", 1): 8}
    assert batch.records == 3 and batch.per_source == {"orders": 1, "orders.dlq": 1}
    assert tap.metrics.skipped == {"no_id": 1}
    expected = []
    for r, at, is_dlq in ((records[0], 1_700_000_000.0, False), (records[1], 123.0, True)):
        parsed = parse_headers(r.headers(), tap.rules)
        assert isinstance(parsed, EventHeaders)
        where = Where("kafka", "local", r.topic(), r.partition(), r.offset(), at)
        hop = build_hop(parsed, where, tracing.topic_services, is_dlq, {"amount": "42"})
        expected.append(hop)
    assert [hop_of_row(row) for row in batch.rows] == expected
    assert batch.rows == [hop_row(h) for h in expected]
    store.close()

"""The demo pipeline against a real Tansu broker and the local RabbitMQ (own vhost).

One pipeline runs for the module (30 orders per broker, fixed seed); the tests read the topics
and queues back and compare them with the pipeline's own ground truth (`GET /status?ids=1`),
then turn each knob and check the broker shows what the knob says.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pika
import pytest
import requests
from confluent_kafka import (
    Consumer,
    ConsumerGroupState,
    ConsumerGroupTopicPartitions,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, OffsetSpec
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from demo.pipeline import KafkaSettings, Pipeline, PipelineConfig, RabbitSettings
from demo.pipeline.control import send
from demo.pipeline.events import STREAM_BY_TYPE, STREAMS, WEB_FRONTEND
from demo.pipeline.flow import FlowRates, expected_event_types
from demo.pipeline.tracing import Tracing
from demo.services import free_port, start_demo_pipeline

pytestmark = pytest.mark.service

REPO = Path(__file__).resolve().parents[2]
MGMT = "http://127.0.0.1:15672/api"
AUTH = ("guest", "guest")
ORDERS = 30
SEED = 12
RATES = FlowRates()
TRACEPARENT = re.compile(r"^00-(?!0{32})([0-9a-f]{32})-(?!0{16})([0-9a-f]{16})-0[0-3]$")
BROKERS = ("kafka", "rabbitmq")
ORDER_STREAMS = tuple(s for s in STREAMS if s.producer != WEB_FRONTEND)


def wait_for(what: str, check: Callable[[], Any], timeout: float = 30.0, every: float = 0.2) -> Any:
    """Poll `check` until it returns something truthy; fail with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kafka(module_kafka: str) -> str:
    """The demo pipeline's topic names are fixed: this module gets a broker of its own."""
    return module_kafka


@pytest.fixture(scope="module")
def vhost():
    """A vhost of our own on the shared RabbitMQ, deleted afterwards."""
    name = f"eventscope-demo-{uuid.uuid4().hex[:8]}"
    try:
        requests.put(f"{MGMT}/vhosts/{name}", auth=AUTH, timeout=10).raise_for_status()
    except requests.RequestException as exc:
        pytest.fail(
            f"RabbitMQ management API unreachable ({exc}); run "
            "`rabbitmq-plugins enable rabbitmq_management` with RabbitMQ on 127.0.0.1:5672"
        )
    perms = {"configure": ".*", "write": ".*", "read": ".*"}
    requests.put(f"{MGMT}/permissions/{name}/guest", auth=AUTH, json=perms, timeout=10)
    yield name
    requests.delete(f"{MGMT}/vhosts/{name}", auth=AUTH, timeout=30)


def amqp_url(vhost: str) -> str:
    return f"amqp://guest:guest@127.0.0.1:5672/{vhost}"


@pytest.fixture(scope="module")
def tap(vhost):
    """A queue bound to every event on the events exchange, declared before the pipeline runs."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url(vhost)))
    channel = connection.channel()
    channel.exchange_declare("events", "topic", durable=True)
    channel.queue_declare("test-tap", durable=True)
    channel.queue_bind("test-tap", "events", routing_key="#")
    yield channel
    connection.close()


@pytest.fixture(scope="module")
def spans():
    return InMemorySpanExporter()


@pytest.fixture(scope="module")
def pipeline(kafka, vhost, tap, spans):
    config = PipelineConfig(
        kafka=KafkaSettings(kafka),
        rabbitmq=RabbitSettings(amqp_url(vhost)),
        orders=ORDERS,
        order_rate=20.0,
        interaction_rate=10.0,
        poison_rate=0.1,
        seed=SEED,
        rates=RATES,
        batch_period_s=2.0,  # batch-analytics works 1 s in every 2 s, so it commits in the test
        batch_awake_s=1.0,
    )
    running = Pipeline(config, tracing=Tracing(spans)).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def settled(pipeline):
    """The ground truth once every one of the first 30 orders per broker reached its end."""

    def all_ended() -> dict[str, Any] | None:
        status = send(pipeline.control_url, "status", ids=True)["brokers"]
        done = all(
            status[b]["orders_placed"] == ORDERS and status[b]["orders_open"] == 0 for b in BROKERS
        )
        return status if done else None

    return wait_for("all orders to reach a terminal state", all_ended, timeout=40)


@pytest.fixture(scope="module")
def rabbit_messages(settled, tap) -> dict[str, list[tuple[Any, dict[str, Any]]]]:
    """What the tap queue and inventory-service's DLQ hold once the orders ended (read once)."""
    wait_for(
        "the DLQ to fill",
        lambda: (
            queue_counts(tap, "inventory-service.dlq")[0]
            >= settled["rabbitmq"]["expected"]["dead_lettered"]
        ),
    )
    return {q: drain_queue(tap, q) for q in ("test-tap", "inventory-service.dlq")}


@pytest.fixture(scope="module")
def admin(kafka):
    return AdminClient({"bootstrap.servers": kafka})


# --- reading back -----------------------------------------------------------------------------


def end_offsets(admin: AdminClient, topic: str, partitions: int = 3) -> dict[int, int]:
    request = {TopicPartition(topic, p): OffsetSpec.latest() for p in range(partitions)}
    answers = admin.list_offsets(request, request_timeout=10)
    return {tp.partition: f.result().offset for tp, f in answers.items()}


def read_topic(bootstrap: str, admin: AdminClient, topic: str) -> list[dict[str, Any]]:
    """Every record of `topic` from the beginning, as dicts of headers, value and position."""
    ends = end_offsets(admin, topic)
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"test-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
        }
    )
    consumer.assign([TopicPartition(topic, p, 0) for p, end in ends.items() if end > 0])
    records: list[dict[str, Any]] = []
    deadline = time.monotonic() + 20
    while len(records) < sum(ends.values()) and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is None or msg.error() is not None:
            continue
        records.append(
            {
                "headers": {k: v.decode() for k, v in msg.headers() or []},
                "value": json.loads(msg.value()),
                "key": msg.key(),
                "timestamp": msg.timestamp(),
                "partition": msg.partition(),
                "offset": msg.offset(),
            }
        )
    consumer.close()
    assert len(records) == sum(ends.values()), f"read {len(records)} of {ends} from {topic}"
    return records


def drain_queue(channel, queue: str) -> list[tuple[Any, dict[str, Any]]]:
    """Every message in `queue` as (properties, body); acked, so call once per queue."""
    out = []
    while True:
        method, props, body = channel.basic_get(queue, auto_ack=True)
        if method is None:
            return out
        out.append((props, json.loads(body)))


def group_lag(admin: AdminClient, group: str, topic: str) -> int:
    """Kafka backlog of `group` on `topic`: end offset − committed offset, summed."""
    request = [ConsumerGroupTopicPartitions(group, [TopicPartition(topic, p) for p in range(3)])]
    committed = admin.list_consumer_group_offsets(request)[group].result(10)
    done = {tp.partition: max(tp.offset, 0) for tp in committed.topic_partitions}
    return sum(max(0, end - done.get(p, 0)) for p, end in end_offsets(admin, topic).items())


def group_state(admin: AdminClient, group: str) -> ConsumerGroupState:
    return admin.describe_consumer_groups([group], request_timeout=10)[group].result(10).state


def queue_counts(channel, queue: str) -> tuple[int, int]:
    """(ready messages, consumers) of a queue, straight from the broker (passive declare)."""
    ok = channel.queue_declare(queue, passive=True).method
    return ok.message_count, ok.consumer_count


# --- the order flow ---------------------------------------------------------------------------


def test_every_order_ends_once_as_the_ground_truth_says(settled):
    for broker in BROKERS:
        view = settled[broker]
        assert view["conflicts"] == 0
        assert sum(view["terminal"].values()) == ORDERS
        assert view["ids"]["terminal"] == view["ids"]["expected"]
        assert all(view["expected"][o] > 0 for o in ("confirmed", "cancelled", "dead_lettered"))
        terminal_ids = [c for ids in view["ids"]["terminal"].values() for c in ids]
        assert sorted(terminal_ids) == view["ids"]["placed"]  # each order in exactly one state


def check_journeys(events: list[dict[str, Any]], view: dict[str, Any]) -> None:
    """Each order's events: exactly its expected types, one correlation ID, one trace."""
    placed = view["ids"]["placed"]
    by_order: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        by_order[event["correlation_id"]].append(event)
    assert sorted(by_order) == placed
    for correlation_id, journey in by_order.items():
        order = next(e["body"] for e in journey if e["event_type"] == "OrderPlaced")
        types = sorted({(e["event_type"], e["body"]["event_id"]) for e in journey})
        assert [t for t, _ in types] == sorted(expected_event_types(order, RATES)), correlation_id
        assert [t for t, _ in types] == sorted(view["ids"]["journeys"][correlation_id])
        traces = {TRACEPARENT.match(e["traceparent"]).group(1) for e in journey}
        assert len(traces) == 1, f"{correlation_id} spans traces {traces}"
        assert all(e["body"]["order_id"] == order["order_id"] for e in journey)


def test_kafka_topics_hold_each_journey_with_headers_and_one_trace(settled, kafka, admin):
    def events() -> list[dict[str, Any]]:
        out = []
        for topic in (s.name for s in ORDER_STREAMS):
            for record in read_topic(kafka, admin, topic):
                headers = record["headers"]
                assert record["timestamp"][1] > 1_600_000_000_000
                assert record["key"].decode() == record["value"]["order_id"]  # keyed by order ID
                assert headers["source"] == STREAM_BY_TYPE[headers["event_type"]].producer
                out.append({**headers, "body": record["value"]})
        return out

    # an order is terminal once OrderCancelled is out, while inventory-service may still be
    # sending its InventoryReleased for the same PaymentFailed: read again until it lands
    deadline = time.monotonic() + 30
    while True:
        try:
            check_journeys(events(), settled["kafka"])
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def test_rabbitmq_messages_carry_properties_headers_and_one_trace(settled, rabbit_messages):
    messages = [m for m in rabbit_messages["test-tap"] if m[0].type != "UserInteraction"]
    events = []
    for props, body in messages:
        headers = props.headers
        assert props.correlation_id == headers["correlation_id"]
        assert props.message_id == body["event_id"]
        assert abs(props.timestamp * 1000 - headers["timestamp_in_ms"]) < 1000
        assert props.app_id == headers["source"]
        events.append({**{k: str(v) for k, v in headers.items()}, "body": body})
    check_journeys(events, settled["rabbitmq"])


def test_each_service_continues_the_trace_of_the_event_it_consumed(
    settled, pipeline, spans, kafka, admin
):
    """The span that published an event is the child of the span that consumed its cause."""
    order = settled["kafka"]["ids"]["terminal"]["confirmed"][0]
    chain = ["orders.placed", "inventory.reserved", "payments.completed", "orders.confirmed"]
    parents = []
    for topic in chain:
        (record,) = [
            r for r in read_topic(kafka, admin, topic) if r["headers"]["correlation_id"] == order
        ]
        parents.append(TRACEPARENT.match(record["headers"]["traceparent"]).group(2))
    pipeline.tracing.force_flush()
    by_id = {format(s.context.span_id, "016x"): s for s in spans.get_finished_spans()}
    root = by_id[parents[0]]
    assert root.parent is None and root.attributes["messaging.message.conversation_id"] == order
    for hop in range(1, len(chain)):
        cause_topic, cause_span = chain[hop - 1], parents[hop - 1]
        consumer = by_id[parents[hop]]  # published inside the span that consumed the cause
        assert consumer.kind is SpanKind.CONSUMER
        assert consumer.attributes["messaging.destination.name"] == cause_topic
        assert format(consumer.parent.span_id, "016x") == cause_span
        assert consumer.context.trace_id == root.context.trace_id


def test_poison_orders_land_in_the_kafka_dlq_with_the_documented_headers(settled, kafka, admin):
    dead = read_topic(kafka, admin, "orders.placed.dlq")
    placed = {r["headers"]["correlation_id"]: r for r in read_topic(kafka, admin, "orders.placed")}
    assert sorted(r["headers"]["correlation_id"] for r in dead) == sorted(
        settled["kafka"]["ids"]["expected"]["dead_lettered"]
    )
    for record in dead:
        headers = record["headers"]
        original = placed[headers["correlation_id"]]
        assert headers["dlq_error"].startswith("UnknownProduct")
        assert headers["dlq_service"] == "inventory-service"
        assert headers["dlq_original_topic"] == "orders.placed"
        assert int(headers["dlq_original_partition"]) == original["partition"]
        assert int(headers["dlq_original_offset"]) == original["offset"]
        assert headers["dlq_retry_count"] == "3"
        assert headers["event_type"] == "OrderPlaced" and TRACEPARENT.match(headers["traceparent"])
        assert record["value"] == original["value"]


def test_poison_orders_land_in_the_rabbitmq_dlq_with_x_death(settled, rabbit_messages):
    dead = rabbit_messages["inventory-service.dlq"]
    assert sorted(p.correlation_id for p, _ in dead) == sorted(
        settled["rabbitmq"]["ids"]["expected"]["dead_lettered"]
    )
    for props, body in dead:
        death = props.headers["x-death"][0]
        assert death["reason"] == "rejected"
        assert death["queue"] == "inventory-service"
        assert death["exchange"] == "events"
        assert props.headers["event_type"] == "OrderPlaced"
        assert body["sku"] == "SKU-UNKNOWN"


def test_a_duplicate_event_is_processed_once(settled, pipeline, kafka, admin, tap, rabbit_messages):
    before = send(pipeline.control_url, "status")["brokers"]
    confirmed = settled["kafka"]["ids"]["terminal"]["confirmed"][0]
    record = next(
        r
        for r in read_topic(kafka, admin, "orders.placed")
        if r["headers"]["correlation_id"] == confirmed
    )
    producer = Producer({"bootstrap.servers": kafka})
    producer.produce(
        "orders.placed",
        json.dumps(record["value"]).encode(),
        record["key"],
        headers=list(record["headers"].items()),
    )
    assert producer.flush(10) == 0
    confirmed = settled["rabbitmq"]["ids"]["terminal"]["confirmed"][0]
    props, body = next(
        m
        for m in rabbit_messages["test-tap"]
        if m[0].correlation_id == confirmed and m[0].type == "OrderPlaced"
    )
    tap.basic_publish("events", "orders.placed", json.dumps(body).encode(), props)

    def skipped() -> dict[str, Any] | None:
        now = send(pipeline.control_url, "status")["brokers"]
        counts = [
            (
                now[b]["services"]["inventory-service"]["duplicates_skipped"],
                before[b]["services"]["inventory-service"]["duplicates_skipped"],
            )
            for b in BROKERS
        ]
        return now if all(new == old + 1 for new, old in counts) else None

    now = wait_for("inventory-service to skip the duplicate on each broker", skipped)
    for broker in BROKERS:
        for event_type in (s.event_type for s in ORDER_STREAMS):  # nothing published again
            assert now[broker]["published"].get(event_type) == before[broker]["published"].get(
                event_type
            )
        assert now[broker]["terminal"] == before[broker]["terminal"]


# --- knobs ------------------------------------------------------------------------------------


def status(pipeline: Pipeline) -> dict[str, Any]:
    return send(pipeline.control_url, "status")["brokers"]


def inventory_handled(view: dict[str, Any]) -> int:
    inventory = view["services"]["inventory-service"]
    return inventory["processed"] + inventory["dead_lettered"]


def test_stopping_payment_service_grows_its_backlog_and_restarting_drains_it(
    settled, pipeline, admin, tap
):
    url = pipeline.control_url
    send(url, "stop", service="payment-service")
    wait_for(
        "the Kafka group to go Empty",
        lambda: group_state(admin, "payment-service") == ConsumerGroupState.EMPTY,
    )
    wait_for("the queue to lose its consumer", lambda: queue_counts(tap, "payment-service")[1] == 0)
    before = status(pipeline)
    send(url, "burst", orders=10)

    def burst_reached_inventory() -> dict[str, Any] | None:
        now = status(pipeline)
        done = all(inventory_handled(now[b]) - inventory_handled(before[b]) >= 10 for b in BROKERS)
        return now if done else None

    now = wait_for("inventory-service to handle the burst", burst_reached_inventory)
    waiting = {
        b: now[b]["published"]["InventoryReserved"] - before[b]["published"]["InventoryReserved"]
        for b in BROKERS
    }
    assert all(n > 0 for n in waiting.values())
    # Every reservation made while payment-service is away waits for it, and nothing else does.
    wait_for(
        "the Kafka backlog to hold every new reservation",
        lambda: group_lag(admin, "payment-service", "inventory.reserved") == waiting["kafka"],
    )
    assert queue_counts(tap, "payment-service") == (waiting["rabbitmq"], 0)
    assert all(status(pipeline)[b]["orders_open"] > 0 for b in BROKERS)

    send(url, "start", service="payment-service")
    wait_for(
        "the Kafka backlog to drain",
        lambda: group_lag(admin, "payment-service", "inventory.reserved") == 0,
    )
    wait_for(
        "the queue to drain with a consumer back",
        lambda: queue_counts(tap, "payment-service") == (0, 1),
    )
    assert group_state(admin, "payment-service") == ConsumerGroupState.STABLE
    wait_for(
        "every order to end", lambda: all(status(pipeline)[b]["orders_open"] == 0 for b in BROKERS)
    )


def test_slowing_payment_service_stretches_each_order(settled, pipeline):
    url = pipeline.control_url
    send(url, "slow", service="payment-service", ms=300)
    before = status(pipeline)
    started = time.monotonic()
    send(url, "burst", orders=5)
    wait_for(
        "the burst to end",
        lambda: all(
            (v := status(pipeline)[b])["orders_open"] == 0
            and v["orders_placed"] == before[b]["orders_placed"] + 5
            for b in BROKERS
        ),
    )
    elapsed = time.monotonic() - started
    send(url, "slow", service="payment-service", ms=0)
    paid = [
        status(pipeline)[b]["services"]["payment-service"]["processed"]
        - before[b]["services"]["payment-service"]["processed"]
        for b in BROKERS
    ]
    # A lower bound by construction (each payment sleeps 300 ms first), so it cannot flake:
    # without the knob the same burst ends in a fraction of a second.
    assert max(paid) > 0
    assert elapsed >= 0.3 * max(paid)


def test_poison_rate_sends_new_orders_to_the_dlq(settled, pipeline, admin, tap):
    url = pipeline.control_url
    dlq_before = sum(end_offsets(admin, "orders.placed.dlq").values())
    queued_before = queue_counts(tap, "inventory-service.dlq")[0]
    before = status(pipeline)
    send(url, "poison", rate=1.0)
    send(url, "burst", orders=4)
    wait_for(
        "4 more dead-lettered orders",
        lambda: all(
            status(pipeline)[b]["terminal"]["dead_lettered"]
            == before[b]["terminal"]["dead_lettered"] + 4
            for b in BROKERS
        ),
    )
    send(url, "poison", rate=0.0)
    assert sum(end_offsets(admin, "orders.placed.dlq").values()) == dlq_before + 4
    wait_for(
        "4 more messages in the RabbitMQ DLQ",
        lambda: queue_counts(tap, "inventory-service.dlq")[0] == queued_before + 4,
    )


def test_interaction_rate_knob_stops_and_restarts_the_stream(settled, pipeline):
    url = pipeline.control_url
    send(url, "rate", interactions=0)

    def published() -> list[int]:
        return [status(pipeline)[b]["published"].get("UserInteraction", 0) for b in BROKERS]

    def still() -> bool:
        first = published()
        time.sleep(0.5)
        return first == published()

    wait_for("the interaction stream to stop", still, timeout=10)
    stopped = published()
    send(url, "rate", interactions=40)
    wait_for(
        "interactions to flow again",
        lambda: all(n >= s + 20 for n, s in zip(published(), stopped, strict=True)),
    )
    send(url, "rate", interactions=10)


def test_every_analytics_group_consumes_the_interaction_stream(settled, admin):
    def committed(group: str) -> int:
        partitions = [TopicPartition("user-interactions", p) for p in range(3)]
        request = [ConsumerGroupTopicPartitions(group, partitions)]
        answer = admin.list_consumer_group_offsets(request)[group].result(10)
        return sum(max(0, tp.offset) for tp in answer.topic_partitions)

    for group in ("realtime-dashboard", "batch-analytics", "ml-training"):
        wait_for(f"{group} to commit on user-interactions", lambda g=group: committed(g) > 0)


# --- the module entry point -------------------------------------------------------------------


def test_module_entry_runs_until_sigterm_and_stops_promptly(vhost, tap):
    argv = [sys.executable, "-m", "demo.pipeline", "--only", "rabbitmq", "--rabbitmq",
            amqp_url(vhost), "--rabbitmq-prefix", "sub.", "--orders", "3", "--rate", "10",
            "--interaction-rate", "2", "--seed", "1"]  # fmt: skip
    proc = subprocess.Popen(
        argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("control: http://127.0.0.1:"), line
        url = line.split(" ", 1)[1].strip()
        wait_for("3 orders to end", lambda: orders_ended(url, "rabbitmq", 3))
        assert "kafka" not in send(url, "status")["brokers"]
        assert queue_counts(tap, "sub.payment-service")[1] == 1
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
        assert queue_counts(tap, "sub.payment-service")[1] == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def orders_ended(url: str, broker: str, orders: int) -> bool:
    view = send(url, "status")["brokers"][broker]
    return view["orders_placed"] == orders and view["orders_open"] == 0


def test_the_launcher_starts_it_ready_and_stops_it(vhost, tap, tmp_path):
    port = free_port()
    extra = ["--rabbitmq-prefix", "launched.", "--orders", "2", "--interaction-rate", "1"]
    proc = start_demo_pipeline(tmp_path, port, rabbitmq=amqp_url(vhost), extra_args=extra)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for("2 orders to end", lambda: orders_ended(url, "rabbitmq", 2))
        proc.stop(timeout=5)
        assert proc.popen.returncode == 0, proc.log_tail()
        assert queue_counts(tap, "launched.payment-service")[1] == 0
    finally:
        proc.stop()

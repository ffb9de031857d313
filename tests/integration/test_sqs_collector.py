"""The AWS (SQS + EventBridge) collector against moto's server over HTTP, with boto3.

moto is a real HTTP server in its own process (`demo.aws_emulator`), not an in-process mock;
the collector reaches it through `endpoint_url` exactly as it would reach AWS. AWS support is
tested against this emulator, not against live AWS.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from collector.brokers.sqs import SqsAdapter
from collector.brokers.sqs_tap import SqsTap
from collector.brokers.sqs_topology import FlowEdge
from collector.config import AwsCluster, load_config
from collector.errors import BrokerAuthError, BrokerUnavailable
from collector.service import CollectorService
from collector.tracing.api import classes_of
from collector.tracing.config import TracingConfig
from collector.tracing.store import TraceStore
from demo.aws_emulator import TEST_CREDENTIALS, endpoint_url, start_moto
from demo.aws_pipeline import AwsPipeline, AwsSettings, bus_name
from demo.pipeline.config import PipelineConfig
from demo.pipeline.events import ALL_CONSUMERS
from demo.services import free_port
from tests.conftest import scrape, wait_until
from tests.kafka_world import unique

pytestmark = pytest.mark.service
REGION = TEST_CREDENTIALS["AWS_DEFAULT_REGION"]


def client(service: str, endpoint: str) -> Any:
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION)


def adapter(endpoint: str, **settings: Any) -> SqsAdapter:
    return SqsAdapter(AwsCluster(name="aws", region=REGION, endpoint_url=endpoint, **settings))


def make_queue(sqs: Any, name: str, dead_letter_arn: str = "", max_receives: int = 2) -> str:
    attributes = {}
    if dead_letter_arn:
        policy = {"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": str(max_receives)}
        attributes["RedrivePolicy"] = json.dumps(policy)
    return str(sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"])


def arn_of(sqs: Any, url: str) -> str:
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    return str(attrs["QueueArn"])


def start_collector(tmp_path: Path, clusters_yaml: str) -> CollectorService:
    cfg_path = tmp_path / "eventscope.yml"
    cfg_path.write_text(f"poll_interval_seconds: 1\nclusters:\n{clusters_yaml}")
    service = CollectorService(load_config(cfg_path, env={}), f"127.0.0.1:{free_port()}")
    service.start()
    return service


def aws_cluster_yaml(
    endpoint: str, prefix: str = "", timeout: float = 2.0, bus: str = "", name: str = "aws"
) -> str:
    prefixes = f"    queue_prefixes: [{prefix}]\n" if prefix else ""
    buses = f"    event_buses: [{bus}]\n" if bus else ""
    return (
        f"  - name: {name}\n    kind: aws\n    region: {REGION}\n    endpoint_url: {endpoint}\n"
        f"    request_timeout_seconds: {timeout}\n    max_attempts: 2\n{prefixes}{buses}"
    )


def value(metrics: dict, name: str, **labels: str) -> float | None:
    return metrics.get((name, frozenset(labels.items())))


def test_backlog_and_redrive_dlq_in_metrics(moto, tmp_path):
    """Backlog = visible + received-not-deleted; a DLQ named only by a redrive policy is a
    DLQ with its source in the labels, not a consumer backlog."""
    sqs, prefix = client("sqs", moto), unique("shop")
    parking = make_queue(sqs, f"{prefix}-parking")  # no "dlq" anywhere in the name
    orders = make_queue(sqs, f"{prefix}-orders", arn_of(sqs, parking))
    for i in range(7):
        sqs.send_message(QueueUrl=orders, MessageBody=f"order {i}")
    taken = sqs.receive_message(QueueUrl=orders, MaxNumberOfMessages=3, VisibilityTimeout=300)
    assert len(taken["Messages"]) == 3
    sqs.delete_message(QueueUrl=orders, ReceiptHandle=taken["Messages"][0]["ReceiptHandle"])
    sqs.send_message(QueueUrl=parking, MessageBody="dead already")
    # backlog of orders: 7 sent − 1 deleted = 6 (4 visible + 2 received, not deleted)

    service = start_collector(tmp_path, aws_cluster_yaml(moto, prefix))
    try:
        url = f"http://127.0.0.1:{service.port}/metrics"
        base = {"broker": "sqs", "cluster_name": "aws"}
        lag = {**base, "group": f"{prefix}-orders", "topic": f"{prefix}-orders", "partition": ""}
        wait_until(
            lambda: value(scrape(url), "eventscope_consumer_lag_messages", **lag) is not None,
            20,
            "sqs lag series",
        )
        m = scrape(url)
        assert value(m, "eventscope_consumer_lag_messages", **lag) == 6.0
        assert value(m, "eventscope_collector_up", **base) == 1.0
        dlq = {**base, "dlq": f"{prefix}-parking", "source": f"{prefix}-orders"}
        assert value(m, "eventscope_dlq_depth_messages", **dlq) == 1.0
        backlog_groups = {
            dict(labels)["group"]
            for (name, labels), _ in m.items()
            if name == "eventscope_consumer_lag_messages" and ("broker", "sqs") in labels
        }
        assert backlog_groups == {f"{prefix}-orders"}
        # moto publishes no SQS metrics to CloudWatch: the age is absent, not invented
        ages = [
            k for k in m if k[0] == "eventscope_consumer_lag_seconds" and ("broker", "sqs") in k[1]
        ]
        assert ages == []
        assert value(m, "eventscope_collector_requests_total", **base,
                     request="sqs.GetQueueAttributes")  # fmt: skip
    finally:
        service.stop()


def test_cloudwatch_age_and_counts_when_published(moto, tmp_path):
    """moto does not publish SQS or EventBridge metrics itself, so the test publishes what AWS
    would (through the real PutMetricData API); the collector reads them with GetMetricData."""
    sqs, cloudwatch, prefix = client("sqs", moto), client("cloudwatch", moto), unique("cw")
    slow = make_queue(sqs, f"{prefix}-slow")
    sqs.send_message(QueueUrl=slow, MessageBody="waiting")
    failed = make_queue(sqs, f"{prefix}-undelivered")
    events = client("events", moto)
    events.create_event_bus(Name=prefix)
    events.put_rule(Name="r", EventBusName=prefix, EventPattern=json.dumps({"source": ["x"]}))
    target = {"Id": "t", "Arn": arn_of(sqs, slow), "DeadLetterConfig": {"Arn": arn_of(sqs, failed)}}
    events.put_targets(Rule="r", EventBusName=prefix, Targets=[target])
    now = datetime.now(UTC)
    rule_dims = [{"Name": "EventBusName", "Value": prefix}, {"Name": "RuleName", "Value": "r"}]
    cloudwatch.put_metric_data(
        Namespace="AWS/Events",
        MetricData=[
            {"MetricName": name, "Dimensions": rule_dims,
             "Timestamp": now - timedelta(minutes=10), "Value": 2.0}
            for name in ("FailedInvocations", "InvocationsSentToDlq")
        ],
    )  # fmt: skip
    dims = [{"Name": "QueueName", "Value": f"{prefix}-slow"}]
    cloudwatch.put_metric_data(
        Namespace="AWS/SQS",
        MetricData=[
            {"MetricName": "ApproximateAgeOfOldestMessage", "Dimensions": dims,
             "Timestamp": now - timedelta(minutes=2), "Value": 420.0},
            {"MetricName": "NumberOfMessagesSent", "Dimensions": dims,
             "Timestamp": now - timedelta(minutes=10), "Value": 7.0},
            {"MetricName": "NumberOfMessagesDeleted", "Dimensions": dims,
             "Timestamp": now - timedelta(minutes=10), "Value": 6.0},
        ],
    )  # fmt: skip
    service = start_collector(tmp_path, aws_cluster_yaml(moto, prefix, bus=prefix))
    try:
        url = f"http://127.0.0.1:{service.port}/metrics"
        base = {"broker": "sqs", "cluster_name": "aws"}
        q = f"{prefix}-slow"
        age = {**base, "group": q, "topic": q, "partition": "", "method": "cloudwatch_age"}
        seconds = wait_until(
            lambda: value(scrape(url), "eventscope_consumer_lag_seconds", **age), 20, "age"
        )
        assert seconds == 420.0
        m = scrape(url)
        assert value(m, "eventscope_produced_messages_total", **base, topic=q) == 7.0
        consumed = {**base, "group": q, "topic": q}
        assert value(m, "eventscope_consumed_messages_total", **consumed) == 6.0
        rule = f"rule:{prefix}/r"
        dead = {**base, "dlq": f"{prefix}-undelivered", "source": rule, "reason": "delivery_failed"}
        assert value(m, "eventscope_dead_lettered_messages_total", **dead) == 2.0
        failed = {**base, "bus": prefix, "rule": "r"}
        assert value(m, "eventscope_rule_failed_invocations_total", **failed) == 2.0
    finally:
        service.stop()


def test_messages_move_to_dlq_after_max_receive_count(moto):
    sqs, prefix = client("sqs", moto), unique("pay")
    hold = make_queue(sqs, f"{prefix}-hold")
    payments = make_queue(sqs, f"{prefix}-payments", arn_of(sqs, hold), max_receives=2)
    sqs.send_message(QueueUrl=payments, MessageBody="poison")
    reader = adapter(moto, queue_prefixes=(prefix,))
    try:
        for _ in range(2):  # received twice and never deleted: still in the source queue
            got = sqs.receive_message(QueueUrl=payments, VisibilityTimeout=0)
            assert len(got.get("Messages", [])) == 1
        before = {q.name: q for q in reader.snapshot(time.time()).queues}
        assert before[f"{prefix}-payments"].ready + before[f"{prefix}-payments"].unacked == 1
        assert before[f"{prefix}-hold"].ready == 0
        sqs.receive_message(QueueUrl=payments, VisibilityTimeout=0)  # the third receive moves it
        snap = reader.snapshot(time.time())
        after = {q.name: q for q in snap.queues}
        assert after[f"{prefix}-payments"].ready + after[f"{prefix}-payments"].unacked == 0
        assert after[f"{prefix}-hold"].ready == 1
        assert after[f"{prefix}-hold"].is_dlq
        assert [(d.dlq, d.source, d.depth) for d in snap.dead_letters] == [
            (f"{prefix}-hold", f"{prefix}-payments", 1)
        ]
    finally:
        reader.close()


def test_dlq_outside_the_prefixes_is_looked_up_through_the_redrive_policy(moto):
    sqs, prefix = client("sqs", moto), unique("src")
    elsewhere = make_queue(sqs, f"elsewhere-{prefix}")  # ListQueues with the prefix misses it
    source = make_queue(sqs, f"{prefix}-orders", arn_of(sqs, elsewhere))
    sqs.send_message(QueueUrl=elsewhere, MessageBody="parked")
    sqs.send_message(QueueUrl=source, MessageBody="waiting")
    reader = adapter(moto, queue_prefixes=(prefix,))
    try:
        snap = reader.snapshot(time.time())
        assert [(d.dlq, d.source, d.depth) for d in snap.dead_letters] == [
            (f"elsewhere-{prefix}", f"{prefix}-orders", 1)
        ]
        assert snap.requests["sqs.GetQueueUrl"] == 1
    finally:
        reader.close()


def test_eventbridge_rule_to_queue_edges(moto):
    sqs, events, prefix = client("sqs", moto), client("events", moto), unique("bus")
    failed = make_queue(sqs, f"{prefix}-failed")
    billing = make_queue(sqs, f"{prefix}-billing")
    events.create_event_bus(Name=prefix)
    events.put_rule(Name="orders-to-billing", EventBusName=prefix,
                    EventPattern=json.dumps({"source": ["shop.orders"]}))  # fmt: skip
    target = {"Id": "billing", "Arn": arn_of(sqs, billing),
              "DeadLetterConfig": {"Arn": arn_of(sqs, failed)}}  # fmt: skip
    events.put_targets(Rule="orders-to-billing", EventBusName=prefix, Targets=[target])
    event = {"Source": "shop.orders", "DetailType": "OrderPlaced",
             "Detail": json.dumps({"order": 1}), "EventBusName": prefix}  # fmt: skip
    sent = events.put_events(Entries=[event])
    assert sent["FailedEntryCount"] == 0
    reader = adapter(moto, queue_prefixes=(prefix,), event_buses=(prefix,))
    try:
        snap = wait_until(
            lambda: (s := reader.snapshot(time.time())) and
            {q.name: q.ready for q in s.queues}.get(f"{prefix}-billing") == 1 and s,
            10, "the event in the billing queue",
        )  # fmt: skip
        rule = f"rule:{prefix}/orders-to-billing"
        assert set(reader.flow_edges) >= {
            FlowEdge(f"bus:{prefix}", rule, "routes"),
            FlowEdge(rule, f"queue:{prefix}-billing", "delivers"),
            FlowEdge(rule, f"queue:{prefix}-failed", "dead_letters"),
        }
        assert [(d.dlq, d.source) for d in snap.dead_letters] == [(f"{prefix}-failed", rule)]
    finally:
        reader.close()


def test_tap_queue_on_the_same_rule_traces_without_consuming_the_real_queue(moto, tmp_path):
    sqs, events, prefix = client("sqs", moto), client("events", moto), unique("tap")
    billing = make_queue(sqs, f"{prefix}-billing")
    tap = make_queue(sqs, f"{prefix}-tap")
    events.create_event_bus(Name=prefix)
    events.put_rule(Name="orders", EventBusName=prefix,
                    EventPattern=json.dumps({"source": ["shop"]}))  # fmt: skip
    events.put_targets(Rule="orders", EventBusName=prefix, Targets=[
        {"Id": "billing", "Arn": arn_of(sqs, billing)}, {"Id": "tap", "Arn": arn_of(sqs, tap)},
    ])  # fmt: skip
    correlation = unique("ord")
    detail = {"correlation_id": correlation, "card": "4111"}
    events.put_events(Entries=[{"Source": "shop", "DetailType": "OrderPlaced",
                                "Detail": json.dumps(detail), "EventBusName": prefix}])  # fmt: skip
    tracing = TracingConfig()
    store = TraceStore(tmp_path / "traces.db", classes_of(tracing))
    reader = SqsTap(sqs, tap, "aws", tracing, store, source=prefix, wait_seconds=1)
    watcher = adapter(moto, queue_prefixes=(prefix,))
    try:
        assert wait_until(reader.run_once, 10, "the tap to read the event") == 1
        (hop,) = store.hops(correlation, 10)
        assert (hop.broker, hop.source, hop.event_type, hop.service) == (
            "sqs",
            prefix,
            "OrderPlaced",
            "shop",
        )
        assert hop.fields == {}  # the card number was never kept
        queues = watcher.snapshot(time.time()).queues
        depth = {q.name: q.ready + q.unacked for q in queues}
        assert depth == {f"{prefix}-billing": 1, f"{prefix}-tap": 0}  # the copy was deleted
    finally:
        store.close()
        watcher.close()


def test_endpoint_down_is_unavailable(aws_env):
    reader = adapter(f"http://127.0.0.1:{free_port()}", request_timeout_seconds=1.0)
    try:
        with pytest.raises(BrokerUnavailable, match=r"sqs\.ListQueues"):
            reader.snapshot(time.time())
    finally:
        reader.close()


def test_unknown_credentials_are_an_auth_error(aws_env, tmp_path):
    port = free_port()
    strict = start_moto(port, tmp_path, name=f"moto-strict-{port}", strict_auth=True)
    reader = adapter(endpoint_url(port))
    try:
        with pytest.raises(BrokerAuthError):
            reader.snapshot(time.time())
    finally:
        reader.close()
        strict.stop()


class ThrottlingEndpoint:
    """An HTTP endpoint that answers SQS calls with RequestThrottled (the AWS JSON error): the
    first `throttle_first` calls, forwarding the rest to `upstream` (moto); -1 = every call."""

    def __init__(self, upstream: str = "", throttle_first: int = -1) -> None:
        self.throttle_first = throttle_first  # -1: throttle forever
        self.seen = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.seen += 1
                if outer.throttle_first < 0 or outer.seen <= outer.throttle_first:
                    payload = json.dumps({"__type": "com.amazonaws.sqs#RequestThrottled",
                                          "message": "Rate exceeded"}).encode()  # fmt: skip
                    self.send_response(400)
                    self.send_header("Content-Type", "application/x-amz-json-1.0")
                    self.send_header("x-amzn-query-error", "RequestThrottled;Sender")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                resp = requests.post(upstream + self.path, data=body, headers=headers, timeout=5)
                self.send_response(resp.status_code)
                for k, v in resp.headers.items():
                    if k.lower() not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(resp.content)))
                self.end_headers()
                self.wfile.write(resp.content)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_throttling_is_retried_counted_and_exhaustion_is_unavailable(moto):
    sqs, prefix = client("sqs", moto), unique("thr")
    make_queue(sqs, f"{prefix}-q")
    flaky = ThrottlingEndpoint(upstream=moto, throttle_first=2)
    always = ThrottlingEndpoint()
    try:
        reader = adapter(flaky.url, queue_prefixes=(prefix,), cloudwatch=False)
        snap = reader.snapshot(time.time())
        assert [q.name for q in snap.queues] == [f"{prefix}-q"]
        assert snap.requests["throttled.sqs.ListQueues"] == 2
        assert snap.requests["sqs.ListQueues"] == 3
        reader.close()
        reader = adapter(always.url, max_attempts=3)
        with pytest.raises(BrokerUnavailable, match="throttled on all 3 attempts"):
            reader.snapshot(time.time())
        reader.close()
    finally:
        flaky.close()
        always.close()


def test_dead_or_throttling_aws_is_down_while_kafka_stays_up(kafka, aws_env, tmp_path):
    dead = f"http://127.0.0.1:{free_port()}"
    throttling = ThrottlingEndpoint()
    kafka = (
        f"  - name: local\n    kind: kafka\n    bootstrap_servers: {kafka}\n"
        "    request_timeout_seconds: 2\n"
    )
    clusters = kafka + aws_cluster_yaml(dead, timeout=1.0)
    clusters += aws_cluster_yaml(throttling.url, name="aws-throttled")
    service = start_collector(tmp_path, clusters)
    try:
        url = f"http://127.0.0.1:{service.port}/metrics"
        clusters_up = (("sqs", "aws"), ("sqs", "aws-throttled"), ("kafka", "local"))

        def polled() -> dict | None:
            m = scrape(url)
            up = {c: value(m, "eventscope_collector_up", broker=b, cluster_name=c)
                  for b, c in clusters_up}  # fmt: skip
            return up if None not in up.values() else None

        assert wait_until(polled, 20, "every cluster polled") == {
            "aws": 0.0, "aws-throttled": 0.0, "local": 1.0,
        }  # fmt: skip
        m = scrape(url)
        assert value(m, "eventscope_collector_auth_failed", broker="sqs", cluster_name="aws") == 0.0
    finally:
        service.stop()
        throttling.close()


def test_demo_order_flow_on_eventbridge_and_sqs(moto):
    """The demo's services on EventBridge + SQS: every order ends as the ground truth says, and
    the collector sees bus → rule → queue for each service and the parked (DLQ) messages."""
    aws = AwsSettings(endpoint_url=moto, prefix=unique("demo") + "-")
    config = PipelineConfig(order_rate=10, interaction_rate=1, orders=6, poison_rate=0.3, seed=3)
    pipeline = AwsPipeline(config, aws).start()
    try:

        def ended() -> dict | None:
            status = pipeline.status()
            done = status["orders_placed"] == 6 and status["orders_open"] == 0
            return status if done else None

        status = wait_until(ended, 45, "every demo order to end")
        assert status["terminal"] == status["expected"]
        assert status["expected"]["dead_lettered"] >= 1  # the seed places poison orders
    finally:
        pipeline.stop()
    bus = bus_name(aws)
    reader = adapter(moto, queue_prefixes=(aws.prefix,), event_buses=(bus,))
    try:
        snap = reader.snapshot(time.time())
        for service in ALL_CONSUMERS:
            rule = f"rule:{bus}/{aws.prefix}{service}"
            assert FlowEdge(f"bus:{bus}", rule, "routes") in reader.flow_edges
            assert FlowEdge(rule, f"queue:{aws.prefix}{service}", "delivers") in reader.flow_edges
        parked = {d.source: d.depth for d in snap.dead_letters}
        dead = status["services"]["inventory-service"]["dead_lettered"]
        assert parked[f"{aws.prefix}inventory-service"] == dead
    finally:
        reader.close()

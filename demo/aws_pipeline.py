"""The demo's order flow on EventBridge + SQS, against moto's server (or any AWS endpoint).

Same services, events and worker threads as `demo.pipeline` (the `Link` interface); only the
transport differs. Topology, every name behind a prefix:

    bus `<p>events` ──rule `<p><service>` (detail-type in the events it consumes)──►
        queue `<p><service>`  (RedrivePolicy → `<p><service>-parked` after 5 receives)
        queue `<p>eventscope-tap`  (a second target of every rule: the trace tap's copy)

An event is an EventBridge entry: `DetailType` = event type, `Source` = producing service, and
`Detail` = the body plus the headers (`correlation_id`, `traceparent`, `tracestate`,
`timestamp_in_ms`) — EventBridge has no headers of its own. A message that fails for good is
sent to the service's parked queue with `dlq_error` / `dlq_service` / `dlq_retry_count` message
attributes, then deleted; the redrive policy is the safety net for consumers that crash. The
parked queues are deliberately not called "dlq": the collector finds them through the redrive
policies.

    python -m demo.aws_pipeline --start-emulator        # moto on a free port, orders forever
    python -m demo.aws_pipeline --endpoint-url URL --prefix shop- --control 127.0.0.1:9401

`eventscope demo --aws` runs the second form (see demo/stack.py); `--control` serves the same
knobs as `demo.pipeline` (`eventscope demo ctl … --control URL`).
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config as BotoConfig

from demo.aws_emulator import TEST_CREDENTIALS, endpoint_url, start_moto
from demo.pipeline import events as ev
from demo.pipeline.config import PipelineConfig
from demo.pipeline.control import ControlServer
from demo.pipeline.knobs import Knobs
from demo.pipeline.ledger import Ledger
from demo.pipeline.link import LinkError, Received
from demo.pipeline.tracing import Tracing
from demo.pipeline.workers import Context, run_consumer, run_interaction_source, run_order_source
from demo.services import free_port

log = logging.getLogger(__name__)

BROKER = "sqs"
MAX_RECEIVES = 5
HEADER_FIELDS = (ev.H_CORRELATION_ID, ev.H_TRACEPARENT, ev.H_TRACESTATE, ev.H_TIMESTAMP_MS)


@dataclass(frozen=True)
class AwsSettings:
    endpoint_url: str = ""  # "" = real AWS (credentials from the standard chain)
    region: str = "us-east-1"
    prefix: str = ""
    tap_queue: bool = True

    def client(self, service: str) -> Any:
        """A client the threads share (boto3 clients are thread-safe; creating one is slow)."""
        session = boto3.session.Session(region_name=self.region)
        pool = BotoConfig(max_pool_connections=len(ev.ALL_CONSUMERS) + 8)
        return session.client(service, endpoint_url=self.endpoint_url or None, config=pool)


def queue_arn(s: AwsSettings, url: str) -> str:
    """`https://host/123456789012/orders` → `arn:aws:sqs:<region>:123456789012:orders`."""
    account, name = url.rstrip("/").split("/")[-2:]
    return f"arn:aws:sqs:{s.region}:{account}:{name}"


def bus_name(s: AwsSettings) -> str:
    return f"{s.prefix}events"


def queue_name(s: AwsSettings, service: str) -> str:
    return s.prefix + service


def parked_name(s: AwsSettings, service: str) -> str:
    return f"{s.prefix}{service}-parked"


def tap_name(s: AwsSettings) -> str:
    return f"{s.prefix}eventscope-tap"


def declare_topology(s: AwsSettings, sqs: Any, events: Any) -> dict[str, str]:
    """Create the bus, queues, redrive policies, rules and targets (idempotent); returns the
    queue URLs by queue name."""
    urls: dict[str, str] = {}

    def queue(name: str, attributes: dict[str, str] | None = None) -> str:
        url = str(sqs.create_queue(QueueName=name, Attributes=attributes or {})["QueueUrl"])
        urls[name] = url
        return queue_arn(s, url)

    if not any(b["Name"] == bus_name(s) for b in events.list_event_buses()["EventBuses"]):
        events.create_event_bus(Name=bus_name(s))
    tap_arn = queue(tap_name(s)) if s.tap_queue else ""
    for service in ev.ALL_CONSUMERS:
        parked = queue(parked_name(s, service))
        policy = {"deadLetterTargetArn": parked, "maxReceiveCount": str(MAX_RECEIVES)}
        arn = queue(queue_name(s, service), {"RedrivePolicy": json.dumps(policy)})
        types = [stream.event_type for stream in ev.streams_consumed_by(service)]
        rule = queue_name(s, service)
        events.put_rule(
            Name=rule, EventBusName=bus_name(s), EventPattern=json.dumps({"detail-type": types})
        )
        targets = [{"Id": "service", "Arn": arn}]
        if tap_arn:
            targets.append({"Id": "tap", "Arn": tap_arn})
        events.put_targets(Rule=rule, EventBusName=bus_name(s), Targets=targets)
    return urls


def event_entry(s: AwsSettings, event: ev.Event) -> dict[str, Any]:
    detail = {
        "event_id": event.event_id,
        **event.body,
        ev.H_CORRELATION_ID: event.correlation_id,
        ev.H_TIMESTAMP_MS: event.timestamp_ms,
    }
    if event.traceparent:
        detail[ev.H_TRACEPARENT] = event.traceparent
    if event.tracestate:
        detail[ev.H_TRACESTATE] = event.tracestate
    return {
        "Source": event.source,
        "DetailType": event.event_type,
        "Detail": json.dumps(detail),
        "EventBusName": bus_name(s),
    }


def decode_message(body: str) -> ev.Event:
    """An EventBridge envelope from SQS → Event; raises MalformedEvent when it is not one."""
    try:
        envelope = json.loads(body)
        detail = dict(envelope["detail"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ev.MalformedEvent(f"not an EventBridge event: {exc}") from exc
    headers = {
        ev.H_EVENT_TYPE: str(envelope.get("detail-type", "")),
        ev.H_SOURCE: str(envelope.get("source", "")),
    }
    for name in HEADER_FIELDS:
        if name in detail:
            headers[name] = str(detail.pop(name))
    stamp = int(headers.pop(ev.H_TIMESTAMP_MS, "0") or 0)
    return ev.decode_event(headers, json.dumps(detail).encode(), stamp)


class SqsLink:
    """One thread's link: publishes with PutEvents, receives from the service's queue."""

    def __init__(
        self, s: AwsSettings, sqs: Any, events: Any, urls: dict[str, str], service: str
    ) -> None:
        self._s, self._service = s, service.split("/")[0]
        self._sqs, self._events = sqs, events
        self._url = urls.get(queue_name(s, self._service), "")
        self._parked = urls.get(parked_name(s, self._service), "")
        self._consuming = False

    def publish(self, event: ev.Event) -> None:
        answer = self._events.put_events(Entries=[event_entry(self._s, event)])
        if answer.get("FailedEntryCount"):
            raise LinkError(f"PutEvents refused {event.event_type}: {answer.get('Entries')}")

    def start_consuming(self) -> None:
        self._consuming = True

    def stop_consuming(self) -> None:
        self._consuming = False  # received, unsettled messages reappear after their timeout

    def receive(self, timeout: float) -> Received | None:
        if not self._consuming or not self._url:
            raise LinkError("receive() before start_consuming(), or a service with no queue")
        answer = self._sqs.receive_message(
            QueueUrl=self._url,
            MaxNumberOfMessages=1,
            WaitTimeSeconds=max(1, round(timeout)),
            VisibilityTimeout=30,
        )
        messages = answer.get("Messages", [])
        if not messages:
            return None
        m = messages[0]
        where = queue_name(self._s, self._service)
        try:
            return Received(decode_message(m["Body"]), "", where, m)
        except ev.MalformedEvent as exc:
            return Received(None, str(exc), where, m)

    def settle(self, received: Received) -> None:
        self._sqs.delete_message(QueueUrl=self._url, ReceiptHandle=received.handle["ReceiptHandle"])

    def dead_letter(self, received: Received, error: str, retries: int) -> None:
        def text(value: str) -> dict[str, str]:
            return {"DataType": "String", "StringValue": value[:1000] or "-"}

        attributes = {
            "dlq_error": text(error),
            "dlq_service": text(self._service),
            "dlq_retry_count": {"DataType": "Number", "StringValue": str(retries)},
        }
        if received.event is not None:
            attributes[ev.H_CORRELATION_ID] = text(received.event.correlation_id)
        self._sqs.send_message(
            QueueUrl=self._parked, MessageBody=received.handle["Body"], MessageAttributes=attributes
        )
        self.settle(received)

    def idle(self, seconds: float) -> None:
        time.sleep(seconds)

    def close(self) -> None:
        self.stop_consuming()  # the clients are the pipeline's, closed when it stops


class AwsKnobs(Knobs):
    """The pipeline's knobs, with a burst counter for this broker too (`Knobs` keeps one per
    broker of `config.brokers()`, which names only Kafka and RabbitMQ)."""

    def __init__(self, config: PipelineConfig) -> None:
        super().__init__(config)
        self._bursts.setdefault(BROKER, 0)


class AwsPipeline:
    """The demo services as threads of this process, on EventBridge + SQS."""

    def __init__(self, config: PipelineConfig, aws: AwsSettings, control: str = "") -> None:
        self.config, self.aws = config, aws
        self._control_address = control  # host:port of the knobs endpoint; "" = none
        self.control: ControlServer | None = None
        self._started_at = 0.0
        self.knobs = AwsKnobs(config)
        self.ledger = Ledger((BROKER,))
        self.tracing = Tracing()
        self.queue_urls: dict[str, str] = {}
        self._sqs: Any = None
        self._events: Any = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> AwsPipeline:
        sqs, events = self._sqs, self._events = self.aws.client("sqs"), self.aws.client("events")
        self.queue_urls = urls = declare_topology(self.aws, sqs, events)
        self._started_at = time.monotonic()
        if self._control_address:
            self.control = ControlServer(self._control_address, self.knobs, self.document)
            self.control.start()
        ctx = Context(
            BROKER,
            self.config,
            self.knobs,
            self.ledger,
            self.tracing,
            lambda service: SqsLink(self.aws, sqs, events, urls, service),
            self._stop,
        )
        for service in ev.ALL_CONSUMERS:
            self._spawn(f"sqs/{service}", run_consumer, ctx, service)
        self._spawn("sqs/orders", run_order_source, ctx)
        self._spawn("sqs/interactions", run_interaction_source, ctx)
        return self

    def _spawn(self, name: str, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def status(self) -> dict[str, Any]:
        return dict(self.ledger.snapshot(include_ids=False)[BROKER])

    def document(self, include_ids: bool = False) -> dict[str, Any]:
        """GET /status of the control endpoint, shaped like `demo.pipeline`'s."""
        return {
            "brokers": self.ledger.snapshot(include_ids),
            "knobs": self.knobs.snapshot(),
            "uptime_seconds": round(time.monotonic() - self._started_at, 1),
        }

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if self.control is not None:
            self.control.stop()
        for client in (self._sqs, self._events):
            if client is not None:
                client.close()
        self.tracing.shutdown()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint-url", default="", help="AWS API endpoint (moto: http://...)")
    parser.add_argument("--start-emulator", action="store_true", help="start moto on a free port")
    parser.add_argument("--prefix", default="")
    parser.add_argument("--order-rate", "--rate", type=float, default=2.0, dest="order_rate")
    parser.add_argument("--control", default="", help="serve the knobs on this host:port")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    moto = None
    endpoint = args.endpoint_url
    if args.start_emulator:
        import os

        os.environ.update({k: os.environ.get(k, v) for k, v in TEST_CREDENTIALS.items()})
        port = free_port()
        moto = start_moto(port, Path(tempfile.mkdtemp(prefix="eventscope-moto-")))
        endpoint = endpoint_url(port)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    pipeline = AwsPipeline(
        PipelineConfig(order_rate=args.order_rate, interaction_rate=args.order_rate * 4),
        AwsSettings(endpoint_url=endpoint, prefix=args.prefix),
        control=args.control,
    ).start()
    if pipeline.control is not None:
        print(f"control: {pipeline.control.url}", flush=True)
    print(
        f"order flow on EventBridge + SQS at {endpoint or 'AWS'}; collector config:\n"
        f"  - name: aws\n    kind: aws\n    region: {pipeline.aws.region}\n"
        f"    endpoint_url: {endpoint}\n    event_buses: ['{bus_name(pipeline.aws)}']",
        flush=True,
    )
    try:
        while not stop.wait(10):
            log.info("status: %s", json.dumps(pipeline.status()["terminal"]))
    finally:
        pipeline.stop()
        if moto is not None:
            moto.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The SQS trace tap: reads a *tap queue* — an extra target of the EventBridge rules being
traced — and stores one trace hop per event. It never reads the application's queues, because
an SQS receive hides the message from its real consumer (see docs/aws.md for the options).

What plays the role of message headers (fed to `collector.tracing.headers.parse_headers`):

    1. SQS message attributes (producer-side headers), String or Binary values
    2. for an EventBridge event, the top-level scalar fields of `detail` whose names the header
       rules look for (id, event type, service, traceparent, DLQ markers) — nothing else, so no
       payload is read unless `payload_fields` asks for it
    3. the envelope: `detail-type` as `event_type`, `source` as `source`

The first non-empty value of a name wins, so producer attributes win over the event body.

Example: a rule delivers {"detail-type": "OrderPlaced", "source": "shop",
"detail": {"correlation_id": "ord-1", "total": 12}} → Hop(correlation_id="ord-1",
event_type="OrderPlaced", service="shop", source=<tap source>, partition=-1,
offset=message_number(<event id>)); `total` is never read. The event id (the MessageId for a
plain SQS message) keys the hop: the copies one event leaves through several rules are one hop.

At-least-once reading, exactly-once storing: a batch (≤ 10 messages) is stored in one
transaction and only then deleted from the tap queue; a crash in between redelivers it after the
visibility timeout, and the store drops the duplicates (same event id → same hop key).
Configured by the `tracing.sqs` section; `collector.tracing.service` builds and runs it beside
the Kafka and RabbitMQ taps.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import boto3
from botocore.config import Config as BotoConfig

from collector.config import AwsCluster
from collector.tracing.config import TracingConfig
from collector.tracing.headers import (
    DLQ_MARKER_HEADERS,
    DLQ_REASON_HEADERS,
    DLQ_RETRY_HEADERS,
    DLQ_SERVICE_HEADERS,
    HeaderRules,
    Skipped,
    Where,
    allowed_fields,
    build_hop,
    parse_headers,
)
from collector.tracing.hop import NO_PARTITION, Hop
from collector.tracing.metrics import TraceMetrics
from collector.tracing.store import IngestResult, StoreError, TraceStore

log = logging.getLogger(__name__)

MAX_BATCH = 10  # ReceiveMessage's limit
LAG_EVERY_SECONDS = 5.0


def message_number(message_id: str) -> int:
    """A stable 63-bit number for the hop key from the SQS MessageId (a redelivery keeps it)."""
    return int.from_bytes(hashlib.sha256(message_id.encode()).digest()[:8], "big") >> 1


def header_names(rules: HeaderRules) -> frozenset[str]:
    """The names worth copying out of an event's `detail`."""
    dlq = (*DLQ_MARKER_HEADERS, *DLQ_REASON_HEADERS, *DLQ_RETRY_HEADERS, *DLQ_SERVICE_HEADERS)
    return frozenset(
        (*rules.id_headers, *rules.event_type_headers, *rules.service_headers, "traceparent", *dlq)
    )


def event_envelope(body: str) -> dict[str, Any] | None:
    """The EventBridge event in a message body, or None when the body is not one."""
    try:
        event = json.loads(body)
    except ValueError:
        return None
    if isinstance(event, dict) and "detail-type" in event and isinstance(event.get("detail"), dict):
        return event
    return None


def tap_headers(message: Mapping[str, Any], rules: HeaderRules) -> list[tuple[str, str | bytes]]:
    """Message attributes, then wanted `detail` fields, then the envelope (see module doc)."""
    headers: list[tuple[str, str | bytes]] = []
    for name, attr in (message.get("MessageAttributes") or {}).items():
        if isinstance(attr, Mapping):
            value = attr.get("StringValue", attr.get("BinaryValue"))
            if isinstance(value, str | bytes):
                headers.append((str(name), value))
    event = event_envelope(str(message.get("Body", "")))
    if event is not None:
        wanted = header_names(rules)
        for name, value in event["detail"].items():
            if str(name).lower() in wanted and isinstance(value, str | int | float):
                headers.append((str(name), str(value)))
        headers.append(("event_type", str(event.get("detail-type", ""))))
        headers.append(("source", str(event.get("source", ""))))
    return headers


LAST_MS_OF_SECOND = 0.999


def produced_at(message: Mapping[str, Any], now: float) -> float:
    """When the event was put on the bus: its `time` (whole seconds), refined by the SQS
    SentTimestamp (milliseconds). The put happened in [time, time + 1) and no later than the
    delivery, so the estimate is the SentTimestamp clamped into that second: hops of one
    journey a few ms apart keep their order even when a slow delivery crosses into the next
    second (truncating to `time` would put a later hop before an earlier one). A plain SQS
    message: SentTimestamp; neither: now.

    Example: time "…T07:00:00Z" (…400.0), SentTimestamp …400512 → …400.512; SentTimestamp
    …403100 (a delivery retried later) → …400.999.
    """
    sent: float | None = None
    try:
        raw = (message.get("Attributes") or {}).get("SentTimestamp")
        sent = int(raw) / 1000 if raw else None
    except ValueError:
        pass
    event = event_envelope(str(message.get("Body", "")))
    if event is not None:
        try:
            stamp = str(event.get("time", "")).replace("Z", "+00:00")
            put = datetime.fromisoformat(stamp).timestamp()
        except ValueError:
            pass
        else:
            return put if sent is None else min(max(sent, put), put + LAST_MS_OF_SECOND)
    return now if sent is None else sent


def hop_of_message(
    message: Mapping[str, Any],
    rules: HeaderRules,
    cluster: str,
    source: str,
    tracing: TracingConfig,
    now: float,
) -> Hop | Skipped:
    parsed = parse_headers(tap_headers(message, rules), rules)
    if isinstance(parsed, Skipped):
        return parsed
    fields: dict[str, str] = {}
    event = event_envelope(str(message.get("Body", "")))
    if tracing.payload_fields and event is not None:
        detail = json.dumps(event["detail"]).encode()
        fields = allowed_fields(detail, tracing.payload_fields, len(detail))
    # one event matched by several rules reaches the tap queue once per rule, each copy with
    # its own MessageId but the same EventBridge event id: keyed by that, it is one hop
    identity = str(event.get("id") or "") if event is not None else ""
    where = Where(
        broker="sqs",
        cluster_name=cluster,
        source=source,
        partition=NO_PARTITION,
        offset=message_number(identity or str(message.get("MessageId", ""))),
        produced_at=produced_at(message, now),
    )
    return build_hop(parsed, where, tracing.topic_services, False, fields)


class SqsTap:
    """Long-polls the tap queue on a thread; `run_once` reads, stores and deletes one batch.

    `queue` is the tap queue's URL, or its name (looked up with GetQueueUrl when first needed,
    so a collector started while AWS is unreachable keeps retrying instead of failing).
    """

    def __init__(
        self,
        sqs: Any,
        queue: str,
        cluster: str,
        tracing: TracingConfig,
        store: TraceStore,
        metrics: TraceMetrics | None = None,
        source: str = "",  # what the hops say they were read from; "" = the tap queue's name
        wait_seconds: int = 1,
        clock: Callable[[], float] = time.time,
        on_stored: Callable[[IngestResult], None] | None = None,
    ) -> None:
        self.sqs, self.cluster = sqs, cluster
        self.queue_url = queue if queue.startswith(("http://", "https://")) else ""
        self.queue_name = queue.rstrip("/").rsplit("/", 1)[-1]
        self.tracing, self.store, self.metrics = tracing, store, metrics
        self.rules = HeaderRules.from_config(tracing)
        self.source = source or self.queue_name
        self.wait_seconds = wait_seconds
        self.clock = clock
        self.on_stored = on_stored
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"sqs-tap-{cluster}", daemon=True)
        self._failing = False
        self._next_lag = 0.0

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        delay = 1.0
        while not self._stop.is_set():
            try:
                self.run_once()
                self._report_lag()
            except StoreError as exc:
                log.error("sqs tap on %s: %s (the batch will be redelivered)", self.cluster, exc)
                self._stop.wait(1.0)
            except Exception as exc:  # the tap must outlive a bad poll; the queue keeps them
                if not self._failing:  # once per outage, not once a second
                    log.warning("sqs tap on %s: cannot read %s: %r", self.cluster, self.source, exc)
                self._failing = True
                self._stop.wait(delay)
                delay = min(10.0, delay * 2)
            else:
                if self._failing:
                    log.info("sqs tap on %s: reading %s again", self.cluster, self.source)
                self._failing, delay = False, 1.0

    def url(self) -> str:
        if not self.queue_url:
            answer = self.sqs.get_queue_url(QueueName=self.queue_name)
            self.queue_url = str(answer["QueueUrl"])
        return self.queue_url

    def _report_lag(self) -> None:
        """The tap queue's depth as `trace_tap_lag_messages`, every LAG_EVERY_SECONDS."""
        now = time.monotonic()
        if self.metrics is None or now < self._next_lag:
            return
        self._next_lag = now + LAG_EVERY_SECONDS
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        attrs = self.sqs.get_queue_attributes(QueueUrl=self.url(), AttributeNames=names)
        depth = sum(int(v) for v in attrs.get("Attributes", {}).values())
        self.metrics.set_tap_lag("sqs", self.cluster, depth)

    def run_once(self) -> int:
        """Receive ≤ 10 messages, store their hops, then delete them; returns messages read."""
        answer = self.sqs.receive_message(
            QueueUrl=self.url(),
            MaxNumberOfMessages=MAX_BATCH,
            WaitTimeSeconds=self.wait_seconds,
            AttributeNames=["SentTimestamp"],
            MessageAttributeNames=["All"],
        )
        messages = answer.get("Messages", [])
        if not messages:
            return 0
        now = self.clock()
        hops: list[Hop] = []
        for m in messages:
            hop = hop_of_message(m, self.rules, self.cluster, self.source, self.tracing, now)
            if isinstance(hop, Skipped):
                if self.metrics is not None:
                    self.metrics.count_skipped(hop.reason)
            else:
                hops.append(hop)
        try:
            result = self.store.insert_hops(hops)
        except StoreError:
            if self.metrics is not None:
                self.metrics.set_store_up(False)
            raise  # not deleted: SQS redelivers after the visibility timeout
        if self.metrics is not None:
            self.metrics.set_store_up(True)
            self.metrics.observe(result)
            self.metrics.count_ingest("sqs", self.cluster, {self.source: len(hops)})
        self.sqs.delete_message_batch(
            QueueUrl=self.url(),
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
            ],
        )
        if self.on_stored is not None:
            self.on_stored(result)
        return len(messages)


def sqs_tap(
    cluster: AwsCluster,
    tracing: TracingConfig,
    store: TraceStore,
    metrics: TraceMetrics,
    on_stored: Callable[[IngestResult], None] | None = None,
) -> SqsTap:
    """The tap `tracing.sqs` asks for, with a client built like the adapter's (same region,
    endpoint, profile and credential chain). botocore retries throttles here: the tap only
    reads its own queue, so nothing needs counting."""
    session = boto3.session.Session(
        profile_name=cluster.profile or None, region_name=cluster.region
    )
    timeout = cluster.request_timeout_seconds
    wait = tracing.sqs.wait_seconds
    client = session.client(
        "sqs",
        endpoint_url=cluster.endpoint_url or None,
        # the long poll must fit in the read timeout
        config=BotoConfig(connect_timeout=timeout, read_timeout=timeout + wait),
    )
    return SqsTap(
        client, tracing.sqs.queue, cluster.name, tracing, store, metrics,
        source=tracing.sqs.source, wait_seconds=wait, on_stored=on_stored,
    )  # fmt: skip

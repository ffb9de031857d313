"""AWS adapter (boto3): SQS queues as sources, their DLQs, CloudWatch ages and counts, and the
EventBridge bus → rule → target edges of the flow graph.

Requests per poll (counted in `requests` as `<service>.<Operation>`):

    sqs.ListQueues              ceil(queues / 1000) per prefix (all queues when no prefix)
    sqs.GetQueueAttributes      1 per queue (SQS has no batch form), `max_concurrency` at once
    sqs.GetQueueUrl             1 per DLQ that a selected queue names but the listing missed
    events.ListEventBuses       1 per 100 buses, only when `event_buses` is set
    events.ListRules            1 per 100 rules per bus
    events.ListTargetsByRule    1 per rule (100 targets per page)
    cloudwatch.GetMetricData    ceil((3 · queues + 2 · rules) / 500), at most every
                                `cloudwatch_interval_seconds` (`sqs_metrics`)

Pagination is by hand (NextToken loops) rather than boto3 paginators, so that a throttled page
is retried alone instead of restarting the listing. Throttling and errors: `sqs_requests`.
CloudWatch is optional: when it fails (unreachable, denied, throttled) the poll still succeeds
and ages/counts are absent; the first failure and the recovery are logged once.

Read by `collector.exporters.topology` from the adapter after each successful poll: `flow_edges`
(see `FlowEdge`; edges touching an `exclude_queues` queue left out) and
`rule_failed_invocations` (rule node → CloudWatch FailedInvocations, a counter built like the
message counts). Credentials: the standard AWS chain, or the `profile`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

from collector.brokers import sqs_cloudwatch as cw
from collector.brokers.sqs_metrics import CloudWatchReader
from collector.brokers.sqs_requests import (
    MISSING_QUEUE_CODES,
    AwsCaller,
    RequestLog,
    all_pages,
    error_code,
)
from collector.brokers.sqs_topology import (
    QUEUE_ATTRIBUTES,
    FlowEdge,
    QueueMetrics,
    QueueSelection,
    QueueState,
    RuleTargets,
    account_from_arn,
    dead_letter_arns,
    dead_letter_sources,
    name_from_arn,
    name_from_url,
    parse_queue_state,
    queue_samples,
    redrive_edges,
    rule_dlq_deliveries,
    rule_edges,
)
from collector.config import AwsCluster
from collector.errors import BrokerAuthError, BrokerError, ConfigError
from collector.model import Broker, ClusterSnapshot

log = logging.getLogger(__name__)
T = TypeVar("T")


def validate_aws_cluster(config: AwsCluster) -> None:
    key = f"clusters.{config.name}"
    if not config.region:
        raise ConfigError(f"{key}.region", "is required (e.g. eu-west-1)")
    if config.endpoint_url and not config.endpoint_url.startswith(("http://", "https://")):
        raise ConfigError(f"{key}.endpoint_url", "must be an http(s):// URL")
    for field, value in (
        ("max_concurrency", config.max_concurrency),
        ("max_attempts", config.max_attempts),
    ):
        if value < 1:
            raise ConfigError(f"{key}.{field}", "must be at least 1")
    if config.cloudwatch_interval_seconds < 0:
        raise ConfigError(f"{key}.cloudwatch_interval_seconds", "must be 0 or more")
    if config.request_timeout_seconds <= 0:
        raise ConfigError(f"{key}.request_timeout_seconds", "must be greater than 0")


class SqsAdapter:
    broker = Broker.SQS

    def __init__(self, config: AwsCluster, caller: AwsCaller | None = None) -> None:
        validate_aws_cluster(config)
        self.config = config
        self.cluster = config.name
        self.call = caller or AwsCaller(RequestLog(), max_attempts=config.max_attempts)
        self.requests = self.call.requests
        self.selection = QueueSelection(config.include_queues, config.exclude_queues)
        self.flow_edges: tuple[FlowEdge, ...] = ()
        self.rule_failed_invocations: dict[str, int] = {}
        self._pool = ThreadPoolExecutor(
            config.max_concurrency, thread_name_prefix=f"aws-{config.name}"
        )
        try:
            session = boto3.session.Session(
                profile_name=config.profile or None, region_name=config.region
            )
        except BotoCoreError as exc:  # ProfileNotFound: fail at start, naming the key
            raise ConfigError(f"clusters.{config.name}.profile", str(exc)) from exc
        boto = BotoConfig(
            connect_timeout=config.request_timeout_seconds,
            read_timeout=config.request_timeout_seconds,
            retries={"total_max_attempts": 1, "mode": "standard"},  # we retry, and count
            max_pool_connections=config.max_concurrency + 2,
        )
        endpoint = config.endpoint_url or None
        self.sqs = session.client("sqs", endpoint_url=endpoint, config=boto)
        self.events = session.client("events", endpoint_url=endpoint, config=boto)
        self.cloudwatch = session.client("cloudwatch", endpoint_url=endpoint, config=boto)
        self.metrics = CloudWatchReader(
            self.cloudwatch, self.call, self._pool, config.cloudwatch_interval_seconds, self.cluster
        )

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        for client in (self.sqs, self.events, self.cloudwatch):
            client.close()

    def snapshot(self, now: float) -> ClusterSnapshot:
        phases: dict[str, float] = {}
        urls = _timed(phases, "list_queues", self._queue_urls)
        states = _timed(phases, "queue_attributes", lambda: self._states(urls))
        rules = _timed(phases, "eventbridge", self._rules)
        sources = dead_letter_sources(states, rules)
        states += _timed(phases, "dlq_lookup", lambda: self._missing_dlqs(states, rules))
        metrics, to_dlq = _timed(phases, "cloudwatch", lambda: self._cloudwatch(states, rules, now))
        queues, dead_letters = queue_samples(states, sources, metrics, to_dlq)
        edges = [e for r in rules for e in rule_edges(r)] + redrive_edges(states)
        # an excluded queue (e.g. the trace tap's) is no step of the pipeline: no edges either
        self.flow_edges = tuple(e for e in edges if self._drawn(e.source) and self._drawn(e.target))
        return ClusterSnapshot(
            broker=self.broker,
            cluster=self.cluster,
            taken_at=now,
            queues=queues,
            dead_letters=dead_letters,
            requests=self.requests.drain(),
            phase_seconds=phases,
        )

    def _drawn(self, node: str) -> bool:
        excluded = QueueSelection(exclude=self.config.exclude_queues)
        return not node.startswith("queue:") or excluded.wanted(node.removeprefix("queue:"))

    def _cloudwatch(
        self, states: list[QueueState], rules: list[RuleTargets], now: float
    ) -> tuple[dict[str, QueueMetrics], dict[str, int]]:
        """Queue ages and counts, and events sent to rule DLQs; sets rule_failed_invocations."""
        if not self.config.cloudwatch:
            return {}, {}
        subjects = [cw.queue_subject(s.name) for s in states]
        subjects += [cw.rule_subject(r.bus, r.rule) for r in rules]
        readings = self.metrics.read(subjects, now)

        def value(key: str, series: str) -> float | None:
            return readings.get(key, {}).get(series)

        failed = {r.node: value(r.node, "failed") for r in rules}
        self.rule_failed_invocations = {k: int(v) for k, v in failed.items() if v is not None}
        to_dlq = rule_dlq_deliveries(rules, {r.node: value(r.node, "to_dlq") for r in rules})
        return {s.name: cw.queue_metrics(readings.get(s.name, {})) for s in states}, to_dlq

    # ---- SQS ---------------------------------------------------------------------------------

    def _queue_urls(self) -> list[str]:
        prefixes = self.config.queue_prefixes or ("",)
        urls: dict[str, None] = {}  # ordered set: overlapping prefixes list a queue twice
        for prefix in prefixes:
            params: dict[str, Any] = {"MaxResults": 1000}
            if prefix:
                params["QueueNamePrefix"] = prefix
            for page in all_pages(self.call, "sqs.ListQueues", self.sqs.list_queues, params):
                urls.update(dict.fromkeys(page.get("QueueUrls", [])))
        return [u for u in urls if self.selection.wanted(name_from_url(u))]

    def _states(self, urls: list[str]) -> list[QueueState]:
        found = self._pool.map(self._state, urls)
        return [s for s in found if s is not None]

    def _state(self, url: str) -> QueueState | None:
        try:
            answer = self.call(
                "sqs.GetQueueAttributes",
                self.sqs.get_queue_attributes,
                QueueUrl=url,
                AttributeNames=list(QUEUE_ATTRIBUTES),
            )
        except BrokerError as exc:
            if _queue_missing(exc):
                return None  # deleted since ListQueues
            raise
        return parse_queue_state(url, answer.get("Attributes", {}))

    def _missing_dlqs(self, states: list[QueueState], rules: list[RuleTargets]) -> list[QueueState]:
        """DLQs named by a selected queue's redrive policy or a rule target but not listed
        (another prefix, or excluded by name): their depth belongs to their source's story."""
        known = {s.name for s in states}
        found = []
        for arn in sorted(dead_letter_arns(states, rules)):
            if name_from_arn(arn) in known or arn.split(":")[3] != self.config.region:
                continue  # listed already, or in another region (another cluster's business)
            params = {"QueueName": name_from_arn(arn)}
            if account_from_arn(arn):
                params["QueueOwnerAWSAccountId"] = account_from_arn(arn)
            try:
                url = self.call("sqs.GetQueueUrl", self.sqs.get_queue_url, **params)["QueueUrl"]
            except BrokerAuthError:
                log.debug("aws cluster %s: no access to DLQ %s", self.cluster, arn)
                continue  # another account's DLQ we may not read: its source is still reported
            except BrokerError as exc:
                if _queue_missing(exc):
                    continue  # a redrive policy pointing at a deleted queue
                raise
            state = self._state(url)
            if state is not None:
                found.append(state)
        return found

    # ---- EventBridge --------------------------------------------------------------------------

    def _rules(self) -> list[RuleTargets]:
        if not self.config.event_buses:
            return []
        buses = [
            str(b.get("Name", ""))
            for page in all_pages(
                self.call, "events.ListEventBuses", self.events.list_event_buses, {}
            )
            for b in page.get("EventBuses", [])
        ]
        wanted = [b for b in buses if QueueSelection(self.config.event_buses).wanted(b)]
        rules = [
            (bus, r)
            for bus in wanted
            for page in all_pages(
                self.call, "events.ListRules", self.events.list_rules, {"EventBusName": bus}
            )
            for r in page.get("Rules", [])
        ]
        return list(self._pool.map(lambda br: self._targets(*br), rules))

    def _targets(self, bus: str, rule: dict[str, Any]) -> RuleTargets:
        name = str(rule.get("Name", ""))
        params = {"Rule": name, "EventBusName": bus}
        targets = [
            t
            for page in all_pages(
                self.call, "events.ListTargetsByRule", self.events.list_targets_by_rule, params
            )
            for t in page.get("Targets", [])
        ]
        # ENABLED, DISABLED, ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS
        enabled = str(rule.get("State", "ENABLED")).startswith("ENABLED")
        return RuleTargets(bus, name, enabled, tuple(targets))


def _timed(phases: dict[str, float], phase: str, step: Callable[[], T]) -> T:
    started = time.monotonic()
    try:
        return step()
    finally:
        phases[phase] = time.monotonic() - started


def _queue_missing(exc: BrokerError) -> bool:
    cause = exc.__cause__
    return isinstance(cause, ClientError) and error_code(cause) in MISSING_QUEUE_CODES

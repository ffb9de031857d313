"""Kafka adapter: reads groups, committed offsets, end offsets and commit timestamps.

Works against any Kafka-protocol cluster through confluent-kafka's AdminClient; security
settings (`security.protocol`, `sasl.*`, `ssl.*`) pass through from the cluster's `client:`.

Order matters for honest lag: committed offsets are read *before* end offsets, so a commit that
lands between the two reads can only make lag look larger, never negative.

Requests per poll (counted in `requests`): one ListGroups, one DescribeGroups per 1,000 groups, one
OffsetFetch per group (librdkafka takes one group per call; issued concurrently, bounded by
`max_concurrency`), one Metadata, one ListOffsets batch for latest, one for earliest (DLQ topics
and every partition a group committed on: the log start that retention moves), and one consumer
fetch for the lagging partitions when lag seconds is `exact` (none when no lagging group's
committed offset moved since the last poll: `FirstRecordCache`). That fetch also finds the
transaction markers and aborted records at a committed offset, which are not lag (`kafka_probe`).
"""

from __future__ import annotations

import fnmatch
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import replace
from typing import Any

from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, KafkaError, KafkaException
from confluent_kafka import TopicPartition as KTopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, OffsetSpec

from collector.brokers.kafka_probe import (
    FirstRecord,
    FirstRecordCache,
    fetch_first_records,
    snapshot_fields,
)
from collector.compute.loss import readable_from
from collector.config import KafkaCluster
from collector.errors import BrokerAuthError, BrokerUnavailable
from collector.model import Broker, ClusterSnapshot, GroupMember, GroupSample, TopicPartition
from collector.sharding import ShardFilter

log = logging.getLogger(__name__)
# librdkafka reports every failed reconnect; the poller already logs once per state change
rdkafka_log = logging.getLogger("eventscope.librdkafka")

# cluster-wide: nothing can be read, the poll fails (collector_up=0, auth_failed=1)
_AUTH_CODES = {
    KafkaError.SASL_AUTHENTICATION_FAILED,
    KafkaError._AUTHENTICATION,
    KafkaError.CLUSTER_AUTHORIZATION_FAILED,
}
# one group or topic refused: that group/partition becomes ERR, the others keep reporting
_DENIED_CODES = {KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.GROUP_AUTHORIZATION_FAILED}
# a group whose coordinator is moving or loading: librdkafka's admin OffsetFetch handles a
# NOT_COORDINATOR answer by re-querying the coordinator of a consumer group handle the admin
# client does not have, and the process dies in rd_kafka_cgrp_op (librdkafka issue #5040, seen
# here with 2.16 on a fresh Apache Kafka). Such a group is not sent an OffsetFetch this poll.
_COORDINATOR_CODES = {
    KafkaError.NOT_COORDINATOR,
    KafkaError.COORDINATOR_NOT_AVAILABLE,
    KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
}
_STATE_NAMES = {
    "STABLE": "Stable",
    "EMPTY": "Empty",
    "DEAD": "Dead",
    "PREPARING_REBALANCING": "PreparingRebalance",
    "COMPLETING_REBALANCING": "CompletingRebalance",
    "UNKNOWN": "Unknown",
}
# groups per DescribeGroups call, each call with its own timeout: 10,000 groups in one call took
# longer than the default 5 s request timeout and failed the whole poll (docs/benchmarks.md)
DESCRIBE_BATCH = 1000
RETENTION_REFRESH_POLLS = 20
RECONNECT_AFTER_FAILURES = 2  # topic configs change rarely; re-read them every N polls
# the share of the poll interval by which the lag-seconds probe must be done: the probe is the
# one optional phase, so when the required ones were slow it gets what is left, or nothing
PROBE_BY_SHARE = 0.8


def matches(name: str, include: Iterable[str], exclude: Iterable[str]) -> bool:
    """True when `name` matches an include glob and no exclude glob."""
    return any(fnmatch.fnmatchcase(name, p) for p in include) and not any(
        fnmatch.fnmatchcase(name, p) for p in exclude
    )


def admin_settings(config: KafkaCluster) -> dict[str, Any]:
    """The librdkafka properties of the adapter's AdminClient (the user's `client` wins)."""
    return {
        "bootstrap.servers": config.bootstrap_servers,
        "client.id": f"eventscope-{config.name}",
        "socket.timeout.ms": int(config.request_timeout_seconds * 1000),
        **config.client,
    }


def probe_settings(config: KafkaCluster) -> dict[str, Any]:
    """The librdkafka properties of the lag-seconds probe, a Consumer that only assign()s."""
    settings = config.lag_seconds
    return {
        **admin_settings(config),
        "group.id": f"eventscope-probe-{config.name}",  # assign() only: never joins
        "enable.auto.commit": False,
        "enable.partition.eof": True,
        # what a transactional topic's readers get: markers and aborted records
        # are skipped, so the first record read is the first one a reader will get
        "isolation.level": "read_committed",
        # an offset retention removed must not jump to the end and look caught up
        "auto.offset.reset": "error",
        "fetch.max.bytes": settings.fetch_max_bytes,
        "max.partition.fetch.bytes": max(1024, settings.fetch_max_bytes // 64),
        "fetch.wait.max.ms": settings.fetch_wait_max_ms,
    }


class KafkaAdapter:
    broker = Broker.KAFKA

    def __init__(
        self,
        config: KafkaCluster,
        dlq_patterns: Iterable[str] = (),
        shard: ShardFilter | None = None,
        poll_seconds: float | None = None,
    ) -> None:
        self.config = config
        self.poll_seconds = poll_seconds
        self.shard = shard or ShardFilter()
        self.cluster = config.name
        self.dlq_patterns = tuple(dlq_patterns)
        self._timeout = config.request_timeout_seconds
        client = admin_settings(config)
        self._client_conf = client
        # a wrong SASL password reaches requests only as timeouts; librdkafka reports the
        # authentication failure itself through error_cb, remembered here (docs/reliability.md)
        self._auth_error = ""
        self._admin = AdminClient(dict(client), logger=rdkafka_log, error_cb=self._on_client_error)
        self._probe: Consumer | None = None
        self._first_records = FirstRecordCache()
        self._retention: dict[str, float] = {}
        # topics whose config was read, with or without retention.ms (Tansu reports none): a
        # topic without it must not trigger a DescribeConfigs on every poll
        self._configs_read: set[str] = set()
        self._polls = 0
        self._failures = 0
        self._resets = 0

    # -- protocol ----------------------------------------------------------------------------

    def snapshot(self, now: float) -> ClusterSnapshot:
        requests: dict[str, int] = {}
        phases: dict[str, float] = {}
        probe_by = None if self.poll_seconds is None else (
            time.monotonic() + PROBE_BY_SHARE * self.poll_seconds
        )  # fmt: skip
        group_errors: dict[str, str] = {}  # per-group failures are data, not a failed poll
        end_errors: dict[TopicPartition, str] = {}
        try:
            groups = self._timed(phases, "groups", lambda: self._groups(requests))
            committed = self._timed(
                phases, "committed", lambda: self._committed(groups, requests, group_errors)
            )
            topics = self._timed(phases, "metadata", lambda: self._topics(requests))
            wanted = topics  # every topic counts for throughput, not only those with groups
            end = self._timed(
                phases,
                "end_offsets",
                lambda: self._offsets(wanted, OffsetSpec.latest(), requests, end_errors),
            )
            # log start offsets: DLQ depth, and messages retention deleted before a group read
            # them (every committed partition); one ListOffsets-earliest batch for both
            earliest = {tp for tp in wanted if self._is_dlq(tp.topic)} | _committed_tps(
                committed, wanted
            )
            start = self._timed(
                phases,
                "start_offsets",
                lambda: self._offsets(earliest, OffsetSpec.earliest(), requests),
            )
            resume = _readable(committed, start)  # a deleted offset has no record to stamp
            stamps, readable = self._timed(
                phases,
                "commit_timestamps",
                lambda: self._commit_timestamps(resume, end, requests, probe_by),
            )
            self._timed(phases, "configs", lambda: self._refresh_retention(wanted, requests))
        except (KafkaException, BrokerUnavailable, BrokerAuthError) as exc:
            self._admin.poll(0)  # serve error_cb: it says whether the timeouts were SASL failures
            auth_error = self._auth_error
            self._failures += 1
            if self._failures >= RECONNECT_AFTER_FAILURES:
                # a handle whose requests hung (broker paused, network black hole) can stay
                # wedged after the broker is back; fresh clients are cheap next to a blind spot
                self._reset_clients()
            if auth_error:
                raise BrokerAuthError(auth_error) from exc
            if isinstance(exc, KafkaException):
                raise _translate(exc.args[0] if exc.args else None, str(exc)) from exc
            raise
        self._failures = self._resets = 0
        self._auth_error = ""
        self._polls += 1
        samples = tuple(
            replace(
                sample,
                committed=committed.get(name, {}),
                error=group_errors.get(name, sample.error),
            )
            for name, sample in sorted(groups.items())
        )
        return ClusterSnapshot(
            broker=Broker.KAFKA,
            cluster=self.cluster,
            taken_at=now,
            end_offsets=end,
            start_offsets=start,
            groups=samples,
            commit_timestamps=stamps,
            end_offset_errors=end_errors,
            readable_offsets=readable,
            retention_seconds={t: s for t, s in self._retention.items() if _has_topic(wanted, t)},
            requests=requests,
            phase_seconds=phases,
        )

    def close(self) -> None:
        if self._probe is not None:
            self._probe.close()
            self._probe = None

    def _reset_clients(self) -> None:
        log.info(
            "cluster %s: recreating Kafka clients after %d failed polls",
            self.cluster,
            self._failures,
        )
        self.close()
        self._admin = AdminClient(
            dict(self._client_conf), logger=rdkafka_log, error_cb=self._on_client_error
        )
        self._failures = 0

    def _on_client_error(self, err: KafkaError) -> None:
        if err.code() in _AUTH_CODES:
            self._auth_error = f"authentication or authorization failed: {err.str()}"

    # -- phases --------------------------------------------------------------------------------

    def _groups(self, requests: dict[str, int]) -> dict[str, GroupSample]:
        """Group name → its state and members (no offsets yet): listed by the broker plus those
        named in config."""
        result = self._admin.list_consumer_groups(request_timeout=self._timeout).result()
        _count(requests, "list_groups")
        if result.errors:
            # a hung broker answers with an empty `.valid` and the failure only in `.errors`
            first = result.errors[0]
            raise _translate(getattr(first, "args", [None])[0], f"ListGroups failed: {first}")
        names = {
            g.group_id
            for g in result.valid
            if matches(g.group_id, self.config.include_groups, self.config.exclude_groups)
        }
        names.update(self.config.groups)
        names = {g for g in names if self.shard.owns(g)}
        if not names:
            return {}
        groups: dict[str, GroupSample] = {}
        ordered = sorted(names)
        for i in range(0, len(ordered), DESCRIBE_BATCH):
            groups.update(self._describe(ordered[i : i + DESCRIBE_BATCH], requests))
        return groups

    def _describe(self, names: list[str], requests: dict[str, int]) -> dict[str, GroupSample]:
        """State, member count and members of one batch of groups (one DescribeGroups call)."""
        futures = self._admin.describe_consumer_groups(names, request_timeout=self._timeout)
        _count(requests, "describe_groups")
        groups: dict[str, GroupSample] = {}
        for name, fut in futures.items():
            try:
                desc = fut.result()
            except KafkaException as exc:
                if _is_fatal(exc):
                    raise
                moving = _code(exc) in _COORDINATOR_CODES
                error = _failure("DescribeGroups", exc) if moving else ""
                groups[name] = GroupSample(name, "Unknown", None, error=error)
                continue
            state = _STATE_NAMES.get(getattr(desc.state, "name", "UNKNOWN"), "Unknown")
            if state == "Dead":
                continue  # deleted: its series must disappear now, not linger as ghosts
            # Kafka reports members for live groups; an empty list on a Stable group means the
            # broker did not tell us (Tansu), so report no count rather than invent a zero
            members = len(desc.members) if desc.members or state == "Empty" else None
            detail = tuple(sorted((_member(m) for m in desc.members or ()), key=_member_order))
            groups[name] = GroupSample(name, state, members, member_list=detail)
        return groups

    def _committed(
        self, groups: Mapping[str, Any], requests: dict[str, int], errors: dict[str, str]
    ) -> dict[str, dict[TopicPartition, int]]:
        """Committed offsets per group; OffsetFetch calls run concurrently, bounded. A group
        the broker refuses (denied, coordinator not available) lands in `errors`, not `out`."""
        out: dict[str, dict[TopicPartition, int]] = {}

        def submit(group: str) -> Future[Any]:
            _count(requests, "offset_fetch")
            req = [ConsumerGroupTopicPartitions(group)]
            return self._admin.list_consumer_group_offsets(req, request_timeout=self._timeout)[
                group
            ]

        def collect(group: str, fut: Future[Any]) -> None:
            try:
                res = fut.result()
            except KafkaException as exc:
                if _is_fatal(exc):
                    raise
                errors[group] = _failure("OffsetFetch", exc)
                return
            offsets: dict[TopicPartition, int] = {}
            for ktp in res.topic_partitions:
                wanted = matches(ktp.topic, self.config.include_topics, self.config.exclude_topics)
                if ktp.error is None and ktp.offset >= 0 and wanted:
                    offsets[TopicPartition(ktp.topic, ktp.partition)] = ktp.offset
            out[group] = offsets

        # a group whose coordinator is not settled is not asked (see _COORDINATOR_CODES)
        settled = sorted(g for g, s in groups.items() if not getattr(s, "error", ""))
        bounded_concurrently(settled, submit, collect, self.config.max_concurrency)
        return out

    def _topics(self, requests: dict[str, int]) -> set[TopicPartition]:
        md = self._admin.list_topics(timeout=self._timeout)
        _count(requests, "metadata")
        tps: set[TopicPartition] = set()
        for name, topic in md.topics.items():
            if topic.error is not None or not matches(
                name, self.config.include_topics, self.config.exclude_topics
            ):
                continue
            tps.update(TopicPartition(name, p) for p in topic.partitions)
        return tps

    def _offsets(
        self,
        tps: set[TopicPartition],
        spec: OffsetSpec,
        requests: dict[str, int],
        errors: dict[TopicPartition, str] | None = None,
    ) -> dict[TopicPartition, int]:
        if not tps:
            return {}
        request = {KTopicPartition(tp.topic, tp.partition): spec for tp in sorted(tps)}
        futures = self._admin.list_offsets(request, request_timeout=self._timeout)
        _count(requests, "list_offsets")
        out: dict[TopicPartition, int] = {}
        for ktp, fut in futures.items():
            try:
                out[TopicPartition(ktp.topic, ktp.partition)] = fut.result().offset
            except KafkaException as exc:
                if _is_fatal(exc):
                    raise
                if errors is not None:
                    errors[TopicPartition(ktp.topic, ktp.partition)] = _failure("ListOffsets", exc)
        return out

    def _commit_timestamps(
        self,
        committed: Mapping[str, Mapping[TopicPartition, int]],
        end: Mapping[TopicPartition, int],
        requests: dict[str, int],
        probe_by: float | None,
    ) -> tuple[dict[tuple[str, TopicPartition], float], dict[tuple[str, TopicPartition], int]]:
        settings = self.config.lag_seconds
        if settings.method != "exact":
            return {}, {}
        wanted = {
            (group, tp): offset
            for group, offsets in committed.items()
            for tp, offset in offsets.items()
            if tp in end and offset < end[tp]
        }
        if not wanted or len(wanted) > settings.exact_max_partitions:
            return {}, {}
        known, missing = self._first_records.split(wanted, end)
        if missing:
            known.update(self._probe_stamps(missing, requests, probe_by))
        self._first_records.keep(wanted, known)
        return snapshot_fields(wanted, known)

    def _probe_stamps(
        self,
        wanted: Mapping[tuple[str, TopicPartition], int],
        requests: dict[str, int],
        probe_by: float | None,
    ) -> dict[tuple[str, TopicPartition], FirstRecord]:
        budget = self._probe_budget(probe_by)
        if budget <= 0:
            log.debug("cluster %s: no time left in this poll for the probe", self.cluster)
            return {}
        if self._probe is None:
            self._probe = Consumer(logger=rdkafka_log, **probe_settings(self.config))
        _count(requests, "fetch")
        return fetch_first_records(self._probe, wanted, budget)

    def _probe_budget(self, probe_by: float | None) -> float:
        """Seconds the probe may take: its own budget, the request timeout, and (when the poll
        interval is known) what is left until `probe_by`, `PROBE_BY_SHARE` of the interval after
        the poll began, so slow required phases cannot push the poll past its interval."""
        budget = min(self._timeout, self.config.lag_seconds.probe_timeout_seconds)
        return budget if probe_by is None else min(budget, probe_by - time.monotonic())

    def _refresh_retention(self, tps: set[TopicPartition], requests: dict[str, int]) -> None:
        topics = sorted({tp.topic for tp in tps})
        due = self._polls % RETENTION_REFRESH_POLLS == 0
        if not due and all(t in self._configs_read for t in topics):
            return
        if not topics:
            return
        resources = [ConfigResource(ConfigResource.Type.TOPIC, t) for t in topics]
        _count(requests, "describe_configs")
        for res, fut in self._admin.describe_configs(
            resources, request_timeout=self._timeout
        ).items():
            try:
                entries = fut.result()
            except KafkaException:
                continue
            self._configs_read.add(res.name)
            entry = entries.get("retention.ms")
            if entry is not None and entry.value not in (None, "-1"):
                self._retention[res.name] = int(entry.value) / 1000.0

    # -- small pieces --------------------------------------------------------------------------

    def _is_dlq(self, topic: str) -> bool:
        return any(fnmatch.fnmatchcase(topic, p) for p in self.dlq_patterns)

    @staticmethod
    def _timed(phases: dict[str, float], phase: str, fn: Callable[[], Any]) -> Any:
        started = time.perf_counter()  # a duration, not a reported time: the clock is fine here
        try:
            return fn()
        finally:
            phases[phase] = time.perf_counter() - started


def bounded_concurrently(
    keys: list[str],
    submit: Callable[[str], Future[Any]],
    collect: Callable[[str, Future[Any]], None],
    limit: int,
) -> None:
    """Keep at most `limit` requests in flight; collect each as it completes."""
    pending: dict[Future[Any], str] = {}
    queue = list(reversed(keys))
    while queue or pending:
        while queue and len(pending) < max(1, limit):
            key = queue.pop()
            pending[submit(key)] = key
        done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
        for fut in done:
            collect(pending.pop(fut), fut)


def _committed_tps(
    committed: Mapping[str, Mapping[TopicPartition, int]], known: set[TopicPartition]
) -> set[TopicPartition]:
    return {tp for offsets in committed.values() for tp in offsets if tp in known}


def _readable(
    committed: Mapping[str, Mapping[TopicPartition, int]], start: Mapping[TopicPartition, int]
) -> dict[str, dict[TopicPartition, int]]:
    """Where each group resumes: its committed offset, or the log start retention moved past it."""
    return {
        g: {tp: readable_from(o, start.get(tp)) for tp, o in offsets.items()}
        for g, offsets in committed.items()
    }


def _member(desc: Any) -> GroupMember:
    """confluent-kafka's MemberDescription → GroupMember (assignment sorted, None-safe)."""
    assignment = getattr(desc, "assignment", None)
    tps = getattr(assignment, "topic_partitions", None) or ()
    return GroupMember(
        member_id=str(desc.member_id or ""),
        client_id=str(desc.client_id or ""),
        host=str(desc.host or ""),
        assignment=tuple(sorted(TopicPartition(tp.topic, tp.partition) for tp in tps)),
        instance_id=getattr(desc, "group_instance_id", None) or None,
    )


def _member_order(member: GroupMember) -> tuple[str, str, str]:
    return (member.client_id, member.host, member.member_id)


def _has_topic(tps: set[TopicPartition], topic: str) -> bool:
    return any(tp.topic == topic for tp in tps)


def _count(requests: dict[str, int], kind: str) -> None:
    requests[kind] = requests.get(kind, 0) + 1


def _code(exc: KafkaException) -> object:
    err = exc.args[0] if exc.args else None
    return err.code() if isinstance(err, KafkaError) else None


def _is_fatal(exc: KafkaException) -> bool:
    """Errors that mean the cluster as a whole cannot be read (vs. one group or partition)."""
    err = exc.args[0] if exc.args else None
    if not isinstance(err, KafkaError):
        return True
    return err.code() in _AUTH_CODES or err.code() in (
        KafkaError._TRANSPORT,
        KafkaError._TIMED_OUT,
        KafkaError._ALL_BROKERS_DOWN,
        KafkaError._RESOLVE,
    )


def _failure(request: str, exc: KafkaException) -> str:
    """`OffsetFetch denied: GROUP_AUTHORIZATION_FAILED`, `ListOffsets failed: …`."""
    err = exc.args[0] if exc.args else None
    if not isinstance(err, KafkaError):
        return f"{request} failed: {exc}"
    verb = "denied" if err.code() in _DENIED_CODES else "failed"
    return f"{request} {verb}: {err.name()}"


def _translate(err: object, message: str) -> BrokerUnavailable | BrokerAuthError:
    if isinstance(err, KafkaError) and err.code() in _AUTH_CODES | _DENIED_CODES:
        return BrokerAuthError(f"authentication or authorization failed: {err.str()}")
    return BrokerUnavailable(message)

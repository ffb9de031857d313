"""Every metric family eventscope exports: the one table the exporter, alerts and dashboard share.

Names here are a contract. `tests/unit/test_metric_contract.py` checks that every `eventscope_*`
name used in `alerts/` and `dashboard/` is declared here. Names are given without the prefix;
`full_name()` adds it. Counters are declared without `_total` (prometheus-client's convention);
the exposition shows them with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

PREFIX = "eventscope_"

BROKER_LABELS = ("broker", "cluster_name")
GROUP_LABELS = (*BROKER_LABELS, "group")
PARTITION_LABELS = (*GROUP_LABELS, "topic", "partition")


class Kind(StrEnum):
    GAUGE = "gauge"
    COUNTER = "counter"
    HISTOGRAM = "histogram"


@dataclass(frozen=True)
class Family:
    name: str
    kind: Kind
    labels: tuple[str, ...]
    help: str

    @property
    def full_name(self) -> str:
        return PREFIX + self.name

    def exposed_names(self) -> tuple[str, ...]:
        """The sample names this family shows in the exposition."""
        base = self.full_name
        if self.kind is Kind.COUNTER:
            return (base + "_total", base + "_created")
        if self.kind is Kind.HISTOGRAM:
            return (base + "_bucket", base + "_sum", base + "_count", base + "_created")
        return (base,)


_POLLED = " Computed by the collector's own poll (every poll_interval_seconds), not at scrape time."

FAMILIES: tuple[Family, ...] = (
    # collector health
    Family(
        "collector_up",
        Kind.GAUGE,
        BROKER_LABELS,
        "1 if the last poll of this cluster succeeded, 0 if the broker could not be read.",
    ),
    Family(
        "collector_poll_duration_seconds",
        Kind.GAUGE,
        (*BROKER_LABELS, "phase"),
        "Wall time of each phase of the last poll of this cluster.",
    ),
    Family(
        "collector_last_poll_timestamp_seconds",
        Kind.GAUGE,
        BROKER_LABELS,
        "Unix time of the last completed poll of this cluster (successful or not).",
    ),
    Family(
        "collector_last_success_timestamp_seconds",
        Kind.GAUGE,
        BROKER_LABELS,
        "Unix time of the last successful poll of this cluster.",
    ),
    Family(
        "collector_poll_interval_seconds",
        Kind.GAUGE,
        (),
        "The configured poll interval; compare with poll durations and staleness.",
    ),
    Family(
        "collector_poll_overruns",
        Kind.COUNTER,
        BROKER_LABELS,
        "Polls of this cluster that took longer than the poll interval.",
    ),
    Family(
        "collector_requests",
        Kind.COUNTER,
        (*BROKER_LABELS, "request"),
        "Requests the collector sent to the broker, by kind.",
    ),
    Family(
        "collector_auth_failed",
        Kind.GAUGE,
        BROKER_LABELS,
        "1 if the last poll failed because the broker refused our credentials.",
    ),
    Family(
        "collector_series_budget",
        Kind.GAUGE,
        BROKER_LABELS,
        "Per-partition lag series allowed for this cluster before groups fold to topic level.",
    ),
    Family(
        "consumer_group_folded",
        Kind.GAUGE,
        GROUP_LABELS,
        '1 if this group\'s lag is exported per topic (partition="", summed) to stay within '
        "the series budget.",
    ),
    # lag
    Family(
        "consumer_lag_messages",
        Kind.GAUGE,
        PARTITION_LABELS,
        "Backlog: Kafka end offset minus committed offset (or minus the log start offset when "
        "retention deleted past the commit, or minus the first offset a read_committed reader "
        "receives, past transaction markers, when lag seconds is exact), clipped at 0; "
        "RabbitMQ ready + "
        "unacknowledged messages; SQS visible + in-flight messages (queues: "
        'partition="").' + _POLLED,
    ),
    Family(
        "consumer_lag_seconds",
        Kind.GAUGE,
        (*PARTITION_LABELS, "method"),
        "Age of the oldest unconsumed message, 0 when caught up; method = exact (timestamp of "
        "the first record read from the committed offset), interpolated (from end-offset history), "
        "head_timestamp (RabbitMQ head message) or cloudwatch_age (SQS "
        "ApproximateAgeOfOldestMessage)." + _POLLED,
    ),
    Family(
        "consumer_uncommitted_partitions",
        Kind.GAUGE,
        (*GROUP_LABELS, "topic"),
        "Partitions of a topic this group reads that have no committed offset (no lag "
        "reported for them).",
    ),
    Family(
        "consumer_committed_offset",
        Kind.GAUGE,
        PARTITION_LABELS,
        "The group's committed offset (Kafka).",
    ),
    Family(
        "partition_end_offset",
        Kind.GAUGE,
        (*BROKER_LABELS, "topic", "partition"),
        "High watermark of the partition at the last poll (Kafka).",
    ),
    Family(
        "consumer_unacked_messages",
        Kind.GAUGE,
        (*GROUP_LABELS, "topic"),
        "Messages delivered but not yet acknowledged (RabbitMQ).",
    ),
    Family(
        "consumer_utilisation_ratio",
        Kind.GAUGE,
        (*GROUP_LABELS, "topic"),
        "Share of time the queue could deliver to its consumers at once (RabbitMQ).",
    ),
    # group health
    Family(
        "consumer_group_status",
        Kind.GAUGE,
        (*GROUP_LABELS, "status"),
        "Burrow-style evaluation over the window of recent commits: 1 for the group's current "
        "status (OK, WARN, STALL, STOP, REWIND, ERR), 0 for the others. ERR also when "
        "retention deleted messages the group had not read (committed offset below the log "
        "start offset).",
    ),
    Family(
        "consumer_group_members",
        Kind.GAUGE,
        GROUP_LABELS,
        "Members (Kafka) or consumers (RabbitMQ) of the group, where the broker reports them.",
    ),
    Family(
        "consumer_group_state",
        Kind.GAUGE,
        (*GROUP_LABELS, "state"),
        "Broker-reported group state: 1 for the current state, 0 for the others.",
    ),
    # throughput
    Family(
        "consumed_messages",
        Kind.COUNTER,
        (*GROUP_LABELS, "topic"),
        "Messages consumed: grows by positive commit deltas (Kafka) or acks (RabbitMQ) only.",
    ),
    Family(
        "consumer_messages_lost",
        Kind.COUNTER,
        (*GROUP_LABELS, "topic"),
        "Messages deleted (retention, DeleteRecords) before the group read them: per partition "
        "log start offset minus committed offset, each offset counted once; 0 while nothing "
        "was lost. Kafka only." + _POLLED,
    ),
    Family(
        "produced_messages",
        Kind.COUNTER,
        (*BROKER_LABELS, "topic"),
        "Messages produced: end-offset growth (Kafka) or publishes (RabbitMQ).",
    ),
    Family(
        "topic_retention_seconds",
        Kind.GAUGE,
        (*BROKER_LABELS, "topic"),
        "Configured retention of the topic (Kafka retention.ms), where known.",
    ),
    # dead letters
    Family(
        "dlq_depth_messages",
        Kind.GAUGE,
        (*BROKER_LABELS, "dlq", "source"),
        "Messages sitting in a dead-letter topic or queue.",
    ),
    Family(
        "dead_lettered_messages",
        Kind.COUNTER,
        (*BROKER_LABELS, "dlq", "source", "reason"),
        "Messages that arrived in a dead-letter topic or queue.",
    ),
    # broker-side routing (EventBridge)
    Family(
        "topology_edge",
        Kind.GAUGE,
        (*BROKER_LABELS, "source", "target", "relation"),
        "One edge of the broker's routing as the last successful poll saw it (EventBridge: bus "
        "-> rule routes, rule -> queue delivers, rule -> DLQ dead_letters, queue -> DLQ "
        "redrives, queue -> service consumed_by): 1, or 0 for a disabled rule's edges.",
    ),
    Family(
        "rule_failed_invocations",
        Kind.COUNTER,
        (*BROKER_LABELS, "bus", "rule"),
        "Events an EventBridge rule failed to deliver to a target (CloudWatch AWS/Events "
        "FailedInvocations, each settled minute counted once).",
    ),
    # thresholds
    Family(
        "lag_threshold_messages",
        Kind.GAUGE,
        ("cluster_name", "group"),
        "Configured lag threshold in messages for this group.",
    ),
    Family(
        "lag_threshold_seconds",
        Kind.GAUGE,
        ("cluster_name", "group"),
        "Configured lag threshold in seconds for this group.",
    ),
    # traces
    Family(
        "flow_events",
        Kind.COUNTER,
        ("from_service", "to_service", "event_type"),
        "Edges of the service graph, counted from correlation-ID traces.",
    ),
    Family(
        "hop_latency_seconds",
        Kind.HISTOGRAM,
        ("from_service", "to_service"),
        "Time from one event of a correlation ID to the next event it caused, or to its"
        " consumption by a service that produced nothing after it.",
    ),
    Family(
        "trace_duration_seconds",
        Kind.HISTOGRAM,
        ("flow",),
        "Time from the first to the last event of a correlation ID.",
    ),
    Family(
        "trace_events",
        Kind.COUNTER,
        (*BROKER_LABELS, "source"),
        "Events read by the trace tap and stored.",
    ),
    Family(
        "trace_events_skipped",
        Kind.COUNTER,
        ("reason",),
        "Events the trace tap skipped: no_id, bad_header, oversize, not_utf8, …",
    ),
    Family(
        "trace_store_up",
        Kind.GAUGE,
        (),
        "1 if the trace store accepted the last write, 0 if it is unwritable (disk full, …).",
    ),
    Family("trace_store_hops", Kind.GAUGE, (), "Hops held by the trace store."),
    Family(
        "trace_store_memory_bytes",
        Kind.GAUGE,
        (),
        "Heap memory SQLite holds in this process: the trace store's page caches (bounded: "
        "32 MB for the writer, 8 MB for each of 4 readers) and prepared statements.",
    ),
    Family(
        "trace_tap_lag_messages",
        Kind.GAUGE,
        BROKER_LABELS,
        "Messages the trace tap has not read yet.",
    ),
    Family(
        "trace_spans_exported",
        Kind.COUNTER,
        (),
        "Spans sent to the OTLP endpoint (hops, consumptions, journey roots).",
    ),
    Family(
        "trace_spans_dropped",
        Kind.COUNTER,
        ("reason",),
        "Spans not exported: backlog (the export fell too far behind the store), export_failed"
        " (the endpoint refused or was unreachable), no_hop (a consumption whose hop never"
        " arrived).",
    ),
    Family(
        "alert_notifications",
        Kind.COUNTER,
        ("status",),
        "Alertmanager notifications received by the collector's webhook since it started: "
        "firing, resolved, other.",
    ),
)

BY_NAME: dict[str, Family] = {f.name: f for f in FAMILIES}


def family(name: str) -> Family:
    """The family called `name` (without prefix); KeyError names it when it is not declared."""
    return BY_NAME[name]


def exposed_names() -> frozenset[str]:
    """Every sample name the collector may expose, with the prefix."""
    return frozenset(n for f in FAMILIES for n in f.exposed_names())

"""Value types that cross module boundaries: what adapters report and what exporters render.

One vocabulary for every broker: a *consumer* (Kafka group, the consumers of a RabbitMQ queue)
reads a *source* (topic partition, queue) and has a *backlog* (lag) with an *age* (lag seconds).

    adapter ──ClusterSnapshot──► compute (pure, with History) ──ClusterView──► exporters
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum


class Broker(StrEnum):
    KAFKA = "kafka"
    RABBITMQ = "rabbitmq"
    SQS = "sqs"


class Status(IntEnum):
    """Burrow's partition/group status; a larger value is worse (group status = worst partition)."""

    OK = 0
    WARN = 1
    REWIND = 2
    STALL = 3
    STOP = 4
    ERR = 5


class LagMethod(StrEnum):
    EXACT = "exact"
    INTERPOLATED = "interpolated"
    HEAD_TIMESTAMP = "head_timestamp"
    CLOUDWATCH_AGE = "cloudwatch_age"  # SQS ApproximateAgeOfOldestMessage (minutes behind)


@dataclass(frozen=True, order=True)
class TopicPartition:
    topic: str
    partition: int


@dataclass(frozen=True)
class GroupMember:
    """One member of a Kafka consumer group as DescribeGroups reports it.

    Carried to the JSON API only: member ids and hosts are unbounded and identify machines, so
    they never become metric labels.
    """

    member_id: str
    client_id: str
    host: str
    assignment: tuple[TopicPartition, ...] = ()
    instance_id: str | None = None  # static membership (group.instance.id), when set


@dataclass(frozen=True)
class GroupSample:
    """One consumer group as the broker described it at poll time."""

    group: str
    state: str = "Unknown"  # Stable, Empty, PreparingRebalance, CompletingRebalance, Dead, Unknown
    members: int | None = None  # None: the broker did not say (never invent a count)
    committed: Mapping[TopicPartition, int] = field(default_factory=dict)
    # why the broker's answer for this group is missing ("" = read fine), e.g.
    # "OffsetFetch denied: GROUP_AUTHORIZATION_FAILED"; the group is then evaluated ERR
    error: str = ""
    member_list: tuple[GroupMember, ...] = ()  # empty when there are none or the broker hides them


@dataclass(frozen=True)
class QueueSample:
    """One queue-like source whose broker reports the backlog itself (RabbitMQ, SQS)."""

    name: str
    ready: int
    unacked: int
    consumers: int | None
    published_total: int | None = None  # broker's cumulative counter (resets on broker restart)
    acked_total: int | None = None
    head_timestamp: float | None = None  # Unix time of the oldest message, where known
    utilisation: float | None = None
    vhost: str = "/"
    is_dlq: bool = False
    dlq_sources: tuple[str, ...] = ()  # queues that dead-letter into this one
    # age of the oldest message as the broker's own metrics state it (SQS via CloudWatch),
    # preferred over head_timestamp; age_method says where it came from
    age_seconds: float | None = None
    age_method: LagMethod | None = None


@dataclass(frozen=True)
class DeadLetterSample:
    """A dead-letter topic or queue with what is known of where its messages came from."""

    dlq: str
    source: str  # "" when it cannot be known
    depth: int
    dead_lettered_total: Mapping[str, int] = field(default_factory=dict)  # reason → cumulative


@dataclass(frozen=True)
class ClusterSnapshot:
    """Everything one poll read from one cluster, stamped with the poll's `now`."""

    broker: Broker
    cluster: str
    taken_at: float
    end_offsets: Mapping[TopicPartition, int] = field(default_factory=dict)
    start_offsets: Mapping[TopicPartition, int] = field(default_factory=dict)
    groups: tuple[GroupSample, ...] = ()
    # timestamp (Unix s) of the first record a group reads from its committed offset (the record
    # at that offset, or the next one past transaction markers): (group, tp) → ts
    commit_timestamps: Mapping[tuple[str, TopicPartition], float] = field(default_factory=dict)
    # partitions whose end offset could not be read this poll, with why: absent from
    # end_offsets, and a group reading one is evaluated ERR for it (not silently skipped)
    end_offset_errors: Mapping[TopicPartition, str] = field(default_factory=dict)
    # first offset a read_committed reader receives at or after the committed one, where it is
    # past it (markers and aborted records between are not lag): (group, tp) → offset
    readable_offsets: Mapping[tuple[str, TopicPartition], int] = field(default_factory=dict)
    retention_seconds: Mapping[str, float] = field(default_factory=dict)
    queues: tuple[QueueSample, ...] = ()
    dead_letters: tuple[DeadLetterSample, ...] = ()
    requests: Mapping[str, int] = field(default_factory=dict)
    phase_seconds: Mapping[str, float] = field(default_factory=dict)


# ---- the read-only view the exporter renders -------------------------------------------------


@dataclass(frozen=True)
class LagRow:
    group: str
    topic: str
    partition: int | None  # None: the source has no partitions (queue) or the group is folded
    messages: int
    seconds: float | None = None
    method: LagMethod | None = None
    committed: int | None = None
    end: int | None = None


@dataclass(frozen=True)
class GroupRow:
    group: str
    status: Status
    reason: str
    state: str
    members: int | None
    folded: bool = False
    member_list: tuple[GroupMember, ...] = ()  # Kafka only; see GroupMember
    uncommitted: Mapping[str, int] = field(default_factory=dict)  # topic → partitions w/o commit
    unacked: Mapping[str, int] = field(default_factory=dict)
    utilisation: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ClusterView:
    broker: Broker
    cluster: str
    up: bool
    auth_failed: bool
    polled_at: float
    last_success_at: float | None
    error: str = ""
    lags: tuple[LagRow, ...] = ()
    groups: tuple[GroupRow, ...] = ()
    produced_total: Mapping[str, int] = field(default_factory=dict)
    consumed_total: Mapping[tuple[str, str], int] = field(default_factory=dict)  # (group, topic)
    # messages retention deleted before the group read them (group, topic); compute/loss.py
    lost_total: Mapping[tuple[str, str], int] = field(default_factory=dict)
    end_offsets: Mapping[TopicPartition, int] = field(default_factory=dict)
    retention_seconds: Mapping[str, float] = field(default_factory=dict)
    dead_letters: tuple[DeadLetterSample, ...] = ()
    phase_seconds: Mapping[str, float] = field(default_factory=dict)
    requests_total: Mapping[str, int] = field(default_factory=dict)
    poll_overruns: int = 0
    series_budget: int = 0

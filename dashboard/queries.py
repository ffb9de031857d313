"""PromQL builders: pure functions from view choices to query text.

Every metric name here is declared in `collector/exporters/metric_table.py` (a contract test
checks it). A cluster filter of None means all clusters. Label values are escaped, so a group
called `a"b` yields `group="a\\"b"`, never a broken or widened query.
"""

from __future__ import annotations

LAG_MESSAGES = "eventscope_consumer_lag_messages"
LAG_SECONDS = "eventscope_consumer_lag_seconds"
GROUP_STATUS = "eventscope_consumer_group_status"
GROUP_STATE = "eventscope_consumer_group_state"
GROUP_MEMBERS = "eventscope_consumer_group_members"
COLLECTOR_UP = "eventscope_collector_up"
PRODUCED = "eventscope_produced_messages_total"
CONSUMED = "eventscope_consumed_messages_total"
DLQ_DEPTH = "eventscope_dlq_depth_messages"
DEAD_LETTERED = "eventscope_dead_lettered_messages_total"
THRESHOLD_MESSAGES = "eventscope_lag_threshold_messages"
THRESHOLD_SECONDS = "eventscope_lag_threshold_seconds"
FLOW_EVENTS = "eventscope_flow_events_total"
HOP_LATENCY_BUCKET = "eventscope_hop_latency_seconds_bucket"
TOPOLOGY_EDGE = "eventscope_topology_edge"
RULE_FAILED = "eventscope_rule_failed_invocations_total"

GROUP_KEY = "broker, cluster_name, group"

METRIC_NAMES: tuple[str, ...] = (
    LAG_MESSAGES, LAG_SECONDS, GROUP_STATUS, GROUP_STATE, GROUP_MEMBERS, COLLECTOR_UP, PRODUCED,
    CONSUMED, DLQ_DEPTH, DEAD_LETTERED, THRESHOLD_MESSAGES, THRESHOLD_SECONDS, FLOW_EVENTS,
    HOP_LATENCY_BUCKET, TOPOLOGY_EDGE, RULE_FAILED,
)  # fmt: skip


def quote(value: str) -> str:
    """A PromQL string literal: quote('a"b') -> '"a\\"b"'."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def selector(metric: str, **labels: str | None) -> str:
    """`metric{k="v",…}` with the None-valued labels left out: selector("m", a="x", b=None)
    -> 'm{a="x"}'."""
    matchers = ",".join(f"{k}={quote(v)}" for k, v in labels.items() if v is not None)
    return f"{metric}{{{matchers}}}" if matchers else metric


# --- overview -------------------------------------------------------------------------------


def collectors_up(cluster: str | None) -> str:
    return selector(COLLECTOR_UP, cluster_name=cluster)


def group_statuses(cluster: str | None) -> str:
    """One series per group, labelled with its current status (the enum series equal to 1)."""
    return f"{selector(GROUP_STATUS, cluster_name=cluster)} == 1"


def total_backlog(cluster: str | None) -> str:
    return f"sum({selector(LAG_MESSAGES, cluster_name=cluster)})"


def produce_rate_total(cluster: str | None, window: str) -> str:
    return f"sum(rate({selector(PRODUCED, cluster_name=cluster)}[{window}]))"


def consume_rate_total(cluster: str | None, window: str) -> str:
    return f"sum(rate({selector(CONSUMED, cluster_name=cluster)}[{window}]))"


def dlq_depth_total(cluster: str | None) -> str:
    return f"sum({selector(DLQ_DEPTH, cluster_name=cluster)})"


def lag_messages_by_group(cluster: str | None, group: str | None = None) -> str:
    sel = selector(LAG_MESSAGES, cluster_name=cluster, group=group)
    return f"sum by ({GROUP_KEY}) ({sel})"


def lag_seconds_by_group(cluster: str | None, group: str | None = None) -> str:
    """The group's age is its oldest partition's age, hence max, not sum."""
    sel = selector(LAG_SECONDS, cluster_name=cluster, group=group)
    return f"max by ({GROUP_KEY}) ({sel})"


def thresholds_messages(cluster: str | None, group: str | None = None) -> str:
    return selector(THRESHOLD_MESSAGES, cluster_name=cluster, group=group)


def thresholds_seconds(cluster: str | None, group: str | None = None) -> str:
    return selector(THRESHOLD_SECONDS, cluster_name=cluster, group=group)


def group_members(cluster: str | None, group: str | None = None) -> str:
    return selector(GROUP_MEMBERS, cluster_name=cluster, group=group)


# --- one group --------------------------------------------------------------------------------


def partition_lag_messages(cluster: str | None, group: str) -> str:
    return selector(LAG_MESSAGES, cluster_name=cluster, group=group)


def partition_lag_seconds(cluster: str | None, group: str) -> str:
    return selector(LAG_SECONDS, cluster_name=cluster, group=group)


def group_state(cluster: str | None, group: str) -> str:
    return f"{selector(GROUP_STATE, cluster_name=cluster, group=group)} == 1"


def consume_rate_by_topic(cluster: str | None, group: str, window: str) -> str:
    sel = selector(CONSUMED, cluster_name=cluster, group=group)
    return f"sum by (topic) (rate({sel}[{window}]))"


def produce_rate_for_group_topics(cluster: str | None, group: str, window: str) -> str:
    """Produce rate of the topics/queues this group reads (those it has consumed counters for)."""
    produced = selector(PRODUCED, cluster_name=cluster)
    read = selector(CONSUMED, cluster_name=cluster, group=group)
    return (
        f"sum by (topic) (rate({produced}[{window}]) "
        f"and on (broker, cluster_name, topic) group by (broker, cluster_name, topic) ({read}))"
    )


# --- throughput -------------------------------------------------------------------------------


def produce_rate_by_topic(cluster: str | None, window: str, topic: str | None = None) -> str:
    sel = selector(PRODUCED, cluster_name=cluster, topic=topic)
    return f"sum by (broker, cluster_name, topic) (rate({sel}[{window}]))"


def consume_rate_by_group(cluster: str | None, window: str, topic: str | None = None) -> str:
    sel = selector(CONSUMED, cluster_name=cluster, topic=topic)
    return f"sum by ({GROUP_KEY}, topic) (rate({sel}[{window}]))"


# --- dead letters -----------------------------------------------------------------------------


def dlq_depth(cluster: str | None) -> str:
    return selector(DLQ_DEPTH, cluster_name=cluster)


def dlq_inflow(cluster: str | None, window: str) -> str:
    sel = selector(DEAD_LETTERED, cluster_name=cluster)
    return f"sum by (broker, cluster_name, dlq) (rate({sel}[{window}]))"


def dlq_reasons(cluster: str | None, over: str) -> str:
    """Messages dead-lettered per DLQ, source and reason over the selected time range."""
    sel = selector(DEAD_LETTERED, cluster_name=cluster)
    return f"sum by (broker, cluster_name, dlq, source, reason) (increase({sel}[{over}]))"


# --- flow graph -------------------------------------------------------------------------------


def flow_edge_rate(window: str) -> str:
    return f"sum by (from_service, to_service, event_type) (rate({FLOW_EVENTS}[{window}]))"


def hop_latency_quantile(quantile: float, window: str) -> str:
    """p-quantile of hop latency per edge from the histogram, e.g. 0.95 -> p95 seconds."""
    return (
        f"histogram_quantile({quantile}, sum by (from_service, to_service, le) "
        f"(rate({HOP_LATENCY_BUCKET}[{window}])))"
    )


def consume_rate_by_group_topic(window: str) -> str:
    return f"sum by ({GROUP_KEY}, topic) (rate({CONSUMED}[{window}]))"


def routing_edges(cluster: str | None) -> str:
    """Broker-side routing (EventBridge bus → rule → queue → service); value 0 = disabled."""
    sel = selector(TOPOLOGY_EDGE, cluster_name=cluster)
    return f"max by (source, target, relation) ({sel})"


def failing_rules(cluster: str | None) -> str:
    """EventBridge rules with failed invocations over the alert's window (CloudWatch counts
    arrive once a minute, ~6 minutes late: a short rate window would mostly read 0)."""
    sel = selector(RULE_FAILED, cluster_name=cluster)
    return f"sum by (cluster_name, bus, rule) (increase({sel}[15m])) > 0"


def cluster_names() -> str:
    return f"group by (broker, cluster_name) ({COLLECTOR_UP})"


def group_names(cluster: str | None) -> str:
    """Groups with lag series, and those with a status only: an ERR group has no lag series."""
    lag, status = selector(LAG_MESSAGES, cluster_name=cluster), group_statuses(cluster)
    return f"group by ({GROUP_KEY}) ({lag} or {status})"

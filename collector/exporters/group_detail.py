"""`GET /api/groups/{group}[?cluster=…]`: one group's health and members, with lag per member.

Finding the group: by name in every cluster's latest view, narrowed by `cluster` when given.
The same group name in two clusters without `cluster` is ambiguous: the caller gets the
clusters to choose from rather than one picked arbitrarily.

Answer (Kafka; RabbitMQ and SQS have no members, so `member_list` is empty there):

    {"broker": "kafka", "cluster_name": "local", "group": "billing",
     "status": "STALL", "reason": "…", "state": "Stable", "members": 2, "folded": false,
     "lag_messages": 100,
     "member_list": [{"member_id": "…", "client_id": "billing-1", "host": "/10.0.0.7",
                      "instance_id": null, "lag_messages": 40, "lag_seconds": 12.5,
                      "partitions": [{"topic": "orders", "partition": 0, "lag_messages": 10,
                                      "lag_seconds": 12.5, "committed": 90, "end": 100}, …]}],
     "unassigned": [{"topic": "orders", "partition": 3, "lag_messages": 40, …}]}

`members` is null when the broker did not say (Tansu), and `member_list` then is empty.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from collector.compute.members import MemberLag, lag_by_member
from collector.model import ClusterView, GroupRow, LagRow, TopicPartition


@dataclass(frozen=True)
class Lookup:
    """What `find_group` found: the group, or why not (`error`, and the candidate clusters)."""

    view: ClusterView | None = None
    row: GroupRow | None = None
    error: str = ""
    clusters: tuple[str, ...] = ()

    @property
    def ambiguous(self) -> bool:
        return len(self.clusters) > 1


def find_group(views: Sequence[ClusterView], group: str, cluster: str | None) -> Lookup:
    found = [
        (v, g)
        for v in views
        if cluster is None or v.cluster == cluster
        for g in v.groups
        if g.group == group
    ]
    if not found:
        where = f" in cluster {cluster!r}" if cluster is not None else ""
        return Lookup(error=f"no consumer group {group!r}{where}")
    if len(found) > 1:
        clusters = tuple(sorted(v.cluster for v, _ in found))
        return Lookup(
            error=f"group {group!r} exists in clusters {', '.join(clusters)}: add ?cluster=",
            clusters=clusters,
        )
    view, row = found[0]
    return Lookup(view=view, row=row)


def group_detail_json(view: ClusterView, row: GroupRow) -> dict[str, Any]:
    lags = [r for r in view.lags if r.group == row.group]
    split = lag_by_member(row.member_list, lags)
    return {
        "broker": view.broker.value,
        "cluster_name": view.cluster,
        "group": row.group,
        "status": row.status.name,
        "reason": row.reason,
        "state": row.state,
        "members": row.members,
        "folded": row.folded,
        "polled_at": view.polled_at,
        "lag_messages": sum(r.messages for r in lags),
        "member_list": [_member_json(m) for m in split.members],
        "unassigned": [_partition_json(s.partition, s.lag) for s in split.unassigned],
    }


def _member_json(m: MemberLag) -> dict[str, Any]:
    return {
        "member_id": m.member.member_id,
        "client_id": m.member.client_id,
        "host": m.member.host,
        "instance_id": m.member.instance_id,
        "lag_messages": m.messages,
        "lag_seconds": m.seconds,
        "partitions": [_partition_json(s.partition, s.lag) for s in m.partitions],
    }


def _partition_json(tp: TopicPartition, lag: LagRow | None) -> dict[str, Any]:
    return {
        "topic": tp.topic,
        "partition": tp.partition,
        "lag_messages": None if lag is None else lag.messages,
        "lag_seconds": None if lag is None else lag.seconds,
        "method": None if lag is None or lag.method is None else lag.method.value,
        "committed": None if lag is None else lag.committed,
        "end": None if lag is None else lag.end,
    }

"""Pure shaping of the collector's `/api/groups/{group}` answer into the Consumer lag page's
members table and the sentences shown instead of (or under) it.

One row per member: client id, host, its partitions ("orders/0, orders/2") and its lag (the sum
over its partitions, as the collector computed it). The member id stays out of the table: it is
long, changes on every restart and says less than client id and host.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

MEMBER_COLUMNS = ["cluster_name", "client_id", "host", "partitions", "lag_messages", "lag_seconds"]


def partition_list(partitions: Sequence[Mapping[str, Any]]) -> str:
    """[{"topic": "orders", "partition": 2}, {"topic": "orders", "partition": 0}]
    -> "orders/0, orders/2"."""
    keys = sorted((str(p.get("topic", "")), int(p.get("partition", 0))) for p in partitions)
    return ", ".join(f"{t}/{n}" for t, n in keys)


def members_frame(details: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Members of one group across the given answers (one per cluster), most lag first."""
    rows = [
        {
            "cluster_name": d.get("cluster_name", ""),
            "client_id": m.get("client_id", ""),
            "host": m.get("host", ""),
            "partitions": partition_list(m.get("partitions") or []),
            "lag_messages": m.get("lag_messages"),
            "lag_seconds": m.get("lag_seconds"),
        }
        for d in details
        for m in d.get("member_list") or []
    ]
    frame = pd.DataFrame(rows, columns=MEMBER_COLUMNS)
    frame["lag_messages"] = pd.to_numeric(frame["lag_messages"], errors="coerce")
    frame["lag_seconds"] = pd.to_numeric(frame["lag_seconds"], errors="coerce")
    return frame.sort_values(
        ["lag_messages", "client_id"], ascending=[False, True], na_position="last"
    ).reset_index(drop=True)


def members_notes(detail: Mapping[str, Any]) -> list[str]:
    """What to say about one cluster's answer besides its rows: no members, members unknown,
    partitions with lag that nobody owns."""
    cluster, group = detail.get("cluster_name", ""), detail.get("group", "")
    count = detail.get("members")
    notes: list[str] = []
    if count is None:
        notes.append(
            f"The broker of cluster {cluster} does not report who the members of {group!r} "
            "are (Tansu reports none)."
        )
    elif count == 0:
        notes.append(
            f"{group!r} has no members in cluster {cluster}: nobody is consuming "
            f"(state {detail.get('state', 'Empty')})."
        )
    unassigned = detail.get("unassigned") or []
    lagging = [p for p in unassigned if (p.get("lag_messages") or 0) > 0]
    if lagging:
        total = sum(int(p.get("lag_messages") or 0) for p in lagging)
        notes.append(
            f"{len(lagging)} partition(s) with {total:,} messages of lag are assigned to no "
            f"member in cluster {cluster}: {partition_list(lagging)}."
        )
    return notes


def no_members_concept(entry: Mapping[str, Any]) -> str:
    """The sentence for a RabbitMQ queue or SQS queue, which have consumers, not members."""
    consumers = entry.get("members")
    counted = "" if consumers is None else f" ({consumers} now)"
    return (
        f"{entry.get('broker', '')} in cluster {entry.get('cluster_name', '')} has consumers"
        f"{counted}, not group members: there is no per-member breakdown."
    )

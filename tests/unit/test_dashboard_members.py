"""The Consumer lag page's members table and sentences, from /api/groups/{group} answers."""

from __future__ import annotations

import math

from dashboard.members import members_frame, members_notes, no_members_concept, partition_list


def member(client: str, lag: int | None, *parts: int) -> dict:
    partitions = [{"topic": "orders", "partition": p, "lag_messages": 1} for p in parts]
    return {"client_id": client, "host": "/10.0.0.7", "member_id": f"{client}-uuid",
            "lag_messages": lag, "lag_seconds": None, "partitions": partitions}  # fmt: skip


def detail(members: list[dict], count: int | None = None, unassigned=(), state="Stable") -> dict:
    return {
        "cluster_name": "local",
        "group": "billing",
        "state": state,
        "members": len(members) if count is None and members else count,
        "member_list": members,
        "unassigned": list(unassigned),
    }


def test_one_row_per_member_most_lag_first_partitions_sorted():
    frame = members_frame([detail([member("a", 4, 2, 0), member("b", 9, 1), member("c", None)])])
    assert list(frame["client_id"]) == ["b", "a", "c"]
    assert list(frame["partitions"]) == ["orders/1", "orders/0, orders/2", ""]
    assert frame.loc[1, "lag_messages"] == 4 and math.isnan(frame.loc[2, "lag_messages"])
    assert "member_id" not in frame.columns and set(frame["cluster_name"]) == {"local"}


def test_no_answers_give_an_empty_table_with_its_columns():
    assert list(members_frame([]).columns)[:3] == ["cluster_name", "client_id", "host"]


def test_notes_say_no_members_unknown_members_and_unowned_lag():
    assert members_notes(detail([member("a", 1, 0)])) == []
    (empty,) = members_notes(detail([], count=0, state="Empty"))
    assert "no members" in empty and "nobody is consuming" in empty and "Empty" in empty
    (unknown,) = members_notes(detail([], count=None))
    assert "does not report" in unknown and "Tansu" in unknown
    lost = [{"topic": "orders", "partition": 3, "lag_messages": 1200},
            {"topic": "orders", "partition": 1, "lag_messages": 0}]  # fmt: skip
    notes = members_notes(detail([], count=0, unassigned=lost, state="Empty"))
    assert notes[1] == (
        "1 partition(s) with 1,200 messages of lag are assigned to no member in cluster local: "
        "orders/3."
    )


def test_queues_have_consumers_not_members():
    text = no_members_concept({"broker": "rabbitmq", "cluster_name": "rabbit", "members": 2})
    assert "consumers (2 now), not group members" in text


def test_partition_list_sorts_numerically():
    parts = [{"topic": "t", "partition": 10}, {"topic": "t", "partition": 9}]
    assert partition_list(parts) == "t/9, t/10"

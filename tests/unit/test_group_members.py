"""Lag per group member (pure), the /api/groups/{group} answer, and its HTTP route."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from confluent_kafka import TopicPartition as KTopicPartition
from confluent_kafka.admin import MemberAssignment, MemberDescription
from prometheus_client import CollectorRegistry

from collector.brokers.kafka import _member
from collector.compute.members import lag_by_member
from collector.exporters.group_detail import find_group, group_detail_json
from collector.http_api import ApiContext, Notifications, make_server
from collector.model import (
    Broker,
    ClusterView,
    GroupMember,
    GroupRow,
    LagMethod,
    LagRow,
    Status,
    TopicPartition,
)

T = "orders"


def tp(p: int, topic: str = T) -> TopicPartition:
    return TopicPartition(topic, p)


def lag(p: int, messages: int, seconds: float | None = None, topic: str = T) -> LagRow:
    method = None if seconds is None else LagMethod.EXACT
    return LagRow("g", topic, p, messages, seconds, method, committed=100 - messages, end=100)


def member(name: str, *parts: int) -> GroupMember:
    return GroupMember(f"{name}-uuid", name, "/127.0.0.1", tuple(tp(p) for p in parts))


LAGS = [lag(0, 10, 5.0), lag(1, 20, 9.0), lag(2, 30, 1.0), lag(3, 40)]


@pytest.mark.parametrize(
    ("case", "members", "rows", "want_members", "want_unassigned"),
    [
        ("1 two members share all", [member("a", 0, 2), member("b", 1, 3)], LAGS,
         [(40, 5.0), (60, 9.0)], []),
        ("2 partition 3 owned by nobody", [member("a", 0, 2), member("b", 1)], LAGS,
         [(40, 5.0), (20, 9.0)], [3]),
        ("3 Empty group: all unassigned", [], LAGS, [], [0, 1, 2, 3]),
        ("4 assigned, never committed: unknown", [member("a", 7)], LAGS,
         [(None, None)], [0, 1, 2, 3]),
        ("5 one of two committed: the known one counts", [member("a", 0, 7)], LAGS[:1],
         [(10, 5.0)], []),
        ("6 no assignment yet: 0", [member("a")], [], [(0, None)], []),
        ("7 folded group: per-member unknown", [member("a", 0)],
         [LagRow("g", T, None, 100, 9.0)], [(None, None)], []),
    ],
)  # fmt: skip
def test_lag_by_member(case, members, rows, want_members, want_unassigned):
    split = lag_by_member(members, rows)
    assert [(m.messages, m.seconds) for m in split.members] == want_members, case
    assert [s.partition.partition for s in split.unassigned] == want_unassigned, case


def test_member_and_unassigned_sums_give_the_group_lag():
    split = lag_by_member([member("a", 0, 2), member("b", 1)], LAGS)
    unassigned = sum(s.lag.messages for s in split.unassigned if s.lag is not None)
    assert sum(m.messages or 0 for m in split.members) + unassigned == 100


def view(cluster: str = "local", *rows: GroupRow) -> ClusterView:
    return ClusterView(
        Broker.KAFKA, cluster, True, False, 1000.0, 1000.0, lags=tuple(LAGS), groups=rows
    )


ROW = GroupRow(
    "g", Status.STALL, "orders/3: frozen", "Stable", 2,
    member_list=(member("a", 0, 2), member("b", 1)),
)  # fmt: skip


def test_group_detail_json_shape():
    got = group_detail_json(view("local", ROW), ROW)
    assert {k: got[k] for k in ("broker", "cluster_name", "group", "status", "state")} == {
        "broker": "kafka",
        "cluster_name": "local",
        "group": "g",
        "status": "STALL",
        "state": "Stable",
    }
    assert (got["members"], got["lag_messages"], got["reason"]) == (2, 100, "orders/3: frozen")
    a, b = got["member_list"]
    assert (a["client_id"], a["host"], a["member_id"], a["instance_id"]) == (
        "a", "/127.0.0.1", "a-uuid", None,
    )  # fmt: skip
    assert (a["lag_messages"], a["lag_seconds"], b["lag_messages"]) == (40, 5.0, 20)
    assert a["partitions"][0] == {
        "topic": T, "partition": 0, "lag_messages": 10, "lag_seconds": 5.0,
        "method": "exact", "committed": 90, "end": 100,
    }  # fmt: skip
    assert [p["partition"] for p in got["unassigned"]] == [3]
    json.dumps(got)  # plain JSON, no value types left


def test_find_group_by_name_cluster_and_ambiguity():
    views = [view("east", ROW), view("west", ROW)]
    assert find_group(views, "g", "west").view is views[1]
    both = find_group(views, "g", None)
    assert both.ambiguous and both.clusters == ("east", "west") and "?cluster=" in both.error
    assert find_group(views[:1], "g", None).row is ROW
    missing = find_group(views, "nope", None)
    assert missing.row is None and not missing.ambiguous and "'nope'" in missing.error
    assert "in cluster 'north'" in find_group(views, "g", "north").error


def test_member_from_confluent_kafka_description():
    desc = MemberDescription(
        "m-1", "client-a", "/10.0.0.7",
        MemberAssignment([KTopicPartition(T, 2), KTopicPartition(T, 0)]),
        group_instance_id="pod-0",
    )  # fmt: skip
    assert _member(desc) == GroupMember("m-1", "client-a", "/10.0.0.7", (tp(0), tp(2)), "pod-0")
    bare = MemberDescription("m-2", "client-b", "/10.0.0.8", MemberAssignment([]))
    assert _member(bare).assignment == () and _member(bare).instance_id is None


@pytest.fixture
def api():
    odd = GroupRow("a/b c", Status.OK, "", "Empty", 0)
    views = [view("east", ROW, odd), view("west", ROW)]
    ctx = ApiContext(CollectorRegistry(), lambda: views, Notifications())
    server = make_server("127.0.0.1", 0, ctx)
    server.start()
    yield f"http://127.0.0.1:{server.port}"
    server.stop()


def get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_group_route(api):
    status, body = get(f"{api}/api/groups/g?cluster=west")
    assert status == 200 and body["cluster_name"] == "west" and len(body["member_list"]) == 2
    status, body = get(f"{api}/api/groups/g")
    assert status == 409 and body["clusters"] == ["east", "west"]
    status, body = get(f"{api}/api/groups/unknown-group")
    assert status == 404 and body == {"error": "no consumer group 'unknown-group'"}
    status, body = get(f"{api}/api/groups/a%2Fb%20c")  # any Kafka group id, percent-encoded
    assert status == 200 and body["group"] == "a/b c" and body["member_list"] == []
    assert get(f"{api}/api/groups/")[0] == 404

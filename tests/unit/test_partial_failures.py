"""Partial failures are not health: a group or partition the broker would not answer for is ERR.

The adapter reports per-group (`GroupSample.error`) and per-partition
(`ClusterSnapshot.end_offset_errors`) failures as data; the view turns them into ERR with the
reason, drops the unknown lag series, and keeps every other group reporting.
"""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from collector.compute.status import Verdict, evaluate_group
from collector.compute.view import ViewSettings, build_view
from collector.config import Thresholds
from collector.exporters.prometheus import ViewCollector
from collector.history import ClusterHistory
from collector.http_api import groups_json
from collector.model import Broker, ClusterSnapshot, ClusterView, GroupSample, Status
from collector.model import TopicPartition as TP

NOW = 1_000_000.0
DENIED = "OffsetFetch denied: GROUP_AUTHORIZATION_FAILED"
LEADER = "ListOffsets failed: LEADER_NOT_AVAILABLE"
STOP = Verdict(Status.STOP, "no members")
OK = Verdict(Status.OK, "caught up")
UNREAD = Verdict(Status.ERR, LEADER)


@pytest.mark.parametrize(
    ("case", "error", "verdicts", "status", "reason"),
    [
        (1, DENIED, [], Status.ERR, DENIED),  # nothing readable: ERR, not "no partitions" OK
        (2, DENIED, [("t/0", STOP)], Status.ERR, DENIED),  # the read failure outranks STOP
        (3, "", [("t/0", OK)], Status.OK, "caught up"),
        (4, "", [("t/0", STOP), ("t/1", UNREAD)], Status.ERR, f"t/1: {LEADER}"),
        (5, "", [], Status.OK, "no partitions"),
    ],
)
def test_evaluate_group_err_precedence(case, error, verdicts, status, reason):
    assert evaluate_group(error, verdicts) == Verdict(status, reason), case


def polled(*snaps: ClusterSnapshot) -> ClusterView:
    history = ClusterHistory(window=3)
    view = None
    for snap in snaps:
        history.observe(snap)
        view = build_view(snap, history, ViewSettings(min_observations=3))
    assert view is not None
    return view


def snap(
    at: float,
    groups: tuple[GroupSample, ...],
    end: dict[TP, int],
    end_errors: dict[TP, str] | None = None,
) -> ClusterSnapshot:
    return ClusterSnapshot(
        Broker.KAFKA, "c1", at, end_offsets=end, groups=groups, end_offset_errors=end_errors or {}
    )


def row(view: ClusterView, group: str):
    return next(g for g in view.groups if g.group == group)


def test_denied_group_is_err_and_its_neighbour_keeps_reporting():
    ok = GroupSample("a", "Empty", 0, {TP("t", 0): 10})
    denied = GroupSample("b", "Unknown", None, {}, error=DENIED)
    view = polled(snap(NOW, (ok, denied), {TP("t", 0): 10}))
    assert (row(view, "b").status, row(view, "b").reason, row(view, "b").state) == (
        Status.ERR,
        DENIED,
        "Unknown",
    )
    assert row(view, "a").status is Status.OK
    assert [(r.group, r.messages) for r in view.lags] == [("a", 0)]  # no invented lag for b


def test_failed_end_offset_makes_the_group_err_and_drops_only_that_series():
    committed = {TP("t", 0): 5, TP("t", 1): 5}
    group = (GroupSample("a", "Stable", 1, committed),)
    full = {TP("t", 0): 5, TP("t", 1): 8}
    before = [snap(NOW + i, group, full) for i in range(3)]
    view = polled(*before, snap(NOW + 3, group, {TP("t", 0): 5}, {TP("t", 1): LEADER}))
    # lag 3 on t/1 was STALL before; now it is unknown: ERR with the reason, not OK or "gone"
    assert (row(view, "a").status, row(view, "a").reason) == (Status.ERR, f"t/1: {LEADER}")
    assert [(r.topic, r.partition, r.messages) for r in view.lags] == [("t", 0, 0)]


def test_a_partition_of_a_deleted_topic_is_still_silently_gone():
    group = (GroupSample("a", "Empty", 0, {TP("gone", 0): 5}),)
    view = polled(snap(NOW, group, {}))
    assert row(view, "a").status is Status.OK and view.lags == ()


def test_api_and_metrics_say_err_with_the_reason():
    denied = GroupSample("b", "Unknown", None, {}, error=DENIED)
    view = polled(snap(NOW, (denied,), {}))
    (api,) = groups_json([view])
    assert (api["group"], api["status"], api["reason"]) == ("b", "ERR", DENIED)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ViewCollector(lambda: [view], Thresholds(), 15.0))
    text = generate_latest(registry).decode()
    (family,) = (
        f for f in text_string_to_metric_families(text) if f.name.endswith("consumer_group_status")
    )
    firing = {s.labels["status"] for s in family.samples if s.value == 1.0}
    assert firing == {"ERR"}

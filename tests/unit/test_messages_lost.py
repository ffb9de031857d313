"""Messages deleted unread (retention overtaking a group): the count, the status and the lag.

Polls every 15 s from t=1000; one partition `orders/0` unless a case says otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pytest

from collector.compute.loss import count_lost, lost_unread
from collector.compute.view import ViewSettings, build_view
from collector.history import ClusterHistory
from collector.model import Broker, ClusterSnapshot, ClusterView, GroupSample, Status
from collector.model import TopicPartition as TP

P0, P1 = TP("orders", 0), TP("orders", 1)


def snapshot(
    t: float,
    committed: Mapping[TP, int],
    start: Mapping[TP, int],
    end: Mapping[TP, int],
    group: str = "billing",
    members: int = 1,
) -> ClusterSnapshot:
    return ClusterSnapshot(
        broker=Broker.KAFKA,
        cluster="prod",
        taken_at=t,
        end_offsets=end,
        start_offsets=start,
        groups=(GroupSample(group, "Stable", members, committed),),
    )


def run(polls: Iterable[ClusterSnapshot]) -> list[ClusterView]:
    history, views = ClusterHistory(), []
    for snap in polls:
        history.observe(snap)
        views.append(build_view(snap, history, ViewSettings(min_observations=3)))
    return views


# the worked example of collector/compute/loss.py, row by row: (committed, log start) → total
WORKED = [
    (10, 130, 120),  # 1: offsets 10..129 deleted unread
    (10, 130, 120),  # 2: the same offsets again: not counted twice
    (10, 200, 190),  # 3: the log start keeps advancing past a frozen commit
    (200, 200, 190),  # 4: reset to earliest: the loss stops
    (250, 300, 240),  # 5: behind again: only 250..299 are new
    (0, 300, 240),  # 6: rewound below the mark: 0..249 were counted or read already
]


def test_count_lost_follows_the_worked_example():
    mark, total = None, 0
    for no, (committed, start, expected) in enumerate(WORKED, 1):
        step = count_lost(mark, committed, start)
        mark, total = step.mark, total + step.counted
        assert total == expected, f"row {no}"


@pytest.mark.parametrize(
    ("mark", "committed", "start", "counted", "new_mark"),
    [
        (None, 0, 0, 0, None),  # nothing retained yet, nothing lost
        (None, 50, 40, 0, None),  # ahead of the log start: healthy
        (None, 40, 40, 0, None),  # exactly at the log start: nothing lost yet
        (None, 39, 40, 1, 40),
        (300, 5, 10, 5, 10),  # log start went back: topic recreated, old mark forgotten
        (300, 20, 10, 0, None),
    ],
)
def test_count_lost_cases(mark, committed, start, counted, new_mark):
    step = count_lost(mark, committed, start)
    assert (step.counted, step.mark) == (counted, new_mark)


def test_lost_unread_is_clipped_at_zero():
    assert lost_unread(10, 130) == 120 and lost_unread(150, 130) == 0


def test_history_counts_each_lost_offset_once_across_polls():
    end = {P0: 500}
    views = run(
        snapshot(1000 + 15 * i, {P0: c}, {P0: s}, end) for i, (c, s, _total) in enumerate(WORKED)
    )
    assert [v.lost_total[("billing", "orders")] for v in views] == [t for _c, _s, t in WORKED]


def test_lost_is_summed_per_topic_and_zero_while_nothing_is_lost():
    end = {P0: 500, P1: 500}
    views = run(
        [
            snapshot(1000, {P0: 100, P1: 100}, {P0: 0, P1: 0}, end),
            snapshot(1015, {P0: 100, P1: 100}, {P0: 120, P1: 150}, end),
        ]
    )
    assert views[0].lost_total == {("billing", "orders"): 0}
    assert views[1].lost_total == {("billing", "orders"): 20 + 50}


def test_lost_group_reads_err_at_once_with_where_and_how_many():
    (view,) = run([snapshot(1000, {P0: 10}, {P0: 130}, {P0: 200})])
    (group,) = view.groups
    assert group.status is Status.ERR
    assert group.reason == "orders/0: retention deleted 120 unread messages"


def test_lag_is_what_can_still_be_read():
    # end − max(committed, log start): 200 − 130 = 70, not 200 − 10 = 190 (120 are gone)
    (view,) = run([snapshot(1000, {P0: 10}, {P0: 130}, {P0: 200})])
    (row,) = view.lags
    assert (row.messages, row.committed, row.end) == (70, 10, 200)


def test_a_group_reset_to_earliest_is_ok_again_and_the_counter_stays():
    end = {P0: 200}
    views = run(
        [
            snapshot(1000, {P0: 10}, {P0: 130}, end),
            snapshot(1015, {P0: 130}, {P0: 130}, end),
            snapshot(1030, {P0: 200}, {P0: 130}, end),
            snapshot(1045, {P0: 200}, {P0: 130}, end),
        ]
    )
    assert [v.groups[0].status for v in views] == [Status.ERR, Status.OK, Status.OK, Status.OK]
    assert views[-1].lost_total[("billing", "orders")] == 120


def test_deleted_group_leaves_no_lost_series_and_a_new_life_starts_at_zero():
    end = {P0: 200}
    views = run(
        [
            snapshot(1000, {P0: 10}, {P0: 130}, end),
            ClusterSnapshot(Broker.KAFKA, "prod", 1015, end_offsets=end, start_offsets={P0: 130}),
            snapshot(1030, {P0: 150}, {P0: 130}, end),
        ]
    )
    assert views[1].lost_total == {} and views[1].groups == ()
    assert views[2].lost_total == {("billing", "orders"): 0}


def test_unknown_log_start_counts_nothing():
    (view,) = run([snapshot(1000, {P0: 10}, {}, {P0: 200})])
    assert view.lost_total == {("billing", "orders"): 0}
    assert view.lags[0].messages == 190

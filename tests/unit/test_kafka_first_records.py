"""The lag probe's cache and what its first records mean: a committed offset that has not moved
is not fetched again, and transaction markers at a committed offset are not lag."""

from __future__ import annotations

import pytest

from collector.brokers.kafka_probe import FirstRecord, FirstRecordCache, snapshot_fields
from collector.compute.lag import partition_lag
from collector.model import TopicPartition

P0, P1 = TopicPartition("clicks", 0), TopicPartition("clicks", 1)
END = {P0: 100, P1: 100}


def rec(offset: int, ts: float) -> FirstRecord:
    return FirstRecord(offset, ts)


def test_an_offset_read_once_is_not_read_again_and_a_moved_one_is():
    cache = FirstRecordCache()
    wanted = {("ml", P0): 10, ("ml", P1): 20}
    known, missing = cache.split(wanted, END)
    assert (known, missing) == ({}, wanted)
    cache.keep(wanted, {("ml", P0): rec(10, 1000.0), ("ml", P1): rec(20, 2000.0)})

    # ml committed on P1 since: only P1 needs a fetch; P0's record comes from the cache
    moved = {("ml", P0): 10, ("ml", P1): 25}
    known, missing = cache.split(moved, END)
    assert known == {("ml", P0): rec(10, 1000.0)}
    assert missing == {("ml", P1): 25}


def test_another_group_at_the_same_offset_shares_the_record():
    cache = FirstRecordCache()
    cache.split({("a", P0): 10}, END)
    cache.keep({("a", P0): 10}, {("a", P0): rec(10, 1000.0)})
    known, missing = cache.split({("b", P0): 10}, END)
    assert (known, missing) == ({("b", P0): rec(10, 1000.0)}, {})


def test_an_unread_partition_stays_missing_and_old_entries_are_dropped():
    cache = FirstRecordCache()
    cache.split({("ml", P0): 10, ("ml", P1): 20}, END)
    # the probe ran out of time before P1: nothing is cached for it
    cache.keep({("ml", P0): 10, ("ml", P1): 20}, {("ml", P0): rec(10, 1000.0)})
    assert cache.split({("ml", P1): 20}, END) == ({}, {("ml", P1): 20})
    # the last poll no longer asked for P0 (ml caught up there): its record was dropped
    cache.keep({("ml", P1): 20}, {("ml", P1): rec(20, 2000.0)})
    assert cache.split({("ml", P0): 10}, END) == ({}, {("ml", P0): 10})


def test_a_recreated_topic_forgets_its_records():
    cache = FirstRecordCache()
    cache.split({("ml", P0): 10}, END)
    cache.keep({("ml", P0): 10}, {("ml", P0): rec(10, 1000.0)})
    # the end offset went back (deleted and recreated): offset 10 is another record now
    known, missing = cache.split({("ml", P0): 10}, {P0: 40, P1: 100})
    assert (known, missing) == ({}, {("ml", P0): 10})


def test_reaching_the_end_holds_until_the_end_grows():
    cache = FirstRecordCache()
    wanted = {("ml", P0): 99}  # offset 99 is a commit marker: the reader reached the end, 100
    cache.split(wanted, END)
    cache.keep(wanted, {("ml", P0): FirstRecord(100, at_end=True)})
    assert cache.split(wanted, END) == ({("ml", P0): FirstRecord(100, at_end=True)}, {})
    # a new transaction since: there may be a record to read now, so it is fetched again
    assert cache.split(wanted, {P0: 106, P1: 100}) == ({}, wanted)


# (committed, end, first record found, expected lag): the transactional cases measured on
# Apache Kafka 4.1.1 (3 transactions of 5 records: data 0-4, marker 5, …, marker 17, end 18;
# then an aborted transaction 18-21 + marker 22, a committed one 23-24 + marker 25, end 26)
CASES = [
    # 1. committed its position (18): not probed, lag 0 either way
    (18, 18, None, 0),
    # 2. committed last offset + 1 (17, the marker): reaches the end, caught up
    (17, 18, FirstRecord(18, at_end=True), 0),
    # 3. at the marker before an aborted transaction: the next record is 23
    (17, 26, FirstRecord(23, 1000.0), 3),
    # 4. an open transaction (HW 29, LSO 26): the reader stops at 26; the 3 pending count
    (25, 29, FirstRecord(26, at_end=True), 3),
    # 5. a plain topic: the record at the committed offset, nothing changes
    (10, 18, FirstRecord(10, 1000.0), 8),
    # 6. new records arrived between the end read and the probe: never negative
    (17, 18, FirstRecord(23, 1000.0), 0),
]


@pytest.mark.parametrize(("committed", "end", "found", "lag"), CASES)
def test_markers_and_aborted_records_are_not_lag(committed, end, found, lag):
    key = ("g", P0)
    stamps, readable = snapshot_fields({key: committed}, {} if found is None else {key: found})
    assert partition_lag(committed, end, readable.get(key)) == lag
    if found is not None and not found.at_end:
        assert stamps == {key: found.timestamp}  # lag seconds: the record the group reads next
    else:
        assert stamps == {}
    if found is None or found.offset == committed:
        assert readable == {}  # nothing to correct: the snapshot carries no entry


def test_a_caught_up_transactional_reader_is_ok_not_stalled():
    """Y committed last offset + 1 (the marker at 17) and no more was written: across the whole
    window its lag is 0 and 0 s, so rule 4 (caught up) wins over STOP/STALL (frozen, lag > 0)."""
    from collector.compute.view import ViewSettings, build_view
    from collector.history import ClusterHistory
    from collector.model import Broker, ClusterSnapshot, GroupSample, Status

    history = ClusterHistory()
    for now in (100.0, 115.0, 130.0, 145.0):
        snap = ClusterSnapshot(
            broker=Broker.KAFKA,
            cluster="c",
            taken_at=now,
            end_offsets={P0: 18},
            groups=(GroupSample("y", "Empty", 0, {P0: 17}),),
            readable_offsets={("y", P0): 18},
        )
        history.observe(snap)
        view = build_view(snap, history, ViewSettings())
    (row,) = view.lags
    assert (row.messages, row.seconds, row.committed, row.end) == (0, 0.0, 17, 18)
    assert view.groups[0].status is Status.OK

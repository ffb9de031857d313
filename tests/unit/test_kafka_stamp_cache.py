"""The lag probe's cache: a committed offset that has not moved is not fetched again."""

from __future__ import annotations

from collector.brokers.kafka_probe import StampCache
from collector.model import TopicPartition

P0, P1 = TopicPartition("clicks", 0), TopicPartition("clicks", 1)
END = {P0: 100, P1: 100}


def test_an_offset_read_once_is_not_read_again_and_a_moved_one_is():
    cache = StampCache()
    wanted = {("ml", P0): 10, ("ml", P1): 20}
    known, missing = cache.split(wanted, END)
    assert (known, missing) == ({}, wanted)
    cache.keep(wanted, {("ml", P0): 1000.0, ("ml", P1): 2000.0})

    # ml committed on P1 since: only P1 needs a fetch; P0's stamp comes from the cache
    moved = {("ml", P0): 10, ("ml", P1): 25}
    known, missing = cache.split(moved, END)
    assert known == {("ml", P0): 1000.0}
    assert missing == {("ml", P1): 25}


def test_another_group_at_the_same_offset_shares_the_stamp():
    cache = StampCache()
    cache.split({("a", P0): 10}, END)
    cache.keep({("a", P0): 10}, {("a", P0): 1000.0})
    known, missing = cache.split({("b", P0): 10}, END)
    assert (known, missing) == ({("b", P0): 1000.0}, {})


def test_an_unread_partition_stays_missing_and_old_entries_are_dropped():
    cache = StampCache()
    cache.split({("ml", P0): 10, ("ml", P1): 20}, END)
    # the probe ran out of time before P1: nothing is cached for it
    cache.keep({("ml", P0): 10, ("ml", P1): 20}, {("ml", P0): 1000.0})
    assert cache.split({("ml", P1): 20}, END) == ({}, {("ml", P1): 20})
    # the last poll no longer asked for P0 (ml caught up there): its stamp was dropped
    cache.keep({("ml", P1): 20}, {("ml", P1): 2000.0})
    assert cache.split({("ml", P0): 10}, END) == ({}, {("ml", P0): 10})


def test_a_recreated_topic_forgets_its_stamps():
    cache = StampCache()
    cache.split({("ml", P0): 10}, END)
    cache.keep({("ml", P0): 10}, {("ml", P0): 1000.0})
    # the end offset went back (deleted and recreated): offset 10 is another record now
    known, missing = cache.split({("ml", P0): 10}, {P0: 40, P1: 100})
    assert (known, missing) == ({}, {("ml", P0): 10})

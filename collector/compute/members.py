"""Lag per group member: each member's share of its group's lag, from the partitions it owns.

A member's lag is the sum of the lag of the partitions assigned to it; its age is the oldest of
theirs. Partitions with lag that no member owns (an Empty group, a rebalance in progress, a
topic the members no longer subscribe to) are listed apart, so the member sums plus the
unassigned sum give the group's lag.

Worked example: partitions 0..3 with lag 10, 20, 30, 40; member a owns 0 and 2, member b owns 1;
partition 3 is owned by nobody → a: 40, b: 20, unassigned: [3 (40)], group: 100.

An assigned partition with no committed offset has no lag row: it is listed with unknown lag
and adds nothing to the sum. A folded group (series budget) has only topic-level rows, so its
members' lag is unknown (None) rather than guessed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from collector.model import GroupMember, LagRow, TopicPartition


@dataclass(frozen=True)
class PartitionShare:
    partition: TopicPartition
    lag: LagRow | None  # None: no committed offset (or the group is folded)


@dataclass(frozen=True)
class MemberLag:
    member: GroupMember
    partitions: tuple[PartitionShare, ...]
    messages: int | None  # None when none of its partitions has a known lag
    seconds: float | None  # the oldest unconsumed message among its partitions, where known


@dataclass(frozen=True)
class GroupMembersLag:
    members: tuple[MemberLag, ...]
    unassigned: tuple[PartitionShare, ...]  # partitions with lag that no member owns


def lag_by_member(members: Sequence[GroupMember], lags: Iterable[LagRow]) -> GroupMembersLag:
    """Split one group's lag rows over its members (see the module docstring)."""
    rows = {TopicPartition(r.topic, r.partition): r for r in lags if r.partition is not None}
    owned: set[TopicPartition] = set()
    out: list[MemberLag] = []
    for member in members:
        shares = tuple(PartitionShare(tp, rows.get(tp)) for tp in member.assignment)
        owned.update(member.assignment)
        out.append(member_lag(member, shares))
    unassigned = tuple(
        PartitionShare(tp, row) for tp, row in sorted(rows.items()) if tp not in owned
    )
    return GroupMembersLag(tuple(out), unassigned)


def member_lag(member: GroupMember, shares: tuple[PartitionShare, ...]) -> MemberLag:
    known = [s.lag for s in shares if s.lag is not None]
    if shares and not known:
        return MemberLag(member, shares, None, None)
    ages = [r.seconds for r in known if r.seconds is not None]
    return MemberLag(
        member,
        shares,
        messages=sum(r.messages for r in known),
        seconds=max(ages) if ages else None,
    )

"""Series budget: above it, the widest groups fold to one row per topic, and say so."""

from __future__ import annotations

from collector.compute.view import fold_to_budget
from collector.model import GroupRow, LagMethod, LagRow, Status


def rows(group: str, topic: str, partitions: int, lag: int = 2) -> list[LagRow]:
    return [
        LagRow(group, topic, p, lag, float(p), LagMethod.EXACT, committed=0, end=lag)
        for p in range(partitions)
    ]


def groups(*names: str) -> list[GroupRow]:
    return [GroupRow(n, Status.OK, "consuming", "Stable", 1) for n in names]


def test_under_budget_nothing_changes():
    lags = rows("a", "t", 3) + rows("b", "t", 2)
    out, gs = fold_to_budget(lags, groups("a", "b"), budget=5)
    assert out == lags and not any(g.folded for g in gs)


def test_widest_group_folds_first_summing_messages_keeping_oldest_age():
    lags = rows("wide", "t1", 6) + rows("wide", "t2", 4) + rows("narrow", "t1", 2)
    out, gs = fold_to_budget(lags, groups("wide", "narrow"), budget=5)
    folded = [r for r in out if r.group == "wide"]
    assert [(r.topic, r.partition, r.messages, r.seconds) for r in folded] == [
        ("t1", None, 12, 5.0),
        ("t2", None, 8, 3.0),
    ]
    assert [r for r in out if r.group == "narrow"] == rows("narrow", "t1", 2)
    assert {g.group: g.folded for g in gs} == {"wide": True, "narrow": False}
    assert len(out) <= 5


def test_zero_budget_means_unlimited():
    lags = rows("a", "t", 10)
    assert fold_to_budget(lags, groups("a"), budget=0)[0] == lags

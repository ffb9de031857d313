"""Shaping of Prometheus answers into page tables: worst-first lag, alerts, rules, notes."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import pytest

from dashboard import alert_tables, shaping

G = ["broker", "cluster_name", "group"]


def vec(rows: list[tuple[dict[str, str], str]]) -> list[dict[str, Any]]:
    return [{"metric": labels, "value": [1764150000.0, value]} for labels, value in rows]


def group(name: str, broker: str = "kafka", cluster: str = "local") -> dict[str, str]:
    return {"broker": broker, "cluster_name": cluster, "group": name}


def test_vector_frame_parses_values_and_fills_missing_labels() -> None:
    frame = shaping.vector_frame(
        vec([({"group": "a"}, "1.5"), ({"group": "b", "topic": "t"}, "NaN")]), ["group", "topic"]
    )
    assert frame["group"].tolist() == ["a", "b"]
    assert frame["topic"].tolist() == ["", "t"]
    assert frame["value"].iloc[0] == 1.5 and math.isnan(frame["value"].iloc[1])


def test_empty_answers_give_empty_frames_with_columns() -> None:
    assert shaping.vector_frame([], G).columns.tolist() == [*G, "value"]
    assert shaping.matrix_frame([], G).columns.tolist() == [*G, "time", "value"]
    assert shaping.scalar_value([]) is None


def test_matrix_frame_is_long_with_utc_times() -> None:
    frame = shaping.matrix_frame(
        [{"metric": {"group": "a"}, "values": [[1764150000, "1"], [1764150020, "3"]]}], ["group"]
    )
    assert frame["value"].tolist() == [1.0, 3.0]
    assert frame["time"].iloc[1] == pd.Timestamp("2025-11-26 09:40:20", tz="UTC")


@pytest.mark.parametrize(
    ("status", "rank"), [("ERR", 6), ("STOP", 5), ("STALL", 4), ("WARN", 2), ("OK", 1), ("?", 0)]
)
def test_status_rank_orders_worst_highest(status: str, rank: int) -> None:
    assert shaping.status_rank(status) == rank


def test_status_counts_lists_every_status() -> None:
    frame = pd.DataFrame({"status": ["OK", "OK", "STALL"]})
    assert shaping.status_counts(frame) == {
        "ERR": 0,
        "STOP": 0,
        "STALL": 1,
        "REWIND": 0,
        "WARN": 0,
        "OK": 2,
    }


def frames(lag: dict[str, tuple[float, float, str]], thresholds: dict[str, float]) -> list[Any]:
    """lag: group -> (messages, seconds, status); thresholds: group -> messages threshold."""
    msgs = shaping.vector_frame(vec([(group(g), str(m)) for g, (m, _, _) in lag.items()]), G)
    secs = shaping.vector_frame(vec([(group(g), str(s)) for g, (_, s, _) in lag.items()]), G)
    status = shaping.vector_frame(
        vec([({**group(g), "status": st}, "1") for g, (_, _, st) in lag.items()]), [*G, "status"]
    )
    thr = shaping.vector_frame(
        vec([({"cluster_name": "local", "group": g}, str(t)) for g, t in thresholds.items()]),
        ["cluster_name", "group"],
    )
    no_thr = shaping.vector_frame([], ["cluster_name", "group"])
    return [msgs, secs, status, thr, no_thr]


@pytest.mark.parametrize(
    ("lag", "thresholds", "order"),
    [
        # status first, whatever the lag
        ({"a": (10, 1, "OK"), "b": (1, 0, "STALL")}, {}, ["b", "a"]),
        # same status: the ratio to the threshold decides (a 3.0 vs b 0.5)
        ({"a": (300, 0, "OK"), "b": (5000, 0, "OK")}, {"a": 100, "b": 10000}, ["a", "b"]),
        # no thresholds: lag seconds, then messages
        ({"a": (900, 2, "OK"), "b": (10, 60, "OK")}, {}, ["b", "a"]),
        ({"a": (900, 0, "OK"), "b": (10, 0, "OK")}, {}, ["a", "b"]),
    ],
)
def test_lag_table_is_worst_first(lag, thresholds, order) -> None:
    table = shaping.lag_table(*frames(lag, thresholds))
    assert table["group"].tolist() == order


def test_lag_table_adds_reasons_and_links() -> None:
    reasons = [{**group("a"), "reason": "commits frozen"}]
    table = shaping.lag_table(*frames({"a": (1, 1, "STALL")}, {}), collector_groups=reasons)
    assert table.loc[0, "reason"] == "commits frozen"
    assert table.loc[0, "link"] == "lag?group=a&cluster=local"


def test_lag_table_keeps_a_group_that_has_no_status_yet() -> None:
    msgs, secs, _, thr, no_thr = frames({"a": (5, 1, "OK")}, {})
    table = shaping.lag_table(msgs, secs, shaping.vector_frame([], [*G, "status"]), thr, no_thr)
    assert table[["group", "status"]].values.tolist() == [["a", ""]]


def test_lag_table_shows_an_err_group_without_lag_series_first_with_its_reason() -> None:
    msgs, secs, _, thr, no_thr = frames({"a": (5, 1, "STOP")}, {})
    status = shaping.vector_frame(
        vec([({**group(g), "status": st}, "1") for g, st in (("a", "STOP"), ("b", "ERR"))]),
        [*G, "status"],
    )
    why = "OffsetFetch denied: GROUP_AUTHORIZATION_FAILED"
    table = shaping.lag_table(msgs, secs, status, thr, no_thr, [{**group("b"), "reason": why}])
    assert table[["group", "status", "reason"]].values.tolist()[0] == ["b", "ERR", why]
    assert table.loc[table["group"] == "b", "lag_messages"].isna().all()  # unknown, not 0


def test_partition_table_sorts_partitions_numerically() -> None:
    labels = ["broker", "cluster_name", "topic", "partition"]
    msgs = shaping.vector_frame(
        vec([({"topic": "t", "partition": p}, "1") for p in ("10", "2", "0")]), labels
    )
    secs = shaping.vector_frame(
        vec([({"topic": "t", "partition": "2", "method": "exact"}, "3")]), [*labels, "method"]
    )
    table = shaping.partition_table(msgs, secs)
    assert table["partition"].tolist() == ["0", "2", "10"]
    assert table.loc[1, "method"] == "exact"


def alert(name: str, state: str, **labels: str) -> dict[str, Any]:
    return {
        "labels": {"alertname": name, **labels},
        "state": state,
        "annotations": {"summary": f"{name} summary"},
        "activeAt": "2026-11-26T07:00:00Z",
    }


def test_alerts_firing_first_filtered_by_cluster_with_links() -> None:
    alerts = [
        alert("A", "pending", cluster_name="local", group="g1"),
        alert("B", "firing", cluster_name="local", group="g2"),
        alert("C", "firing", cluster_name="other"),
        alert("D", "firing"),  # no cluster label: about the whole system, always shown
    ]
    frame = alert_tables.alerts_frame(alerts, "local")
    assert frame["alertname"].tolist() == ["B", "D", "A"]
    assert frame.loc[0, "link"] == "lag?group=g2&cluster=local"
    assert frame.loc[1, "link"] == ""
    assert alert_tables.firing_count(alerts, None) == 3


def test_rules_frame_lists_alerting_rules_only() -> None:
    groups = [
        {
            "name": "lag",
            "rules": [
                {"type": "recording", "name": "r"},
                {
                    "type": "alerting",
                    "name": "ConsumerLagHigh",
                    "query": "x > 1",
                    "duration": 60,
                    "labels": {"severity": "warning"},
                    "state": "firing",
                    "health": "ok",
                },
            ],
        }
    ]
    frame = alert_tables.rules_frame(groups)
    assert frame[["alertname", "severity", "for_seconds"]].values.tolist() == [
        ["ConsumerLagHigh", "warning", 60]
    ]


def test_notifications_one_row_per_alert_newest_first() -> None:
    notes = [
        {
            "received_at": 100.0,
            "status": "firing",
            "receiver": "w",
            "alerts": [{"status": "firing", "labels": {"alertname": "A", "cluster_name": "c"}}],
        },
        {
            "received_at": 200.0,
            "status": "resolved",
            "receiver": "w",
            "commonLabels": {"alertname": "A"},
            "alerts": [
                {"status": "resolved", "labels": {"cluster_name": "c", "group": "g"}},
                {"status": "resolved", "labels": {"cluster_name": "x"}},
            ],
        },
    ]
    frame = alert_tables.notifications_frame(notes, "c")
    assert frame[["status", "alertname", "group"]].values.tolist() == [
        ["resolved", "A", "g"],
        ["firing", "A", ""],
    ]
    assert frame.loc[0, "received_at"] == pd.Timestamp(200, unit="s", tz="UTC")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1764150000, pd.Timestamp("2025-11-26 09:40:00", tz="UTC")),
        ("2026-11-26T07:00:00Z", pd.Timestamp("2026-11-26 07:00:00", tz="UTC")),
        ("2026-11-26T08:00:00+01:00", pd.Timestamp("2026-11-26 07:00:00", tz="UTC")),
        ("2026-11-26 07:00:00", pd.Timestamp("2026-11-26 07:00:00", tz="UTC")),
        (None, None),
        ("", None),
        ("soon", None),
    ],
)
def test_parse_time(value: Any, expected: Any) -> None:
    assert shaping.parse_time(value) == expected


def test_page_link_drops_empty_params_and_encodes() -> None:
    assert shaping.page_link("lag", group="a b&c", cluster="") == "lag?group=a+b%26c"
    assert shaping.page_link("journeys") == "journeys"


def test_a_dlq_alert_lands_on_dead_letters_with_its_runbook() -> None:
    dlq = alert("DeadLetterQueueNotEmpty", "firing", cluster_name="c", dlq="orders.dlq")
    dlq["annotations"]["runbook_url"] = "https://example.org/docs/alerts.md#dlq"
    dlq["value"] = "7e+00"
    frame = alert_tables.alerts_frame([dlq], None)
    assert frame.loc[0, "link"] == "dead-letters?cluster=c"
    assert frame.loc[0, "runbook"] == "https://example.org/docs/alerts.md#dlq"
    assert frame.loc[0, "value"] == 7.0
    assert frame.loc[0, "active_since"] == pd.Timestamp("2026-11-26 07:00:00", tz="UTC")


def test_matrix_frame_reads_special_values_and_skips_empty_series() -> None:
    frame = shaping.matrix_frame(
        [
            {"metric": {"group": "a"}, "values": [[1, "+Inf"], [2, "NaN"], [3, "2.5"]]},
            {"metric": {"group": "b"}, "values": []},
            {"metric": {}, "values": [[1, "1"]]},
        ],
        ["group"],
    )
    assert frame["group"].tolist() == ["a", "a", "a", ""]
    assert frame["value"].iloc[0] == math.inf and math.isnan(frame["value"].iloc[1])
    assert frame["value"].iloc[2] == 2.5


def lines(peaks: dict[str, list[float]]) -> pd.DataFrame:
    t = pd.to_datetime([0, 20], unit="s", utc=True)
    rows = [(g, t[i], v) for g, values in peaks.items() for i, v in enumerate(values)]
    return pd.DataFrame(rows, columns=["group", "time", "value"])


def test_top_series_keeps_the_highest_peaks_and_folds_the_rest() -> None:
    data = lines({"a": [1, 9], "b": [5, 5], "c": [2, 3], "d": [4, 1]})
    top = shaping.top_series(data, ["group"], 2)
    assert list(dict.fromkeys(top["series"])) == ["a", "b", "2 others (sum)"]
    assert top[top["series"] == "2 others (sum)"]["value"].tolist() == [6, 4]  # c + d
    folded = shaping.top_series(data, ["group"], 2, rest="max")
    assert folded[folded["series"] == "2 others (max)"]["value"].tolist() == [4, 3]


def test_top_series_leaves_few_series_alone() -> None:
    top = shaping.top_series(lines({"b": [1, 2], "a": [3, 4]}), ["group"], 10)
    assert list(dict.fromkeys(top["series"])) == ["a", "b"]
    assert len(top) == 4


def test_series_names_join_non_empty_labels() -> None:
    data = pd.DataFrame({"broker": ["kafka", "kafka"], "topic": ["t", ""], "value": [1, 2]})
    assert shaping.series_names(data, ["broker", "topic"]).tolist() == ["kafka / t", "kafka"]


def test_series_names_follow_each_row_whatever_the_order_and_index() -> None:
    data = pd.DataFrame({"g": ["b", "a", "b", ""], "t": ["x", "", "x", "y"]}, index=[10, 3, 7, 1])
    names = shaping.series_names(data, ["g", "t"])
    assert names.to_dict() == {10: "b / x", 3: "a", 7: "b / x", 1: "y"}


def test_thresholds_to_draw_come_from_the_lag_table_rows() -> None:
    from dashboard.history import thresholds_of

    rows = pd.DataFrame({"threshold_messages": [500.0, 100.0], "threshold_seconds": [None, None]})
    assert thresholds_of(rows) == {"messages": 100.0, "seconds": None}  # the lowest; unknown
    assert thresholds_of(None) == {"messages": None, "seconds": None}
    assert thresholds_of(rows.iloc[:0]) == {"messages": None, "seconds": None}

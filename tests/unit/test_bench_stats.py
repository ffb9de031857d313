"""Benchmark summaries, the results table and the pure helpers the benchmarks count with."""

from __future__ import annotations

import argparse

import pytest

from bench.__main__ import int_list
from bench.kafka_poll import librdkafka_minimum_requests, protocol_minimum_requests
from bench.kafka_world import group_commit
from bench.metrics_render import sample_lines
from bench.stats import Row, Summary, format_number, ratio, render_table, summarize


@pytest.mark.parametrize(
    ("samples", "expected"),
    [
        ([1.2, 1.0, 3.0], Summary(1.2, 1.0, 3.0, 3)),
        ([4.0, 1.0, 3.0, 2.0], Summary(2.5, 1.0, 4.0, 4)),  # even count: mean of the middle two
        ([7.0], Summary(7.0, 7.0, 7.0, 1)),
    ],
)
def test_summarize_is_median_min_max(samples, expected):
    assert summarize(samples) == expected


def test_summarize_without_samples_is_an_error():
    with pytest.raises(ValueError, match="no samples"):
        summarize([])


@pytest.mark.parametrize(
    ("value", "floor", "expected"),
    [(2.0, 0.5, 4.0), (1.0, 1.0, 1.0), (0.3, 0.6, 0.5), (1.0, 0.0, None)],
)
def test_ratio_of_medians(value, floor, expected):
    assert ratio(summarize([value]), summarize([floor])) == expected


@pytest.mark.parametrize(
    ("x", "text"),
    [(0, "0"), (0.001234, "0.00123"), (1.234, "1.23"), (123.4, "123"), (12345.6, "12,346")],
)
def test_format_number_three_significant_figures(x, text):
    assert format_number(x) == text


def test_table_shows_range_floor_ratio_and_goal():
    rows = [
        Row(
            "kafka_poll",
            "1,000 groups",
            "poll",
            "s",
            Summary(2.0, 1.5, 3.0, 9),
            Summary(0.5, 0.4, 0.6, 9),
            goal="< 5 s",
            met=True,
        ),
        Row("metrics_render", "50,000 series", "size", "MB", Summary(5.0, 5.0, 5.0, 1)),
    ]
    lines = render_table(rows).splitlines()
    assert len(lines) == 4
    cells = [c.strip() for c in lines[2].strip("|").split("|")]
    assert cells == [
        "kafka_poll",
        "1,000 groups",
        "poll (s)",
        "2 [1.5-3]",
        "0.5 [0.4-0.6]",
        "4.00x",
        "< 5 s met",
    ]
    cells = [c.strip() for c in lines[3].strip("|").split("|")]
    assert cells == ["metrics_render", "50,000 series", "size (MB)", "5", "", "", ""]


def test_row_json_carries_the_ratio():
    row = Row("b", "c", "m", "s", summarize([3.0]), summarize([1.5]))
    assert row.as_json()["ratio"] == 2.0


@pytest.mark.parametrize(
    ("text", "values"), [("100,1000", [100, 1000]), ("10000", [10000]), ("5, 7,", [5, 7])]
)
def test_int_list_parses_comma_lists(text, values):
    assert int_list(text) == values


@pytest.mark.parametrize("text", ["", "0", "100,-1", "a,b"])
def test_int_list_rejects_non_positive_or_garbage(text):
    with pytest.raises((argparse.ArgumentTypeError, ValueError)):
        int_list(text)


@pytest.mark.parametrize(
    ("groups", "brokers", "protocol", "librdkafka"),
    [(1000, 1, 5, 1004), (100, 1, 5, 104), (1000, 3, 13, 1010)],
)
def test_request_minimums(groups, brokers, protocol, librdkafka):
    assert protocol_minimum_requests(brokers) == protocol
    assert librdkafka_minimum_requests(groups, brokers) == librdkafka


@pytest.mark.parametrize(
    ("g", "topic", "offset"), [(0, "bench-t000", 1), (1, "bench-t001", 2), (302, "bench-t002", 3)]
)
def test_group_commit_layout(g, topic, offset):
    assert group_commit(g) == (topic, dict.fromkeys(range(10), offset))


def test_sample_lines_skips_comments_and_blanks():
    body = b'# HELP a x\n# TYPE a gauge\na 1\na{b="c"} 2\n\n'
    assert sample_lines(body) == 2

"""PromQL builders: exact query text for each panel, escaping, and the cluster filter."""

from __future__ import annotations

import pytest

from dashboard import queries
from dashboard.history import compare_window
from dashboard.settings import (
    SettingsError,
    ViewFilters,
    duration_seconds,
    refresh_seconds,
    settings_from_env,
    step_seconds,
    streamlit_argv,
    streamlit_env,
)


@pytest.mark.parametrize(
    ("built", "expected"),
    [
        (queries.selector("m"), "m"),
        (queries.selector("m", a="x", b=None), 'm{a="x"}'),
        (queries.selector("m", group='a"b'), 'm{group="a\\"b"}'),
        (queries.selector("m", group="a\\b"), 'm{group="a\\\\b"}'),
        (queries.collectors_up(None), "eventscope_collector_up"),
        (queries.collectors_up("local"), 'eventscope_collector_up{cluster_name="local"}'),
        (
            queries.group_statuses("local"),
            'eventscope_consumer_group_status{cluster_name="local"} == 1',
        ),
        (  # an ERR group has a status but no lag series: it must still be selectable
            queries.group_names("local"),
            "group by (broker, cluster_name, group) "
            '(eventscope_consumer_lag_messages{cluster_name="local"} '
            'or eventscope_consumer_group_status{cluster_name="local"} == 1)',
        ),
        (queries.total_backlog(None), "sum(eventscope_consumer_lag_messages)"),
        (
            queries.produce_rate_total(None, "1m"),
            "sum(rate(eventscope_produced_messages_total[1m]))",
        ),
        (
            queries.lag_messages_by_group("c", "billing"),
            "sum by (broker, cluster_name, group) "
            '(eventscope_consumer_lag_messages{cluster_name="c",group="billing"})',
        ),
        (
            queries.lag_seconds_by_group(None),
            "max by (broker, cluster_name, group) (eventscope_consumer_lag_seconds)",
        ),
        (
            queries.produce_rate_for_group_topics(None, "billing", "1m"),
            "sum by (topic) (rate(eventscope_produced_messages_total[1m]) "
            "and on (broker, cluster_name, topic) group by (broker, cluster_name, topic) "
            '(eventscope_consumed_messages_total{group="billing"}))',
        ),
        (
            queries.produce_rate_by_topic(None, "1m", "orders"),
            "sum by (broker, cluster_name, topic) "
            '(rate(eventscope_produced_messages_total{topic="orders"}[1m]))',
        ),
        (
            queries.dlq_reasons("c", "1h"),
            "sum by (broker, cluster_name, dlq, source, reason) "
            '(increase(eventscope_dead_lettered_messages_total{cluster_name="c"}[1h]))',
        ),
        (
            queries.hop_latency_quantile(0.95, "5m"),
            "histogram_quantile(0.95, sum by (from_service, to_service, le) "
            "(rate(eventscope_hop_latency_seconds_bucket[5m])))",
        ),
    ],
)
def test_query_text(built: str, expected: str) -> None:
    assert built == expected


def test_a_hostile_group_name_cannot_widen_the_query() -> None:
    query = queries.partition_lag_messages(None, 'x"} or vector(1) or {a="')
    assert query == 'eventscope_consumer_lag_messages{group="x\\"} or vector(1) or {a=\\""}'


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("15m", 900), ("1h", 3600), ("2d", 172800)]
)
def test_durations(text: str, seconds: int) -> None:
    assert duration_seconds(text) == seconds


@pytest.mark.parametrize("text", ["", "1h30m", "5", "-1m", "1w"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(SettingsError):
        duration_seconds(text)


@pytest.mark.parametrize(
    ("range_seconds", "step"), [(300, 1), (900, 5), (3600, 20), (7 * 86400, 3360), (60, 1)]
)
def test_step_keeps_about_180_points(range_seconds: int, step: int) -> None:
    assert step_seconds(range_seconds) == step


def test_view_filters_derive_range_and_step() -> None:
    filters = ViewFilters(cluster=None, time_range="1h")
    assert (filters.range_seconds, filters.step) == (3600, 20)


def test_settings_defaults_and_overrides() -> None:
    assert settings_from_env({}).prometheus_url == "http://127.0.0.1:9090"
    assert settings_from_env({}).collector_url == "http://127.0.0.1:9308"
    s = settings_from_env(
        {
            "EVENTSCOPE_PROMETHEUS_URL": "http://prom:9090/",
            "EVENTSCOPE_TRACE_UI_URL": "http://jaeger/trace/{trace_id}",
            "EVENTSCOPE_RATE_WINDOW": "2m",
            "EVENTSCOPE_COLLECTOR_TOKEN": "s3cret",
        }
    )
    assert (s.prometheus_url, s.rate_window) == ("http://prom:9090", "2m")
    assert s.trace_ui_url == "http://jaeger/trace/{trace_id}"
    assert "s3cret" not in repr(s)  # never shown in logs or tracebacks


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"EVENTSCOPE_PROMETHEUS_URL": "prom:9090"}, "EVENTSCOPE_PROMETHEUS_URL"),
        ({"EVENTSCOPE_HTTP_TIMEOUT_SECONDS": "soon"}, "EVENTSCOPE_HTTP_TIMEOUT_SECONDS"),
        ({"EVENTSCOPE_HTTP_TIMEOUT_SECONDS": "0"}, "EVENTSCOPE_HTTP_TIMEOUT_SECONDS"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], names: str) -> None:
    with pytest.raises(SettingsError, match=names):
        settings_from_env(env)


@pytest.mark.parametrize(
    ("choice", "seconds"), [("off", 0), (None, 0), ("5s", 5), ("30s", 30), ("1m", 60)]
)
def test_refresh_choices(choice: str | None, seconds: int) -> None:
    assert refresh_seconds(choice) == seconds


@pytest.mark.parametrize(("window", "expected"), [("1m", "5m"), ("300s", "300s"), ("10m", "10m")])
def test_consume_vs_produce_rates_average_over_at_least_five_minutes(window, expected):
    # committed offsets move in bursts: a 1m window read every 20 s saw 2 of a 20 s committer's
    # 3 commits per minute, every time, and drew it at 73 % of its real rate
    assert compare_window(window) == expected


def test_the_served_dashboard_binds_where_told_and_does_not_watch_its_source() -> None:
    argv = streamlit_argv("127.0.0.1", 8501)

    def option(name: str) -> str:
        return argv[argv.index(name) + 1]

    assert argv[:3] == ["-m", "streamlit", "run"] and argv[3].endswith("dashboard/app.py")
    assert (option("--server.address"), option("--server.port")) == ("127.0.0.1", "8501")
    # the development watcher resolves every module's path on the event loop after each run
    assert option("--server.fileWatcherType") == "none"
    assert option("--browser.gatherUsageStats") == "false"


def test_the_served_dashboard_caps_its_allocators_unless_the_environment_says_otherwise() -> None:
    env = streamlit_env({"PATH": "/usr/bin", "MALLOC_ARENA_MAX": "8"})
    assert env["PATH"] == "/usr/bin"
    assert env["MALLOC_ARENA_MAX"] == "8"  # the user's choice wins
    assert env["MALLOC_MMAP_THRESHOLD_"] == "131072"  # what it does: test_dashboard_allocators.py
    assert env["ARROW_DEFAULT_MEMORY_POOL"] == "system"

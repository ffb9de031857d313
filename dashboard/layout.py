"""Layout shared by every page: the sidebar filters, the current view, problem notices.

The sidebar's widgets are bound to query parameters (?cluster=…, ?range=…, ?refresh=…), so
every view can be opened from a URL and the choice survives page switches.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import streamlit as st

from collector.redact import redact
from dashboard import panel_data
from dashboard.loaders import Loaded
from dashboard.panel_data import View
from dashboard.settings import (
    ALL_CLUSTERS,
    DEFAULT_REFRESH,
    DEFAULT_TIME_RANGE,
    REFRESH_CHOICES,
    TIME_RANGES,
    DashboardSettings,
    ViewFilters,
    refresh_seconds,
    settings_from_env,
)

VIEW_KEY = "_eventscope_view"
VIEWS = Path(__file__).resolve().parent / "views"
# (script in views/, title, url path, icon); the first is the default page
PAGES = (
    ("overview.py", "Overview", "overview", ":material/dashboard:"),
    ("lag.py", "Consumer lag", "lag", ":material/hourglass_top:"),
    ("throughput.py", "Throughput", "throughput", ":material/speed:"),
    ("dead_letters.py", "Dead letters", "dead-letters", ":material/report:"),
    ("flow.py", "Flow graph", "flow", ":material/account_tree:"),
    ("journeys.py", "Journey explorer", "journeys", ":material/route:"),
    ("alerts.py", "Alerts", "alerts", ":material/notifications:"),
)
SCRIPT_OF_PATH = {path: f"views/{file}" for file, _, path, _ in PAGES}
F = TypeVar("F", bound=Callable[..., Any])


def load_settings() -> DashboardSettings:
    return settings_from_env(os.environ)


def choices_with_link(options: list[str], param: str) -> list[str]:
    """`options` plus the value of ?param= when a deep link names one the source does not list
    (yet), so that the bound widget keeps it instead of dropping it as invalid."""
    wanted = st.query_params.get(param)
    if wanted and wanted not in options:
        return [*options, wanted]
    return options


def sidebar(settings: DashboardSettings) -> View:
    """Draw the shared filters and remember the view for the page that runs next."""
    clusters = panel_data.cluster_options(settings)
    options = choices_with_link([ALL_CLUSTERS, *(clusters.value or [])], "cluster")
    with st.sidebar:
        cluster = st.selectbox("Cluster", options, key="cluster", bind="query-params")
        time_range = st.selectbox(
            "Time range",
            TIME_RANGES,
            index=TIME_RANGES.index(DEFAULT_TIME_RANGE),
            key="range",
            bind="query-params",
        )
        refresh = st.selectbox(
            "Auto-refresh",
            REFRESH_CHOICES,
            index=REFRESH_CHOICES.index(DEFAULT_REFRESH),
            key="refresh",
            bind="query-params",
        )
        st.caption(
            f"Prometheus: {redact(settings.prometheus_url)}  \n"
            f"Collector: {redact(settings.collector_url)}"
        )
    filters = ViewFilters(
        cluster=None if cluster in (None, ALL_CLUSTERS) else str(cluster),
        time_range=str(time_range or DEFAULT_TIME_RANGE),
        refresh_seconds=refresh_seconds(refresh),
    )
    view = View(settings, filters)
    st.session_state[VIEW_KEY] = view
    return view


def current_view() -> View:
    view = st.session_state.get(VIEW_KEY)
    if not isinstance(view, View):  # a page opened without app.py (tests, `streamlit run page`)
        view = View(load_settings(), ViewFilters(cluster=None))
    return view


def live(view: View) -> Callable[[F], F]:
    """Decorator: rerun only this panel every refresh interval (no whole-page rerun)."""
    every = view.filters.refresh_seconds or None
    return st.fragment(run_every=every)


def show_problems(results: Iterable[Loaded[Any] | str | None]) -> None:
    """Say what is wrong, once per distinct sentence: warnings for failures, info for an
    endpoint the collector does not have (an older or partial collector)."""
    seen: set[str] = set()
    for item in results:
        if item is None:
            continue
        text = item if isinstance(item, str) else item.problem
        if not text or text in seen:
            continue
        seen.add(text)
        if isinstance(item, Loaded) and item.missing:
            st.info(text)
        else:
            st.warning(text)


# Number formats by column name, shared by every table (raw floats read as 27.399700001).
NUMBER_FORMATS = {
    "lag_messages": "%d",
    "threshold_messages": "%d",
    "depth": "%d",
    "messages": "%d",
    "lag_seconds": "%.1f",
    "threshold_seconds": "%.0f",
    "over_threshold": "%.2f",
    "produced_per_s": "%.2f",
    "consumed_per_s": "%.2f",
    "pickup_seconds": "%.3f",
    "gap_seconds": "%.3f",
    "value": "%.4g",
}


def table(frame: Any, order: list[str] | None = None, **links: str) -> None:
    """Show a table: known number columns formatted, only the `order` columns when given, and
    `links` mapping a column of URLs to the text its cells show (table(df, link="details"))."""
    columns = getattr(frame, "columns", [])
    config: dict[str, Any] = {
        name: st.column_config.NumberColumn(format=fmt)
        for name, fmt in NUMBER_FORMATS.items()
        if name in columns
    }
    for name, text in links.items():
        config[name] = st.column_config.LinkColumn(name, display_text=text)
    st.dataframe(frame, hide_index=True, column_config=config, column_order=order)


def number(value: float | None, unit: str = "", digits: int = 0) -> str:
    """Tile text: "—" when unknown, else the value with thousands separators."""
    if value is None or value != value:
        return "—"
    return f"{value:,.{digits}f}{unit}"

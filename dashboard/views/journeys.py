"""Journey explorer: one correlation ID hop by hop, and recent failed / slow / in-flight
journeys. Deep link: ?correlation_id=…"""

import streamlit as st

from dashboard import charts, journeys, panel_data
from dashboard.layout import current_view, live, number, show_problems, table

view = current_view()
st.title("Journey explorer")

correlation_id = st.text_input(
    "Correlation ID", key="correlation_id", bind="query-params", placeholder="e.g. order-1042"
)


@live(view)  # an in-flight journey grows while you watch
def journey(correlation_id: str) -> None:
    found = panel_data.journey(view, correlation_id)
    show_problems([found])
    if found.value is None:
        return
    rows = journeys.journey_rows(found.value)
    summary = journeys.journey_summary(found.value, rows)
    cols = st.columns([2, 1, 1, 1, 1])
    cols[0].metric("Status", summary["status"], border=True)
    cols[1].metric("Hops", summary["hops"], border=True)
    cols[2].metric("Services", summary["services"], border=True)
    cols[3].metric("Duration", number(summary["duration_seconds"], " s", 3), border=True)
    cols[4].metric("Dead-lettered", summary["dead_lettered"], border=True)
    if summary["stuck_at"]:
        waited = summary["stuck_for_seconds"]
        since = f" for {number(waited, ' s', 1)}" if waited is not None else ""
        st.warning(f"Stopped at: {summary['stuck_at']}{since}")
    link = journeys.trace_ui_link(view.settings.trace_ui_url, found.value)
    if link:
        st.link_button("Open in the trace UI", link)
    st.plotly_chart(charts.journey_waterfall(rows, correlation_id), width="stretch")
    table(rows, journeys.HOP_COLUMNS)


@live(view)
def recent() -> None:
    st.subheader("Recent journeys")
    tabs = st.tabs(["Failed", "Slow", "In flight"])
    for tab, status in zip(tabs, journeys.TRACE_STATUSES, strict=True):
        with tab:
            found = panel_data.recent_traces(view, status)
            show_problems([found])
            if found.value is not None and found.value.empty:
                st.info(
                    f"No {status.replace('_', '-')} journeys in the last {view.filters.time_range}."
                )
            elif found.value is not None:
                table(found.value, link="explore")


if correlation_id and correlation_id.strip():
    journey(correlation_id.strip())
recent()

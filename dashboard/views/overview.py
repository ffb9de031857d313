"""Overview: health tiles, lag per group now (worst first) and over the last 15 minutes."""

import streamlit as st

from dashboard import charts, history, panel_data
from dashboard.layout import current_view, live, number, show_problems, table

LAG_COLUMNS = [
    "status",
    "broker",
    "cluster_name",
    "group",
    "lag_messages",
    "lag_seconds",
    "threshold_messages",
    "threshold_seconds",
    "reason",
    "link",
]

FIRING_COLUMNS = ["alertname", "severity", "cluster_name", "group", "summary", "link", "runbook"]

view = current_view()
st.title("Overview")


@live(view)
def tiles() -> None:
    t = panel_data.health_tiles(view)
    show_problems(t.problems)
    brokers = "—" if t.brokers_total is None else f"{t.brokers_up} / {t.brokers_total}"
    not_ok = sum(n for s, n in t.groups_by_status.items() if s != "OK")
    groups = "—" if not t.groups_by_status else f"{t.groups_by_status.get('OK', 0)} OK"
    cols = st.columns(7)
    cols[0].metric("Brokers up", brokers, border=True)
    cols[1].metric(
        "Groups",
        groups,
        delta=f"{not_ok} not OK" if not_ok else None,
        delta_color="inverse",
        delta_arrow="off",
        border=True,
    )
    cols[2].metric("Backlog (msgs)", number(t.backlog_messages), border=True)
    cols[3].metric("In (msg/s)", number(t.produce_rate, "", 1), border=True)
    cols[4].metric("Out (msg/s)", number(t.consume_rate, "", 1), border=True)
    cols[5].metric("DLQ depth (msgs)", number(t.dlq_depth), border=True)
    cols[6].metric("Firing alerts", number(t.firing_alerts), border=True)
    if t.groups_by_status:
        st.caption(
            "Groups by status: " + " · ".join(f"{s} {n}" for s, n in t.groups_by_status.items())
        )
    firing = panel_data.firing_alerts(view)
    if firing.value is not None and not firing.value.empty:
        with st.expander(f"Firing alerts ({len(firing.value)})", expanded=True):
            table(firing.value, FIRING_COLUMNS, link="open", runbook="runbook")


@live(view)
def lag_now() -> None:
    st.subheader("Lag per consumer group, worst first")
    lag = panel_data.lag_table(view)
    show_problems([lag])
    if lag.value is not None and lag.value.empty:
        st.info("No consumer groups reported yet: is the collector polling a broker?")
    elif lag.value is not None:
        table(lag.value, LAG_COLUMNS, link="details")
    recent = history.lag_by_group_recent(view)
    show_problems([recent])
    if recent.value is not None and recent.value.empty:
        st.info("No lag history in Prometheus for the last 15 minutes yet.")
    elif recent.value is not None:
        st.altair_chart(
            charts.timeseries_chart(
                recent.value, ["broker", "group"], "Lag over the last 15 minutes", "messages"
            ),
            width="stretch",
        )


tiles()
lag_now()

"""Alerts: firing and pending from Prometheus, notification history from the collector,
alert rules with their thresholds."""

import streamlit as st

from dashboard import panel_data
from dashboard.layout import current_view, live, show_problems, table

view = current_view()
st.title("Alerts")


@live(view)
def active() -> None:
    st.subheader("Firing and pending")
    alerts = panel_data.alerts_table(view)
    show_problems([alerts])
    if alerts.value is not None and alerts.value.empty:
        st.success("No alerts are firing or pending.")
    elif alerts.value is not None:
        table(alerts.value, link="open", runbook="runbook")
    st.subheader("Notification history")
    notes = panel_data.notifications_table(view)
    show_problems([notes])
    if notes.value is not None and notes.value.empty:
        st.info("No notifications received from Alertmanager yet.")
    elif notes.value is not None:
        table(notes.value)


active()

st.subheader("Rules")
rules = panel_data.rules_table(view)
show_problems([rules])
if rules.value is not None and rules.value.empty:
    st.info("Prometheus has no alerting rules loaded: add the rule files from alerts/.")
elif rules.value is not None:
    table(rules.value)
st.subheader("Lag thresholds per group")
lag = panel_data.lag_table(view)
show_problems([lag])
if lag.value is not None and not lag.value.empty:
    table(
        lag.value,
        [
            "cluster_name",
            "group",
            "threshold_messages",
            "threshold_seconds",
            "lag_messages",
            "lag_seconds",
            "link",
        ],
        link="lag",
    )

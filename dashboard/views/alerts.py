"""Alerts: firing and pending from Prometheus, notification history from the collector,
alert rules with their thresholds."""

import streamlit as st

from dashboard import panel_data
from dashboard.layout import current_view, link_column, live, show_problems

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
        st.dataframe(alerts.value, hide_index=True, column_config={"link": link_column("lag")})
    st.subheader("Notification history")
    notes = panel_data.notifications_table(view)
    show_problems([notes])
    if notes.value is not None and notes.value.empty:
        st.info("No notifications received from Alertmanager yet.")
    elif notes.value is not None:
        st.dataframe(notes.value, hide_index=True)


active()

st.subheader("Rules")
rules = panel_data.rules_table(view)
show_problems([rules])
if rules.value is not None and rules.value.empty:
    st.info("Prometheus has no alerting rules loaded: add the rule files from alerts/.")
elif rules.value is not None:
    st.dataframe(rules.value, hide_index=True)
st.subheader("Lag thresholds per group")
table = panel_data.lag_table(view)
show_problems([table])
if table.value is not None and not table.value.empty:
    st.dataframe(
        table.value[
            [
                "cluster_name",
                "group",
                "threshold_messages",
                "threshold_seconds",
                "lag_messages",
                "lag_seconds",
            ]
        ],
        hide_index=True,
    )

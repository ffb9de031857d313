"""Consumer lag of one group: messages and seconds over time against its thresholds, status
and reason, per-partition breakdown, members with lag per member (Kafka), consume vs produce
rate. Deep link: ?group=…"""

import streamlit as st

from dashboard import charts, history, panel_data
from dashboard.layout import choices_with_link, current_view, live, number, show_problems, table

view = current_view()
st.title("Consumer lag")

names = panel_data.group_options(view)
options = choices_with_link(list(names.value or []), "group")
show_problems([names])
group = st.selectbox(
    "Consumer group",
    options,
    index=None if not options else 0,
    key="group",
    bind="query-params",
    placeholder="No consumer groups reported yet",
)


@live(view)
def group_panel(group: str) -> None:
    lag = panel_data.lag_table(view, group)
    show_problems([lag])
    if lag.value is not None and lag.value.empty:
        st.info(f"Prometheus has no lag series for group {group!r} right now.")
    elif lag.value is not None:
        for row in lag.value.to_dict("records"):
            cols = st.columns(4)
            cols[0].metric(f"Status ({row['cluster_name']})", row["status"] or "—", border=True)
            cols[1].metric("Lag", number(row["lag_messages"], " msgs"), border=True)
            cols[2].metric("Lag age", number(row["lag_seconds"], " s", 1), border=True)
            state = history.group_state(view, group)
            states = ", ".join(state.value["state"]) if state.value is not None else ""
            cols[3].metric("Broker state", states or "—", border=True)
            if row["reason"]:
                st.caption(f"Why: {row['reason']}")
    lag_messages, lag_seconds, consume, produce = history.group_history(view, group)
    thresholds = history.thresholds_of(lag.value)
    for unit, got in (("messages", lag_messages), ("seconds", lag_seconds)):
        show_problems([got])
        if got.value is not None:
            st.altair_chart(
                charts.timeseries_chart(
                    got.value,
                    ["cluster_name", "group"],
                    f"Lag in {unit}",
                    unit,
                    threshold=thresholds.get(unit),
                ),
                width="stretch",
            )
    st.subheader("Per partition")
    partitions = history.group_partitions(view, group)
    show_problems([partitions])
    if partitions.value is not None:
        table(partitions.value)
    st.subheader("Members")
    found = panel_data.group_members(view, group)
    show_problems([found])
    if found.value is not None:
        for note in found.value.notes:
            st.info(note)
        if not found.value.table.empty:
            table(found.value.table)
    st.subheader("Consume vs produce rate")
    show_problems([consume, produce])
    if consume.value is not None and produce.value is not None:
        window = history.compare_window(view.window)
        st.altair_chart(
            charts.rate_comparison_chart(
                consume.value,
                produce.value,
                f"Consumed vs produced per topic/queue (rate over {window})",
            ),
            width="stretch",
        )


if group:
    group_panel(group)

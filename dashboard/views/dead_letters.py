"""Dead letters: every DLQ with depth and inflow over time, sources, reasons, and the latest
dead-lettered journeys linking to the explorer."""

import streamlit as st

from dashboard import charts, history, panel_data
from dashboard.layout import current_view, live, show_problems, table

view = current_view()
st.title("Dead letters")


@live(view)
def dead_letters() -> None:
    depth = history.dlq_depth_now(view)
    show_problems([depth])
    if depth.value is not None and depth.value.empty:
        st.info("No dead-letter topics or queues reported.")
    elif depth.value is not None:
        table(depth.value)
    # one above the other, full width: side by side, each legend's second column of DLQ names
    # ("demo-rabbitmq / eventscope-demo/batch-analytics.dlq") was cut off at the chart's edge
    depth_history, inflow_history = history.dlq_history(view)
    for got, title, unit in (
        (depth_history, "DLQ depth", "messages"),
        (inflow_history, "Dead-lettered per second", "messages/s"),
    ):
        show_problems([got])
        if got.value is not None:
            st.altair_chart(
                charts.timeseries_chart(got.value, ["cluster_name", "dlq"], title, unit),
                width="stretch",
            )
    st.subheader(f"Reasons over the last {view.filters.time_range}")
    reasons = history.dlq_reasons(view)
    show_problems([reasons])
    if reasons.value is not None and reasons.value.empty:
        st.info("Nothing was dead-lettered in this time range.")
    elif reasons.value is not None:
        table(reasons.value)
    st.subheader("Latest dead-lettered journeys")
    failed = panel_data.dead_lettered_traces(view)
    show_problems([failed])
    if failed.value is not None and failed.value.empty:
        st.info("No journey ended in a dead-letter queue in this time range.")
    elif failed.value is not None:
        table(failed.value, link="explore")


dead_letters()

"""Throughput: produced per topic/queue and consumed per group, over time and now."""

import streamlit as st

from dashboard import charts, history
from dashboard.layout import current_view, live, show_problems, table

view = current_view()
st.title("Throughput")
st.caption(f"Rates are per second over a {view.window} window.")


@live(view)
def throughput() -> None:
    now = history.rates_now(view)
    show_problems([now])
    if now.value is not None and now.value.empty:
        st.info("No produce or consume counters in Prometheus yet.")
    elif now.value is not None:
        table(now.value)
    produced = history.produce_rates(view)
    consumed = history.consume_rates(view)
    show_problems([produced, consumed])
    if produced.value is not None:
        st.plotly_chart(
            charts.timeseries_chart(
                produced.value, ["broker", "topic"], "Produced per topic / queue", "messages/s"
            ),
            width="stretch",
        )
    if consumed.value is not None:
        st.plotly_chart(
            charts.timeseries_chart(
                consumed.value, ["broker", "group", "topic"], "Consumed per group", "messages/s"
            ),
            width="stretch",
        )


throughput()

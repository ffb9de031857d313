"""Throughput: produced per topic/queue and consumed per group, over time and now."""

import streamlit as st

from dashboard import charts, history
from dashboard.layout import choices_with_link, current_view, live, show_problems, table

view = current_view()
st.title("Throughput")
st.caption(
    f"Rates are per second: over {view.window} in the table, over "
    f"{history.compare_window(view.window)} in the charts (consumption is read from committed "
    "offsets, which move in bursts)."
)

ALL = "All topics / queues"
options = choices_with_link([ALL, *history.topic_options(view)], "topic")
chosen = st.selectbox("Topic / queue", options, key="topic", bind="query-params")
topic = None if chosen in (None, ALL) else str(chosen)


@live(view)
def throughput() -> None:
    now = history.rates_now(view, topic)
    show_problems([now])
    if now.value is not None and now.value.empty:
        st.info("No produce or consume counters in Prometheus yet.")
    elif now.value is not None:
        table(now.value)
    produced, consumed = history.throughput_history(view, topic)
    show_problems([produced, consumed])
    if produced.value is not None:
        st.altair_chart(
            charts.timeseries_chart(
                produced.value, ["broker", "topic"], "Produced per topic / queue", "messages/s"
            ),
            width="stretch",
        )
    if consumed.value is not None:
        st.altair_chart(
            charts.timeseries_chart(
                consumed.value, ["broker", "group", "topic"], "Consumed per group", "messages/s"
            ),
            width="stretch",
        )


throughput()

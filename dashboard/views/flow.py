"""Flow graph: services and topics/queues, edge rates and p95 hop latencies, by health."""

import streamlit as st

from dashboard import charts, panel_data
from dashboard.flow import nodes_table
from dashboard.layout import current_view, live, show_problems, table

view = current_view()
st.title("Flow graph")
st.caption(
    "Green: flowing · amber: slow hops or WARN · red: STALL / STOP / REWIND / ERR · "
    "grey: idle. Circles are services and consumer groups, squares topics and queues."
)


@live(view)
def flow() -> None:
    graph = panel_data.flow_graph(view)
    show_problems([graph])
    if graph.value is None:
        return
    if not graph.value.nodes:
        st.info("No flow yet: no traced events and no consumption in Prometheus.")
        return
    st.plotly_chart(charts.flow_figure(graph.value), width="stretch")
    table(nodes_table(graph.value), link="open")


flow()

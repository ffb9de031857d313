"""Flow graph: services and topics/queues, edge rates and p95 hop latencies, by health."""

import streamlit as st

from dashboard import charts, panel_data
from dashboard.flow import link_target, nodes_table
from dashboard.layout import SCRIPT_OF_PATH, current_view, live, show_problems, table

view = current_view()
st.title("Flow graph")
st.caption(
    "Green: flowing · amber: slow hops or WARN · red: STALL / STOP / REWIND / ERR · "
    "grey: idle. Circles are services and consumer groups, squares topics and queues, "
    "hexagons EventBridge buses and diamonds their rules (dashed: routing, red when failing)."
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
    event = st.plotly_chart(
        charts.flow_figure(graph.value),
        width="stretch",
        on_select="rerun",
        selection_mode="points",
        key="flow_graph",
    )
    clicked = [p.get("customdata") for p in event.selection.points if p.get("customdata")]
    target = link_target(str(clicked[0])) if clicked else None
    if target and target[0] in SCRIPT_OF_PATH:  # a click on a node opens its page
        st.switch_page(SCRIPT_OF_PATH[target[0]], query_params=target[1])
    st.caption("Click a node to open its page, or use the links below.")
    table(nodes_table(graph.value), link="open")


flow()

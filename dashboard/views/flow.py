"""Flow graph: services and topics/queues, edge rates and p95 hop latencies, by health."""

import streamlit as st

from dashboard import charts, panel_data
from dashboard.flow import link_target, nodes_table
from dashboard.layout import SCRIPT_OF_PATH, current_view, live, show_problems, table

DRAWN = "flow_plotly_loaded"
STATIC = {"staticPlot": True, "displayModeBar": False}

view = current_view()
st.title("Flow graph")
st.caption(
    "Green: flowing · amber: slow hops or WARN · red: STALL / STOP / REWIND / ERR · "
    "grey: idle. Circles are services and consumer groups, squares topics and queues, "
    "hexagons EventBridge buses and diamonds their rules (dashed: routing, red when failing)."
)


@live(view)
def flow() -> None:
    slot = st.empty()
    if not st.session_state.get(DRAWN):
        # A fresh page loads and compiles Streamlit's 4.7 MB plotly chunk when the first plotly
        # chart arrives: drawing an empty one before the queries overlaps that with them
        # (docs/benchmarks.md §4). Once per session: the tab keeps the chunk, and a refresh
        # must not blank the graph.
        slot.plotly_chart(charts.blank_flow_figure(), width="stretch", config=STATIC)
        st.session_state[DRAWN] = True
    graph = panel_data.flow_graph(view)
    show_problems([graph])
    if graph.value is None or not graph.value.nodes:
        slot.empty()  # no blank canvas left where the graph would be
        if graph.value is not None:
            st.info("No flow yet: no traced events and no consumption in Prometheus.")
        return
    event = slot.plotly_chart(
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

"""Chart builders: data in, chart out (Vega-Lite via Altair for time series, plotly for the flow
graph and the journey waterfall); they never call st.* (pages place them)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import altair as alt
import pandas as pd
import plotly.graph_objects as go

from dashboard.flow import FlowEdge, FlowGraph
from dashboard.flow_layout import layered_positions
from dashboard.shaping import top_series

HEALTH_COLOURS = {"ok": "#2e9e5b", "warn": "#e0a100", "bad": "#d64545", "idle": "#9aa0a6"}
# Lines per time-series chart before the rest is folded into one "others" line.
MAX_LINES = 10
KIND_COLOURS = {"event": "#4c78a8", "compensation": "#e0a100", "dlq": "#d64545"}


MARGIN = {"l": 10, "r": 10, "t": 40, "b": 10}  # plotly figures: room for the title only


def _layout(fig: go.Figure, title: str) -> go.Figure:
    fig.update_layout(
        title=title,
        margin=MARGIN,
        legend={"orientation": "h", "y": -0.2},
        hovermode="x unified",
    )
    return fig


# Time series are Vega-Lite (Altair, which Streamlit ships with), not plotly: a cold visit of a
# page with one plotly chart costs ~1 s more than the same page with a Vega-Lite chart, because
# Streamlit loads and compiles its 4.7 MB plotly chunk in every fresh page (0.8 MB for Vega's);
# docs/benchmarks.md §4. Plotly stays for the flow graph and the journey waterfall.
CHART_HEIGHT = 320
# Streamlit fits the whole chart, legend included, in its height: each legend row (two series
# side by side) is added to it, or 11 series would squeeze the plot to a 25 px strip.
LEGEND_ROW_PIXELS = 30


def chart_height(data: pd.DataFrame) -> int:
    """CHART_HEIGHT for the plot plus room for the legend of `data`'s series."""
    return CHART_HEIGHT + LEGEND_ROW_PIXELS * -(-data["series"].nunique() // 2)


# Vega's "tableau10" scheme, for the up to MAX_LINES named lines; the folded rest is grey.
PALETTE = ("#4c78a8", "#f58518", "#e45756", "#72b7b2", "#54a24b",
           "#eeca3b", "#b279a2", "#ff9da6", "#9d755d", "#bab0ac")  # fmt: skip
FOLDED = re.compile(r"^\d+ others \(")


def _lines(data: pd.DataFrame, y_title: str, dashed: bool = False) -> alt.LayerChart:
    """Lines of `value` over `time`, one per `series` (legend in the frame's order), y from zero
    (autoscale would magnify a flat 1.0000 ± 0.0002 line), and a tooltip on the nearest point.
    `dashed` draws the series whose `kind` is "produced" dashed."""
    order = list(dict.fromkeys(data["series"]))
    colours = [
        HEALTH_COLOURS["idle"] if FOLDED.match(name) else PALETTE[i % len(PALETTE)]
        for i, name in enumerate(order)
    ]  # Vega's own scheme has 10 colours: the 11th line, "N others", took the first one's blue
    encoding: dict[str, Any] = {
        "x": alt.X("time:T", title=None),
        "y": alt.Y("value:Q", title=y_title or None, scale=alt.Scale(zero=True)),
        "color": alt.Color(
            "series:N",
            title=None,
            sort=order,
            scale=alt.Scale(domain=order, range=colours) if order else alt.Undefined,
            legend=alt.Legend(orient="bottom", columns=2, labelLimit=400),
        ),
        "tooltip": [
            alt.Tooltip("series:N", title="series"),
            alt.Tooltip("time:T", title="time", format="%H:%M:%S"),
            alt.Tooltip("value:Q", title=y_title or "value", format=",.4~f"),
        ],
    }
    if dashed:
        encoding["strokeDash"] = alt.StrokeDash(
            "kind:N",
            title=None,
            scale=alt.Scale(domain=["consumed", "produced"], range=[[1, 0], [6, 4]]),
        )
    nearest = alt.selection_point(
        on="pointerover", nearest=True, fields=["series", "time"], empty=False
    )
    base = alt.Chart(data).encode(**encoding)
    return alt.LayerChart(
        layer=[
            base.mark_line(),
            base.mark_point(size=40, filled=True)
            .encode(opacity=alt.condition(nearest, alt.value(1), alt.value(0)))
            .add_params(nearest),
        ]
    )


def timeseries_chart(
    frame: pd.DataFrame,
    labels: Sequence[str],
    title: str,
    y_title: str,
    threshold: float | None = None,
    threshold_label: str = "threshold",
    max_lines: int = MAX_LINES,
    rest: str = "sum",
) -> alt.LayerChart:
    """One line per distinct combination of `labels` over `time` (the `max_lines` highest
    peaks, the rest folded into one line: see `shaping.top_series`), with an optional dashed
    horizontal threshold line (e.g. the group's `eventscope_lag_threshold_seconds`)."""
    if frame.empty:
        lines = pd.DataFrame(columns=["series", "time", "value"])
    else:
        lines = top_series(frame, labels, max_lines, rest)
        lines["series"] = lines["series"].map(lambda name: str(name) or "all")
    chart = _lines(lines, y_title)
    height = chart_height(lines)
    if threshold is None or threshold != threshold:
        return chart.properties(title=title, height=height)
    line = pd.DataFrame({"value": [threshold]})
    rule = alt.Chart(line).mark_rule(color=HEALTH_COLOURS["bad"], strokeDash=[6, 4])
    label = alt.Chart(line).mark_text(
        text=f"{threshold_label} {threshold:g}",
        align="left",
        baseline="bottom",
        dx=4,
        dy=-2,
        color=HEALTH_COLOURS["bad"],
    )
    return alt.LayerChart(
        layer=[chart, rule.encode(y="value:Q"), label.encode(y="value:Q", x=alt.value(0))]
    ).properties(title=title, height=height)


def rate_comparison_chart(
    consume: pd.DataFrame, produce: pd.DataFrame, title: str
) -> alt.LayerChart:
    """Consume vs produce rate per topic over time: produce dashed, consume solid. Lag grows
    exactly while the dashed line of a topic is above its solid one."""
    parts = [
        frame.assign(kind=kind, series=frame["topic"].astype(str) + f" {kind}")
        for frame, kind in ((produce, "produced"), (consume, "consumed"))
        if not frame.empty
    ]
    columns = ["series", "kind", "time", "value"]
    data = (
        pd.concat([p[columns] for p in parts], ignore_index=True)
        if parts
        else pd.DataFrame(columns=columns)
    )
    data = data.sort_values(["series"], kind="stable").reset_index(drop=True)
    height = chart_height(data) + LEGEND_ROW_PIXELS  # and the solid/dashed legend
    return _lines(data, "messages/s", dashed=True).properties(title=title, height=height)


NODE_SHAPES = (
    ("service", "circle", "services"),
    ("channel", "square", "topics / queues"),
    ("bus", "hexagon", "event buses"),
    ("rule", "diamond", "rules"),
)


# Size of an edge's arrowhead marker.
ARROW_PIXELS = 13
# Vertical pixels per row (50 past 20 rows): room for a node and its label above it.
ROW_PIXELS = 72
# Above this many edges, edges without event types show their rate on hover only.
LABELLED_EDGES = 40


def _wrap(name: str, width: int = 22) -> str:
    """A long node name broken after separators so that columns do not run into each other:
    "shop/inventory-service.dlq" -> "shop/inventory-service<br>.dlq" (width 22)."""
    if len(name) <= width:
        return name
    cut = max(name.rfind(sep, 0, width) for sep in "/.-_:")
    cut = cut if cut > 0 else width
    return name[:cut] + "<br>" + _wrap(name[cut:], width)


def _edge_text(edge: FlowEdge, show_rate: bool, sep: str = " · ") -> str:
    """Event types on one line, then rate and p95 hop latency (when known) on the next."""
    routed = bool(edge.relation)  # broker routing: configured, not measured; no rate
    p95 = edge.p95_seconds
    latency = f"p95 {p95:.2f} s" if p95 is not None and p95 == p95 else ""
    rate = f"{edge.rate:.2f}/s" if not routed and (edge.label or show_rate) else ""
    numbers = " · ".join(t for t in (rate, latency) if t)
    return sep.join(t for t in (edge.label, numbers) if t)


def _idle_trace(edge: FlowEdge) -> bool:
    """A traced path with no events in the rate window: consecutive hops of old journeys."""
    return bool(edge.label) and not edge.relation and not edge.rate > 0


def flow_figure(graph: FlowGraph) -> go.Figure:
    """Services (circles), topics/queues (squares), EventBridge buses (hexagons) and rules
    (diamonds) in columns left to right as events flow (`flow_layout`); edges coloured by
    health and labelled with event types, rate and p95 hop latency (broker routing dashed,
    without a rate); an edge that closes a cycle runs back below the drawing; a traced path
    idle in the rate window is left out. Every edge's numbers are also on hover at its
    middle. Built in one go: plotly's add_annotation copies every earlier annotation, so
    adding them one by one is quadratic (minutes at 100 groups)."""
    graph = FlowGraph(graph.nodes, tuple(e for e in graph.edges if not _idle_trace(e)))
    pos = layered_positions(graph)
    rows = 1 - min((y for _, y in pos.values()), default=0.0)
    bottom = 0.45 - rows
    pairs = {(e.source, e.target) for e in graph.edges}
    show_rate = len(graph.edges) <= LABELLED_EDGES
    traces: list[go.Scatter] = []
    notes: list[dict[str, object]] = []
    hover: tuple[list[float], list[float], list[str]] = ([], [], [])
    # one trace per (colour, width, dash), segments split by None: the browser draws a
    # hundred edges as a few paths instead of a hundred traces (the Flow page's cold visit)
    lines: dict[tuple[str, float, str], tuple[list[float | None], list[float | None], list[int]]]
    lines = {}
    back = 0
    for edge in graph.edges:
        if edge.source == edge.target or edge.source not in pos or edge.target not in pos:
            continue
        (x0, y0), (x1, y1) = pos[edge.source], pos[edge.target]
        if (edge.target, edge.source) in pairs:  # two-way: draw each direction apart
            shift = 0.1 if edge.source < edge.target else -0.1
            y0, y1 = y0 + shift, y1 + shift
        if x1 <= x0:  # closes a cycle: out to the right, back along the bottom, up into it
            back += 1
            dip = bottom - 0.3 * back
            xs, ys = [x0, x0 + 0.3, x1 - 0.3, x1], [y0, dip, dip, y1]
            mid = ((x0 + x1) / 2, dip)
        else:
            xs, ys = [x0, x1], [y0, y1]
            mid = (x0 + (x1 - x0) * 0.5, y0 + (y1 - y0) * 0.5)
        colour = HEALTH_COLOURS[edge.health]
        routed = bool(edge.relation)
        # width by rate in half-pixel steps, so edges of one look share one trace
        width = 1.5 if routed else round(2 * (1.5 + min(edge.rate, 50.0) / 10)) / 2
        look = (colour, width, "dash" if routed else "solid")
        line_xs, line_ys, heads = lines.setdefault(look, ([], [], []))
        line_xs.extend([*xs, None])
        line_ys.extend([*ys, None])
        heads.extend([*(0 for _ in xs[:-1]), ARROW_PIXELS, 0])  # an arrowhead at the end only
        text = _edge_text(edge, show_rate, "<br>")
        if text:  # hung below the line: node names sit above their nodes
            notes.append(
                dict(x=mid[0], y=mid[1], text=text, showarrow=False, font={"size": 10},
                     yanchor="top", yshift=-3, bgcolor="rgba(255,255,255,0.8)")
            )  # fmt: skip
        hover[0].append(mid[0])
        hover[1].append(mid[1])
        hover[2].append(f"{edge.source} → {edge.target}<br>{_edge_text(edge, True) or '—'}")
    for (colour, width, dash), (line_xs, line_ys, heads) in lines.items():
        traces.append(
            go.Scatter(
                x=line_xs,
                y=line_ys,
                mode="lines+markers",
                line={"color": colour, "width": width, "dash": dash},
                # arrowheads as markers turned along the last segment, stopping short of the
                # node: one path per look instead of an SVG annotation per edge
                marker={
                    "symbol": "arrow",
                    "angleref": "previous",
                    "size": heads,
                    "standoff": heads,  # the head stops at the node's rim; corners stay joined
                    "color": colour,
                },
                connectgaps=False,
                hoverinfo="skip",
                showlegend=False,
            )
        )
    traces.append(
        go.Scatter(
            x=hover[0],
            y=hover[1],
            mode="markers",
            marker={"size": 10, "opacity": 0},
            hovertext=hover[2],
            hoverinfo="text",
            showlegend=False,
        )
    )
    for kind, symbol, name in NODE_SHAPES:
        nodes = [n for n in graph.nodes if n.kind == kind and n.id in pos]
        if not nodes:
            continue
        traces.append(
            go.Scatter(
                x=[pos[n.id][0] for n in nodes],
                y=[pos[n.id][1] for n in nodes],
                mode="markers+text",
                text=[n.id for n in nodes],
                texttemplate=[_wrap(n.id) for n in nodes],
                textposition="top center",
                textfont={"size": 11},
                marker={
                    "size": 22,
                    "symbol": symbol,
                    "color": [HEALTH_COLOURS[n.health] for n in nodes],
                    "line": {"width": 1, "color": "#333"},
                },
                customdata=[n.link for n in nodes],
                hovertemplate="%{text}<br>%{customdata}<extra></extra>",
                name=name,
            )
        )
    fig = go.Figure(data=traces)
    columns = max((x for x, _ in pos.values()), default=0.0)
    fig.update_xaxes(visible=False, range=[-0.45, columns + 0.45])
    fig.update_yaxes(visible=False, range=[bottom - 0.3 * back - 0.25, 0.6])
    fig.update_layout(
        title="Service flow",
        annotations=notes,
        margin=MARGIN,
        height=max(380, int((ROW_PIXELS if rows <= 20 else 50) * (rows + 1 + 0.3 * back)) + 60),
        showlegend=False,  # the page caption explains shapes and colours
        hovermode="closest",
    )
    return fig


def blank_flow_figure() -> go.Figure:
    """An empty canvas the size of a small flow graph, drawn before the graph's data is
    loaded: its plotly chunk then loads while Prometheus answers (see views/flow.py)."""
    fig = go.Figure()
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(title="Service flow", margin=MARGIN, height=380)
    return fig


def journey_waterfall(rows: pd.DataFrame, correlation_id: str) -> go.Figure:
    """One bar per hop from produce to its last pickup (a thin mark when nobody picked it up),
    coloured by kind (event, compensation, DLQ); diamonds mark each first pickup."""
    fig = go.Figure()
    if rows.empty:
        return _layout(fig, f"Journey {correlation_id}")
    labels = [f"{r.step}. {r.event_type} ({r.service})" for r in rows.itertuples()]
    for kind, colour in KIND_COLOURS.items():
        part = rows[rows["kind"] == kind]
        if part.empty:
            continue
        ys = [labels[i] for i in part.index]
        starts = part["produced_at"]
        ends = part["last_pickup_at"].where(part["last_pickup_at"].notna(), starts)
        widths = [
            max((e - s).total_seconds() * 1000, 5.0) for s, e in zip(starts, ends, strict=True)
        ]
        fig.add_trace(
            go.Bar(
                y=ys,
                x=widths,
                base=starts,
                orientation="h",
                marker_color=colour,
                name=kind,
                customdata=part[["source", "consumers", "dlq_reason"]].to_numpy(),
                hovertemplate="%{y}<br>on %{customdata[0]}<br>picked up by %{customdata[1]}"
                "<br>%{customdata[2]}<extra></extra>",
            )
        )
    picked = rows[rows["first_pickup_at"].notna()]
    if not picked.empty:
        fig.add_trace(
            go.Scatter(
                x=picked["first_pickup_at"],
                y=[labels[i] for i in picked.index],
                mode="markers",
                marker={"symbol": "diamond", "size": 9, "color": "#333"},
                name="first pickup",
            )
        )
    fig.update_xaxes(type="date")
    fig.update_yaxes(autorange="reversed", categoryorder="array", categoryarray=labels)
    fig.update_layout(barmode="overlay", height=max(260, 48 * len(rows) + 120))
    return _layout(fig, f"Journey {correlation_id}")

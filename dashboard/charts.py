"""Plotly figure builders: data in, figure out; they never call st.* (pages place them)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go

from dashboard.flow import FlowGraph
from dashboard.flow_layout import layered_positions
from dashboard.shaping import top_series

HEALTH_COLOURS = {"ok": "#2e9e5b", "warn": "#e0a100", "bad": "#d64545", "idle": "#9aa0a6"}
# Lines per time-series chart before the rest is folded into one "others" line.
MAX_LINES = 10
KIND_COLOURS = {"event": "#4c78a8", "compensation": "#e0a100", "dlq": "#d64545"}


def _layout(fig: go.Figure, title: str, y_title: str = "") -> go.Figure:
    fig.update_layout(
        title=title,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        legend={"orientation": "h", "y": -0.2},
        yaxis_title=y_title,
        hovermode="x unified",
    )
    # counts and rates start at zero: autoscale would magnify a flat 1.0000 ± 0.0002 line
    fig.update_yaxes(rangemode="tozero")
    return fig


def timeseries_chart(
    frame: pd.DataFrame,
    labels: Sequence[str],
    title: str,
    y_title: str,
    threshold: float | None = None,
    threshold_label: str = "threshold",
    max_lines: int = MAX_LINES,
    rest: str = "sum",
) -> go.Figure:
    """One line per distinct combination of `labels` over `time` (the `max_lines` highest
    peaks, the rest folded into one line: see `shaping.top_series`), with an optional dashed
    horizontal threshold line (e.g. the group's `eventscope_lag_threshold_seconds`)."""
    traces = []
    if not frame.empty:
        lines = top_series(frame, labels, max_lines, rest)
        for name, part in lines.groupby("series", sort=False):
            traces.append(
                go.Scatter(x=part["time"], y=part["value"], mode="lines", name=str(name) or "all")
            )
    fig = go.Figure(data=traces)
    if threshold is not None and threshold == threshold:
        fig.add_hline(
            y=threshold,
            line_dash="dash",
            line_color=HEALTH_COLOURS["bad"],
            annotation_text=f"{threshold_label} {threshold:g}",
            annotation_position="top left",
        )
    return _layout(fig, title, y_title)


def rate_comparison_chart(consume: pd.DataFrame, produce: pd.DataFrame, title: str) -> go.Figure:
    """Consume vs produce rate per topic over time: produce dashed, consume solid. Lag grows
    exactly while the dashed line of a topic is above its solid one."""
    fig = go.Figure()
    for frame, what, dash in ((produce, "produced", "dash"), (consume, "consumed", "solid")):
        for topic, part in frame.groupby("topic", sort=True):
            fig.add_trace(
                go.Scatter(
                    x=part["time"],
                    y=part["value"],
                    mode="lines",
                    name=f"{topic} {what}",
                    line={"dash": dash},
                )
            )
    return _layout(fig, title, "messages/s")


NODE_SHAPES = (
    ("service", "circle", "services"),
    ("channel", "square", "topics / queues"),
    ("bus", "hexagon", "event buses"),
    ("rule", "diamond", "rules"),
)


def flow_figure(graph: FlowGraph) -> go.Figure:
    """Services (circles), topics/queues (squares), EventBridge buses (hexagons) and rules
    (diamonds) placed left to right by flow; edges are coloured by health and labelled with
    event types (or rate) and p95 hop latency; broker routing is dashed, without a rate."""
    pos = layered_positions(graph)
    fig = go.Figure()
    pairs = {(e.source, e.target) for e in graph.edges}
    for edge in graph.edges:
        (x0, y0), (x1, y1) = pos[edge.source], pos[edge.target]
        if (edge.target, edge.source) in pairs:  # two-way: draw each direction apart
            shift = 0.08 if edge.source < edge.target else -0.08
            y0, y1 = y0 + shift, y1 + shift
        routed = bool(edge.relation)  # broker routing: configured, not measured; no rate
        width = 1.5 if routed else 1.5 + min(edge.rate, 50.0) / 10
        fig.add_trace(
            go.Scatter(
                x=[x0, x1],
                y=[y0, y1],
                mode="lines",
                line={
                    "color": HEALTH_COLOURS[edge.health],
                    "width": width,
                    "dash": "dash" if routed else "solid",
                },
                hoverinfo="skip",
                showlegend=False,
            )
        )
        fig.add_annotation(
            x=x1,
            y=y1,
            ax=x0,
            ay=y0,
            xref="x",
            yref="y",
            axref="x",
            ayref="y",
            showarrow=True,
            arrowhead=3,
            arrowsize=1.2,
            arrowcolor=HEALTH_COLOURS[edge.health],
            standoff=14,
            startstandoff=14,
            text="",
        )
        latency = f"p95 {edge.p95_seconds:.2f} s" if edge.p95_seconds is not None else ""
        texts = (edge.label,) if routed else (edge.label, f"{edge.rate:.2f}/s", latency)
        # nearer the target than the middle: edges that fan out of one node keep apart labels
        fig.add_annotation(
            x=x0 + (x1 - x0) * 0.65,
            y=y0 + (y1 - y0) * 0.65,
            text=" · ".join(t for t in texts if t),
            showarrow=False,
            font={"size": 10},
            bgcolor="rgba(255,255,255,0.7)",
        )
    for kind, symbol, name in NODE_SHAPES:
        nodes = [n for n in graph.nodes if n.kind == kind]
        if not nodes:
            continue
        fig.add_trace(
            go.Scatter(
                x=[pos[n.id][0] for n in nodes],
                y=[pos[n.id][1] for n in nodes],
                mode="markers+text",
                text=[n.id for n in nodes],
                textposition="top center",
                marker={
                    "size": 26,
                    "symbol": symbol,
                    "color": [HEALTH_COLOURS[n.health] for n in nodes],
                    "line": {"width": 1, "color": "#333"},
                },
                customdata=[n.link for n in nodes],
                hovertemplate="%{text}<br>%{customdata}<extra></extra>",
                name=name,
            )
        )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(
        title="Service flow",
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        height=max(380, 110 * _tallest_layer(pos)),
        showlegend=False,  # the page caption explains shapes and colours
    )
    return fig


def _tallest_layer(pos: dict[str, tuple[float, float]]) -> int:
    per_layer: dict[float, int] = {}
    for x, _ in pos.values():
        per_layer[x] = per_layer.get(x, 0) + 1
    return max(per_layer.values(), default=1)


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
    return _layout(fig, f"Journey {correlation_id}", "")

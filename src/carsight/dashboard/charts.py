"""Plotly figures for the dashboard.

Every chart gets a title, axis titles with units and the served Korean font, so Hangul labels render
on a machine without a Korean font.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from carsight.dashboard.fonts import FONT_STACK

COLORS = ("#1f4e79", "#e07b39", "#3c9d5d", "#b5403a", "#7a5aa6", "#8c6d46", "#d16ba5", "#6b6b6b")


def style(fig: go.Figure, title: str, x: str | None = None, y: str | None = None, *, height: int = 380) -> go.Figure:
    """Give a chart the house title, font, template, height and axis titles."""
    fig.update_layout(
        title={"text": title, "x": 0.0, "xanchor": "left"},
        font={"family": FONT_STACK, "size": 13},
        template="plotly_white",
        height=height,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1.0},
        colorway=list(COLORS),
    )
    if x is not None:
        fig.update_xaxes(title_text=x)
    if y is not None:
        fig.update_yaxes(title_text=y)
    return fig


def show(fig: go.Figure, key: str | None = None) -> None:
    # theme=None keeps our font and colours; Streamlit's theme would replace the font family.
    """Show a chart with the served Korean font (not Streamlit's theme)."""
    st.plotly_chart(fig, theme=None, width="stretch", key=key, config={"displaylogo": False})


def bars(
    frame: pd.DataFrame,
    x: str,
    y: str,
    title: str,
    x_label: str,
    y_label: str,
    *,
    horizontal=False,
    color=None,
    text_fmt=None,
) -> go.Figure:
    """A bar chart of ``y`` by ``x`` (horizontal: the longest bar at the top)."""
    if horizontal:
        trace = go.Bar(x=frame[y], y=frame[x], orientation="h", marker_color=color or COLORS[0])
        fig = go.Figure(trace)
        fig.update_yaxes(autorange="reversed")
        style(fig, title, y_label, x_label, height=max(300, 24 * len(frame) + 90))
    else:
        fig = go.Figure(go.Bar(x=frame[x], y=frame[y], marker_color=color or COLORS[0]))
        style(fig, title, x_label, y_label)
    if text_fmt:
        fig.update_traces(texttemplate=text_fmt, textposition="outside", cliponaxis=False)
    return fig


def lines(
    frame: pd.DataFrame, x: str, ys: dict[str, str], title: str, x_label: str, y_label: str, *, markers=True
) -> go.Figure:
    """``ys`` maps a column to its legend label."""
    fig = go.Figure()
    for i, (column, label) in enumerate(ys.items()):
        fig.add_trace(
            go.Scatter(
                x=frame[x],
                y=frame[column],
                name=label,
                mode="lines+markers" if markers else "lines",
                line={"color": COLORS[i % len(COLORS)]},
            )
        )
    return style(fig, title, x_label, y_label)


def grouped_lines(frame: pd.DataFrame, x: str, y: str, group: str, title: str, x_label: str, y_label: str) -> go.Figure:
    """One line per ``group`` of ``y`` over ``x``."""
    fig = go.Figure()
    for i, (name, part) in enumerate(frame.groupby(group, sort=True)):
        part = part.sort_values(x)
        fig.add_trace(
            go.Scatter(
                x=part[x], y=part[y], name=str(name), mode="lines+markers", line={"color": COLORS[i % len(COLORS)]}
            )
        )
    return style(fig, title, x_label, y_label)


def heatmap(
    matrix: pd.DataFrame,
    title: str,
    x_label: str,
    y_label: str,
    value_label: str,
    *,
    fmt: str = ",.0f",
    diverging=False,
) -> go.Figure:
    """A heatmap of a matrix with its values written in the cells."""
    z = matrix.to_numpy(dtype="float64")
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[str(c) for c in matrix.columns],
            y=[str(i) for i in matrix.index],
            colorscale="RdBu_r" if diverging else "Blues",
            zmid=0 if diverging else None,
            colorbar={"title": {"text": value_label}},
            hovertemplate=f"%{{y}} · %{{x}}: %{{z:{fmt}}}<extra></extra>",
            texttemplate=f"%{{z:{fmt}}}" if z.size <= 300 else None,
        )
    )
    style(fig, title, x_label, y_label, height=max(320, 28 * len(matrix) + 140))
    fig.update_yaxes(autorange="reversed")
    return fig


def forecast(
    history: pd.DataFrame, future: pd.DataFrame, title: str, x_label: str, y_label: str, labels: dict[str, str]
) -> go.Figure:
    """Actuals (``ds``, ``y``) and a forecast (``ds``, ``mean``, optional ``lo_80``…``hi_95``) with bands."""
    fig = go.Figure()
    for level, alpha in (("95", 0.15), ("80", 0.3)):
        lo, hi = f"lo_{level}", f"hi_{level}"
        if lo in future and hi in future and future[lo].notna().any():
            fig.add_trace(
                go.Scatter(
                    x=pd.concat([future.ds, future.ds[::-1]]),
                    y=pd.concat([future[hi], future[lo][::-1]]),
                    fill="toself",
                    fillcolor=f"rgba(224,123,57,{alpha})",
                    line={"width": 0},
                    name=labels.get(level, f"{level}%"),
                    hoverinfo="skip",
                )
            )
    fig.add_trace(
        go.Scatter(
            x=history.ds,
            y=history.y,
            name=labels.get("actual", "actual"),
            mode="lines+markers",
            line={"color": COLORS[0]},
        )
    )
    fig.add_trace(
        go.Scatter(
            x=future.ds,
            y=future["mean"],
            name=labels.get("forecast", "forecast"),
            mode="lines+markers",
            line={"color": COLORS[1], "dash": "dash"},
        )
    )
    return style(fig, title, x_label, y_label)

"""Report charts.

Matplotlib figures with the bundled Korean font, embedded as PNG data URIs so a report is one
self-contained file.
"""

from __future__ import annotations

import base64
import io

import pandas as pd

from carsight.assets import use_korean_font_in_matplotlib

_COLOURS = ("#1f4e79", "#e07b39", "#5b9e5b", "#9467bd", "#8c8c8c")


def render(chart: dict, labels: dict[str, str], title: str) -> str:
    """A data URI of the chart described by ``chart`` (kind, frame, x, y, highlight)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    use_korean_font_in_matplotlib()
    frame: pd.DataFrame = chart["frame"]
    x, ys = chart["x"], chart["y"]
    fig, ax = plt.subplots(figsize=(7.2, 2.8), dpi=130)
    try:
        if chart["kind"] == "barh":
            ax.barh(frame[x].astype(str), frame[ys[0]], color=_COLOURS[0])
            ax.invert_yaxis()
        elif chart["kind"] == "stacked":
            bottom = None
            for colour, y in zip(_COLOURS, ys, strict=False):
                ax.bar(frame[x], frame[y], bottom=bottom, color=colour, label=labels.get(y, y))
                bottom = frame[y] if bottom is None else bottom + frame[y]
            ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        else:
            colours = [_COLOURS[1] if v == chart.get("highlight") else _COLOURS[0] for v in frame[x]]
            ax.bar(frame[x], frame[ys[0]], color=colours)
        ax.set_title(title, fontsize=10, loc="left")
        ax.spines[["top", "right"]].set_visible(False)
        ax.tick_params(axis="both", labelsize=7)
        if chart["kind"] != "barh":
            for label in ax.get_xticklabels():
                label.set_rotation(45)
                label.set_ha("right")
        # Thousands separators on the value axis only (the other one holds category names).
        value_axis = ax.xaxis if chart["kind"] == "barh" else ax.yaxis
        value_axis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
    finally:
        plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")

"""Altair charts of decision support (no Streamlit calls here).

:func:`waterfall_chart` draws the steps of :func:`simulator.decision.waterfall_data`: the start
share and the end share as full bars, each term (inertia, recruitment, attrition, promotion) as a
floating bar from the level before it to the level after it, green for a rise and red for a fall.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import altair as alt
import pandas as pd

RISE, FALL, LEVEL = "#2e7d32", "#c62828", "#546e7a"
#: Vega expression: a label with " (" on two lines, the bracket starting the second.
WRAP = (
    "indexof(datum.label, ' (') > 0 ? [slice(datum.label, 0, indexof(datum.label, ' (')), "
    "slice(datum.label, indexof(datum.label, ' (') + 1)] : datum.label"
)


def waterfall_frame(steps: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per step: label, order, low/high edges in percent, colour key, text."""
    rows = []
    for i, st in enumerate(steps):
        start, end = 100 * float(st["start"]), 100 * float(st["end"])
        if st["kind"] == "level":
            kind, text = "level", f"{end:.1f} %"
        else:
            kind = "rise" if end >= start else "fall"
            text = f"{end - start:+.1f} pp"
        rows.append(
            {
                "order": i,
                "label": st["label"],
                "low": min(start, end),
                "high": max(start, end),
                "kind": kind,
                "text": text,
            }
        )
    return pd.DataFrame(rows)


def waterfall_chart(steps: Sequence[Mapping[str, Any]], title: str | None = None) -> alt.Chart:
    """A waterfall chart (Altair layer of bars and labels) of decomposition steps."""
    frame = waterfall_frame(steps)
    order = list(frame["label"])
    colour = alt.Color(
        "kind:N",
        scale=alt.Scale(domain=["level", "rise", "fall"], range=[LEVEL, RISE, FALL]),
        legend=None,
    )
    # Horizontal labels, a long one on two lines ("inertia" / "(starting structure)"): rotated
    # or cut, they were unreadable.
    axis = alt.Axis(labelAngle=0, labelLimit=0, labelExpr=WRAP)
    base = alt.Chart(frame).encode(x=alt.X("label:N", sort=order, title=None, axis=axis))
    bars = base.mark_bar().encode(
        y=alt.Y("low:Q", title="women's share (%)"),
        y2="high:Q",
        color=colour,
        tooltip=["label", "text"],
    )
    labels = base.mark_text(dy=-6).encode(y="high:Q", text="text:N")
    chart = alt.layer(bars, labels)
    if title:
        chart = chart.properties(title=title)
    return chart

"""How customers moved between RFM segments: the from x to matrix and the biggest moves."""

from __future__ import annotations

import pandas as pd

from regulars.analysis import StoreAnalysis
from regulars.report._html import Section, complete, empty, figure, paragraph, table
from regulars.report.charts import heatmap
from regulars.report.format import fmt_count, fmt_date, fmt_pct
from regulars.report.sections.rfm import order_segments

__all__ = ["TOP_MOVES", "render"]

TOP_MOVES = 10
"""How many of the largest moves between different segments are listed."""


def render(analysis: StoreAnalysis) -> Section:
    """Return the transitions section."""
    title = "Moves between segments"
    columns = ["from_segment", "to_segment", "customers"]
    frame = complete(analysis.rfm_transitions, columns, ["from_segment", "to_segment"])
    if frame is None:
        return Section(
            "transitions",
            title,
            empty("No transitions to show: they need customers scored at two dates."),
        )
    frame = frame.astype({"from_segment": str, "to_segment": str})
    since = fmt_date(analysis.transition_from) if analysis.transition_from else "the earlier date"
    names = order_segments(list(frame["from_segment"]) + list(frame["to_segment"]))
    wide = frame.pivot_table(
        index="from_segment", columns="to_segment", values="customers", aggfunc="sum"
    ).reindex(index=names, columns=names)
    values = [[None if pd.isna(v) else float(v) for v in row] for row in wide.to_numpy()]
    svg = heatmap(
        "rfm-transitions",
        names,
        names,
        values,
        title=f"Customers by segment on {since} (rows) and on {fmt_date(analysis.as_of)}",
        x_label=f"Segment on {fmt_date(analysis.as_of)}",
        y_label=f"Segment on {since}",
        value_format=fmt_count,
        legend_label="Customers",
    )
    totals = frame.groupby("from_segment")["customers"].sum()
    moves = frame[frame["from_segment"] != frame["to_segment"]]
    moves = moves.sort_values("customers", ascending=False).head(TOP_MOVES)
    rows = [
        [
            str(m.from_segment),
            str(m.to_segment),
            fmt_count(m.customers),
            fmt_pct(float(m.customers) / float(totals[m.from_segment])),
        ]
        for m in moves.itertuples()
    ]
    body = paragraph(
        f"Where the customers of each segment on {since} were on {fmt_date(analysis.as_of)}. "
        "The diagonal is customers who stayed put."
    ) + figure(svg, "Customers moving from the row's segment to the column's segment.")
    if rows:
        headers = ["From", "To", "Customers", "Share of the 'from' segment"]
        body += "<h3>Largest moves</h3>" + table(headers, rows, numeric=[False, False, True, True])
    else:
        body += empty("Every customer stayed in the same segment.")
    return Section("transitions", title, body)

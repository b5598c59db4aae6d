"""RFM: the recency x frequency grid and the named segments with sizes and revenue."""

from __future__ import annotations

import pandas as pd

from regulars.analysis import StoreAnalysis
from regulars.report._html import (
    Section,
    complete,
    empty,
    figure,
    paragraph,
    rows_of,
    table,
    usable,
)
from regulars.report.charts import heatmap
from regulars.report.format import fmt_count, fmt_days, fmt_money, fmt_number, fmt_pct
from regulars.report.sections.actions import SEGMENT_ORDER

__all__ = ["order_segments", "render"]


def order_segments(names: list[str]) -> list[str]:
    """Sort segment names best first (the known RFM names), unknown names after."""
    rank = {name: i for i, name in enumerate(SEGMENT_ORDER)}
    return sorted(dict.fromkeys(names), key=lambda n: (rank.get(n, len(rank)), n))


def _grid(analysis: StoreAnalysis) -> str:
    frame = complete(analysis.rfm_grid, ["r_score", "f_score", "customers"], ["r_score", "f_score"])
    if frame is None:
        return empty("No customers scored yet: no RFM grid to draw.")
    wide = frame.pivot_table(index="r_score", columns="f_score", values="customers", aggfunc="sum")
    r_scores = sorted({int(r) for r in frame["r_score"]} | set(range(1, 6)), reverse=True)
    f_scores = sorted({int(f) for f in frame["f_score"]} | set(range(1, 6)))
    wide = wide.reindex(index=r_scores, columns=f_scores)
    values = [[None if pd.isna(v) else float(v) for v in row] for row in wide.to_numpy()]
    svg = heatmap(
        "rfm-grid",
        [f"R{r}" for r in r_scores],
        [f"F{f}" for f in f_scores],
        values,
        title="Customers by recency score and frequency score",
        x_label="Frequency score (5 = most orders)",
        y_label="Recency score (5 = most recent)",
        value_format=fmt_count,
        legend_label="Customers",
        width=560,
        cell_height=44,
    )
    return figure(svg, "Customers in each recency x frequency cell; best customers top right.")


def _segments(analysis: StoreAnalysis) -> str:
    frame = analysis.rfm_segments
    if not usable(frame, ["segment", "customers"]):
        return empty("No customers scored yet: no RFM segments.")
    rows_by_name = {str(r["segment"]): r for r in rows_of(frame)}
    total = float(frame["customers"].sum()) or 1.0
    money = analysis.currency
    rows = []
    for name in order_segments(list(rows_by_name)):
        r = rows_by_name[name]
        rows.append(
            [
                name,
                fmt_count(r["customers"]),
                fmt_pct(float(r["customers"]) / total),  # type: ignore[arg-type]
                fmt_money(r.get("revenue"), money),
                fmt_pct(r.get("revenue_share")),
                fmt_days(r.get("recency_days")),
                fmt_number(r.get("orders"), 1),
            ]
        )
    headers = [
        "Segment",
        "Customers",
        "Share of customers",
        "Revenue",
        "Share of revenue",
        "Days since last order (mean)",
        "Orders (mean)",
    ]
    return "<h3>Segments</h3>" + table(headers, rows)


def render(analysis: StoreAnalysis) -> Section:
    """Return the RFM section: the grid and the segment table."""
    intro = paragraph(
        "Each customer gets a score from 1 to 5 for recency (how lately they ordered), "
        "frequency (how often) and monetary value (how much); the named segments group the "
        "scores into customers to reward, nurture or win back."
    )
    return Section("rfm", "RFM segments", intro + _grid(analysis) + _segments(analysis))

"""The store's declared segments: description, size and revenue."""

from __future__ import annotations

from regulars.analysis import StoreAnalysis
from regulars.report._html import Section, empty, rows_of, table, usable
from regulars.report.format import fmt_count, fmt_money

__all__ = ["render"]


def render(analysis: StoreAnalysis) -> Section:
    """Return the declared segments section (a table)."""
    title = "Declared segments"
    frame = analysis.segments
    if not usable(frame, ["segment", "customers"]):
        return Section("segments", title, empty("No segments declared for this store."))
    rows = [
        [
            str(r["segment"]),
            str(r.get("description") or ""),
            fmt_count(r["customers"]),
            fmt_money(r.get("revenue"), analysis.currency),
        ]
        for r in rows_of(frame)
    ]
    headers = ["Segment", "Description", "Customers", "Revenue"]
    return Section("segments", title, table(headers, rows, numeric=[False, False, True, True]))

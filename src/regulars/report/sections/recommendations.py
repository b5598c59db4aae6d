"""What your customers will buy next: top products per RFM segment, and how much is rebought.

The section reads :class:`~regulars.analysis.RecommendationSummary`; it is left out of the
report when recommendations were not computed, and says why when there are none.
"""

from __future__ import annotations

from regulars.analysis import StoreAnalysis
from regulars.recommend.summary import RecommendationSummary
from regulars.report._html import Section, empty, paragraph, rows_of, table, usable
from regulars.report._svg import esc
from regulars.report.format import fmt_count, fmt_pct, is_missing

__all__ = ["REASON_LABELS", "SEGMENTS_SHOWN", "render"]

SEGMENTS_SHOWN = 6
"""The largest segments shown (all are in ``--json``)."""

REASON_LABELS: dict[str, tuple[str, str]] = {
    "buy_again": ("Buy again", "bought before by the customer"),
    "cross_sell": (
        "Cross-sell",
        "not bought yet; goes with what they bought, or with what customers like them bought",
    ),
    "category": ("Category best seller", "a best seller of their favourite category"),
    "popular": ("Popular", "a best seller or a trending product"),
}
"""Each reason a product is recommended: its label and what it means."""

TITLE = "What your customers will buy next"


def _store(r: RecommendationSummary) -> str:
    intro = paragraph(
        f"Each of the {fmt_count(r.customers)} customers who bought products gets the {r.k} "
        f"products they are most likely to buy next. How they are ranked: {r.ranker} "
        f"({r.ranker_reason})."
    )
    observed = (
        f"in their latest basket, the {fmt_count(r.observed_customers)} customers with two or "
        f"more baskets had bought {fmt_pct(r.observed_repeat_ratio)} of the products before "
        "(observed repeat ratio)."
        if r.observed_repeat_ratio is not None
        else "no customer has two baskets yet, so the observed repeat ratio is unknown."
    )
    ratios = paragraph(
        f"{fmt_pct(r.repeat_ratio)} of the recommendations are products the customer bought "
        f"before (recommended repeat ratio); {observed}"
    )
    total = sum(r.reasons.values())
    rows = [
        [label, meaning, fmt_count(r.reasons.get(reason, 0)), fmt_pct(_share(r, reason, total))]
        for reason, (label, meaning) in REASON_LABELS.items()
    ]
    reasons = "<h3>Why these products</h3>" + table(
        ["Reason", "What it means", "Recommendations", "Share"],
        rows,
        numeric=[False, False, True, True],
    )
    return intro + ratios + reasons


def _share(r: RecommendationSummary, reason: str, total: int) -> float | None:
    return r.reasons.get(reason, 0) / total if total else None


def _segments(r: RecommendationSummary) -> str:
    if not usable(r.segments, ["segment", "customers", "recommended_customers"]):
        return empty("No RFM segment to show.")
    shown = r.segments.head(SEGMENTS_SHOWN)
    rows = [
        [
            str(s["segment"]),
            fmt_count(s["customers"]),
            fmt_count(s["recommended_customers"]),
            fmt_pct(s.get("repeat_ratio")),
        ]
        for s in rows_of(shown)
    ]
    html = "<h3>By RFM segment</h3>" + paragraph(
        f"The {len(shown)} largest RFM segments (all {len(r.segments)} are in --json). "
        "Repeat ratio: the share of the segment's recommendations that are buy-again."
    )
    html += table(["Segment", "Customers", "With recommendations", "Repeat ratio"], rows)
    html += paragraph(
        f"Per segment, its {_top_n(r)} most recommended products and how many of its customers "
        f"have each among their {r.k} recommendations (share: of the segment's customers with "
        "recommendations)."
    )
    for s in rows_of(shown):
        html += _top_products(r, str(s["segment"]), s)
    return html


def _top_n(r: RecommendationSummary) -> int:
    if not usable(r.top_products, ["rank"]):
        return 0
    return int(r.top_products["rank"].max())


def _top_products(r: RecommendationSummary, segment: str, s: dict[str, object]) -> str:
    heading = (
        f'<h3><span class="segment">{esc(segment)}</span>'
        f'<span class="size">{fmt_count(s["customers"])} customers, repeat ratio '
        f"{fmt_pct(s.get('repeat_ratio'))}</span></h3>"
    )
    top = r.top_products
    if not usable(top, ["segment", "rank", "product_id", "customers", "share"]):
        return heading + empty("No recommendation for this segment.")
    mine = top[top["segment"] == segment].sort_values("rank")
    if mine.empty:
        return heading + empty("No recommendation for this segment.")
    rows = [
        [
            str(p["rank"]),
            _text(p.get("name"), p["product_id"]),
            _text(p.get("category"), "–"),
            fmt_count(p["customers"]),
            fmt_pct(p["share"]),
        ]
        for p in rows_of(mine)
    ]
    headers = ["#", "Product", "Category", f"Customers with it in their top {r.k}", "Share"]
    return heading + table(headers, rows, numeric=[True, False, False, True, True])


def _text(value: object, default: object) -> str:
    return str(default) if is_missing(value) or value == "" else str(value)


def render(analysis: StoreAnalysis) -> Section | None:
    """Return the recommendations section, or None when they were not computed."""
    r = analysis.recommendations
    if r is None:
        return None
    if r.unavailable is not None:
        return Section("recommendations", TITLE, empty(f"No recommendations: {r.unavailable}"))
    return Section("recommendations", TITLE, _store(r) + _segments(r))

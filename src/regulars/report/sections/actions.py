"""What to do with each RFM segment: whom to reward, whom to nurture, whom to win back."""

from __future__ import annotations

from regulars.analysis import StoreAnalysis
from regulars.report._html import Section, paragraph, rows_of, usable
from regulars.report._svg import esc
from regulars.report.format import fmt_count, fmt_pct

__all__ = ["ADVICE", "GROUPS", "SEGMENT_ORDER", "render"]

GROUPS: dict[str, tuple[str, ...]] = {
    "Reward": ("Champions", "Loyal"),
    "Nurture": ("Potential loyalist", "New customers", "Promising"),
    "Win back": (
        "Can't lose them",
        "At risk",
        "Need attention",
        "About to sleep",
        "Hibernating",
        "Lost",
    ),
}
"""The three things to do, and the RFM segments each applies to (most valuable first)."""

SEGMENT_ORDER: tuple[str, ...] = (
    "Champions",
    "Loyal",
    "Potential loyalist",
    "New customers",
    "Promising",
    "Need attention",
    "About to sleep",
    "At risk",
    "Can't lose them",
    "Hibernating",
    "Lost",
)
"""The named RFM segments, from the best customers to the lost ones."""

ADVICE: dict[str, str] = {
    "Champions": "Bought recently, buy often and spend the most. Reward them: early access, "
    "loyalty perks, a thank-you; ask for reviews and referrals. They need no discount.",
    "Loyal": "Buy regularly and respond to you. Keep them close with points and member "
    "offers, and suggest higher-value products.",
    "Potential loyalist": "Recent customers with more than one order. Offer the loyalty "
    "programme and recommendations that fit what they bought, so the habit sticks.",
    "New customers": "Made their first order recently. Welcome them, help them use what "
    "they bought, and give a reason for the second order, the hardest one to get.",
    "Promising": "Recent, but few orders and small baskets. Show them the range and give a "
    "small incentive for the next order.",
    "Need attention": "Above average on recency, frequency and spend, but slipping. Send a "
    "personal, time-limited offer based on what they bought before.",
    "About to sleep": "Below average and not seen lately. Reconnect with best-sellers and a "
    "modest discount before they drift away.",
    "At risk": "Spent a lot and bought often, but long ago. Win them back with personal "
    "messages and a strong offer, and ask what went wrong.",
    "Can't lose them": "Among your biggest customers once, now quiet. Win them back first: "
    "a personal approach, your best offer, news they will care about.",
    "Hibernating": "Few, small orders, long ago. Include them in low-cost campaigns only.",
    "Lost": "The lowest recency, frequency and spend. Try one reactivation campaign, then "
    "leave them out of paid campaigns.",
}
"""One or two sentences of advice per named RFM segment."""


def render(analysis: StoreAnalysis) -> Section:
    """Return the "what to do" section: advice per segment, with each segment's size."""
    sizes: dict[str, dict[str, object]] = {}
    total = 0.0
    if usable(analysis.rfm_segments, ["segment", "customers"]):
        sizes = {str(r["segment"]): r for r in rows_of(analysis.rfm_segments)}
        total = float(analysis.rfm_segments["customers"].sum())
    parts = [
        paragraph(
            "Reward the best customers, nurture the new ones into regulars, and win back the "
            "valuable ones who are slipping away, starting from the top of each list."
        )
    ]
    if not sizes:
        parts.append(paragraph("No customers have an RFM segment yet; the advice still holds."))
    for group, names in GROUPS.items():
        items = []
        for name in names:
            row = sizes.get(name)
            if row is not None and total > 0:
                customers = float(row["customers"])  # type: ignore[arg-type]
                size = f"{fmt_count(customers)} customers ({fmt_pct(customers / total)})"
                if "revenue_share" in row:
                    size += f", {fmt_pct(row['revenue_share'])} of revenue"
            else:
                size = "no customers"
            items.append(
                f'<li><span class="segment">{esc(name)}</span> '
                f'<span class="size">{esc(size)}</span><br>{esc(ADVICE[name])}</li>'
            )
        parts.append(f'<h3>{esc(group)}</h3><ul class="actions">{"".join(items)}</ul>')
    return Section("actions", "What to do", "".join(parts))

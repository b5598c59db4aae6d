"""RFM: recency, frequency and monetary scores 1-5, named segments, and moves between them.

Definitions (shown in the report as they are written here):

- Values, from the per-customer summary as of ``as_of``: **R** = days since the last purchase
  day (``t_days - recency_days``; fewer is better); **F** = ``orders`` (sales); **M** = net
  ``revenue``, ranked in whole cents (``floor(revenue * 100)`` as an integer), never as a float.
- Scores are **exact quintiles of the rank**, computed in the engine with window functions:
  with ``n`` customers and ``k`` = the customer's 0-based rank (worst first),
  ``score = floor(5 * k / n) + 1``. With ``ties="share"`` (the default) ``k`` is the number of
  customers with a strictly worse value (SQL ``RANK() - 1``), so equal values always share a
  score; with ``ties="split"`` ``k`` is the row number ordered by value and then
  ``customer_id``, so each score holds ``n / 5`` customers (+-1) and ties are cut by id.
  Either way the result is deterministic. The most recent customers get R = 5.
- ``fm_score = floor((f_score + m_score) / 2)``.
- The named segment is the first rule of the segment map whose ranges hold the scores
  (:data:`DEFAULT_SEGMENT_MAP`, the widely used R x FM grid, with "Lost" carved out of
  "Hibernating" at R = 1); a customer no rule matches is in the map's ``fallback``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

import ibis
import ibis.expr.types as ir
from ibis import _

from regulars.analytics.summary import customer_summary
from regulars.errors import ConfigError

__all__ = [
    "DEFAULT_SEGMENT_MAP",
    "NEW_SEGMENT",
    "SegmentMap",
    "SegmentRule",
    "Ties",
    "rfm_grid",
    "rfm_scores",
    "rfm_segment_summary",
    "rfm_transitions",
]

Ties = Literal["share", "split"]

NEW_SEGMENT = "(new)"
"""``from_segment`` of customers who had not bought yet at the first date of a transition."""

Range = tuple[int, int]


@dataclass(frozen=True)
class SegmentRule:
    """A named segment: inclusive score ranges that must all hold (default: any score)."""

    name: str
    r: Range = (1, 5)
    f: Range = (1, 5)
    m: Range = (1, 5)
    fm: Range = (1, 5)

    def __post_init__(self) -> None:
        if not self.name:
            raise ConfigError("An RFM segment rule has no name.", fix="Give every rule a name.")
        for axis in ("r", "f", "m", "fm"):
            low, high = getattr(self, axis)
            if not 1 <= low <= high <= 5:
                raise ConfigError(
                    f"RFM segment {self.name!r}: {axis}={(low, high)} is not a score range.",
                    fix="Use (low, high) with 1 <= low <= high <= 5.",
                )

    def predicate(self, scores: ir.Table) -> ir.BooleanValue:
        """Return the rule's condition over a table with r_score, f_score, m_score, fm_score."""
        condition: ir.BooleanValue = ibis.literal(True)
        for axis in ("r", "f", "m", "fm"):
            low, high = getattr(self, axis)
            if (low, high) != (1, 5):
                condition = condition & scores[f"{axis}_score"].between(low, high)
        return condition


def _holds(rule: SegmentRule, r: int, f: int, m: int) -> bool:
    scores = {"r": r, "f": f, "m": m, "fm": (f + m) // 2}
    return all(getattr(rule, k)[0] <= v <= getattr(rule, k)[1] for k, v in scores.items())


@dataclass(frozen=True)
class SegmentMap:
    """The score-to-segment mapping: rules tried in order, the first match wins.

    ``names`` lists the segments in the map's order, with ``fallback`` last unless the rules
    cover every score combination.
    """

    rules: tuple[SegmentRule, ...]
    fallback: str = "Other"
    names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        names = [r.name for r in self.rules]
        if not self.covers_every_score():
            names.append(self.fallback)
        object.__setattr__(self, "names", tuple(dict.fromkeys(names)))

    def covers_every_score(self) -> bool:
        """Whether every (r, f, m) combination matches a rule (the fallback is never used)."""
        return all(
            any(_holds(rule, r, f, m) for rule in self.rules)
            for r in range(1, 6)
            for f in range(1, 6)
            for m in range(1, 6)
        )

    @classmethod
    def from_dict(
        cls, rules: dict[str, dict[str, Sequence[int]]], fallback: str = "Other"
    ) -> SegmentMap:
        """Build a map from ``{name: {"r": (lo, hi), "fm": (lo, hi), ...}}`` (in order)."""
        built = []
        for name, ranges in rules.items():
            unknown = set(ranges) - {"r", "f", "m", "fm"}
            if unknown:
                raise ConfigError(
                    f"RFM segment {name!r}: unknown score {sorted(unknown)[0]!r}.",
                    fix="Use the scores r, f, m and fm.",
                )
            kwargs = {axis: (int(v[0]), int(v[1])) for axis, v in ranges.items()}
            built.append(SegmentRule(name, **kwargs))
        return cls(tuple(built), fallback)

    def segment(self, scores: ir.Table) -> ir.StringValue:
        """Return the segment name of each row of a scored table."""
        cases = [(rule.predicate(scores), rule.name) for rule in self.rules]
        return ibis.cases(*cases, else_=self.fallback)


DEFAULT_SEGMENT_MAP = SegmentMap(
    (
        SegmentRule("Champions", r=(5, 5), fm=(4, 5)),
        SegmentRule("Loyal", r=(3, 4), fm=(4, 5)),
        SegmentRule("Potential loyalist", r=(4, 5), fm=(2, 3)),
        SegmentRule("New customers", r=(5, 5), fm=(1, 1)),
        SegmentRule("Promising", r=(4, 4), fm=(1, 1)),
        SegmentRule("Need attention", r=(3, 3), fm=(3, 3)),
        SegmentRule("About to sleep", r=(3, 3), fm=(1, 2)),
        SegmentRule("Can't lose them", r=(1, 2), fm=(5, 5)),
        SegmentRule("At risk", r=(1, 2), fm=(3, 4)),
        SegmentRule("Hibernating", r=(2, 2), fm=(1, 2)),
        SegmentRule("Lost", r=(1, 1), fm=(1, 2)),
    )
)
"""The default R x FM map (every one of the 25 cells belongs to exactly one segment).

======================  =======  =======
segment                 R        FM
======================  =======  =======
Champions               5        4-5
Loyal                   3-4      4-5
Potential loyalist      4-5      2-3
New customers           5        1
Promising               4        1
Need attention          3        3
About to sleep          3        1-2
Can't lose them         1-2      5
At risk                 1-2      3-4
Hibernating             2        1-2
Lost                    1        1-2
======================  =======  =======
"""


def _score(
    value: ir.Column, customer_id: ir.Column, n: ir.IntegerValue, *, ascending: bool, ties: Ties
) -> ir.IntegerValue:
    key = value if ascending else value.desc()
    if ties == "share":
        rank = ibis.rank().over(order_by=key)
    else:
        rank = ibis.row_number().over(order_by=[key, customer_id])
    return (rank * 5) // n + 1


def rfm_scores(
    summary: ir.Table,
    *,
    segment_map: SegmentMap = DEFAULT_SEGMENT_MAP,
    ties: Ties = "share",
) -> ir.Table:
    """Return one row per customer of a summary with R, F, M scores and the named segment.

    Parameters
    ----------
    summary
        The per-customer summary (:func:`regulars.analytics.summary.customer_summary`).
    segment_map
        The score-to-segment rules (default :data:`DEFAULT_SEGMENT_MAP`).
    ties
        ``share`` (equal values share a score) or ``split`` (equal-sized quintiles, ties cut
        by ``customer_id``); see the module docstring.

    Returns
    -------
    ibis.Table
        The summary's columns and days_since_last_order, revenue_cents, r_score, f_score,
        m_score, fm_score, rfm_segment.
    """
    if ties not in ("share", "split"):
        raise ConfigError(f"Unknown ties policy {ties!r}.", fix="Use share or split.")
    values = summary.mutate(
        days_since_last_order=summary.t_days - summary.recency_days,
        revenue_cents=(summary.revenue * 100).floor().cast("int64"),
    )
    n = values.customer_id.count().over(ibis.window())
    cid = values.customer_id
    scored = values.mutate(
        r_score=_score(values.days_since_last_order, cid, n, ascending=False, ties=ties),
        f_score=_score(values.orders, cid, n, ascending=True, ties=ties),
        m_score=_score(values.revenue_cents, cid, n, ascending=True, ties=ties),
    )
    scored = scored.mutate(fm_score=(scored.f_score + scored.m_score) // 2)
    return scored.mutate(rfm_segment=segment_map.segment(scored))


def rfm_segment_summary(
    scores: ir.Table, *, segment_map: SegmentMap = DEFAULT_SEGMENT_MAP
) -> ir.Table:
    """Return one row per segment of the map (empty ones too), in the map's order.

    Returns
    -------
    ibis.Table
        segment, customers, revenue, revenue_share (of all customers' revenue; float),
        recency_days (mean days since the last order), orders (mean orders).
    """
    groups = scores.group_by(segment=scores.rfm_segment).aggregate(
        customers=_.count(),
        revenue=_.revenue.sum(),
        recency_days=_.days_since_last_order.mean(),
        orders=_.orders.mean(),
    )
    total = scores.aggregate(total_revenue=_.revenue.sum())
    order = ibis.memtable(
        {"segment": list(segment_map.names), "position": list(range(len(segment_map.names)))}
    )
    money = groups.revenue.type()
    joined = order.left_join(groups, "segment").cross_join(total)
    return (
        joined.select(
            segment=joined.segment,
            customers=joined.customers.coalesce(0),
            revenue=joined.revenue.coalesce(ibis.literal(0).cast(money)),
            revenue_share=(joined.total_revenue != 0).ifelse(
                joined.revenue.coalesce(0).cast("float64") / joined.total_revenue.cast("float64"),
                0.0,
            ),
            recency_days=joined.recency_days,
            orders=joined.orders,
            position=joined.position,
        )
        .order_by("position")
        .drop("position")
    )


def rfm_grid(scores: ir.Table) -> ir.Table:
    """Return customers and revenue per (r_score, f_score) cell present, ordered by both."""
    return (
        scores.group_by(["r_score", "f_score"])
        .aggregate(customers=_.count(), revenue=_.revenue.sum())
        .order_by(["r_score", "f_score"])
    )


def rfm_transitions(
    orders: ir.Table,
    refunds: ir.Table,
    *,
    start: date,
    end: date,
    segment_map: SegmentMap = DEFAULT_SEGMENT_MAP,
    ties: Ties = "share",
) -> ir.Table:
    """Return how many customers moved from each segment at ``start`` to each at ``end``.

    RFM is computed twice, as of each date, each time on the customers known then. Customers
    whose first sale falls after ``start`` have ``from_segment`` :data:`NEW_SEGMENT`.

    Returns
    -------
    ibis.Table
        from_segment, to_segment, customers; ordered by both.
    """
    if start > end:
        raise ConfigError(
            f"Transition start {start} is after its end {end}.", fix="Swap the two dates."
        )
    before = rfm_scores(
        customer_summary(orders, refunds, as_of=start), segment_map=segment_map, ties=ties
    ).select("customer_id", from_segment=_.rfm_segment)
    after = rfm_scores(
        customer_summary(orders, refunds, as_of=end), segment_map=segment_map, ties=ties
    ).select("customer_id", to_segment=_.rfm_segment)
    moved = after.left_join(before, "customer_id")
    return (
        moved.group_by(
            from_segment=moved.from_segment.coalesce(NEW_SEGMENT), to_segment=moved.to_segment
        )
        .aggregate(customers=_.count())
        .order_by(["from_segment", "to_segment"])
    )

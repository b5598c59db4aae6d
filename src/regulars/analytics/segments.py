"""Customer segments, declared in one place so that campaigns can target them by name.

A segment is either a :class:`SegmentDefinition` (a name, a description and a predicate over
the customer table's columns) or a :class:`SegmentGroup` (one segment per value of a label
column, named ``"<group>: <value>"``, e.g. ``"country: France"``). :func:`default_segments`
lists the standard ones; pass your own list anywhere a list of segments is taken.

The predicates read these columns of the customer table (:mod:`regulars.analytics.customers`):
``order_days``, ``t_days``, ``days_since_last_order``, ``revenue``, ``revenue_rank_percent``,
``country``, ``city``, ``gender``, ``age``, ``email_opens``, ``email_opens_tracked``,
``days_since_last_event``. Every predicate is row-wise (no window function), so
``table.filter(segment.predicate(table))`` runs on any engine.

Definitions (``SegmentConfig`` defaults in brackets):

- **First-time buyers**: exactly one purchase day (``order_days == 1``).
- **One-and-done**: one purchase day, made more than ``one_and_done_days`` [90] days before
  ``as_of`` (``t_days > 90``): they had time to come back and did not.
- **Repeat customers**: two or more purchase days.
- **VIP**: the top ``vip_percent`` [5] % of customers by net revenue, exactly
  ``ceil(n * x / 100)`` of them (ranked in whole cents, ties by ``customer_id``).
- **Spend band**: net revenue in ``[edge_i, edge_i+1)`` of ``spend_bands``
  [50, 100, 250, 500, 1000], in the store's currency.
- **Country**, **city**, **gender**: the customers table's value, as written.
- **Age band**: whole years at ``as_of`` from ``birthday``, in ``age_bands``
  [18, 25, 35, 45, 55, 65]; ages outside 0-110 (placeholder years) have no band.
- **Bought but never opened email**: no ``Email Opened`` event from this customer, in a store
  where at least one customer of the table has one (else nobody: opens are not tracked).
- **Engaged but not buying**: an event within the last ``engaged_days`` [30] days and no sale
  within the last ``lapsed_days`` [90] days.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise

import ibis
import ibis.expr.types as ir
from ibis import _

from regulars.errors import ConfigError

__all__ = [
    "Segment",
    "SegmentConfig",
    "SegmentDefinition",
    "SegmentGroup",
    "default_segments",
    "segment_counts",
    "segment_membership",
]

Predicate = Callable[[ir.Table], ir.BooleanValue]
Label = Callable[[ir.Table], ir.StringValue]


@dataclass(frozen=True)
class SegmentDefinition:
    """One named segment: who is in it is ``predicate(customer_table)``."""

    name: str
    description: str
    predicate: Predicate


@dataclass(frozen=True)
class SegmentGroup:
    """A family of segments, one per value of ``label(customer_table)`` (null: in none).

    ``values`` lists the labels in their natural order when they are known in advance (bands);
    otherwise the group's segments are listed by name.
    """

    name: str
    description: str
    label: Label
    values: tuple[str, ...] = ()

    def segment_name(self, value: str) -> str:
        """Return the name of the group's segment for ``value``."""
        return f"{self.name}: {value}"

    def member_name(self, table: ir.Table) -> ir.StringValue:
        """Return each customer's segment name in this group (null when the label is)."""
        return ibis.literal(f"{self.name}: ") + self.label(table)

    def predicate(self, value: str) -> Predicate:
        """Return the predicate of the group's segment for ``value``."""
        return lambda table: self.label(table) == value


Segment = SegmentDefinition | SegmentGroup


@dataclass(frozen=True)
class SegmentConfig:
    """The thresholds of :func:`default_segments`."""

    one_and_done_days: int = 90
    vip_percent: float = 5.0
    spend_bands: tuple[float, ...] = (50, 100, 250, 500, 1000)
    age_bands: tuple[int, ...] = (18, 25, 35, 45, 55, 65)
    engaged_days: int = 30
    lapsed_days: int = 90

    def __post_init__(self) -> None:
        if not 0 < self.vip_percent <= 100:
            raise ConfigError(
                f"vip_percent={self.vip_percent} is not a share of customers.",
                fix="Use a percentage above 0 and at most 100, e.g. 5.",
            )
        for name in ("spend_bands", "age_bands"):
            edges = getattr(self, name)
            if not edges or list(edges) != sorted(set(edges)):
                raise ConfigError(
                    f"{name}={edges} must be increasing band edges.",
                    fix="List the edges in increasing order, e.g. (50, 100, 250).",
                )


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _band_names(edges: Sequence[float]) -> tuple[str, ...]:
    inner = [f"{_number(lo)}-{_number(hi)}" for lo, hi in pairwise(edges)]
    return (f"<{_number(edges[0])}", *inner, f"{_number(edges[-1])}+")


def _bands(value: ir.NumericValue, edges: Sequence[float]) -> ir.StringValue:
    names = _band_names(edges)
    cases = [(value < edge, name) for edge, name in zip(edges, names, strict=False)]
    return ibis.cases(*cases, else_=names[-1])


def default_segments(config: SegmentConfig | None = None) -> tuple[Segment, ...]:
    """Return the standard segments (see the module docstring for the definitions)."""
    c = config or SegmentConfig()
    money = [float(e) for e in c.spend_bands]

    def age_band(t: ir.Table) -> ir.StringValue:
        known = t.age.between(0, 110)
        return known.ifelse(_bands(t.age, c.age_bands), ibis.null("string"))

    return (
        SegmentDefinition(
            "First-time buyers",
            "Exactly one purchase day so far.",
            lambda t: t.order_days == 1,
        ),
        SegmentDefinition(
            "One-and-done",
            f"One purchase day, more than {c.one_and_done_days} days ago.",
            lambda t: (t.order_days == 1) & (t.t_days > c.one_and_done_days),
        ),
        SegmentDefinition(
            "Repeat customers",
            "Two or more purchase days.",
            lambda t: t.order_days >= 2,
        ),
        SegmentDefinition(
            "VIP",
            f"Top {_number(c.vip_percent)}% of customers by net revenue.",
            lambda t: t.revenue_rank_percent < c.vip_percent,
        ),
        SegmentDefinition(
            "Bought but never opened email",
            "Bought, and no 'Email Opened' event (where email opens are tracked).",
            lambda t: t.email_opens_tracked & (t.email_opens == 0),
        ),
        SegmentDefinition(
            "Engaged but not buying",
            f"An event in the last {c.engaged_days} days, no order in the last "
            f"{c.lapsed_days} days.",
            lambda t: (
                (t.days_since_last_event <= c.engaged_days)
                & (t.days_since_last_order > c.lapsed_days)
            ),
        ),
        SegmentGroup(
            "spend",
            "Net revenue in this band (store currency).",
            lambda t: _bands(t.revenue, money),
            _band_names(money),
        ),
        SegmentGroup("country", "Customers of this country.", lambda t: t.country),
        SegmentGroup("city", "Customers of this city.", lambda t: t.city),
        SegmentGroup("gender", "Customers of this gender (as the store records it).", _gender),
        SegmentGroup(
            "age",
            "Age in whole years at the analysis date.",
            age_band,
            _band_names(c.age_bands),
        ),
    )


def _gender(t: ir.Table) -> ir.StringValue:
    return t.gender


def _check_names(segments: Sequence[Segment]) -> None:
    names = [s.name for s in segments]
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise ConfigError(
            f"Segment names must be unique; {twice[0]!r} is declared twice.",
            fix="Rename one of them.",
        )


def segment_membership(table: ir.Table, segments: Sequence[Segment]) -> ir.ArrayValue:
    """Return, per row of the customer table, the names of the segments it belongs to.

    The names come in the order of ``segments``.
    """
    _check_names(segments)
    names: list[ir.StringValue] = []
    for segment in segments:
        if isinstance(segment, SegmentGroup):
            names.append(segment.member_name(table))
        else:
            inside = segment.predicate(table).fill_null(False)
            names.append(inside.ifelse(segment.name, ibis.null("string")))
    if not names:
        return ibis.literal([], type="array<string>")
    return ibis.array(names).filter(lambda name: name.notnull())


def segment_counts(table: ir.Table, segments: Sequence[Segment]) -> ir.Table:
    """Return customers and net revenue per segment with members.

    Parameters
    ----------
    table
        The customer table, with its ``segments`` list column built from ``segments``.
    segments
        The declared segments (for descriptions and order).

    Returns
    -------
    ibis.Table
        segment, description, customers, revenue; in the order of ``segments`` (a group's
        segments by name).
    """
    _check_names(segments)
    long = table.select("revenue", segment=table.segments.unnest())
    counts = long.group_by("segment").aggregate(customers=_.count(), revenue=_.revenue.sum())
    if not segments:
        return counts.mutate(description=ibis.null("string")).select(
            "segment", "description", "customers", "revenue"
        )
    position: list[tuple[ir.BooleanValue, int]] = []
    description: list[tuple[ir.BooleanValue, str]] = []
    within: list[tuple[ir.BooleanValue, int]] = [(ibis.literal(False), 0)]
    for i, segment in enumerate(segments):
        if isinstance(segment, SegmentGroup):
            match = counts.segment.startswith(f"{segment.name}: ")
            for j, value in enumerate(segment.values):
                within.append((counts.segment == segment.segment_name(value), j))
        else:
            match = counts.segment == segment.name
        position.append((match, i))
        description.append((match, segment.description))
    return (
        counts.mutate(
            description=ibis.cases(*description, else_=ibis.null("string")),
            _position=ibis.cases(*position, else_=len(segments)),
            _within=ibis.cases(*within, else_=len(within)),
        )
        .order_by(["_position", "_within", "segment"])
        .select("segment", "description", "customers", "revenue")
    )

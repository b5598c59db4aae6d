"""Next-best offers: for each customer, the offer with the highest expected value, if any.

A store's offers are rules (:class:`~regulars.recommend.offer_rules.OfferRule`, read from
a TOML file the store edits: :func:`load_rules`; the defaults: :func:`default_rules`).
Every rule whose conditions hold for a customer gets an expected value (EV); the best
positive one is offered, and when none is positive the customer gets "no offer".
The expected value of a rule for one customer::

    p   baseline P(order in the horizon)
    A   the value of one order
    s   the share of the order the offer covers: the customer's recency-weighted share of
        spend in the rule's category (regulars.recommend.affinity); 1 for the whole order
    c   the offer's cost on one order:
          percent_off        c = percent / 100 * s * A
          free_shipping      c = shipping_cost
          points_multiplier  c = (multiplier - 1) * points_per_unit * point_value * s * A
    L   min(lift, 1 - p): the rule's assumed absolute increase of P(order), capped at 1 - p
    m   margin: the share of an order's value the store keeps (1: count revenue)

    EV = L * (m * A - c)  -  p * c

The first term is the value of the orders the offer causes, net of the offer; the second
is what the offer costs on the orders that would have been placed anyway. An offer is used
once, on the next order. A customer sure to order (p near 1) gains nothing (L near 0) and
costs the offer's full price, so they get no discount.

Baseline, per customer:

- ``basis = "predictions"`` (the customer has a churn risk in ``predictions``):
  ``p = 1 - churn_risk``; ``A = expected_spend`` (the spend model's value of a future
  order), or the customer's own mean order value when that is missing.
- ``basis = "heuristic"``: ``p = n / (n + 1) * exp(-d / H)``, with ``n`` the customer's
  orders, ``d`` the days since their last order and ``H`` the horizon in days (one order
  today gives 0.5; more orders and more recent ones give more); ``A`` is the customer's
  mean order value (``aov``); the churn risk the conditions see is ``1 - p``.

A category offer goes only to customers who bought the category (``s > 0``); the
favourite is the customer's best-ranked category other than ``"(none)"``. Ties go to
"no offer" at zero, then to the rule listed first. Nothing here reads files or the clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from regulars.errors import ConfigError, InputError
from regulars.recommend.affinity import NO_CATEGORY
from regulars.recommend.offer_rules import (
    KINDS,
    NO_OFFER,
    Conditions,
    OfferRule,
    default_rules,
    load_rules,
    parse_rules,
)

__all__ = [
    "KINDS",
    "OFFER_COLUMNS",
    "Conditions",
    "OfferRule",
    "default_rules",
    "expected_value",
    "heuristic_p_order",
    "load_rules",
    "next_best_offers",
    "parse_rules",
]

FloatArray = npt.NDArray[np.float64]

OFFER_COLUMNS = (
    "customer_id",
    "offer_id",
    "kind",
    "offer",
    "category",
    "expected_value",
    "p_order",
    "churn_risk",
    "aov",
    "cost",
    "basis",
    "runner_up_id",
    "runner_up_offer",
    "runner_up_value",
    "why",
)
"""The columns of :func:`next_best_offers`, in order."""

CUSTOMER_COLUMNS = ("customer_id", "orders", "days_since_last_order", "aov")


def heuristic_p_order(
    orders: npt.ArrayLike, days_since_last_order: npt.ArrayLike, *, horizon_days: float
) -> FloatArray:
    """Return ``n / (n + 1) * exp(-d / H)``: a rough P(order in the next ``H`` days).

    ``n`` is the number of orders, ``d`` the days since the last one. One order today gives
    0.5, ten give 0.91; the chance halves every ``H * ln 2`` days without an order. Used
    when there are no predictions for a customer.
    """
    n = np.maximum(np.asarray(orders, dtype=float), 0.0)
    d = np.maximum(np.asarray(days_since_last_order, dtype=float), 0.0)
    return np.asarray(n / (n + 1.0) * np.exp(-d / float(horizon_days)), dtype=float)


def expected_value(
    rule: OfferRule,
    *,
    p_order: npt.ArrayLike,
    aov: npt.ArrayLike,
    share: npt.ArrayLike = 1.0,
    margin: float = 1.0,
) -> FloatArray:
    """Return the rule's expected value ``L * (m * A - c) - p * c`` (see the module docstring).

    Parameters
    ----------
    rule
        The offer.
    p_order
        Baseline P(order in the horizon), per customer.
    aov
        The value of one order ``A``, per customer.
    share
        The share of the order the offer covers (category offers only).
    margin
        The share of an order's value the store keeps.

    Returns
    -------
    numpy.ndarray
        One value per customer (0 for the ``none`` rule).
    """
    p = np.clip(np.asarray(p_order, dtype=float), 0.0, 1.0)
    a = np.broadcast_to(np.asarray(aov, dtype=float), p.shape)
    if rule.kind == "none":
        return np.zeros(p.shape)
    cost = rule.cost(a, np.broadcast_to(np.asarray(share, dtype=float), p.shape))
    lift = np.minimum(rule.lift, 1.0 - p)
    return np.asarray(lift * (margin * a - cost) - p * cost, dtype=float)


def _require(frame: pd.DataFrame, names: Sequence[str], what: str) -> None:
    for name in names:
        if name not in frame.columns:
            raise InputError(
                f"Required column {name} missing from the {what}.",
                column=name,
                expected="columns " + ", ".join(names),
                fix=f"Pass a {what} frame with a {name} column.",
            )


def _numbers(frame: pd.DataFrame, name: str) -> FloatArray:
    """Return a customers' column as floats, each a number of at least 0."""
    values = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~(values >= 0))  # NaN too
    if bad.size:
        raise InputError(
            f"{name} must be a number of at least 0 for every customer "
            f"(customer {frame['customer_id'].iloc[bad[0]]!r}).",
            column=name,
            value=frame[name].iloc[bad[0]],
            fix=f"Fill in or correct {name}.",
        )
    return np.asarray(values, dtype=float)


def _positions(frame: pd.DataFrame, ids: pd.Index) -> npt.NDArray[np.intp]:
    """Return the row of ``frame`` of each id (-1 when absent; ids unique in ``frame``)."""
    return np.asarray(pd.Index(frame["customer_id"].astype(str)).get_indexer(ids), dtype=np.intp)


def _take(column: pd.Series, rows: npt.NDArray[np.intp], fill: Any = np.nan) -> npt.NDArray[Any]:
    """Return ``column`` at ``rows`` (``fill`` where the row is -1), as floats or objects."""
    numeric = pd.api.types.is_numeric_dtype(column)
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float) if numeric else None
    source = values if values is not None else column.to_numpy(dtype=object)
    out = np.full(rows.size, fill, dtype=float if numeric else object)
    out[rows >= 0] = source[rows[rows >= 0]]
    return out


def _coverage(
    affinity: pd.DataFrame, ids: pd.Index, rule: OfferRule, favourite: tuple[FloatArray, object]
) -> tuple[FloatArray, npt.NDArray[np.object_]]:
    """Return the share each customer's order has in the rule's category, and the category."""
    if not rule.on_category:
        return np.ones(len(ids)), np.full(len(ids), None, dtype=object)
    if rule.on == "favourite":
        share, category = favourite
        return share, np.asarray(category, dtype=object)
    rows = affinity[affinity["category"] == rule.category]
    share = _take(rows["share"], _positions(rows, ids), 0.0)
    category = np.full(len(ids), None, dtype=object)
    category[share > 0] = rule.category
    return share, category


def _eligible(
    when: Conditions, orders: FloatArray, risk: FloatArray, share: FloatArray, days: FloatArray
) -> npt.NDArray[np.bool_]:
    """Return where every bound of ``when`` holds."""
    ok = np.ones(orders.shape, dtype=bool)
    for bound, values, above in (
        (when.min_orders, orders, True),
        (when.max_orders, orders, False),
        (when.min_churn_risk, risk, True),
        (when.max_churn_risk, risk, False),
        (when.min_category_share, share, True),
        (when.min_days_since_last_order, days, True),
        (when.max_days_since_last_order, days, False),
    ):
        if bound is not None:
            ok &= values >= bound if above else values <= bound
    return ok


def next_best_offers(
    affinity: pd.DataFrame,
    customers: pd.DataFrame,
    *,
    rules: Sequence[OfferRule] | None = None,
    predictions: pd.DataFrame | None = None,
    horizon_days: float = 365.0,
    margin: float = 1.0,
) -> pd.DataFrame:
    """Return each customer's best offer, its expected value and the runner-up.

    Parameters
    ----------
    affinity
        :func:`~regulars.recommend.affinity.category_affinity` of the customers' baskets.
    customers
        One row per customer: ``customer_id, orders, days_since_last_order, aov`` (mean
        order value; other columns are ignored).
    rules
        The offer rules (default: :func:`default_rules`).
    predictions
        Optional per-customer predictions (:func:`regulars.predict.predict`'s frame):
        ``customer_id, churn_risk`` and optionally ``expected_spend``. Customers without a
        churn risk there get the heuristic baseline.
    horizon_days
        The horizon of P(order), in days (used by the heuristic; the predictions should
        be made for the same horizon).
    margin
        The share of an order's value the store keeps, above 0 and at most 1.

    Returns
    -------
    pandas.DataFrame
        One row per customer, in the order of ``customers``, with :data:`OFFER_COLUMNS`:
        the offer (``offer_id``, ``kind``, rendered text ``offer``, ``category`` it is on,
        ``expected_value``, ``cost`` on one order), the baseline (``p_order``,
        ``churn_risk``, ``aov``, ``basis``), the runner-up (``runner_up_*``, empty when no
        other rule applies) and ``why``, the arithmetic in one line.

    Raises
    ------
    ConfigError
        When ``horizon_days``, ``margin`` or ``rules`` are not usable.
    InputError
        When a column is missing or a value is not a number of at least 0.
    """
    if not horizon_days > 0 or not 0 < margin <= 1:
        raise ConfigError(
            f"horizon_days must be positive and margin in (0, 1]; got {horizon_days!r}, "
            f"{margin!r}.",
            fix="Pass e.g. horizon_days=365, margin=1.0.",
        )
    rules = default_rules() if rules is None else tuple(rules)
    repeated = sorted({r.id for r in rules if [q.id for q in rules].count(r.id) > 1})
    if repeated:
        raise ConfigError(
            f"Offer rule ids must be unique; {repeated[0]!r} is used more than once.",
            fix="Rename one of the rules.",
        )
    offers = [r for r in rules if r.kind != "none"]
    nothing = next((r for r in rules if r.kind == "none"), NO_OFFER)
    _require(customers, CUSTOMER_COLUMNS, "customers")
    ids = pd.Index(customers["customer_id"].astype(str))
    orders, days, aov = (_numbers(customers, c) for c in CUSTOMER_COLUMNS[1:])
    p = heuristic_p_order(orders, days, horizon_days=horizon_days)
    basis = np.full(len(ids), "heuristic", dtype=object)
    if predictions is not None:
        _require(predictions, ("customer_id", "churn_risk"), "predictions")
        predictions = predictions.drop_duplicates("customer_id", keep="last")
        rows = _positions(predictions, ids)
        known_risk = _take(predictions["churn_risk"], rows)
        known = np.isfinite(known_risk)
        p = np.where(known, 1.0 - np.clip(known_risk, 0.0, 1.0), p)
        basis[known] = "predictions"
        if "expected_spend" in predictions.columns:
            spend = _take(predictions["expected_spend"], rows)
            aov = np.where(known & (spend > 0), spend, aov)  # NaN > 0 is False
    risk = 1.0 - p

    _require(affinity, ("customer_id", "category", "share", "rank"), "affinity")
    # The favourite is the best-ranked real category: no offer is made on "(none)".
    real = affinity[affinity["category"] != NO_CATEGORY]
    best_rank = real.groupby("customer_id", sort=False)["rank"].transform("min")
    top = real[real["rank"] == best_rank]
    where = _positions(top, ids)
    favourite = (
        _take(top["share"], where, 0.0),
        _take(top["category"], where, None),
    )
    # Column 0 is "no offer" (value 0): argmax takes the first maximum, so it wins ties.
    n, k = len(ids), len(offers) + 1
    values = np.full((n, k), -np.inf)
    values[:, 0] = 0.0
    costs = np.zeros((n, k))
    categories = np.full((n, k), None, dtype=object)
    for j, rule in enumerate(offers, start=1):
        share, category = _coverage(affinity, ids, rule, favourite)
        ok = _eligible(rule.when, orders, risk, share, days) & (share > 0)
        ev = expected_value(rule, p_order=p, aov=aov, share=share, margin=margin)
        values[:, j] = np.where(ok, ev, -np.inf)
        costs[:, j] = rule.cost(aov, share)
        categories[:, j] = category
    rows = np.arange(n)
    best = values.argmax(axis=1)
    rest = values.copy()
    rest[rows, best] = -np.inf
    second = rest.argmax(axis=1)
    second_value = rest[rows, second]
    none_second = ~np.isfinite(second_value)
    every = [nothing, *offers]
    ids_of = np.array([r.id for r in every], dtype=object)
    kinds = np.array([r.kind for r in every], dtype=object)
    text = _render(every, best, categories[rows, best])
    runner_text = _render(every, second, categories[rows, second])
    frame = pd.DataFrame(
        {
            "customer_id": customers["customer_id"].to_numpy(),
            "offer_id": ids_of[best],
            "kind": kinds[best],
            "offer": text,
            "category": categories[rows, best],
            "expected_value": values[rows, best],
            "p_order": p,
            "churn_risk": risk,
            "aov": aov,
            "cost": costs[rows, best],
            "basis": basis,
            "runner_up_id": _blank(ids_of[second], none_second),
            "runner_up_offer": _blank(runner_text, none_second),
            "runner_up_value": np.where(none_second, np.nan, second_value),
        }
    )
    lift = np.array([0.0] + [r.lift for r in offers])[best]
    frame["why"] = _why(frame.assign(gain=np.minimum(lift, 1.0 - p)), margin)
    return frame


def _blank(values: npt.NDArray[np.object_], where: npt.NDArray[np.bool_]) -> npt.NDArray[Any]:
    out = values.copy()
    out[where] = None
    return out


def _render(
    rules: Sequence[OfferRule], choice: npt.NDArray[np.intp], category: npt.NDArray[np.object_]
) -> npt.NDArray[np.object_]:
    """Return each row's offer text: rule ``choice`` rendered for its category."""
    out = np.empty(choice.size, dtype=object)
    for j, rule in enumerate(rules):
        rows = np.flatnonzero(choice == j)
        if rows.size:
            texts = {c: rule.render(c) for c in set(category[rows])}
            out[rows] = [texts[c] for c in category[rows]]
    return out


def _why(frame: pd.DataFrame, margin: float) -> list[str]:
    """Return the arithmetic behind each row's choice, in one line."""

    def text(values: npt.ArrayLike) -> list[str]:
        return [f"{v:.2f}" for v in np.asarray(values, dtype=float).tolist()]

    p, gain, ev, cost = (text(frame[c]) for c in ("p_order", "gain", "expected_value", "cost"))
    value, runner_value = text(margin * frame["aov"]), text(frame["runner_up_value"])
    out: list[str] = []
    for i, (kind, basis, runner) in enumerate(
        zip(frame["kind"], frame["basis"], frame["runner_up_offer"], strict=True)
    ):
        line = f"P(order) {p[i]} ({basis})"
        if kind == "none":
            best = "no rule applies" if runner is None else f"best: {runner} at {runner_value[i]}"
            out.append(f"{line}; no offer has a positive value ({best})")
            continue
        line += f"; EV = {gain[i]} x ({value[i]} - {cost[i]}) - {p[i]} x {cost[i]} = {ev[i]}"
        out.append(line if runner is None else f"{line}; runner-up {runner} at {runner_value[i]}")
    return out

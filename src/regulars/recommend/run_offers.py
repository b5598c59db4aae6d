"""Next-best offers for a store's customers: the glue between its tables and :mod:`.offers`.

:func:`make_offers` reads the baskets (category affinity, :mod:`.affinity`) and the
per-customer summary (orders, mean order value, days since the last order), predicts churn
risk and CLV with :func:`regulars.predict.predict` when asked (and says so when it cannot:
the offers then use the heuristic baseline), and picks each customer's offer by the rules
(:mod:`.offers`): P(order) = 1 - churn risk, and an order is worth the customer's CLV per
expected order in the horizon (see :func:`_order_value`).
"""

from __future__ import annotations

import time as clock
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import ibis.expr.types as ir
import numpy as np
import pandas as pd

from regulars.analytics import kpis
from regulars.analytics.summary import customer_summary
from regulars.errors import RegularsError
from regulars.recommend.affinity import category_affinity
from regulars.recommend.offers import OfferRule, default_rules, load_rules, next_best_offers
from regulars.recommend.run import load_baskets, load_catalogue

__all__ = ["Offers", "make_offers"]

Progress = Callable[[str], None]


@dataclass
class Offers:
    """Each customer's offer (:data:`~.offers.OFFER_COLUMNS`) and how they were chosen."""

    frame: pd.DataFrame
    affinity: pd.DataFrame
    as_of: date
    horizon_days: float
    rules: tuple[OfferRule, ...]
    rules_source: str
    basis: str
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        """Return everything but the frames as plain data."""
        chosen = self.frame["offer_id"].value_counts()
        value = self.frame.groupby("offer_id")["expected_value"].sum()
        return {
            "as_of": self.as_of.isoformat(),
            "horizon_days": self.horizon_days,
            "rules": self.rules_source,
            "basis": self.basis,
            "customers": len(self.frame),
            "offers": [
                {
                    "offer_id": str(offer),
                    "customers": int(n),
                    "expected_value": round(float(value[offer]), 2),
                }
                for offer, n in chosen.items()
            ],
            "seconds": round(self.seconds, 3),
        }


def _customers(orders: ir.Table, refunds: ir.Table, as_of: date) -> pd.DataFrame:
    frame = customer_summary(orders, refunds, as_of=as_of).to_pandas()
    end = datetime.combine(as_of, time.min, tzinfo=UTC) + pd.Timedelta(days=1)
    last = pd.to_datetime(frame["last_order_at"], utc=True)
    frame["days_since_last_order"] = (end - last).dt.total_seconds() / 86400.0
    frame["aov"] = frame["gross_revenue"].astype(float) / frame["orders"].clip(lower=1)
    return frame[["customer_id", "orders", "days_since_last_order", "aov"]]


MIN_EXPECTED_ORDERS = 0.1
"""Below this many expected orders, CLV per order is too unsteady: the spend model's value."""


def _order_value(predicted: pd.DataFrame) -> pd.DataFrame:
    """Return ``customer_id, churn_risk, expected_spend`` with the value of a next order.

    The offers value an order caused at the predicted CLV per expected order in the horizon
    (the spend model's value net of the share refunded, discounted): what a retained
    customer's orders are worth. With fewer than :data:`MIN_EXPECTED_ORDERS` expected, the
    spend model's expected spend per order stands in.
    """
    expected = predicted["expected_orders"].to_numpy(dtype=float)
    per_order = predicted["clv"].to_numpy(dtype=float) / np.maximum(expected, MIN_EXPECTED_ORDERS)
    steady = (expected >= MIN_EXPECTED_ORDERS) & np.isfinite(per_order)
    value = np.where(steady, per_order, predicted["expected_spend"].to_numpy(dtype=float))
    return pd.DataFrame(
        {
            "customer_id": predicted["customer_id"],
            "churn_risk": predicted["churn_risk"],
            "expected_spend": value,
        }
    )


def make_offers(
    tables: Mapping[str, ir.Table],
    *,
    as_of: date | None = None,
    rules: str | Path | Sequence[OfferRule] | None = None,
    predictions: bool = True,
    horizon_days: float = 365.0,
    margin: float = 1.0,
    currency: str | None = None,
    progress: Progress | None = None,
) -> Offers:
    """Choose each customer's next-best offer as of a date.

    Parameters
    ----------
    tables
        The canonical tables as Ibis tables of one backend.
    as_of
        The date (default: the day of the last sale); nothing after it is used.
    rules
        A rules file (TOML, see docs/offers.md), rules, or ``None`` for the defaults.
    predictions
        Use the models' churn risk and spend per order (else the heuristic baseline).
    horizon_days
        The horizon of P(order) and of the predictions.
    margin
        The share of an order's value the store keeps.
    currency
        The currency to read (needed when the store sells in several).
    progress
        Called with the name of each step.
    """
    step = progress or (lambda _name: None)
    started = clock.perf_counter()
    if rules is None:
        chosen, source = default_rules(), "the default rules"
    elif isinstance(rules, str | Path):
        chosen, source = load_rules(rules), str(rules)
    else:
        chosen, source = tuple(rules), "rules given in Python"
    orders = tables["orders"]
    if currency is None:
        currency = kpis.require_single_currency(orders)
    step("reading baskets")
    baskets = load_baskets(tables, as_of=as_of, currency=currency)
    as_of = baskets.as_of
    catalogue = load_catalogue(tables, baskets)
    affinity = category_affinity(baskets, catalogue.category)
    customers = _customers(
        kpis.single_currency(orders, currency),
        tables["refunds"].filter(tables["refunds"].currency == currency),
        as_of,
    )
    basis = "heuristic: asked not to predict"
    frame = None
    if predictions:
        step("predicting churn risk and spend")
        from regulars.predict import predict

        try:
            predicted = predict(tables, as_of=as_of, horizon_days=horizon_days, currency=currency)
            frame = _order_value(predicted.frame)
            basis = (
                f"predictions ({predicted.model}, churn risk: {predicted.churn_method}; "
                "order value: CLV per expected order)"
            )
        except RegularsError as exc:
            basis = f"heuristic: the models could not predict ({exc.message})"
    step("choosing offers")
    offers = next_best_offers(
        affinity,
        customers,
        rules=chosen,
        predictions=frame,
        horizon_days=horizon_days,
        margin=margin,
    )
    return Offers(
        frame=offers,
        affinity=affinity,
        as_of=as_of,
        horizon_days=horizon_days,
        rules=chosen,
        rules_source=source,
        basis=basis,
        seconds=clock.perf_counter() - started,
    )

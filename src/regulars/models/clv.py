"""Predicted customer lifetime value and the per-customer prediction columns.

No I/O: a per-customer summary (pandas, in days) and fitted models in, a frame out.
Definitions (the report and ``docs/predictions.md`` show them as written here):

- ``expected_orders``: expected purchase days in (as_of, as_of + horizon] (the BTYD
  conditional expectation).
- ``p_alive``: P(the customer is still a customer at ``as_of``).
- ``p_no_order``: P(no purchase in the horizon), from the BTYD model.
- ``expected_next_order_at``: the date by which P(at least one more purchase) reaches
  50%; empty when that never happens within ten years (the customer is more likely gone).
- ``expected_spend``: the expected value of one future purchase day: Gamma-Gamma's
  conditional expected spend (Fader & Hardie 2013) on the gross value of the customer's
  repeat purchase days, times the share of their gross revenue they kept after refunds
  (clipped to [0, 1]). Customers without a repeat purchase, or whose repeat value is not
  positive, get the population mean spend (the Gamma-Gamma rule; see its module). Without
  a Gamma-Gamma model: the customer's own mean value per purchase day (net), else the
  store's.
- ``clv``: the discounted expected net revenue over the horizon: the horizon is cut into
  periods of at most one month (30.4375 days); the expected purchases of period k are
  E[Y(t_k)] - E[Y(t_k-1)], valued at ``expected_spend`` and discounted by
  (1 + annual rate) ^ -(t_k / 365.25), t_k the end of the period in days. The discount
  rate is stated per year, whatever the horizon.
- ``clv_low`` / ``clv_high``: the 5th and 95th percentiles of ``clv`` over draws of the
  BTYD parameters from their Laplace approximation (the uncertainty of the estimate,
  not of the customer's behaviour), each draw's expected purchases in the horizon scaled
  by the point estimate's discount ratio.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd

from regulars.errors import ConfigError
from regulars.models.btyd.base import BTYDModel
from regulars.models.units import DAYS_PER_MONTH, DAYS_PER_YEAR

__all__ = [
    "PREDICTION_COLUMNS",
    "SpendModel",
    "discount_schedule",
    "discounted_purchases",
    "predict_customers",
]

FloatArray = npt.NDArray[np.float64]

PREDICTION_COLUMNS = (
    "customer_id",
    "model",
    "expected_orders",
    "p_alive",
    "p_no_order",
    "expected_next_order_at",
    "expected_spend",
    "clv",
    "clv_low",
    "clv_high",
)


class SpendModel(Protocol):
    """What CLV needs of a spend model (Gamma-Gamma)."""

    def expected_spend(self, frequency: Any, monetary_value: Any) -> FloatArray:
        """Return the expected value of a future purchase."""
        ...


def discount_schedule(horizon_days: float, annual_rate: float) -> tuple[FloatArray, FloatArray]:
    """Return the period ends t_k (days, at most a month apart) and their discount factors.

    Raises
    ------
    ConfigError
        When the rate is negative or not finite.
    """
    if not np.isfinite(annual_rate) or annual_rate < 0:
        raise ConfigError(
            f"The discount rate {annual_rate!r} is not a rate >= 0.",
            fix="Give the yearly rate as a fraction, e.g. 0.1 for 10% a year.",
        )
    periods = max(1, int(np.ceil(horizon_days / DAYS_PER_MONTH - 1e-9)))
    ends = np.minimum(np.arange(1, periods + 1) * DAYS_PER_MONTH, horizon_days)
    ends[-1] = horizon_days
    factors = (1 + annual_rate) ** (-ends / DAYS_PER_YEAR)
    return ends, factors


def discounted_purchases(
    model: BTYDModel,
    frequency: Any,
    recency: Any,
    T: Any,
    *,
    horizon_days: float,
    annual_rate: float,
) -> FloatArray:
    """Return the discounted expected purchases over the horizon (see the module)."""
    ends, factors = discount_schedule(horizon_days, annual_rate)
    at = model.predict_all(frequency, recency, T, horizon=horizon_days, at=ends)
    return _discount(at["expected_purchases_at"], factors)


def _discount(expected_at: FloatArray, factors: FloatArray) -> FloatArray:
    """Sum each period's expected purchases (E[Y(t_k)] - E[Y(t_k-1)]) times its factor."""
    increments = np.diff(expected_at, axis=0, prepend=np.zeros((1, expected_at.shape[1])))
    return np.asarray(factors @ increments)


def _spend(summary: pd.DataFrame, spend_model: SpendModel | None) -> tuple[FloatArray, FloatArray]:
    """Return the expected gross spend per purchase day, and the share kept after refunds."""
    gross = summary["gross_revenue"].to_numpy(dtype=float)
    net = summary["revenue"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        kept = np.where(gross > 0, np.clip(net / gross, 0.0, 1.0), 0.0)
    frequency = summary["frequency"].to_numpy(dtype=float)
    if spend_model is not None:
        monetary = summary["monetary_value"].to_numpy(dtype=float, na_value=np.nan)
        return np.asarray(spend_model.expected_spend(frequency, monetary), dtype=float), kept
    days = summary["order_days"].to_numpy(dtype=float)
    own = np.where(days > 0, gross / np.maximum(days, 1), np.nan)
    store = float(gross.sum() / max(days.sum(), 1))
    return np.where(np.isfinite(own), own, store), kept


def predict_customers(
    summary: pd.DataFrame,
    model: BTYDModel,
    *,
    as_of: date,
    horizon_days: float,
    annual_discount_rate: float = 0.1,
    spend_model: SpendModel | None = None,
    n_draws: int = 100,
    random_state: int | None = 0,
) -> pd.DataFrame:
    """Return one row per customer of ``summary`` with the prediction columns.

    Parameters
    ----------
    summary
        The per-customer summary (:func:`regulars.analytics.summary.customer_summary`):
        customer_id, frequency, recency_days, t_days, order_days, gross_revenue, revenue,
        monetary_value.
    model
        A fitted BTYD model, in days.
    as_of
        The day the summary was taken (its ``t_days`` end there).
    horizon_days
        The prediction horizon, in days.
    annual_discount_rate
        CLV's discount rate per year (0.1 = 10%).
    spend_model
        A fitted Gamma-Gamma model, or ``None`` for the customers' own mean spend.
    n_draws
        Parameter draws for ``clv_low`` / ``clv_high`` (0: no interval).
    random_state
        Seed of the draws.

    Returns
    -------
    pandas.DataFrame
        The columns in :data:`PREDICTION_COLUMNS` (``model`` is the model's name).
    """
    f = summary["frequency"].to_numpy(dtype=float)
    r = summary["recency_days"].to_numpy(dtype=float)
    T = summary["t_days"].to_numpy(dtype=float)
    ends, factors = discount_schedule(horizon_days, annual_discount_rate)
    every = model.predict_all(f, r, T, horizon=horizon_days, at=ends, probability=0.5)
    expected, alive = every["expected_purchases"], every["probability_alive"]
    quiet, wait = every["probability_no_purchase"], every["time_to_next_purchase"]
    spend, kept = _spend(summary, spend_model)
    value = spend * kept
    discounted = _discount(every["expected_purchases_at"], factors)
    clv = discounted * value
    low, high = clv.copy(), clv.copy()
    if n_draws > 0 and len(f):
        lo_e, hi_e = model.quantiles_over_draws(
            lambda p, d: model._expected_purchases(p, d, horizon_days),
            f,
            r,
            T,
            n_draws=n_draws,
            random_state=random_state,
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(expected > 0, discounted / expected, 0.0)
        low, high = lo_e * ratio * value, hi_e * ratio * value
    start = pd.Timestamp(as_of)
    next_at = [
        None if not np.isfinite(w) else (start + timedelta(days=float(np.ceil(w)))).date()
        for w in wait
    ]
    return pd.DataFrame(
        {
            "customer_id": summary["customer_id"].to_numpy(),
            "model": model.name,
            "expected_orders": expected,
            "p_alive": alive,
            "p_no_order": quiet,
            "expected_next_order_at": next_at,
            "expected_spend": value,
            "clv": clv,
            "clv_low": np.minimum(low, clv),
            "clv_high": np.maximum(high, clv),
        }
    )

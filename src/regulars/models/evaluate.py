"""Holdout metrics of predictive models: arrays in, numbers out (no I/O).

Given, per calibration customer, what a model predicted for the holdout and what
happened, :func:`holdout_metrics` computes:

- **Totals**: predicted and actual purchases, and the bias (predicted - actual) / actual.
- **Per customer**: mean absolute error (MAE), root mean squared error (RMSE) and the
  Pearson correlation of predicted and actual purchases (FHL 2005 report 0.626 for
  BG/NBD on CDNOW).
- **Conditional expectations** by calibration frequency 0, 1, ..., 6 and 7+: customers,
  mean actual and mean predicted holdout purchases (the layout of Fig. 4 in Fader, Hardie
  & Lee 2005).
- **Buys again**: AUC and Brier score of P(at least one purchase in the holdout) against
  whether the customer bought; AUC is undefined (None) when everyone or no one bought.
- **Revenue ranking**: Spearman's rank correlation and the normalized Gini of predicted
  against actual holdout revenue.

A count model gives all of these; a classifier only the "buys again" pair.
:func:`expected_cumulative` gives a model's unconditional forecast of a customer base's
cumulative repeat purchases (the tracking plot of FHL 2005, Fig. 3).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from regulars.errors import InputError

__all__ = [
    "METRIC_DEFINITIONS",
    "ConditionalRow",
    "HoldoutMetrics",
    "best_by_mae",
    "brier_score",
    "conditional_expectation",
    "expected_cumulative",
    "gini",
    "holdout_metrics",
    "normalized_gini",
    "spearman",
]

FloatArray = npt.NDArray[np.float64]

METRIC_DEFINITIONS: dict[str, str] = {
    "bias": "(predicted - actual) / actual holdout purchases, summed over customers: "
    "negative means the model forecasts too few.",
    "mae": "Mean absolute error: the average over customers of |predicted - actual| holdout "
    "purchases. The best model is the one with the lowest.",
    "rmse": "Root mean squared error of holdout purchases per customer: like MAE, but large "
    "misses weigh more.",
    "correlation": "Pearson correlation of predicted and actual holdout purchases per "
    "customer (Fader, Hardie & Lee 2005 report 0.626 for BG/NBD on CDNOW).",
    "conditional_expectation": "Customers grouped by calibration repeat purchases (0 to 6, "
    "and 7 or more): mean actual against mean predicted holdout purchases (FHL 2005, Fig. 4).",
    "auc": "Area under the ROC curve of P(buys again in the holdout) against whether the "
    "customer did: the chance that a random buyer is ranked above a random non-buyer "
    "(0.5 = chance, 1 = perfect); undefined when everyone or no one bought.",
    "brier": "Brier score: the mean of (P(buys again) - outcome)^2, outcome 1 or 0; lower is "
    "better, and it rewards calibrated probabilities, not only good ranking.",
    "spearman": "Spearman's rank correlation of predicted and actual holdout revenue per "
    "customer (tied values get their mean rank).",
    "normalized_gini": "Gini of actual holdout revenue with customers ordered by predicted "
    "revenue, divided by the Gini with customers ordered by actual revenue: 1 = perfect "
    "ordering, 0 = random; tied predictions share their revenue equally.",
}
"""Metric -> its definition in words (the report shows them)."""

MAX_FREQUENCY = 7
"""The last bucket of the conditional-expectation table: 7 stands for 7 and more."""


@dataclass(frozen=True)
class ConditionalRow:
    """One row of the conditional-expectation table (FHL 2005, Fig. 4).

    Attributes
    ----------
    frequency
        Calibration repeat purchases; the last bucket holds this many *or more*.
    label
        ``"0"``, ``"1"``, ..., ``"7+"``.
    customers
        Customers in the bucket.
    actual_mean, predicted_mean
        Mean holdout purchases, actual and predicted; None for an empty bucket.
    """

    frequency: int
    label: str
    customers: int
    actual_mean: float | None
    predicted_mean: float | None


@dataclass(frozen=True)
class HoldoutMetrics:
    """The holdout scores of one candidate; None where the candidate gives no such number.

    Attributes
    ----------
    customers
        Customers scored.
    actual_purchases, predicted_purchases
        Holdout purchases summed over the customers.
    bias
        (predicted - actual) / actual, a share: -0.12 is 12% under.
    mae, rmse
        Per-customer mean absolute error and root mean squared error of purchases.
    correlation
        Pearson correlation of predicted and actual purchases per customer.
    buyers
        Customers with at least one holdout purchase.
    auc, brier
        Area under the ROC curve and Brier score of P(buys again) against buying.
    actual_revenue, predicted_revenue
        Holdout revenue summed over the customers.
    spearman, normalized_gini
        Rank agreement of predicted and actual revenue per customer.
    conditional_expectation
        The FHL 2005 Fig. 4 table (empty without a calibration frequency).
    """

    customers: int
    actual_purchases: float | None = None
    predicted_purchases: float | None = None
    bias: float | None = None
    mae: float | None = None
    rmse: float | None = None
    correlation: float | None = None
    buyers: int | None = None
    auc: float | None = None
    brier: float | None = None
    actual_revenue: float | None = None
    predicted_revenue: float | None = None
    spearman: float | None = None
    normalized_gini: float | None = None
    conditional_expectation: tuple[ConditionalRow, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """Return the metrics as JSON-ready data (NaN becomes None)."""
        out = asdict(self)
        out["conditional_expectation"] = [asdict(row) for row in self.conditional_expectation]
        return {k: _finite(v) for k, v in out.items()}


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _array(values: Any, name: str, n: int | None = None) -> FloatArray:
    array = np.asarray(values, dtype=np.float64).reshape(-1)
    if n is not None and len(array) != n:
        raise InputError(
            f"{name} has {len(array):,} values; expected one per customer ({n:,}).",
            column=name,
            fix="Take every array from the same calibration/holdout table, in one order.",
        )
    if not np.isfinite(array).all():
        where = int(np.flatnonzero(~np.isfinite(array))[0])
        raise InputError(
            f"{name} must be finite numbers.",
            column=name,
            row=where,
            fix="Fill or drop the missing values first.",
        )
    return array


def _pearson(a: FloatArray, b: FloatArray) -> float | None:
    if len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    return float(np.corrcoef(a, b)[0, 1])


def conditional_expectation(
    frequency: Any, actual: Any, predicted: Any, *, max_frequency: int = MAX_FREQUENCY
) -> tuple[ConditionalRow, ...]:
    """Return mean actual and predicted holdout purchases by calibration frequency.

    Parameters
    ----------
    frequency
        Calibration repeat purchases per customer.
    actual, predicted
        Holdout purchases per customer.
    max_frequency
        The last bucket: customers with this many repeat purchases or more.

    Returns
    -------
    tuple of ConditionalRow
        One row per bucket 0, 1, ..., ``max_frequency`` (the last is ``"7+"``), empty
        buckets included (means None).
    """
    x = _array(frequency, "frequency")
    y = _array(actual, "actual", len(x))
    p = _array(predicted, "predicted", len(x))
    bucket = np.minimum(x, max_frequency).astype(np.int64)
    rows = []
    for k in range(max_frequency + 1):
        inside = bucket == k
        n = int(inside.sum())
        rows.append(
            ConditionalRow(
                frequency=k,
                label=f"{k}+" if k == max_frequency else str(k),
                customers=n,
                actual_mean=float(y[inside].mean()) if n else None,
                predicted_mean=float(p[inside].mean()) if n else None,
            )
        )
    return tuple(rows)


def brier_score(outcome: Any, probability: Any) -> float:
    """Return the Brier score: the mean of (probability - outcome)^2 (0 is perfect).

    Parameters
    ----------
    outcome
        1 when the event happened (the customer bought again), 0 otherwise.
    probability
        The predicted probability of the event.
    """
    y = _array(outcome, "outcome")
    p = _array(probability, "probability", len(y))
    return float(np.mean((p - y) ** 2)) if len(y) else float("nan")


def _tie_mean(values: FloatArray, keys: FloatArray) -> FloatArray:
    """Replace each value by the mean of the values sharing its key."""
    _, inverse = np.unique(keys, return_inverse=True)
    inverse = inverse.reshape(-1)
    sums = np.bincount(inverse, weights=values)
    counts = np.bincount(inverse)
    return np.asarray(sums[inverse] / counts[inverse], dtype=np.float64)


def gini(actual: Any, score: Any) -> float:
    """Return the Gini of ``actual`` ordered by ``score`` (highest score first).

    The Gini is the mean, over the first k customers for k = 1..n, of their share of the
    total actual value, minus the share a random order gives, (n + 1) / (2n). Customers
    with equal scores share their actual values equally (the expected Gini over random
    orders of the ties), so the result does not depend on the input order.

    Parameters
    ----------
    actual
        The actual values (holdout revenue); their total must not be 0.
    score
        The values the customers are ranked by.

    Returns
    -------
    float
        NaN when the actual total is 0 or there are no customers.
    """
    y = _array(actual, "actual")
    s = _array(score, "score", len(y))
    total = float(y.sum())
    if len(y) == 0 or total == 0:
        return float("nan")
    order = np.argsort(-s, kind="stable")
    shared = _tie_mean(y, s)[order]
    n = len(y)
    return float(np.cumsum(shared).sum() / total / n - (n + 1) / (2 * n))


def normalized_gini(actual: Any, predicted: Any) -> float | None:
    """Return Gini(actual ordered by predicted) / Gini(actual ordered by actual).

    1 means the prediction orders customers as well as knowing the outcome would, 0 no
    better than chance, negative worse. None when undefined (no actual revenue, or all
    customers alike).
    """
    best = gini(actual, actual)
    if not np.isfinite(best) or best == 0:
        return None
    return gini(actual, predicted) / best


def spearman(actual: Any, predicted: Any) -> float | None:
    """Return Spearman's rank correlation (ties get mean ranks); None if either is constant."""
    a = _array(actual, "actual")
    p = _array(predicted, "predicted", len(a))
    if len(a) < 2 or np.ptp(a) == 0 or np.ptp(p) == 0:
        return None
    return float(spearmanr(a, p).statistic)


def expected_cumulative(
    first_days: Any, customers: Any, points: Any, expected_new: Any
) -> FloatArray:
    """Return the expected cumulative repeat purchases of a customer base at given days.

    The unconditional forecast of FHL 2005 (section 4): at day D, the sum over customers
    of E[X(D - s)], where s is the customer's first purchase day and E[X(t)] the expected
    repeat purchases of a new customer by age t (equation 9 for BG/NBD).

    Parameters
    ----------
    first_days
        Distinct first purchase days, as day numbers (any origin shared with ``points``).
    customers
        How many customers made their first purchase on each of ``first_days``.
    points
        The days D at which to evaluate, as day numbers.
    expected_new
        A function of an array of ages (days) returning E[X(age)] for each: a fitted
        model's ``expected_purchases_new_customer``.

    Returns
    -------
    numpy.ndarray
        One expected cumulative count per point.
    """
    s = _array(first_days, "first_days")
    n = _array(customers, "customers", len(s))
    d = _array(points, "points")
    ages = d[:, None] - s[None, :]
    known = ages >= 0
    values = np.zeros(ages.shape)
    if known.any():
        values[known] = np.asarray(expected_new(ages[known]), dtype=np.float64)
    return np.asarray(values @ n, dtype=np.float64)


def holdout_metrics(
    actual_purchases: Any,
    *,
    frequency: Any = None,
    predicted_purchases: Any = None,
    probability_buys: Any = None,
    actual_revenue: Any = None,
    predicted_revenue: Any = None,
    max_frequency: int = MAX_FREQUENCY,
) -> HoldoutMetrics:
    """Score one candidate's holdout predictions; leave out what it does not predict.

    Parameters
    ----------
    actual_purchases
        Holdout purchases per customer (purchase days).
    frequency
        Calibration repeat purchases, for the conditional-expectation table.
    predicted_purchases
        Expected holdout purchases per customer (count models).
    probability_buys
        P(at least one purchase in the holdout) per customer.
    actual_revenue, predicted_revenue
        Holdout revenue per customer, actual and predicted (both or neither).
    max_frequency
        The last bucket of the conditional-expectation table (7 means 7+).

    Returns
    -------
    HoldoutMetrics
        The scores; None for what was not given or is undefined.

    Raises
    ------
    InputError
        When arrays differ in length or hold missing values.
    """
    y = _array(actual_purchases, "actual_purchases")
    n = len(y)
    metrics: dict[str, Any] = {"customers": n, "actual_purchases": float(y.sum())}
    bought = (y > 0).astype(np.float64)
    metrics["buyers"] = int(bought.sum())
    if predicted_purchases is not None:
        p = _array(predicted_purchases, "predicted_purchases", n)
        error = p - y
        total = float(p.sum())
        metrics.update(
            predicted_purchases=total,
            bias=(total - float(y.sum())) / float(y.sum()) if y.sum() > 0 else None,
            mae=float(np.abs(error).mean()) if n else None,
            rmse=float(np.sqrt((error**2).mean())) if n else None,
            correlation=_pearson(p, y),
        )
        if frequency is not None:
            metrics["conditional_expectation"] = conditional_expectation(
                frequency, y, p, max_frequency=max_frequency
            )
    if probability_buys is not None:
        q = _array(probability_buys, "probability_buys", n)
        metrics["brier"] = brier_score(bought, q) if n else None
        both = 0 < metrics["buyers"] < n
        metrics["auc"] = float(roc_auc_score(bought, q)) if both else None
    if (actual_revenue is None) != (predicted_revenue is None):
        raise InputError(
            "Give both actual_revenue and predicted_revenue, or neither.",
            fix="Pass the predicted revenue with the actual one.",
        )
    if actual_revenue is not None:
        a = _array(actual_revenue, "actual_revenue", n)
        v = _array(predicted_revenue, "predicted_revenue", n)
        metrics.update(
            actual_revenue=float(a.sum()),
            predicted_revenue=float(v.sum()),
            spearman=spearman(a, v),
            normalized_gini=normalized_gini(a, v),
        )
    return HoldoutMetrics(**metrics)


def best_by_mae(maes: Mapping[str, float]) -> tuple[str | None, str]:
    """Return the name with the lowest MAE and why, in a sentence.

    Ties (within a relative 1e-6) go to the first name given, and the sentence says so.
    """
    if not maes:
        return None, "No count model converged, so none can be recommended."
    ranked = sorted(maes.items(), key=lambda nm: nm[1])  # stable: ties keep the given order
    best, mae = ranked[0]
    if len(ranked) == 1:
        return best, f"{best} is the only count model scored (MAE {mae:.4g})."
    tied = [n for n, m in ranked[1:] if math.isclose(m, mae, rel_tol=1e-6)]
    if tied:
        return best, (
            f"{best} is listed first among models tied on per-customer MAE of holdout "
            f"purchases ({mae:.4g}: {', '.join(tied)} too): they predict alike on this store."
        )
    others = ", ".join(f"{n} {m:.4g}" for n, m in ranked[1:])
    return (
        best,
        f"{best} has the lowest per-customer MAE of holdout purchases ({mae:.4g}; {others}).",
    )

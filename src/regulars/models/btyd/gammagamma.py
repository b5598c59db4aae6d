"""Gamma-Gamma: the spend model of Colombo & Jiang (1999) as set out by Fader & Hardie (2013).

Colombo, R. and W. Jiang (1999), "A stochastic RFM model", Journal of Interactive
Marketing 13(3), 2-12; Fader, P. S. and B. G. S. Hardie (2013), "The Gamma-Gamma Model of
Monetary Value", http://brucehardie.com/notes/025/. Each transaction value of a customer
is Gamma(p, nu); the scale nu varies across customers as Gamma(q, gamma). The model reads,
per customer, the number x of repeat transactions and their mean value m (regulars:
``frequency`` and ``monetary_value`` of :func:`regulars.analytics.summary.customer_summary`).

Equations used (numbers of the note, as cited by lifetimes and pymc-marketing):

- (1a) the density of m given x, Gamma(px+q)/(Gamma(px) Gamma(q)) gamma^q m^(px-1) x^px
  / (gamma + x m)^(px+q): the likelihood, with its analytic gradient;
- (3) E(Z) = gamma p / (q - 1), the population mean transaction value (infinite when q <= 1);
- (5) E(Z | x, m) = (q-1)/(px+q-1) gamma p/(q-1) + px/(px+q-1) m = p (gamma + x m)/(px+q-1),
  the conditional expectation: a weighted average of the population mean and the
  customer's own mean.

Which customers the fit reads, and what the others are predicted (a documented rule, so
that returns, refunds and free orders never crash a fit or turn into a silent NaN):

- customers with ``frequency`` 0 have no repeat transaction to average: they are left out
  of the fit (their ``monetary_value`` is ignored, it may be missing); their expected spend
  is the population mean, eq. (3);
- repeat customers whose ``monetary_value`` is <= 0 (refunds or free orders outweigh
  the purchases) or not finite (missing, or infinite) are left out of the fit too, as
  the gamma-gamma model has no mass there; ``excluded_`` counts them by reason
  (``non_positive_spend``, ``missing_spend``) and their expected spend falls back to the
  population mean, as for a new customer;
- when the fitted q is <= 1 the population mean is infinite: ``population_mean_spend``
  and any prediction that needs it raise :class:`~regulars.errors.ModelError` saying so.

The model assumes that spend is independent of the purchase process; Fader & Hardie
(2013) suggest checking that frequency and mean spend are little correlated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Self

import numpy as np
import numpy.typing as npt
from scipy.special import digamma, gammaln

from regulars.errors import InputError, ModelError, NotFittedError
from regulars.models.btyd.data import _first_bad, as_array
from regulars.models.btyd.mle import MLEModel, Params

__all__ = ["GammaGamma", "SpendData", "check_spend", "compress_spend", "spend_exclusions"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

EXCLUSION_REASONS = ("no_repeat_purchase", "non_positive_spend", "missing_spend")
"""The keys of ``excluded_``: why customers were left out of the fit."""


@dataclass(frozen=True)
class SpendData:
    """Distinct (x, m) rows of repeat customers with their weights.

    Attributes
    ----------
    x
        Repeat transactions (>= 1), one per distinct row.
    m
        Mean value of those transactions (> 0).
    weight
        How many customers each row stands for.
    covariates
        Always ``None``: the model takes no covariates.
    """

    x: FloatArray
    m: FloatArray
    weight: FloatArray
    covariates: FloatArray | None = None

    @property
    def rows(self) -> int:
        """The number of distinct rows."""
        return len(self.x)

    @property
    def total_weight(self) -> float:
        """The number of customers (sum of weights)."""
        return float(self.weight.sum())


def check_spend(
    frequency: Any, monetary_value: Any, *, weights: Any = None
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Check the inputs; return frequency, monetary value and weights as float arrays.

    Raises
    ------
    InputError
        Naming the input and the first position at fault: lengths differ, a frequency is
        not a finite whole number >= 0, a weight is not a finite positive number. Monetary
        values are not errors: the ones the model cannot read are excluded (see the module).
    """
    x = as_array(frequency, "frequency")
    m = as_array(monetary_value, "monetary_value")
    w = np.ones_like(x) if weights is None else as_array(weights, "weights")
    lengths = {"frequency": len(x), "monetary_value": len(m), "weights": len(w)}
    if len(set(lengths.values())) != 1:
        raise InputError(
            "frequency, monetary_value and weights must have one value per customer; "
            f"got lengths {lengths}.",
            expected="arrays of the same length",
            fix="Take the columns from the same table.",
        )
    _first_bad("frequency", x, ~np.isfinite(x), "finite numbers")
    _first_bad("frequency", x, (x < 0) | (x != np.floor(x)), "whole numbers >= 0")
    _first_bad("weights", w, ~np.isfinite(w), "finite numbers")
    _first_bad("weights", w, w <= 0, "positive")
    return x, m, w


def spend_exclusions(x: FloatArray, m: FloatArray) -> dict[str, BoolArray]:
    """Per reason, which customers the fit leaves out (see the module docstring)."""
    repeat = x > 0
    finite = np.isfinite(m)
    return {
        "no_repeat_purchase": ~repeat,
        "non_positive_spend": repeat & finite & (m <= 0),
        "missing_spend": repeat & ~finite,
    }


def compress_spend(x: FloatArray, m: FloatArray, w: FloatArray) -> SpendData:
    """Merge identical (x, m) rows, summing their weights (inputs already checked)."""
    if len(x) == 0:
        return SpendData(x=x, m=m, weight=w)
    unique, inverse = np.unique(np.column_stack([x, m]), axis=0, return_inverse=True)
    weight = np.bincount(inverse.reshape(-1), weights=w, minlength=len(unique))
    return SpendData(
        x=np.ascontiguousarray(unique[:, 0]),
        m=np.ascontiguousarray(unique[:, 1]),
        weight=weight.astype(np.float64),
    )


class GammaGamma(MLEModel):
    """The Gamma-Gamma model of mean transaction value, fitted by maximum likelihood.

    Parameters are ``p`` (shape of each transaction's value), ``q`` and ``gamma`` (shape
    and rate of the customers' scale nu); the settings are those of
    :class:`~regulars.models.btyd.mle.MLEModel`.

    Examples
    --------
    >>> model = GammaGamma().fit(summary["frequency"], summary["monetary_value"])  # doctest: +SKIP
    >>> model.expected_spend(summary["frequency"], summary["monetary_value"])  # doctest: +SKIP
    """

    param_names = ("p", "q", "gamma")
    name = "Gamma-Gamma"
    reference = (
        "Fader & Hardie (2013), The Gamma-Gamma Model of Monetary Value; Colombo & Jiang (1999)"
    )

    # ----------------------------------------------------------------------------- fit
    def fit(self, frequency: Any, monetary_value: Any, *, weights: Any = None) -> Self:
        """Fit the model by maximum likelihood on the repeat customers with a positive spend.

        Parameters
        ----------
        frequency
            Per customer: the number of repeat transactions x (a whole number >= 0).
        monetary_value
            Per customer: the mean value of those repeat transactions (may be missing for
            customers without one).
        weights
            How many customers each row stands for (default 1 each).

        Returns
        -------
        Self
            The fitted model; ``excluded_`` counts (by weight) the customers left out of
            the fit, by reason: ``no_repeat_purchase``, ``non_positive_spend`` and
            ``missing_spend``.

        Raises
        ------
        InputError
            When an input is not what the model reads (the message names it), or no
            customer is left to fit on.
        ConvergenceError
            When no starting point reaches a maximum.
        """
        x, m, w = check_spend(frequency, monetary_value, weights=weights)
        excluded = spend_exclusions(x, m)
        keep = ~np.logical_or.reduce(list(excluded.values()))
        if not keep.any():
            raise InputError(
                "There are no repeat customers with a positive monetary_value to fit the "
                f"model on (of {len(x):,} customers given).",
                column="monetary_value",
                fix="Fit on customers with frequency >= 1 and a mean repeat spend > 0.",
            )
        data = compress_spend(x[keep], m[keep], w[keep])
        theta = self._maximize(data)
        self._set_fitted(theta, data)
        self.excluded_ = {reason: float(w[bad].sum()) for reason, bad in excluded.items()}
        return self

    def _start(self, data: SpendData) -> dict[str, float]:
        """Return p = 1, q = 2 and gamma so that the population mean is the data's mean."""
        mean = float(data.weight @ data.m) / data.total_weight
        return {"p": 1.0, "q": 2.0, "gamma": max(mean, 1e-6)}

    def _loglik_rows(self, p: Params, data: SpendData) -> tuple[FloatArray, dict[str, FloatArray]]:
        """Equation (1a) of Fader & Hardie (2013), the density of m given x, and its gradient.

        The gradient is with respect to log p, log q and log gamma.
        """
        pp, q, g = p["p"], p["q"], p["gamma"]
        x, m = data.x, data.m
        px = pp * x
        log_gxm = np.log(g + x * m)
        ll = (
            gammaln(px + q)
            - gammaln(px)
            - gammaln(q)
            + q * np.log(g)
            + (px - 1) * np.log(m)
            + px * np.log(x)
            - (px + q) * log_gxm
        )
        psi = digamma(px + q)
        grads = {
            "p": px * (psi - digamma(px) + np.log(m) + np.log(x) - log_gxm),
            "q": q * (psi - digamma(q) + np.log(g) - log_gxm),
            "gamma": q - (px + q) * g / (g + x * m),
        }
        return np.asarray(ll, dtype=np.float64), grads

    # ------------------------------------------------------------------- predictions
    def _require_fitted(self) -> None:
        if not hasattr(self, "theta_"):
            raise NotFittedError(
                f"This {self.name} model is not fitted yet.",
                fix="Call fit(frequency, monetary_value) first.",
            )

    def population_mean_spend(self) -> float:
        """Return E(Z) = gamma p / (q - 1), eq. (3): the mean transaction value of anyone.

        Raises
        ------
        ModelError
            When the fitted q is <= 1: the gamma-gamma mean is then infinite.
        """
        self._require_fitted()
        q = self.params_["q"]
        if q <= 1:
            raise ModelError(
                f"The fitted q is {q:.4g} <= 1, so the population mean spend gamma p / (q - 1) "
                "is infinite: the model sees a spend distribution with too heavy a tail.",
                fix="Check monetary_value for outliers (or a wrong unit) before fitting, "
                "or predict only customers with repeat purchases.",
            )
        return self.params_["gamma"] * self.params_["p"] / (q - 1)

    def expected_spend(self, frequency: Any, monetary_value: Any) -> FloatArray:
        """Return the expected mean value of each customer's future transactions, eq. (5).

        E(Z | x, m) = (q-1)/(px+q-1) * gamma p/(q-1) + px/(px+q-1) * m, computed as
        p (gamma + x m) / (px + q - 1). Customers the fit would leave out (frequency 0,
        monetary_value <= 0 or missing) get the population mean, eq. (3).

        Raises
        ------
        ModelError
            When a customer needs the population mean and q <= 1 (it is infinite), or
            px + q <= 1 for a repeat customer (their posterior mean is infinite).
        """
        self._require_fitted()
        x, m, _ = check_spend(frequency, monetary_value)
        fallback = np.logical_or.reduce(list(spend_exclusions(x, m).values()))
        out = np.empty(len(x))
        if fallback.any():
            out[fallback] = self.population_mean_spend()
        pp, q, g = self.params_["p"], self.params_["q"], self.params_["gamma"]
        own = ~fallback
        denominator = pp * x[own] + q - 1
        if (denominator <= 0).any():
            raise ModelError(
                f"With p = {pp:.4g} and q = {q:.4g}, p x + q <= 1 for some customers, so "
                "their expected spend is infinite.",
                fix="Check monetary_value for outliers (or a wrong unit) before fitting.",
            )
        out[own] = pp * (g + x[own] * m[own]) / denominator
        return out

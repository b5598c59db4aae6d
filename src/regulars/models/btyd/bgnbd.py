"""BG/NBD: the beta-geometric / negative binomial model of Fader, Hardie & Lee (2005).

"'Counting Your Customers' the Easy Way: An Alternative to the Pareto/NBD Model",
Marketing Science 24(2), 275-284. While active, a customer buys at rate lambda ~
Gamma(r, alpha); after each purchase they drop out with probability p ~ Beta(a, b).

Equations used (numbers of the paper):

- (6) the likelihood of (x, t_x, T);
- (9) E[X(t)], the expected purchases of a new customer;
- (10) E[Y(t) | x, t_x, T], the conditional expectation, computed after Euler's
  transformation of its 2F1 so that no term overflows at large x;
- (13) P(alive | x, t_x, T); note that it is 1 for customers without a repeat purchase
  (the model lets customers drop out only after a purchase): MBG/NBD and Pareto/NBD don't.

Time-invariant covariates (optional): ``purchase`` acts on alpha (log alpha_i = log alpha
- z_i . coef, so a positive coefficient means more purchases), ``dropout`` on a and b
(log a_i = log a + z_i . coef, log b_i = log b + z_i . coef), as in pymc-marketing.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
from scipy.special import betaln, digamma, expit, gammaln, hyp2f1

from regulars.models.btyd.base import BTYDModel, Params
from regulars.models.btyd.data import CountData

__all__ = ["BGNBD"]

FloatArray = npt.NDArray[np.float64]


def by_x(data: CountData, fn: Any, *params: Any) -> FloatArray:
    """Evaluate ``fn(x, *params)`` once per distinct x when the parameters are scalars."""
    if all(np.ndim(p) == 0 for p in params):
        return np.asarray(fn(data.x_values, *params))[data.x_index]
    return np.asarray(fn(data.x, *params))


def _weight_sums(data: CountData) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per distinct x: the weight; per distinct T: the weight and the weighted x."""
    assert data.T_values is not None and data.T_index is not None
    w = data.weight
    n_T = len(data.T_values)
    return (
        np.bincount(data.x_index, weights=w, minlength=len(data.x_values)).astype(np.float64),
        np.bincount(data.T_index, weights=w, minlength=n_T).astype(np.float64),
        np.bincount(data.T_index, weights=w * data.x, minlength=n_T).astype(np.float64),
    )


class BGNBD(BTYDModel):
    """The BG/NBD model (Fader, Hardie & Lee 2005), fitted by maximum likelihood.

    Parameters are ``r``, ``alpha`` (purchase rate heterogeneity, alpha in the time unit
    of the data) and ``a``, ``b`` (dropout probability heterogeneity).

    Examples
    --------
    >>> model = BGNBD().fit(frequency, recency_days, t_days)  # doctest: +SKIP
    >>> model.expected_purchases(frequency, recency_days, t_days, horizon=90)  # doctest: +SKIP
    """

    param_names = ("r", "alpha", "a", "b")
    covariate_links: ClassVar[dict[str, tuple[tuple[str, float], ...]]] = {
        "purchase": (("alpha", -1.0),),
        "dropout": (("a", 1.0), ("b", 1.0)),
    }
    name = "BG/NBD"
    reference = "Fader, Hardie & Lee (2005), Marketing Science 24(2)"
    extra: ClassVar[int] = 0
    """0 for BG/NBD; 1 for MBG/NBD, where a customer may also drop out at time 0."""

    def _start(self, data: CountData) -> dict[str, float]:
        w = data.weight
        rate = float(w @ data.x) / max(float(w @ data.T), 1e-9)
        return {"r": 1.0, "alpha": 1.0 / max(rate, 1e-6), "a": 0.8, "b": 2.5}

    def _terms(self, p: Params, data: CountData) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Log of the constant part, of the 'alive at T' term and of the 'dropped' term."""
        r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
        e = self.extra
        x = data.x
        const = (
            by_x(data, lambda v, rr: gammaln(rr + v), r)
            - gammaln(r)
            + r * np.log(alpha)
            + by_x(data, lambda v, aa, bb: betaln(aa, bb + v + e), a, b)
            - betaln(a, b)
        )
        alive = -(r + x) * np.log(alpha + data.T)
        has_second = (x > 0) | (e == 1)
        denominator = np.where(has_second, b + x + e - 1, 1.0)
        dropped = np.where(
            has_second,
            np.log(a) - np.log(denominator) - (r + x) * np.log(alpha + data.t_x),
            -np.inf,
        )
        return const, alive, dropped

    def _loglik_rows(self, p: Params, data: CountData) -> tuple[FloatArray, dict[str, FloatArray]]:
        """Equation (6) of FHL 2005 (MBG/NBD: Batislam et al. 2007, eq. 6), and its gradient."""
        if data.T_values is not None and all(np.ndim(v) == 0 for v in p.values()):
            return self._loglik_by_value(p, data)
        return self._loglik_by_row(p, data)

    def _per_x(self, r: float, a: float, b: float, xv: FloatArray) -> FloatArray:
        """Return the terms of x alone, one column per distinct x in ``xv``.

        Rows: the constant of the log-likelihood (without r log(alpha)); the x parts of its
        derivatives in log r, log a and log b; b / (b + x + e - 1); and log(a / (b + x + e
        - 1)), the log-odds part of 'dropped after the last purchase' (-inf when there is
        no second purchase to drop out after: x = 0 in BG/NBD).
        """
        e = self.extra
        has_second = (xv > 0) | (e == 1)
        denominator = np.where(has_second, b + xv + e - 1, 1.0)
        log_den = np.where(has_second, np.log(denominator), np.inf)
        psi_ab = digamma(a + b)
        psi_abx = digamma(a + b + xv + e)
        return np.stack(
            [
                gammaln(r + xv) - gammaln(r) + betaln(a, b + xv + e) - betaln(a, b),
                digamma(r + xv) - digamma(r),
                a * (psi_ab - psi_abx),
                b * (digamma(b + xv + e) - psi_abx - digamma(b) + psi_ab),
                b / denominator,
                np.log(a) - log_den,
            ]
        )

    def _loglik_by_value(
        self, p: Params, data: CountData
    ) -> tuple[FloatArray, dict[str, FloatArray]]:
        """Compute what :meth:`_loglik_by_row` does, for scalar parameters, faster.

        Terms of x alone are computed per distinct x, logs of alpha + T and alpha + t_x per
        distinct value, and ll = const + A + log(1 + e^D) with D = B - A, the log-odds of
        'dropped after the last purchase' (q = expit(D)).
        """
        r, alpha, a, b = (float(p[name]) for name in self.param_names)
        assert data.T_index is not None and data.t_x_values is not None
        assert data.T_values is not None and data.t_x_index is not None
        per_x = self._per_x(r, a, b, data.x_values)[:, data.x_index]
        const, d_r_x, d_a_x, d_b_x, b_den, log_ratio = per_x
        log_T = np.log(alpha + data.T_values)[data.T_index]
        shift = np.log1p(data.T_values / alpha)[data.T_index]  # log(alpha + T) - log(alpha)
        inv_T = (1 / (alpha + data.T_values))[data.T_index]
        log_tx = np.log(alpha + data.t_x_values)[data.t_x_index]
        inv_tx = (1 / (alpha + data.t_x_values))[data.t_x_index]
        rx = r + data.x
        gap = log_T - log_tx
        odds = log_ratio + rx * gap  # D = B - A
        q = expit(odds)
        # r log(alpha) - (r + x) log(alpha + T), without the cancellation of two large terms
        ll = const - r * shift - data.x * log_T + np.logaddexp(0.0, odds)
        grads = {
            "r": r * (d_r_x - shift + q * gap),
            "alpha": (r * data.T - data.x * alpha) * inv_T - alpha * rx * q * (inv_tx - inv_T),
            "a": d_a_x + q,
            "b": d_b_x - q * b_den,
        }
        return ll, grads

    def _loglik_totals(self, p: Params, data: CountData) -> tuple[float, FloatArray] | None:
        """Return the weighted sums over rows of :meth:`_loglik_by_value`, in fewer passes.

        Terms of x alone are summed per distinct x (times the weight of that x), terms of T
        alone per distinct T; only the terms holding q = expit(D) are summed row by row.
        """
        if data.T_values is None or not all(np.ndim(v) == 0 for v in p.values()):
            return None
        assert data.T_index is not None and data.t_x_values is not None
        assert data.t_x_index is not None
        r, alpha, a, b = (float(p[name]) for name in self.param_names)
        w_x, w_T, wx_T = self._per_data(data, _weight_sums)
        const, d_r_x, d_a_x, d_b_x, b_den, log_ratio = self._per_x(r, a, b, data.x_values)
        log_T = np.log(alpha + data.T_values)
        log_tx = np.log(alpha + data.t_x_values)
        shift = np.log1p(data.T_values / alpha)  # log(alpha + T) - log(alpha)
        inv_T = 1 / (alpha + data.T_values)
        w = data.weight
        rx = r + data.x
        gap = log_T[data.T_index] - log_tx[data.t_x_index]
        odds = log_ratio[data.x_index] + rx * gap  # D = B - A
        wq = w * expit(odds)
        inv_gap = (1 / (alpha + data.t_x_values))[data.t_x_index]
        inv_gap -= inv_T[data.T_index]
        # r log(alpha) - (r + x) log(alpha + T), without the cancellation of two large terms
        ll = w_x @ const - r * (w_T @ shift) - wx_T @ log_T
        ll += float((w * np.logaddexp(0.0, odds)).sum())
        q_x = np.bincount(data.x_index, weights=wq, minlength=len(data.x_values))
        grad = np.array(
            [
                r * (w_x @ d_r_x - w_T @ shift + float((wq * gap).sum())),
                (r * w_T * data.T_values - wx_T * alpha) @ inv_T
                - alpha * float((wq * rx * inv_gap).sum()),
                w_x @ d_a_x + q_x.sum(),
                w_x @ d_b_x - q_x @ b_den,
            ]
        )
        return float(ll), grad

    def _loglik_by_row(
        self, p: Params, data: CountData
    ) -> tuple[FloatArray, dict[str, FloatArray]]:
        """Equation (6) row by row: parameters may differ per row (covariates)."""
        r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
        e = self.extra
        x = data.x
        const, alive, dropped = self._terms(p, data)
        mix = np.logaddexp(alive, dropped)
        q = np.exp(dropped - mix)  # share of the 'dropped after the last purchase' term
        log_T = np.log(alpha + data.T)
        log_tx = np.log(alpha + data.t_x)
        has_second = (x > 0) | (e == 1)
        denominator = np.where(has_second, b + x + e - 1, 1.0)
        d_r = by_x(data, lambda v, rr: digamma(rr + v), r) - digamma(r) + np.log(alpha)
        d_r = d_r - (1 - q) * log_T - q * log_tx
        d_alpha = r - (r + x) * alpha * ((1 - q) / (alpha + data.T) + q / (alpha + data.t_x))
        psi_ab = digamma(a + b)
        psi_abx = by_x(data, lambda v, aa, bb: digamma(aa + bb + v + e), a, b)
        d_a = a * (psi_ab - psi_abx) + q
        psi_bx = by_x(data, lambda v, bb: digamma(bb + v + e), b)
        d_b = b * (psi_bx - psi_abx - digamma(b) + psi_ab) - q * b / denominator
        grads = {"r": r * d_r, "alpha": d_alpha, "a": d_a, "b": d_b}
        return const + mix, grads

    def _log_odds_dropped(self, p: Params, data: CountData) -> FloatArray:
        _, alive, dropped = self._terms(p, data)
        return np.asarray(dropped - alive)

    def _probability_alive(self, p: Params, data: CountData) -> FloatArray:
        """Equation (13) of FHL 2005 (MBG/NBD: Batislam et al. 2007, eq. 11)."""
        return np.asarray(expit(-self._log_odds_dropped(p, data)))

    def _expected_purchases(self, p: Params, data: CountData, t: Any) -> FloatArray:
        """Equation (10) of FHL 2005 after Euler's transformation of the 2F1.

        ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z) = (1-z)^(a-1)
        2F1(a+b-1-r, a-1; a+b+x-1; z) with z = t / (alpha+T+t); MBG/NBD (Batislam et al.
        2007, eq. 12) has b+x+1 and a+b+x in place of b+x and a+b+x-1.
        """
        per_alive = self._per_alive(p, data, t)
        return np.asarray(self._probability_alive(p, data) * per_alive)

    def _per_alive(self, p: Params, data: CountData, t: Any) -> FloatArray:
        """Return the expected purchases in t of a customer alive at T (depends on x, T only)."""
        pairs = data.xT_first
        scalar = np.ndim(t) == 0 and all(np.ndim(v) == 0 for v in p.values())
        if scalar and pairs is not None and data.xT_index is not None and len(pairs) < data.rows:
            sub = CountData(
                x=data.x[pairs],
                t_x=data.t_x[pairs],
                T=data.T[pairs],
                weight=data.weight[pairs],
                covariates=None,
                x_values=data.x_values,
                x_index=data.x_index[pairs],
                inverse=data.inverse,
            )
            return self._per_alive(p, sub, t)[data.xT_index]
        r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
        e = self.extra
        a = np.where(np.abs(a - 1) < 1e-7, 1 + 1e-7, a)  # the a -> 1 limit, to 1e-7
        z = t / (alpha + data.T + t)
        c = a + b + data.x + e - 1
        with np.errstate(all="ignore"):
            bracket = 1 - (1 - z) ** (a - 1) * hyp2f1(a + b + e - 1 - r, a - 1, c, z)
            per_alive = c / (a - 1) * bracket
        bad = ~np.isfinite(per_alive)
        if bad.any():  # huge a and b (a point mass for p): 2F1 overflows, p barely varies
            per_alive = np.where(bad, self._near_point_mass(p, data, t), per_alive)
        return np.asarray(per_alive)

    def _near_point_mass(self, p: Params, data: CountData, t: Any) -> FloatArray:
        """E_p[(1 - (1 + p t / (alpha+T))^-(r+x)) / p] for p ~ Beta(a, b+x+e), to second order.

        Alive customers buy (1 - exp(-lambda p t)) / p times in t on average (geometric
        dropout after each purchase); averaged over lambda's posterior Gamma(r+x,
        alpha+T) this is the bracket; for the Beta average, g(mean) + g''(mean) var / 2:
        used only where a + b is so large that the 2F1 form overflows (the variance is
        then tiny, so the error is of order 1 / (a+b)^2).
        """
        r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
        b_post = b + data.x + self.extra
        mean = a / (a + b_post)
        var = mean * (1 - mean) / (a + b_post + 1)
        rate = t / (alpha + data.T)

        def g(q: Any) -> Any:
            return -np.expm1(-(r + data.x) * np.log1p(q * rate)) / q

        h = 1e-4 * mean
        second = (g(mean + h) - 2 * g(mean) + g(mean - h)) / h**2
        return np.asarray(g(mean) + second * var / 2)

    def _probability_no_purchase(self, p: Params, data: CountData, t: Any) -> FloatArray:
        """Return 1 - P(alive) (1 - ((alpha+T)/(alpha+T+t))^(r+x)).

        Alive customers drop out only right after a purchase, so without one they stay,
        buying at their posterior rate.
        """
        r, alpha = p["r"], p["alpha"]
        stay_quiet = np.exp(-(r + data.x) * np.log1p(t / (alpha + data.T)))
        return np.asarray(1 - self._probability_alive(p, data) * (1 - stay_quiet))

    def _expected_purchases_new(self, p: Params, t: FloatArray) -> FloatArray:
        """Equation (9) of FHL 2005: the conditional expectation at x = t_x = T = 0."""
        zeros = np.zeros_like(t)
        data = CountData(
            x=zeros,
            t_x=zeros,
            T=zeros,
            weight=np.ones_like(t),
            covariates=None,
            x_values=np.zeros(1),
            x_index=np.zeros(len(t), dtype=np.int64),
            inverse=np.arange(len(t), dtype=np.int64),
        )
        return self._expected_purchases(p, data, t)

    def _time_to_next(
        self, p: Params, data: CountData, probability: float, max_time: float = 3650.0
    ) -> FloatArray:
        """Solve P(purchase in (T, T+t]) = probability in closed form."""
        alive = self._probability_alive(p, data)
        with np.errstate(divide="ignore", invalid="ignore"):
            quiet = 1 - probability / alive
            t = (p["alpha"] + data.T) * (quiet ** (-1 / (p["r"] + data.x)) - 1)
        return np.asarray(np.where((quiet > 0) & (t <= max_time), t, np.nan))

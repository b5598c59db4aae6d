"""BG/BB: the beta-geometric / beta-Bernoulli model of Fader, Hardie & Shang (2010).

"Customer-Base Analysis in a Discrete-Time Noncontractual Setting", Marketing Science
29(6), 1086-1108. Time is a sequence of transaction opportunities (an annual appeal, a
weekly draw). While alive, a customer transacts at each opportunity with probability
p ~ Beta(alpha, beta); at the start of each opportunity an alive customer dies with
probability theta ~ Beta(gamma, delta). A customer is summarized by x (transactions in
opportunities 1..n, the first transaction at time 0 excluded), t_x (the opportunity of the
last one, 0 if none) and n (opportunities observed).

Equations used (numbers of the paper):

- (5) the likelihood L(alpha, beta, gamma, delta | x, t_x, n), with its analytic
  gradient. As in the paper, it is the probability of one sequence with that (x, t_x, n),
  not of the pair (x, t_x): it leaves out the number of such sequences (a constant of the
  data; see "The Normalizing Constant in the BG/BB Model", 2018, SSRN 3241680), so
  ``loglik_`` compares with the published log-likelihood (-33,225.6 on the donations);
- (8) E[X(n)], the expected transactions of a new customer in n opportunities;
- (11) P(alive at opportunity n + 1 | x, t_x, n), generalized to n + h;
- (12) at x* = 0, P(no transaction in the next n* opportunities | x, t_x, n);
- (13) E[X(n, n + n*) | x, t_x, n], the conditional expectation.

(8) and (13) share the sum over t = 1..n* of B(gamma, delta + n + t) / B(gamma, delta), in
closed form delta/(gamma-1) Gamma(gamma+delta)/Gamma(1+delta) [Gamma(1+delta+n)/
Gamma(gamma+delta+n) - Gamma(1+delta+n+n*)/Gamma(gamma+delta+n+n*)], computed on the log
scale; near gamma = 1, where the closed form is 0/0, the sum is added up term by term.
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np
import numpy.typing as npt
from scipy.special import betaln, digamma, gammaln

from regulars.errors import InputError, NotFittedError
from regulars.models.btyd.data import CountData, _first_bad, as_array, compress_counts
from regulars.models.btyd.mle import MLEModel, Params

__all__ = ["BGBB", "check_patterns"]

FloatArray = npt.NDArray[np.float64]

_NEAR_ONE = 1e-4
"""Within this distance of gamma = 1 the survival sum is added up term by term."""


def check_patterns(
    frequency: Any, recency: Any, n_periods: Any, *, weights: Any = None
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Check the model inputs; return them as float arrays, with weights (default 1).

    Raises
    ------
    InputError
        Naming the input and the first position at fault: lengths differ, a value is not
        a finite whole number >= 0, a recency is past ``n_periods``, a frequency is more
        than the recency (x transactions need x opportunities), a customer without a
        transaction has a recency, a weight is not positive.
    """
    x = as_array(frequency, "frequency")
    t_x = as_array(recency, "recency")
    n = as_array(n_periods, "n_periods")
    w = np.ones_like(x) if weights is None else as_array(weights, "weights")
    lengths = {"frequency": len(x), "recency": len(t_x), "n_periods": len(n), "weights": len(w)}
    if len(set(lengths.values())) != 1:
        raise InputError(
            "frequency, recency, n_periods and weights must have one value per customer; "
            f"got lengths {lengths}.",
            expected="arrays of the same length",
            fix="Take the four columns from the same table.",
        )
    for name, array in (("frequency", x), ("recency", t_x), ("n_periods", n), ("weights", w)):
        _first_bad(name, array, ~np.isfinite(array), "finite numbers")
    for name, array in (("frequency", x), ("recency", t_x), ("n_periods", n)):
        _first_bad(name, array, (array < 0) | (array != np.floor(array)), "whole numbers >= 0")
    _first_bad("recency", t_x, t_x > n, "<= n_periods (the opportunities observed)")
    _first_bad("frequency", x, x > t_x, "<= recency (x transactions take x opportunities)")
    _first_bad("recency", t_x, (x == 0) & (t_x > 0), "0 for customers without transactions")
    _first_bad("weights", w, w <= 0, "positive")
    return x, t_x, n, w


def _whole_periods(value: Any, name: str) -> int:
    """Return a horizon as an int, or raise an error naming it."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not np.isfinite(number) or number < 0 or number != np.floor(number):
        raise InputError(
            f"{name} must be a whole number of opportunities >= 0, got {value!r}.",
            column=name,
            fix="Give the horizon in transaction opportunities (periods), e.g. 5.",
        )
    return int(number)


class BGBB(MLEModel):
    """The BG/BB model (Fader, Hardie & Shang 2010), fitted by maximum likelihood.

    Parameters are ``alpha``, ``beta`` (heterogeneity of the transaction probability p)
    and ``gamma``, ``delta`` (heterogeneity of the dropout probability theta); the
    settings are those of :class:`~regulars.models.btyd.mle.MLEModel`.

    Examples
    --------
    >>> model = BGBB().fit(frequency, recency, n_periods, weights=donors)  # doctest: +SKIP
    >>> model.expected_purchases(frequency, recency, n_periods, horizon_periods=5)  # doctest: +SKIP
    """

    param_names = ("alpha", "beta", "gamma", "delta")
    name = "BG/BB"
    reference = "Fader, Hardie & Shang (2010), Marketing Science 29(6)"

    # ----------------------------------------------------------------------------- fit
    def fit(self, frequency: Any, recency: Any, n_periods: Any, *, weights: Any = None) -> Self:
        """Fit the model by maximum likelihood.

        Parameters
        ----------
        frequency
            Per customer: x, the opportunities with a transaction after the first one.
        recency
            t_x, the opportunity (1..n) of the last transaction; 0 when x = 0.
        n_periods
            n, the opportunities observed since the first transaction.
        weights
            How many customers each row stands for (default 1 each): the paper's
            recency/frequency patterns with their counts can be given as they are.

        Returns
        -------
        Self
            The fitted model.

        Raises
        ------
        InputError
            When an input is not what the model reads (the message names it).
        ConvergenceError
            When no starting point reaches a maximum.
        """
        x, t_x, n, w = check_patterns(frequency, recency, n_periods, weights=weights)
        if len(x) == 0:
            raise InputError(
                "There are no customers to fit the model on.",
                fix="Fit on at least one customer.",
            )
        data = compress_counts(x, t_x, n, w)
        theta = self._maximize(data)
        self._set_fitted(theta, data)
        return self

    def _start(self, data: CountData) -> dict[str, float]:
        """Return alpha, beta from the share of opportunities taken; gamma, delta fixed."""
        w = data.weight
        share = float(w @ data.x) / max(float(w @ data.T), 1e-9)
        share = min(max(share, 0.05), 0.95)
        return {"alpha": share, "beta": 1.0 - share, "gamma": 0.5, "delta": 3.0}

    def _log_terms(
        self, p: Params, d: CountData, *, gradient: bool = False
    ) -> tuple[FloatArray, FloatArray, dict[str, FloatArray]]:
        """Log of the two parts of eq. (5): alive after n, and dropped out at t_x + i + 1.

        The 'dropped' part sums i = 0 .. n - t_x - 1; it is accumulated one i at a time
        for every row at once (memory of a few row vectors, whatever n), and with
        ``gradient`` so is each term's derivative in each parameter, weighted by the term.
        Returns (log alive, log dropped, derivatives of log L in the log-parameters).
        """
        a, b, g, dl = p["alpha"], p["beta"], p["gamma"], p["delta"]
        x, t_x, n = d.x, d.t_x, d.T
        head = betaln(a + x, b + n - x) - betaln(a, b) - betaln(g, dl)
        log_alive = np.asarray(head + betaln(g, dl + n), dtype=np.float64)
        steps = (n - t_x).astype(np.int64)
        # Term i is B(a+x, b+m-x) B(g+1, d+m) / (B(a, b) B(g, d)) with m = t_x + i, and
        # term i+1 = term i * (b+m-x)(d+m) / ((a+b+m)(g+d+1+m)) < term i: term 0 is the
        # largest, the others follow by recurrence (digammas too, psi(z+1) = psi(z) + 1/z)
        # with no special function inside the loop.
        first = betaln(a + x, b + t_x - x) - betaln(a, b) + betaln(g + 1, dl + t_x) - betaln(g, dl)
        m = t_x.copy()
        rel = np.zeros(d.rows)
        total = np.zeros(d.rows)
        sums = {k: np.zeros(d.rows) for k in ("alpha", "beta", "gamma", "delta")}
        psi_ab, psi_gd, psi_ax = digamma(a + b), digamma(g + dl), digamma(a + x)
        psi_g1 = digamma(g + 1)
        psi_abm, psi_bm = digamma(a + b + m), digamma(b + m - x)
        psi_gdm, psi_dm = digamma(g + dl + 1 + m), digamma(dl + m)
        for i in range(int(steps.max(initial=0))):
            share = np.where(i < steps, np.exp(rel), 0.0)
            total += share
            if gradient:
                sums["alpha"] += share * (psi_ax - psi_abm)
                sums["beta"] += share * (psi_bm - psi_abm)
                sums["gamma"] += share * (psi_g1 - psi_gdm)
                sums["delta"] += share * (psi_dm - psi_gdm)
                psi_abm = psi_abm + 1 / (a + b + m)
                psi_bm = psi_bm + 1 / (b + m - x)
                psi_gdm = psi_gdm + 1 / (g + dl + 1 + m)
                psi_dm = psi_dm + 1 / (dl + m)
            rel += np.log((b + m - x) * (dl + m) / ((a + b + m) * (g + dl + 1 + m)))
            m = m + 1
        with np.errstate(divide="ignore"):
            log_dropped = np.where(total > 0, first + np.log(total), -np.inf)
        grads: dict[str, FloatArray] = {}
        if gradient:
            log_l = np.logaddexp(log_alive, log_dropped)
            w_alive = np.exp(log_alive - log_l)
            w_dropped = 1 - w_alive
            norm = np.where(total > 0, total, 1.0)
            psi_abn, psi_gdn = digamma(a + b + n), digamma(g + dl + n)
            alive_derivs = {
                "alpha": psi_ax - psi_abn,
                "beta": digamma(b + n - x) - psi_abn,
                "gamma": digamma(g) - psi_gdn,
                "delta": digamma(dl + n) - psi_gdn,
            }
            const = {
                "alpha": psi_ab - digamma(a),
                "beta": psi_ab - digamma(b),
                "gamma": psi_gd - digamma(g),
                "delta": psi_gd - digamma(dl),
            }
            for k, value in p.items():
                mix = w_alive * alive_derivs[k] + w_dropped * sums[k] / norm
                grads[k] = np.asarray(value * (const[k] + mix), dtype=np.float64)
        return log_alive, np.asarray(log_dropped, dtype=np.float64), grads

    def _loglik_rows(self, p: Params, data: CountData) -> tuple[FloatArray, dict[str, FloatArray]]:
        """Equation (5) of FHS 2010, the likelihood of (x, t_x, n), and its gradient.

        The gradient is with respect to the log of each parameter.
        """
        log_alive, log_dropped, grads = self._log_terms(p, data, gradient=True)
        return np.asarray(np.logaddexp(log_alive, log_dropped)), grads

    # ------------------------------------------------------------------- predictions
    def _require_fitted(self) -> None:
        if not hasattr(self, "theta_"):
            raise NotFittedError(
                f"This {self.name} model is not fitted yet.",
                fix="Call fit(frequency, recency, n_periods) first.",
            )

    def _prepare(self, frequency: Any, recency: Any, n_periods: Any) -> tuple[CountData, Params]:
        self._require_fitted()
        x, t_x, n, w = check_patterns(frequency, recency, n_periods)
        return compress_counts(x, t_x, n, w), dict(self.params_)

    def _survival_sum(self, p: Params, n: FloatArray, horizon: Any) -> FloatArray:
        """Sum over t = 1..horizon of B(gamma, delta + n + t) / B(gamma, delta): (8), (13)."""
        g, dl = p["gamma"], p["delta"]
        n = np.asarray(n, dtype=np.float64)
        h = np.broadcast_to(np.asarray(horizon, dtype=np.float64), n.shape)
        if abs(g - 1) < _NEAR_ONE:
            out = np.zeros(n.shape)
            for t in range(1, int(h.max(initial=0)) + 1):
                term = np.exp(betaln(g, dl + n + t) - betaln(g, dl))
                out = out + np.where(t <= h, term, 0.0)
            return out
        log_f = gammaln(1 + dl + n) - gammaln(g + dl + n)
        change = gammaln(1 + dl + n + h) - gammaln(g + dl + n + h) - log_f
        lead = np.exp(log_f + gammaln(g + dl) - gammaln(dl))
        return np.asarray(lead * -np.expm1(change) / (g - 1), dtype=np.float64)

    def log_likelihood(self, frequency: Any, recency: Any, n_periods: Any) -> FloatArray:
        """Return the log-likelihood, eq. (5), of each customer's (x, t_x, n)."""
        data, p = self._prepare(frequency, recency, n_periods)
        log_alive, log_dropped, _ = self._log_terms(p, data)
        return np.asarray(np.logaddexp(log_alive, log_dropped))[data.inverse]

    def probability_alive(
        self, frequency: Any, recency: Any, n_periods: Any, *, horizon_periods: int = 1
    ) -> FloatArray:
        """P(alive at opportunity n + horizon_periods | x, t_x, n): eq. (11) of FHS 2010.

        The default, 1, is the paper's P(alive): the customer is still there for the next
        opportunity. 0 gives P(alive through the n observed opportunities), and h > 1
        P(alive at n + h), where B(gamma, delta + n + 1) becomes B(gamma, delta + n + h).
        """
        h = _whole_periods(horizon_periods, "horizon_periods")
        d, p = self._prepare(frequency, recency, n_periods)
        log_alive, log_dropped, _ = self._log_terms(p, d)
        g, dl = p["gamma"], p["delta"]
        shift = betaln(g, dl + d.T + h) - betaln(g, dl + d.T)
        out = np.exp(log_alive + shift - np.logaddexp(log_alive, log_dropped))
        return np.asarray(out, dtype=np.float64)[d.inverse]

    def expected_purchases(
        self, frequency: Any, recency: Any, n_periods: Any, *, horizon_periods: int
    ) -> FloatArray:
        """E[X(n, n + n*) | x, t_x, n]: eq. (13) of FHS 2010, with n* = horizon_periods.

        The expected transactions in the next n* opportunities: 1/L times
        B(alpha+x+1, beta+n-x)/B(alpha, beta) times the survival sum of (13).
        """
        h = _whole_periods(horizon_periods, "horizon_periods")
        d, p = self._prepare(frequency, recency, n_periods)
        log_alive, log_dropped, _ = self._log_terms(p, d)
        a, b = p["alpha"], p["beta"]
        log_buy = betaln(a + d.x + 1, b + d.T - d.x) - betaln(a, b)
        out = np.exp(log_buy - np.logaddexp(log_alive, log_dropped)) * self._survival_sum(p, d.T, h)
        return np.asarray(out, dtype=np.float64)[d.inverse]

    def probability_no_purchase(
        self, frequency: Any, recency: Any, n_periods: Any, *, horizon_periods: int
    ) -> FloatArray:
        """P(no transaction in opportunities n+1 .. n+n* | x, t_x, n): eq. (12) at x* = 0.

        The customer has dropped out before n (the 'dropped' part of L), or is alive at
        n and then either makes no transaction in the n* opportunities while alive, or
        drops out at the start of opportunity n + j + 1 (j = 0..n*-1) after j quiet ones.
        """
        h = _whole_periods(horizon_periods, "horizon_periods")
        d, p = self._prepare(frequency, recency, n_periods)
        log_alive, log_dropped, _ = self._log_terms(p, d)
        a, b, g, dl = p["alpha"], p["beta"], p["gamma"], p["delta"]
        x, n = d.x, d.T
        base = -betaln(a, b) - betaln(g, dl)
        quiet = np.logaddexp(
            log_dropped, base + betaln(a + x, b + n - x + h) + betaln(g, dl + n + h)
        )
        for j in range(h):
            quiet = np.logaddexp(
                quiet, base + betaln(a + x, b + n - x + j) + betaln(g + 1, dl + n + j)
            )
        out = np.exp(np.minimum(quiet - np.logaddexp(log_alive, log_dropped), 0.0))
        return np.asarray(out, dtype=np.float64)[d.inverse]

    def expected_purchases_new_customer(self, n_periods: Any) -> FloatArray:
        """E[X(n)] = alpha/(alpha+beta) times the survival sum from 0: eq. (8) of FHS 2010.

        The expected transactions of a customer just acquired in their first n
        opportunities (unconditional).
        """
        self._require_fitted()
        n = as_array(n_periods, "n_periods")
        _first_bad("n_periods", n, ~np.isfinite(n), "finite numbers")
        _first_bad("n_periods", n, (n < 0) | (n != np.floor(n)), "whole numbers >= 0")
        p = dict(self.params_)
        share = p["alpha"] / (p["alpha"] + p["beta"])
        return np.asarray(share * self._survival_sum(p, np.zeros_like(n), n), dtype=np.float64)

"""Pareto/NBD: the model of Schmittlein, Morrison & Colombo (1987).

"Counting Your Customers: Who Are They and What Will They Do Next?", Management Science
33(1), 1-24, in the form of Fader & Hardie, "A Note on Deriving the Pareto/NBD Model and
Related Expressions" (2005; "the note" below). While active, a customer buys at rate
lambda ~ Gamma(r, alpha); they stay active for an exponential lifetime of rate
mu ~ Gamma(s, beta), independent of lambda.

Equations used:

- the likelihood, eqs. (22)-(23) of the note, in the rearranged form of Fader & Hardie,
  "Deriving the Conditional PMF of the Pareto/NBD Model" (2014), eq. (3). Both 2F1 terms
  are integrals ``I(y; m, n) = int_y^inf (alpha+tau)^-m (beta+tau)^-n dtau``, and
  L = Gamma(r+x) alpha^r beta^s / Gamma(r) [(r+x) I(T; r+x+1, s) + s I(t_x; r+x, s+1)]:
  two positive terms, nothing cancels (the note's "alive at T" term minus s I(T; r+x, s+1)
  is (r+x) I(T; r+x+1, s), by parts);
- P(alive): the "alive at T" term (alpha+T)^-(r+x) (beta+T)^-s over the bracket (eq. (11)
  of the note; eq. (9) of the 2014 note);
- eq. (27) of the note, E[X(t)] of a new customer; eq. (41), E[Y(t) | x, t_x, T].

Numerics. With X = max(alpha, beta) + y, c = |alpha - beta| / X in [0, 1), a = m + n - 1 and
p the exponent of the smaller of alpha + tau, beta + tau, I = X^-a G(a, p, c) where
G(a, p, c) = int_0^1 u^(a-1) (1 - c u)^-p du = 2F1(p, a; a + 1; c) / a (the note's 2F1).

- c <= 1/2 (alpha and beta within a factor 2, or y large; the usual case): Euler's
  transformation 2F1(p, a; a+1; c) = (1-c)^(1-p) 2F1(a+1-p, 1; a+1; c), a series of positive
  terms each at most c times the previous, summed with its derivatives in a, p and c (about
  16 terms at c = 0.1); all in logs, so x = 1000 neither overflows nor loses digits.
- c > 1/2: the same series gives the part u < 1/(2c); the rest is integrated in the logit of
  u, where the integrand is smooth and unimodal: a 16-point Gauss-Legendre scan finds where
  it lives, 64 points integrate it there and 8 more the tail.

Against mpmath (40 digits), log I is within 3e-12 (I within 3e-12 relative) for
max(alpha, beta) / min(alpha, beta) up to 2e4 and x up to 1000, and within 1e-10 at a ratio
of 1e8. The gradient is analytic: the derivatives of log I in m, n, alpha and beta are the
same sums and quadratures with log factors. I depends on (x, y) only: it is computed once
per distinct (x, t_x) and (x, T) pair, then combined per row.

Time-invariant covariates (optional): ``purchase`` acts on alpha (log alpha_i = log alpha
- z_i . coef: a positive coefficient means more purchases), ``dropout`` on beta (log beta_i =
log beta - z_i . coef: a positive coefficient means an earlier dropout), as in Fader &
Hardie (2007), "Incorporating Time-Invariant Covariates into the Pareto/NBD and BG/NBD
Models".
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
from numpy.polynomial.legendre import leggauss
from scipy.special import digamma, gammaln

from regulars.models.btyd.base import BTYDModel, Params
from regulars.models.btyd.data import CountData, factorize, group_rows

__all__ = ["ParetoNBD", "log_integral"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Grads = tuple[FloatArray, FloatArray, FloatArray, FloatArray]

_SPLIT = 0.5
"""Largest c summed as a series; beyond it the series covers u < _SPLIT / c only."""


def _unit_rule(n: int) -> tuple[FloatArray, FloatArray]:
    """Gauss-Legendre nodes and weights on [0, 1]."""
    x, w = leggauss(n)
    return (x + 1) / 2, w / 2


_SCAN_X = np.concatenate([[0.0], _unit_rule(16)[0], [1.0]])
_MAIN_X, _MAIN_W = _unit_rule(64)
_TAIL_X, _TAIL_W = _unit_rule(8)


def _series(e: FloatArray, p: FloatArray, c: FloatArray, omc: FloatArray) -> Grads:
    """Return log G(a, p, c) and its derivatives in a, p, c, by the Euler-transformed 2F1.

    G = (1-c)^(1-p) / a * sum_k t_k, t_k = c^k prod_{j<k} (e+j) / (e+p+j), with e = a+1-p > 0
    given (not a: e may be tiny next to p); ``omc`` is 1 - c, given so that it keeps its
    digits when c is near 1. Elements leave the loop once their terms fall below 1e-17 of
    the sum (checked every 8 terms).
    """
    a, idx = e + p - 1, np.arange(len(c))
    e_k, p_k, c_k = e, p, c
    sums = np.zeros((4, len(c)))  # sum t_k, and of t_k times d log t_k / d a, d p, k / c
    out = sums.copy()
    sums[0] = 1.0
    harmonic = np.zeros((2, len(c)))  # sum_j 1 / (e+j), sum_j 1 / (e+p+j)
    t = np.ones_like(c)
    k = 0
    while idx.size:
        for _ in range(8):
            k += 1
            e_j = e_k + (k - 1)
            inv_e, inv_ep = 1 / e_j, 1 / (e_j + p_k)
            before_c = t * e_j * inv_ep  # t_k / c
            t = before_c * c_k
            harmonic[0] += inv_e
            harmonic[1] += inv_ep
            sums[0] += t
            sums[1] += t * (harmonic[0] - harmonic[1])
            sums[2] += t * harmonic[0]
            sums[3] += k * before_c
        done = (k * before_c <= 1e-17 * sums[0]) | (k >= 400)
        if done.any():
            out[:, idx[done]] = sums[:, done]
            keep = ~done
            idx, e_k, p_k, c_k, t = idx[keep], e_k[keep], p_k[keep], c_k[keep], t[keep]
            sums, harmonic = sums[:, keep], harmonic[:, keep]
    total, s_a, s_p, s_c = out
    log_omc = np.log(omc)
    log_g = np.log(total) - np.log(a) + (1 - p) * log_omc
    return log_g, s_a / total - 1 / a, -log_omc - s_p / total, (p - 1) / omc + s_c / total


def _log_integrand(
    a: FloatArray, p: FloatArray, c: FloatArray, omc: FloatArray, xi: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Log of u^a (1-u) (1-cu)^-p at u = expit(xi) (G's integrand in xi), log u, log(1-cu)."""
    log_u = -np.logaddexp(0.0, -xi)
    log_v = -np.logaddexp(0.0, xi)
    log_1mcu = np.log(omc + c * np.exp(log_v))
    return a * log_u + log_v - p * log_1mcu, log_u, log_1mcu


def _far_part(a: FloatArray, p: FloatArray, c: FloatArray, omc: FloatArray) -> Grads:
    """Log of int_{u0}^1 u^(a-1) (1-cu)^-p du, u0 = _SPLIT / c, and its derivatives.

    In xi = logit(u) the integrand is smooth (singular only at Im xi = +-pi) and unimodal: a
    16-point scan of [xi0, hi] finds where it is within e^-60 of its top, 64 Gauss-Legendre
    points integrate there, 8 more integrate (hi, inf) in w = exp(hi - xi), where it is
    smooth because hi is past the peak (hi >= log(1/(1-c)) + log(1+a+p) + 3).
    """
    a, p, c, omc = (v[:, None] for v in (a, p, c, omc))
    lo = np.log(_SPLIT / (c - _SPLIT))
    hi = np.maximum(np.log(1 + a + p) - np.log(omc) + 3, lo + 1)
    scan = lo + (hi - lo) * _SCAN_X
    level = _log_integrand(a, p, c, omc, scan)[0]
    keep = level >= level.max(axis=1, keepdims=True) - 60
    n, rows = keep.shape[1], np.arange(len(scan))
    first = np.maximum(keep.argmax(axis=1) - 1, 0)
    last = np.minimum(n - keep[:, ::-1].argmax(axis=1), n - 1)
    left, right = scan[rows, first][:, None], scan[rows, last][:, None]
    xi = np.concatenate([left + (right - left) * _MAIN_X, hi - np.log(_TAIL_X)], axis=1)
    log_w = np.concatenate(
        [
            np.log((right - left) * _MAIN_W),
            np.broadcast_to(np.log(_TAIL_W / _TAIL_X), xi[:, 64:].shape),
        ],
        axis=1,
    )
    log_f, log_u, log_1mcu = _log_integrand(a, p, c, omc, xi)
    log_f = log_f + log_w
    top = log_f.max(axis=1, keepdims=True)
    w = np.exp(log_f - top)
    total = w.sum(axis=1)
    d_c = p[:, 0] * (w * np.exp(log_u - log_1mcu)).sum(axis=1) / total
    return (
        top[:, 0] + np.log(total),
        (w * log_u).sum(axis=1) / total,
        -(w * log_1mcu).sum(axis=1) / total,
        d_c,
    )


def _log_g(e: FloatArray, p: FloatArray, c: FloatArray, omc: FloatArray) -> Grads:
    """Return log G(a, p, c), a = e + p - 1, and its derivatives in a, p and c."""
    far = c > _SPLIT
    a = e + p - 1
    log_g, g_a, g_p, g_c = _series(e, p, np.where(far, _SPLIT, c), np.where(far, 1 - _SPLIT, omc))
    if far.any():
        i = np.flatnonzero(far)
        log_u0 = np.log(_SPLIT / c[i])
        head = a[i] * log_u0 + log_g[i]
        tail, t_a, t_p, t_c = _far_part(a[i], p[i], c[i], omc[i])
        both = np.logaddexp(head, tail)
        share = np.exp(head - both)
        g_a[i] = share * (g_a[i] + log_u0) + (1 - share) * t_a
        g_p[i] = share * g_p[i] + (1 - share) * t_p
        g_c[i] = share * g_c[i] * (_SPLIT / c[i]) + (1 - share) * t_c
        log_g[i] = both
    return log_g, g_a, g_p, g_c


def log_integral(
    y: Any, m: Any, n: Any, alpha: Any, beta: Any
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Log of int_y^inf (alpha+tau)^-m (beta+tau)^-n dtau and its derivatives in m, n, alpha, beta.

    All inputs broadcast; m, n, alpha, beta > 0, m + n > 1, y >= 0.
    """
    y, m, n, alpha, beta = (np.asarray(v, dtype=np.float64) for v in (y, m, n, alpha, beta))
    y, m, n, alpha, beta = (np.array(v, ndmin=1) for v in np.broadcast_arrays(y, m, n, alpha, beta))
    first = alpha >= beta
    big, small = np.where(first, alpha, beta) + y, np.where(first, beta, alpha) + y
    e_big, e_small = np.where(first, m, n), np.where(first, n, m)
    a = e_big + e_small - 1
    omc = small / big
    log_g, g_a, g_p, g_c = _log_g(e_big, e_small, np.abs(alpha - beta) / big, omc)
    log_big = np.log(big)
    d_big_e, d_small_e = g_a - log_big, g_a + g_p - log_big
    d_big, d_small = (g_c * omc - a) / big, -g_c / big
    return (
        log_g - a * log_big,
        np.where(first, d_big_e, d_small_e),
        np.where(first, d_small_e, d_big_e),
        np.where(first, d_big, d_small),
        np.where(first, d_small, d_big),
    )


# ------------------------------------------------------------------ distinct (x, y) pairs
@dataclass(frozen=True)
class _Pairs:
    """Rows grouped by (x, t_x) and by (x, T): the integrals are computed once per pair.

    ``*_xi`` is the position of the pair's x among ``data.x_values``, ``*_of_row`` each
    row's pair.
    """

    tx_of_row: IntArray
    tx_xi: IntArray
    tx_y: FloatArray
    t_of_row: IntArray
    t_xi: IntArray
    t_y: FloatArray


_PAIRS: dict[int, tuple[weakref.ref[CountData], _Pairs]] = {}
"""Pairs of the data being fitted, by id: found again on every step of the optimizer."""


def _group(x_index: IntArray, y: FloatArray) -> tuple[IntArray, IntArray]:
    """Return the first row of each distinct (x, y) and each row's group."""
    _, y_code = factorize(y)
    return group_rows(x_index * (int(y_code.max(initial=0)) + 1) + y_code)


def _forget(key: int) -> None:
    _PAIRS.pop(key, None)


def _pairs(data: CountData, per_row: bool) -> _Pairs:
    """Return the pairs of ``data``; one per row when parameters vary by row (covariates)."""
    xi = data.x_index
    if per_row:
        rows = np.arange(data.rows, dtype=np.int64)
        return _Pairs(rows, xi, data.t_x, rows, xi, data.T)
    key = id(data)
    cached = _PAIRS.get(key)
    if cached is not None and cached[0]() is data:
        return cached[1]
    tx_first, tx_of_row = _group(xi, data.t_x)
    t_first, t_of_row = _group(xi, data.T)
    pairs = _Pairs(
        tx_of_row, xi[tx_first], data.t_x[tx_first], t_of_row, xi[t_first], data.T[t_first]
    )
    _PAIRS[key] = (weakref.ref(data, lambda _: _forget(key)), pairs)
    return pairs


def _expm1_ratio(eps: Any, length: Any) -> FloatArray:
    """Return (1 - exp(-eps * length)) / eps, and its limit ``length`` at eps = 0."""
    eps, length = np.broadcast_arrays(np.asarray(eps, dtype=np.float64), length)
    safe = np.where(eps == 0, 1.0, eps)
    return np.asarray(np.where(eps == 0, length, -np.expm1(-safe * length) / safe))


class ParetoNBD(BTYDModel):
    """The Pareto/NBD model (Schmittlein, Morrison & Colombo 1987), fitted by maximum likelihood.

    Parameters are ``r``, ``alpha`` (purchase rate heterogeneity, alpha in the time unit
    of the data) and ``s``, ``beta`` (dropout rate heterogeneity, beta in the same unit).
    Unlike BG/NBD, a customer may drop out at any time, also before a repeat purchase.

    Examples
    --------
    >>> model = ParetoNBD().fit(frequency, recency_days, t_days)  # doctest: +SKIP
    >>> model.probability_alive(frequency, recency_days, t_days)  # doctest: +SKIP
    """

    param_names = ("r", "alpha", "s", "beta")
    covariate_links: ClassVar[dict[str, tuple[tuple[str, float], ...]]] = {
        "purchase": (("alpha", -1.0),),
        "dropout": (("beta", -1.0),),
    }
    name = "Pareto/NBD"
    reference = "Schmittlein, Morrison & Colombo (1987), Management Science 33(1)"

    def _start(self, data: CountData) -> dict[str, float]:
        w = data.weight
        exposure = max(float(w @ data.T), 1e-9)
        rate = float(w @ data.x) / exposure
        return {
            "r": 1.0,
            "alpha": 1.0 / max(rate, 1e-6),
            "s": 1.0,
            "beta": max(exposure / data.total_weight, 1e-6),
        }

    @staticmethod
    def _pairs_for(p: Params, data: CountData, horizon: Any = 0.0) -> _Pairs:
        per_row = any(np.ndim(v) > 0 for v in (p["alpha"], p["beta"], horizon))
        return _pairs(data, per_row)

    def _log_f(self, p: Params, data: CountData) -> FloatArray:
        """Per row: log s I(t_x; r+x, s+1), the 'dropped out after t_x' term of the bracket."""
        pairs = self._pairs_for(p, data)
        r, s = p["r"], p["s"]
        x = data.x_values[pairs.tx_xi]
        f = log_integral(pairs.tx_y, r + x, s + 1.0, p["alpha"], p["beta"])[0]
        return np.asarray((np.log(s) + f)[pairs.tx_of_row])

    def _log_h(self, p: Params, data: CountData, horizon: Any = 0.0) -> FloatArray:
        """Per row: log (r+x) I(T + horizon; r+x+1, s), the rest of the bracket."""
        pairs = self._pairs_for(p, data, horizon)
        r, s = p["r"], p["s"]
        x = data.x_values[pairs.t_xi]
        h = log_integral(pairs.t_y + horizon, r + x + 1.0, s, p["alpha"], p["beta"])[0]
        return np.asarray((np.log(r + x) + h)[pairs.t_of_row])

    def _loglik_rows(self, p: Params, data: CountData) -> tuple[FloatArray, dict[str, FloatArray]]:
        """Equations (22)-(23) of the note, rearranged (module docstring), and the gradient.

        Per pair: log of each bracket term with the constant log Gamma(r+x) - log Gamma(r)
        + r log alpha + s log beta folded in, and the gradient of the row's log-likelihood
        if that term were the whole bracket; per row, the two are mixed by the share q of
        the 'dropped out' term (one gather per side, in place).
        """
        r, alpha, s, beta = p["r"], p["alpha"], p["s"], p["beta"]
        pairs = self._pairs_for(p, data)
        xv = data.x_values
        r_log_alpha, s_log_beta = r * np.log(alpha), s * np.log(beta)
        log_ab = r_log_alpha + s_log_beta
        const = gammaln(r + xv) - gammaln(r)
        d_r = r * (digamma(r + xv) - digamma(r))

        def side(xi: IntArray, y: FloatArray, dead: bool) -> FloatArray:
            """Per pair: the log term, then d/d log r, alpha, s, beta as if it were alone.

            ``dead``: s I(t_x; r+x, s+1) (dropped out after t_x); else (r+x) I(T; r+x+1, s).
            """
            x = xv[xi]
            log_i, i_m, i_n, i_a, i_b = log_integral(y, r + x + (not dead), s + dead, alpha, beta)
            out = np.empty((5, len(log_i)))
            out[0] = const[xi] + log_ab + log_i + (np.log(s) if dead else np.log(r + x))
            out[1] = d_r[xi] + r_log_alpha + r * i_m + (0.0 if dead else r / (r + x))
            out[2] = r + alpha * i_a
            out[3] = s_log_beta + s * i_n + dead
            out[4] = s + beta * i_b
            return out

        at_t = np.take(side(pairs.t_xi, pairs.t_y, False), pairs.t_of_row, axis=1)
        at_tx = np.take(side(pairs.tx_xi, pairs.tx_y, True), pairs.tx_of_row, axis=1)
        alive, dead = at_t[0], at_tx[0]
        ll = np.maximum(alive, dead)  # log(e^alive + e^dead), faster than np.logaddexp
        gap = np.abs(alive - dead)
        ll += np.log1p(np.exp(np.negative(gap, out=gap), out=gap), out=gap)
        q = np.exp(np.subtract(dead, ll, out=dead), out=dead)  # share of the 'dropped' term
        g = at_tx[1:]
        g -= at_t[1:]
        g *= q
        g += at_t[1:]
        return ll, dict(zip(self.param_names, g, strict=True))

    def _log_alive_term(self, p: Params, data: CountData) -> FloatArray:
        """Log of (alpha+T)^-(r+x) (beta+T)^-s: the bracket's 'still alive at T' part."""
        r, alpha, s, beta = p["r"], p["alpha"], p["s"], p["beta"]
        return np.asarray(-(r + data.x) * np.log(alpha + data.T) - s * np.log(beta + data.T))

    def _probability_alive(self, p: Params, data: CountData) -> FloatArray:
        """P(alive at T | x, t_x, T): the 'alive' term over the bracket (eq. (11) of the note)."""
        bracket = np.logaddexp(self._log_h(p, data), self._log_f(p, data))
        return np.asarray(np.minimum(np.exp(self._log_alive_term(p, data) - bracket), 1.0))

    def _expected_purchases(self, p: Params, data: CountData, t: Any) -> FloatArray:
        """Equation (41) of the note: E[Y(t) | x, t_x, T].

        (r+x)(beta+T) / ((alpha+T)(s-1)) [1 - ((beta+T)/(beta+T+t))^(s-1)] P(alive), the
        bracket over (s-1) computed with expm1, so s = 1 gives its limit
        (beta+T) log(1 + t/(beta+T)) without a special case.
        """
        r, alpha, s, beta = p["r"], p["alpha"], p["s"], p["beta"]
        b_t = beta + data.T
        rate = (r + data.x) / (alpha + data.T)
        life = b_t * _expm1_ratio(s - 1, np.log1p(t / b_t))
        return np.asarray(rate * life * self._probability_alive(p, data))

    def _probability_no_purchase(self, p: Params, data: CountData, t: Any) -> FloatArray:
        """P(no purchase in (T, T+t] | x, t_x, T) = L(x, t_x, T+t) / L(x, t_x, T).

        Derivation: alive at T (probability P(alive)), lambda ~ Gamma(r+x, alpha+T) and
        mu ~ Gamma(s, beta+T) independently, and P(no purchase in t | alive) = E[e^-(lambda+mu)t]
        + E[int_0^t mu e^-mu tau e^-lambda tau dtau] = [A(T+t) + s (F(T) - F(T+t))] / A(T),
        with A(y) = (alpha+y)^-(r+x) (beta+y)^-s, F(y) = I(y; r+x, s+1). Adding the dead
        customers, (1 - P(alive)) = s (F(t_x) - F(T)) / bracket, and integrating A by parts
        gives [(r+x) I(T+t; r+x+1, s) + s F(t_x)] / [(r+x) I(T; r+x+1, s) + s F(t_x)]: exact,
        two positive terms over two positive terms.
        """
        log_f = self._log_f(p, data)
        now = np.logaddexp(self._log_h(p, data), log_f)
        later = np.logaddexp(self._log_h(p, data, np.asarray(t, dtype=np.float64)), log_f)
        return np.asarray(np.minimum(np.exp(later - now), 1.0))

    def _time_to_next(
        self, p: Params, data: CountData, probability: float, max_time: float = 3650.0
    ) -> FloatArray:
        """Bisection on log t as in the base class, with L(x, t_x, T) computed once."""
        log_f = self._log_f(p, data)
        now = np.logaddexp(self._log_h(p, data), log_f)

        def bought(log_t: FloatArray) -> npt.NDArray[np.bool_]:
            later = np.logaddexp(self._log_h(p, data, np.exp(log_t)), log_f)
            return np.asarray(-np.expm1(later - now) >= probability)

        lo, hi = np.full(data.rows, np.log(1e-6)), np.full(data.rows, np.log(max_time))
        reached = bought(hi)
        for _ in range(40):
            mid = (lo + hi) / 2
            ok = bought(mid)
            hi, lo = np.where(ok, mid, hi), np.where(ok, lo, mid)
        return np.asarray(np.where(reached, np.exp(hi), np.nan))

    def _expected_purchases_new(self, p: Params, t: FloatArray) -> FloatArray:
        """Equation (27) of the note: E[X(t)] = r beta / (alpha (s-1)) [1 - (beta/(beta+t))^(s-1)].

        The bracket over (s-1) is computed with expm1 (limit beta log(1 + t/beta) at s = 1).
        """
        r, alpha, s, beta = p["r"], p["alpha"], p["s"], p["beta"]
        return np.asarray(r / alpha * beta * _expm1_ratio(s - 1, np.log1p(t / beta)))

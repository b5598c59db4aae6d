"""Pareto/NBD: its integral against mpmath and scipy, gradients, CDNOW, simulated stores."""

from __future__ import annotations

import gc
from datetime import date
from typing import Any

import mpmath
import numpy as np
import pandas as pd
import pytest
from scipy.special import hyp2f1

from regulars import Workspace
from regulars.analytics.summary import customer_summary
from regulars.errors import InputError, NotFittedError
from regulars.models.btyd.data import compress_counts
from regulars.models.btyd.paretonbd import _PAIRS, ParetoNBD, log_integral

PUBLISHED = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}
"""SMC (1987) as refitted in Fader, Hardie & Lee (2005): CDNOW sample, 39 weeks, in weeks."""
IN_DAYS = {"r": 0.553, "alpha": 10.578 * 7, "s": 0.606, "beta": 11.669 * 7}
"""The same store in days: the scales alpha and beta times 7."""

FloatArray = Any


@pytest.fixture(autouse=True)
def _mpmath_precision() -> Any:
    """Compute the mpmath references in 40 digits."""
    with mpmath.workdps(40):
        yield


def simulate(
    n: int, params: dict[str, float], *, max_age: int = 730, seed: int = 0
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(x, t_x, T) of n customers from the Pareto/NBD process, T uniform in 0..max_age days.

    lambda ~ Gamma(r, 1/alpha), mu ~ Gamma(s, 1/beta); purchases are Poisson(lambda) over the
    active part of (0, T]; the last one is the largest of x uniforms; t_x in whole days.
    """
    rng = np.random.default_rng(seed)
    rate = rng.gamma(params["r"], 1 / params["alpha"], n)
    dropout = rng.gamma(params["s"], 1 / params["beta"], n)
    age = rng.integers(0, max_age + 1, n).astype(float)
    active = np.minimum(rng.standard_exponential(n) / dropout, age)
    x = rng.poisson(rate * active).astype(float)
    last = active * rng.random(n) ** (1 / np.maximum(x, 1))
    t_x = np.where(x > 0, np.minimum(np.round(last), age), 0.0)
    return x, t_x, age


def mp_log_integral(y: float, m: float, n: float, alpha: float, beta: float) -> Any:
    """Return log int_y^inf (alpha+tau)^-m (beta+tau)^-n dtau by mpmath's 2F1 (the note's form)."""
    y, m, n, alpha, beta = (mpmath.mpf(float(v)) for v in (y, m, n, alpha, beta))
    big = max(alpha, beta) + y
    a, p = m + n - 1, (n if alpha >= beta else m)
    c = abs(alpha - beta) / big
    return mpmath.log(mpmath.hyp2f1(p, a, a + 1, c) / a) - a * mpmath.log(big)


def mp_terms(p: dict[str, float], x: float, t_x: float, T: float) -> tuple[Any, Any, Any]:
    """Eqs. (22)-(23) of Fader & Hardie's note as printed: constant, 'alive' term, F(y)."""
    r, alpha, s, beta = (mpmath.mpf(p[k]) for k in ("r", "alpha", "s", "beta"))
    const = mpmath.loggamma(r + x) - mpmath.loggamma(r) + r * mpmath.log(alpha)
    const += s * mpmath.log(beta)
    alive = (alpha + T) ** -(r + x) * (beta + T) ** -s

    def dropped(y: float) -> Any:
        return mpmath.exp(mp_log_integral(y, r + x, s + 1, alpha, beta))

    return const, alive, dropped


def mp_log_likelihood(p: dict[str, float], x: float, t_x: float, T: float) -> float:
    const, alive, dropped = mp_terms(p, x, t_x, T)
    bracket = alive + p["s"] * (dropped(t_x) - dropped(T))
    return float(const + mpmath.log(bracket))


def rel(a: float, b: float) -> float:
    return abs(a - b) / abs(b)


@pytest.fixture(scope="module")
def fitted() -> ParetoNBD:
    """Return a model fitted on a small simulated store in days."""
    x, t_x, age = simulate(3000, IN_DAYS, seed=1)
    return ParetoNBD().fit(x, t_x, age)


# ---------------------------------------------------------------------- the integral
SCALES = [(1.0, 1.0), (1.0, 1.0001), (10.578, 11.669), (1.0, 2.5), (3.0, 1.0), (100.0, 1.0)]
SCALES += [(1.0, 100.0), (1e4, 0.5), (0.5, 1e4)]


@pytest.mark.parametrize(("alpha", "beta"), SCALES)
def test_integral_matches_mpmath(alpha: float, beta: float) -> None:
    """Equal, close, far-apart scales; x = 0 to 1000; y = 0 (t_x = T = 0) to 730."""
    cases = [
        (y, r + x + extra, s + 1 - extra)
        for y in (0.0, 0.5, 39.0, 730.0)
        for x in (0, 1, 350, 1000)
        for r, s in ((0.553, 0.606), (0.05, 3.0))
        for extra in (0, 1)
    ]
    y, m, n = np.array(cases).T
    got = log_integral(y, m, n, alpha, beta)[0]
    want = np.array([float(mp_log_integral(*case, alpha, beta)) for case in cases])
    assert np.all(np.isfinite(got))
    assert np.max(np.abs(got - want)) < 1e-10  # I itself to 1e-10 relative


def test_integral_stays_accurate_at_extreme_scale_ratios() -> None:
    for alpha, beta in ((1e6, 1e-2), (1e-2, 1e6)):
        for m, n in ((1000.55, 1.606), (0.553, 1.606), (1.553, 0.606)):
            got = log_integral(0.0, m, n, alpha, beta)[0][0]
            assert abs(got - float(mp_log_integral(0.0, m, n, alpha, beta))) < 1e-9


def test_integral_matches_scipy_hyp2f1() -> None:
    """Where scipy's 2F1 is accurate (moderate parameters and argument)."""
    rng = np.random.default_rng(0)
    y = rng.uniform(0, 50, 200)
    m, n = rng.uniform(0.5, 20, 200), rng.uniform(0.6, 5, 200)
    alpha, beta = rng.uniform(1, 20, 200), rng.uniform(1, 20, 200)
    big = np.maximum(alpha, beta) + y
    a, p = m + n - 1, np.where(alpha >= beta, n, m)
    want = np.log(hyp2f1(p, a, a + 1, np.abs(alpha - beta) / big) / a) - a * np.log(big)
    np.testing.assert_allclose(log_integral(y, m, n, alpha, beta)[0], want, rtol=0, atol=1e-10)


def test_integral_derivatives_match_finite_differences() -> None:
    rng = np.random.default_rng(1)
    y = np.concatenate([[0.0, 0.0, 3.0], rng.uniform(0, 100, 40)])
    m = np.concatenate([[1000.5, 0.6, 1.6], rng.uniform(0.2, 50, 40)])
    n = np.concatenate([[1.6, 1.6, 0.6], rng.uniform(0.2, 5, 40)])
    alpha = np.concatenate([[1.0, 50.0, 0.2], rng.uniform(0.5, 30, 40)])
    beta = np.concatenate([[30.0, 1.0, 0.2], rng.uniform(0.5, 30, 40)])
    args = [m, n, alpha, beta]
    grads = log_integral(y, *args)[1:]
    for k in range(4):
        step = 1e-6 * args[k]
        up = [v + step if i == k else v for i, v in enumerate(args)]
        down = [v - step if i == k else v for i, v in enumerate(args)]
        numeric = (log_integral(y, *up)[0] - log_integral(y, *down)[0]) / (2 * step)
        np.testing.assert_allclose(grads[k], numeric, rtol=1e-6, atol=1e-9)


# ------------------------------------------------------------------- the likelihood
def test_likelihood_equals_the_printed_form(fitted: ParetoNBD) -> None:
    """Eqs. (22)-(23) as printed (mpmath), including x = 350 and 1000 and t_x = T."""
    rows = [(0, 0, 0), (0, 0, 400), (1, 30, 400), (7, 399, 400), (350, 200, 700)]
    rows += [(1000, 700, 700), (1000, 650, 700), (30, 5, 10)]
    x, t_x, age = (np.array(v, dtype=float) for v in zip(*rows, strict=True))
    got = fitted.log_likelihood(x, t_x, age)
    want = [mp_log_likelihood(fitted.params_, *row) for row in rows]
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-10)


@pytest.mark.parametrize("ratio", [1.0, 8.0, 0.05])
@pytest.mark.parametrize("with_covariates", [False, True])
def test_gradient_matches_finite_differences(ratio: float, with_covariates: bool) -> None:
    """Gradient in the log-parameters (and coefficients), also with alpha, beta far apart."""
    x, t_x, age = simulate(400, IN_DAYS, seed=2)
    x[:3], t_x[:3], age[:3] = (0, 350, 1000), (0, 300, 730), (730, 700, 730)
    z = np.random.default_rng(3).normal(size=(400, 2)) if with_covariates else None
    data = compress_counts(x, t_x, age, np.ones_like(x), z)
    model = ParetoNBD()
    theta = np.log([0.6, 60.0, 0.7, 60.0 * ratio])
    if with_covariates:
        theta = np.concatenate([theta, [0.3, -0.2, 0.1, 0.4]])
    _, grad = model._objective(theta, data)
    for j in range(len(theta)):
        up, down = theta.copy(), theta.copy()
        up[j] += 1e-6
        down[j] -= 1e-6
        numeric = (model._objective(up, data)[0] - model._objective(down, data)[0]) / 2e-6
        assert grad[j] == pytest.approx(numeric, rel=1e-5, abs=1e-8)


def test_large_frequencies_neither_overflow_nor_lose_digits(fitted: ParetoNBD) -> None:
    x, t_x, age = np.array([350.0, 1000.0, 1000.0]), np.array([700.0, 729.0, 100.0]), 730.0
    age = np.full(3, age)
    for value in (
        fitted.log_likelihood(x, t_x, age),
        fitted.probability_alive(x, t_x, age),
        fitted.expected_purchases(x, t_x, age, horizon=90),
        fitted.probability_no_purchase(x, t_x, age, horizon=90),
    ):
        assert np.all(np.isfinite(value))
    assert fitted.probability_alive(x, t_x, age)[2] < 1e-100  # 1000 buys, then 630 days quiet


# ------------------------------------------------------------------------ predictions
def test_probability_alive_is_the_share_of_the_alive_term(fitted: ParetoNBD) -> None:
    rows = [(0, 0, 300), (2, 100, 300), (20, 150, 700), (5, 300, 300)]
    got = fitted.probability_alive(*(np.array(v, dtype=float) for v in zip(*rows, strict=True)))
    for value, (x, t_x, age) in zip(got, rows, strict=True):
        _, alive, dropped = mp_terms(fitted.params_, x, t_x, age)
        want = alive / (alive + fitted.params_["s"] * (dropped(t_x) - dropped(age)))
        assert value == pytest.approx(float(want), rel=1e-10)
    assert got[3] == pytest.approx(1.0, abs=1e-12)  # last purchase just now: alive
    assert 0 < got[0] < 1  # unlike BG/NBD, one-time buyers may be gone


def test_probability_no_purchase_follows_the_derivation(fitted: ParetoNBD) -> None:
    """P(alive) [A(T+t) + s (F(T) - F(T+t))] / A(T) + 1 - P(alive), from the posterior."""
    s = fitted.params_["s"]
    rows = [(0, 0, 300), (3, 200, 400), (40, 390, 400)]
    for x, t_x, age in rows:
        for t in (0.0, 7.0, 90.0, 3650.0):
            _, alive, dropped = mp_terms(fitted.params_, x, t_x, age)
            alive_later = mp_terms(fitted.params_, x, t_x, age + t)[1]
            p_alive = alive / (alive + s * (dropped(t_x) - dropped(age)))
            quiet = (alive_later + s * (dropped(age) - dropped(age + t))) / alive
            want = float(p_alive * quiet + 1 - p_alive)
            got = fitted.probability_no_purchase([x], [t_x], [age], horizon=t)[0]
            assert got == pytest.approx(want, rel=1e-9)


def test_time_to_next_purchase_inverts_the_probability(fitted: ParetoNBD) -> None:
    x, t_x, age = [40.0, 0.0], [390.0, 0.0], [400.0, 600.0]
    t = fitted.time_to_next_purchase(x, t_x, age, probability=0.5)
    assert np.isnan(t[1])  # a one-time buyer of 600 days ago is more likely gone
    p = fitted.probability_no_purchase(x[:1], t_x[:1], age[:1], horizon=float(t[0]))
    assert 1 - p[0] == pytest.approx(0.5, abs=1e-6)


def test_conditional_expectation_is_equation_41(fitted: ParetoNBD) -> None:
    r, alpha, s, beta = (fitted.params_[k] for k in ("r", "alpha", "s", "beta"))
    x, t_x, age, t = 4.0, 200.0, 400.0, 90.0
    alive = fitted.probability_alive([x], [t_x], [age])[0]
    want = (r + x) * (beta + age) / ((alpha + age) * (s - 1))
    want *= (1 - ((beta + age) / (beta + age + t)) ** (s - 1)) * alive
    got = fitted.expected_purchases([x], [t_x], [age], horizon=t)[0]
    assert got == pytest.approx(want, rel=1e-10)


def test_new_customer_expectation(fitted: ParetoNBD) -> None:
    """Eq. (27) equals eq. (41) at x = t_x = T = 0, and the simulated mean."""
    t = np.array([30.0, 365.0])
    new = fitted.expected_purchases_new_customer(t)
    for horizon, value in zip(t, new, strict=True):
        at_zero = fitted.expected_purchases([0], [0], [0], horizon=float(horizon))[0]
        assert value == pytest.approx(at_zero, rel=1e-12)
    rng = np.random.default_rng(5)
    p = fitted.params_
    rate = rng.gamma(p["r"], 1 / p["alpha"], 400_000)
    life = rng.standard_exponential(400_000) / rng.gamma(p["s"], 1 / p["beta"], 400_000)
    assert new[1] == pytest.approx(np.mean(rate * np.minimum(life, 365.0)), rel=0.02)


def test_s_equal_to_one_takes_the_limit() -> None:
    model = ParetoNBD()
    data = compress_counts(np.array([3.0]), np.array([50.0]), np.array([80.0]), np.ones(1))
    near = [{"r": 0.5, "alpha": 20.0, "s": s, "beta": 30.0} for s in (1 - 1e-9, 1.0, 1 + 1e-9)]
    conditional = [model._expected_purchases(p, data, 40.0)[0] for p in near]
    new = [model._expected_purchases_new(p, np.array([40.0]))[0] for p in near]
    for values in (conditional, new):
        assert np.all(np.isfinite(values))
        assert values[0] == pytest.approx(values[1], rel=1e-8)
        assert values[2] == pytest.approx(values[1], rel=1e-8)
    assert new[1] == pytest.approx(0.5 / 20 * 30 * np.log1p(40 / 30), rel=1e-12)


# --------------------------------------------------------------------------- fitting
@pytest.mark.slow
def test_reproduces_the_published_cdnow_fit(cdnow_calibration: pd.DataFrame) -> None:
    c = cdnow_calibration
    model = ParetoNBD().fit(c["x"], c["t_x"], c["T"])
    for name, value in PUBLISHED.items():
        assert rel(model.params_[name], value) < 1e-3
    assert model.loglik_ == pytest.approx(-9595.0, abs=0.05)
    assert model.hessian_positive_definite_


@pytest.mark.slow
def test_cdnow_holdout_matches_the_published_figures(
    cdnow_calibration: pd.DataFrame, cdnow_workspace: Workspace
) -> None:
    """Weeks 40-78: x = 0 customers 0.138 each; the sum about 12% under the actual 1,882."""
    c = cdnow_calibration
    model = ParetoNBD().fit(c["x"], c["t_x"], c["T"])
    expected = model.expected_purchases(c["x"], c["t_x"], c["T"], horizon=39)
    later = customer_summary(
        cdnow_workspace.table("orders"), cdnow_workspace.table("refunds"), as_of=date(1998, 6, 30)
    ).to_pandas()
    later = later.set_index("customer_id").loc[c["customer_id"], "frequency"].to_numpy()
    actual = later - c["x"].to_numpy()
    assert actual.sum() == 1882
    assert expected[c["x"] == 0].mean() == pytest.approx(0.138, abs=5e-4)
    assert expected.sum() / actual.sum() - 1 == pytest.approx(-0.12, abs=0.01)
    assert np.corrcoef(expected, actual)[0, 1] == pytest.approx(0.630, abs=5e-4)


def test_recovers_simulated_parameters() -> None:
    """20,000 customers: r and alpha within 15%; every parameter within 3 standard errors."""
    x, t_x, age = simulate(20_000, IN_DAYS, seed=0)
    model = ParetoNBD().fit(x, t_x, age)
    se = model.standard_errors_
    for name, value in IN_DAYS.items():
        assert abs(model.params_[name] - value) < 3 * se[name]
    assert rel(model.params_["r"], IN_DAYS["r"]) < 0.15
    assert rel(model.params_["alpha"], IN_DAYS["alpha"]) < 0.15


@pytest.mark.slow
def test_fits_a_million_customers_of_a_two_year_store() -> None:
    """The speed benchmark's data (timed outside the tests): estimates within 3%."""
    x, t_x, age = simulate(1_000_000, IN_DAYS, seed=0)
    model = ParetoNBD().fit(x, t_x, age)
    for name, value in IN_DAYS.items():
        assert rel(model.params_[name], value) < 0.03


def test_covariates_move_alpha_and_beta() -> None:
    """A binary covariate that halves alpha (more purchases) and beta (earlier dropout)."""
    group = np.repeat([0.0, 1.0], 6000)
    x0, t0, a0 = simulate(6000, IN_DAYS, seed=6)
    halved = IN_DAYS | {"alpha": IN_DAYS["alpha"] / 2, "beta": IN_DAYS["beta"] / 2}
    x1, t1, a1 = simulate(6000, halved, seed=7)
    x, t_x, age = np.concatenate([x0, x1]), np.concatenate([t0, t1]), np.concatenate([a0, a1])
    model = ParetoNBD().fit(x, t_x, age, covariates=group)
    assert model.coef_["purchase"][0] == pytest.approx(np.log(2), abs=0.1)
    assert model.coef_["dropout"][0] == pytest.approx(np.log(2), abs=0.35)
    alive = model.probability_alive(x[:2], t_x[:2], age[:2], covariates=group[:2])
    assert np.all((alive > 0) & (alive <= 1))


def test_weights_stand_for_repeated_customers() -> None:
    x, t_x, age = simulate(500, IN_DAYS, seed=8)
    weighted = ParetoNBD().fit(x, t_x, age, weights=np.full(500, 3.0))
    repeated = ParetoNBD().fit(np.tile(x, 3), np.tile(t_x, 3), np.tile(age, 3))
    for name in IN_DAYS:
        assert weighted.params_[name] == pytest.approx(repeated.params_[name], rel=1e-6)


# ------------------------------------------------------------------------ edge cases
def test_customers_without_repeat_purchases_only() -> None:
    age = np.random.default_rng(9).uniform(1, 100, 300)
    model = ParetoNBD().fit(np.zeros(300), np.zeros(300), age)
    assert all(np.isfinite(v) and v > 0 for v in model.params_.values())
    assert np.all(model.expected_purchases(np.zeros(3), np.zeros(3), age[:3], horizon=30) < 0.01)


def test_one_customer() -> None:
    model = ParetoNBD().fit([2], [5.0], [10.0])
    assert model.loglik_ <= 0
    assert np.isfinite(model.expected_purchases([2], [5.0], [10.0], horizon=10)[0])


def test_mixed_tiny_and_huge_ages() -> None:
    x, t_x, age = simulate(4000, IN_DAYS, seed=10)
    age[::7] = 1e-3
    x[::7], t_x[::7] = 0, 0
    age[1::7] *= 1000
    t_x[1::7] *= 1000
    model = ParetoNBD().fit(x, t_x, age)
    assert model.hessian_positive_definite_
    assert np.all(np.isfinite(model.log_likelihood(x, t_x, age)))
    alive = model.probability_alive(x, t_x, age)
    assert np.all((alive >= 0) & (alive <= 1))


def test_zero_weights_are_rejected() -> None:
    with pytest.raises(InputError, match="weights"):
        ParetoNBD().fit([1, 2], [1.0, 2.0], [3.0, 3.0], weights=[1.0, 0.0])


def test_predictions_need_a_fit() -> None:
    with pytest.raises(NotFittedError):
        ParetoNBD().probability_alive([1], [1.0], [2.0])


def test_the_pairs_cache_lets_go_of_the_data() -> None:
    x, t_x, age = simulate(300, IN_DAYS, seed=11)
    model = ParetoNBD().fit(x, t_x, age)
    model.probability_alive(x, t_x, age)
    gc.collect()
    assert not _PAIRS

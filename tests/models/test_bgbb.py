"""BG/BB (Fader, Hardie & Shang 2010): the published donations fit, the contract, and checks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
from scipy import integrate
from scipy.special import betaln

from regulars.errors import InputError, NotFittedError
from regulars.models.btyd.bgbb import BGBB
from regulars.models.btyd.data import compress_counts

FloatArray = npt.NDArray[np.float64]

PUBLISHED = {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783}
"""FHS 2010, donations of the 1995 cohort, 6 annual opportunities (LL -33,225.6)."""
TRUTH = {"alpha": 1.2, "beta": 0.75, "gamma": 0.66, "delta": 2.8}
SMALL = ([0, 1, 2, 3, 1, 0], [0, 3, 4, 6, 1, 0], [6, 6, 6, 8, 4, 6])


def simulate_bgbb(
    params: dict[str, float], n_customers: int, n_max: int, seed: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(x, t_x, n) from the model: p ~ Beta(alpha, beta), theta ~ Beta(gamma, delta).

    Each customer is observed for n in [n_max / 2, n_max] opportunities; at the start of
    each one an alive customer dies with probability theta, else transacts with
    probability p.
    """
    rng = np.random.default_rng(seed)
    p = rng.beta(params["alpha"], params["beta"], n_customers)
    theta = rng.beta(params["gamma"], params["delta"], n_customers)
    n = rng.integers(n_max // 2, n_max + 1, n_customers)
    x, t_x = np.zeros(n_customers), np.zeros(n_customers)
    alive = np.ones(n_customers, dtype=bool)
    for t in range(1, n_max + 1):
        alive &= rng.random(n_customers) >= theta
        bought = alive & (t <= n) & (rng.random(n_customers) < p)
        x[bought] += 1
        t_x[bought] = t
    return x, t_x, n.astype(float)


@pytest.fixture(scope="module")
def fitted() -> BGBB:
    return BGBB().fit(*simulate_bgbb(TRUTH, 2_000, 10, 1))


# ----------------------------------------------------------------------- published fit
@pytest.mark.slow
def test_reproduces_the_donations_fit(shared_data: Path) -> None:
    donations = pd.read_csv(shared_data / "donations" / "donations.csv")
    assert len(donations) == 22 and donations["weights"].sum() == 11_104
    model = BGBB().fit(
        donations["frequency"],
        donations["recency"],
        donations["periods"],
        weights=donations["weights"],
    )
    for name, value in PUBLISHED.items():
        assert model.params_[name] == pytest.approx(value, rel=1e-3), name
    assert model.loglik_ == pytest.approx(-33_225.6, abs=0.05)
    assert model.n_customers_ == 11_104 and model.n_rows_ == 22
    assert model.hessian_positive_definite_


# ------------------------------------------------------------ independent derivations
def _double_integral(model: BGBB, integrand: Callable[[float, float], float]) -> float:
    """Integral over p ~ Beta(alpha, beta) and theta ~ Beta(gamma, delta), by quadrature.

    The beta densities enter as QUADPACK's algebraic weights (exact at the endpoint
    singularities); their normalizing constants are integrated too, not taken from
    scipy.special.
    """
    a, b, g, d = (model.params_[k] for k in ("alpha", "beta", "gamma", "delta"))

    def beta_mean(f: Callable[[float], float], shape1: float, shape2: float) -> float:
        weighted = integrate.quad(f, 0, 1, weight="alg", wvar=(shape1 - 1, shape2 - 1))[0]
        norm = integrate.quad(lambda _: 1.0, 0, 1, weight="alg", wvar=(shape1 - 1, shape2 - 1))[0]
        return float(weighted / norm)

    return beta_mean(lambda th: beta_mean(lambda p: integrand(p, th), a, b), g, d)


def _individual(x: int, t_x: int, n: int, p: float, theta: float) -> float:
    """Equation (4): the likelihood of (x, t_x, n) for one customer with (p, theta)."""
    alive = p**x * (1 - p) ** (n - x) * (1 - theta) ** n
    dropped = sum(
        p**x * (1 - p) ** (t_x - x + i) * theta * (1 - theta) ** (t_x + i) for i in range(n - t_x)
    )
    return float(alive + dropped)


@pytest.mark.parametrize(("x", "t_x", "n"), [(0, 0, 6), (1, 2, 6), (3, 6, 6), (2, 3, 8)])
def test_predictions_equal_numerical_integration(fitted: BGBB, x: int, t_x: int, n: int) -> None:
    model, h = fitted, 4
    like = _double_integral(model, lambda p, th: _individual(x, t_x, n, p, th))
    history = [x], [t_x], [n]
    assert np.exp(model.log_likelihood(*history)[0]) == pytest.approx(like, rel=1e-7)

    def alive_at(k: int) -> float:
        return _double_integral(
            model, lambda p, th: p**x * (1 - p) ** (n - x) * (1 - th) ** (n + k)
        )

    for k in (0, 1, 3):
        got = model.probability_alive(*history, horizon_periods=k)[0]
        assert got == pytest.approx(alive_at(k) / like, rel=1e-7), k
    buys = _double_integral(
        model,
        lambda p, th: p**x * (1 - p) ** (n - x) * (1 - th) ** n
        * p * sum((1 - th) ** t for t in range(1, h + 1)),
    )  # fmt: skip
    got = model.expected_purchases(*history, horizon_periods=h)[0]
    assert got == pytest.approx(buys / like, rel=1e-7)
    quiet_alive = _double_integral(
        model,
        lambda p, th: p**x * (1 - p) ** (n - x) * (1 - th) ** n
        * ((1 - p) ** h * (1 - th) ** h + sum((1 - p) ** j * th * (1 - th) ** j for j in range(h))),
    )  # fmt: skip
    quiet = like - alive_at(0) + quiet_alive
    got = model.probability_no_purchase(*history, horizon_periods=h)[0]
    assert got == pytest.approx(quiet / like, rel=1e-7)


def test_new_customer_expectation_equals_integration(fitted: BGBB) -> None:
    for n in (1, 6, 20):
        want = _double_integral(
            fitted, lambda p, th, n=n: p * sum((1 - th) ** t for t in range(1, n + 1))
        )
        assert fitted.expected_purchases_new_customer([n])[0] == pytest.approx(want, rel=1e-7)
    assert fitted.expected_purchases_new_customer([0])[0] == 0.0


def test_survival_sum_is_continuous_through_gamma_one(fitted: BGBB) -> None:
    n, h, d = np.array([0.0, 6.0, 40.0]), 7, 2.0
    for g in (0.66, 0.999, 0.99995, 1.0, 1.00005, 1.001, 2.5):  # closed form; sum near 1
        brute = [
            sum(np.exp(betaln(g, d + k + t) - betaln(g, d)) for t in range(1, h + 1)) for k in n
        ]
        got = fitted._survival_sum({"gamma": g, "delta": d}, n, h)
        assert got == pytest.approx(brute, rel=1e-9), g


# ---------------------------------------------------------------------------- contract
def test_fit_returns_self_and_learned_state() -> None:
    x, t_x, n = simulate_bgbb(TRUTH, 300, 6, 6)
    model = BGBB()
    assert model.fit(x, t_x, n) is model
    assert set(model.params_) == {"alpha", "beta", "gamma", "delta"}
    assert model.n_customers_ == 300 and model.n_rows_ < 60  # identical rows merged
    assert model.loglik_ == pytest.approx(model.log_likelihood(x, t_x, n).sum(), rel=1e-12)
    assert "BGBB(alpha=" in repr(model)


def test_everything_fails_clearly_before_fit() -> None:
    model = BGBB()
    calls = [
        lambda: model.probability_alive(*SMALL),
        lambda: model.expected_purchases(*SMALL, horizon_periods=2),
        lambda: model.probability_no_purchase(*SMALL, horizon_periods=2),
        lambda: model.expected_purchases_new_customer([3]),
        lambda: model.log_likelihood(*SMALL),
        lambda: model.standard_errors_,
        lambda: model.confidence_intervals(),
    ]
    for call in calls:
        with pytest.raises(NotFittedError, match=r"not fitted yet(.|\n)*fit\(frequency, recency"):
            call()


@pytest.mark.parametrize(
    ("frequency", "recency", "n_periods", "column", "row", "message"),
    [
        ([1, -1], [1, 0], [5, 5], "frequency", 1, r"not whole numbers >= 0 \(first at position 1"),
        ([1, 1.5], [1, 2], [5, 5], "frequency", 1, "whole numbers"),
        ([1, 1], [1, 6], [5, 5], "recency", 1, "<= n_periods"),
        ([1, 3], [1, 2], [5, 5], "frequency", 1, "<= recency"),
        ([0, 1], [2, 1], [5, 5], "recency", 0, "0 for customers without transactions"),
        ([1, 1], [1, np.nan], [5, 5], "recency", 1, "finite"),
        ([1, 1], [1, 1], [5, 2.5], "n_periods", 1, "whole numbers"),
        ([1, 1], [1, 1], [5], None, None, "one value per customer"),
        ([], [], [], None, None, "no customers"),
    ],
)  # fmt: skip
def test_bad_input_is_named(
    frequency: list[float],
    recency: list[float],
    n_periods: list[float],
    column: str | None,
    row: int | None,
    message: str,
) -> None:
    with pytest.raises(InputError, match=message) as caught:
        BGBB().fit(frequency, recency, n_periods)
    assert (caught.value.column, caught.value.row) == (column, row)


def test_bad_weights_and_horizons_are_named(fitted: BGBB) -> None:
    with pytest.raises(InputError, match=r"weights has 1 value.*positive") as caught:
        BGBB().fit(*SMALL, weights=[1, 1, 0, 1, 1, 1])
    assert caught.value.row == 2
    for bad in (-1, 1.5, np.nan, "two"):
        with pytest.raises(InputError, match="horizon_periods must be a whole number"):
            fitted.expected_purchases(*SMALL, horizon_periods=bad)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="n_periods"):
        fitted.expected_purchases_new_customer([1, -2])


def test_weights_equal_duplicated_rows() -> None:
    x, t_x, n = simulate_bgbb(TRUTH, 300, 8, 3)
    counts = np.arange(len(x)) % 3 + 1
    weighted = BGBB().fit(x, t_x, n, weights=counts)
    repeated = BGBB().fit(*(np.repeat(v, counts) for v in (x, t_x, n)))
    for name in BGBB.param_names:
        assert weighted.params_[name] == pytest.approx(repeated.params_[name], rel=1e-6)
    assert weighted.loglik_ == pytest.approx(repeated.loglik_, rel=1e-9)


def test_recovers_known_parameters() -> None:
    x, t_x, n = simulate_bgbb(TRUTH, 8_000, 52, 0)
    model = BGBB().fit(x, t_x, n)
    for name, value in TRUTH.items():
        assert model.params_[name] == pytest.approx(value, rel=0.15), name
        low, high = model.confidence_intervals(0.999)[name]
        assert low < value < high, (name, low, high)


def test_new_customer_expectation_matches_simulation() -> None:
    x, _, n = simulate_bgbb(TRUTH, 20_000, 12, 5)
    model = BGBB().fit(x, _, n)
    full = n == 12
    assert model.expected_purchases_new_customer([12])[0] == pytest.approx(x[full].mean(), rel=0.05)


def test_gradient_equals_finite_differences() -> None:
    x, t_x, n = simulate_bgbb(TRUTH, 500, 15, 2)
    data = compress_counts(x, t_x, n, np.ones_like(x))
    model = BGBB()
    for theta in (np.log([1.2, 0.75, 0.66, 2.8]), np.log([0.3, 4.0, 2.0, 0.5])):
        _, grad = model._objective(theta, data)
        numeric = np.empty(4)
        for i in range(4):
            step = np.zeros(4)
            step[i] = 1e-6
            up, down = (
                model._objective(theta + step, data)[0],
                model._objective(theta - step, data)[0],
            )
            numeric[i] = (up - down) / 2e-6
        assert grad == pytest.approx(numeric, rel=1e-5, abs=1e-8)


def test_predictions_are_probabilities_and_counts(fitted: BGBB) -> None:
    x, t_x, n = simulate_bgbb(TRUTH, 500, 10, 4)
    now = fitted.probability_alive(x, t_x, n, horizon_periods=0)
    nxt = fitted.probability_alive(x, t_x, n)
    assert ((nxt >= 0) & (nxt <= now) & (now <= 1)).all()
    short = fitted.expected_purchases(x, t_x, n, horizon_periods=2)
    long = fitted.expected_purchases(x, t_x, n, horizon_periods=10)
    assert (short >= 0).all() and (long >= short).all()
    assert (fitted.expected_purchases(x, t_x, n, horizon_periods=0) == 0).all()
    quiet_short = fitted.probability_no_purchase(x, t_x, n, horizon_periods=2)
    quiet_long = fitted.probability_no_purchase(x, t_x, n, horizon_periods=10)
    assert ((quiet_long <= quiet_short + 1e-12) & (quiet_long >= 1 - now - 1e-12)).all()
    assert fitted.probability_no_purchase(x, t_x, n, horizon_periods=0) == pytest.approx(1.0)


def test_large_frequencies_stay_finite(fitted: BGBB) -> None:
    history = [0, 500, 500, 499], [0, 500, 600, 600], [600, 600, 600, 600]
    ll = fitted.log_likelihood(*history)
    alive = fitted.probability_alive(*history)
    expected = fitted.expected_purchases(*history, horizon_periods=10)
    quiet = fitted.probability_no_purchase(*history, horizon_periods=10)
    assert np.isfinite(ll).all() and np.isfinite(expected).all()
    assert ((alive >= 0) & (alive <= 1) & (quiet >= 0) & (quiet <= 1)).all()
    assert alive[1] < 1e-10 and alive[2] > 0.99  # silent for 100 vs bought at 600
    # the loyal buyer's next 10: alive, buying with p ~ (alpha+500)/(alpha+beta+600)
    a, b = fitted.params_["alpha"], fitted.params_["beta"]
    assert expected[2] == pytest.approx(10 * alive[2] * (a + 500) / (a + b + 600), rel=0.02)
    sample = simulate_bgbb(TRUTH, 300, 6, 6)
    model = BGBB().fit(*(np.r_[a, b] for a, b in zip(sample, history, strict=True)))
    assert np.isfinite(model.loglik_) and model.gradient_norm_ < 1e-4

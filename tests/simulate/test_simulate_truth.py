"""The ground truth agrees with the data, and both recover the population parameters.

Tolerances are four standard errors: computed from the model's moments, or by a parametric
bootstrap when the estimator has no simple formula.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
from simulate_support import END, OBSERVATION_END, START, Store

from regulars.simulate import StoreParameters, simulate_store
from regulars.simulate.seasonality import Seasonality, black_friday

Z = 4.0
FloatArray = npt.NDArray[np.float64]


def _season(params: StoreParameters) -> Seasonality:
    return Seasonality(START, (END - START).days + 1 + 365, params.seasonality)


def _operational_ages(store: Store, truth: pd.DataFrame) -> FloatArray:
    """Operational time from each first purchase to the end of the observation period, days."""
    season = _season(store.params)
    first = (truth.first_purchase_at - pd.Timestamp(START, tz="UTC")).dt.total_seconds() / 86400
    end = (END - START).days + 1
    ages: FloatArray = season.operational_time(float(end)) - season.operational_time(
        first.to_numpy()
    )
    return ages


def _expected_repeats(t: FloatArray, rate: FloatArray, p: FloatArray) -> FloatArray:
    """E[X(t) | lambda, p] of the BG/NBD model: (1 - exp(-lambda p t)) / p."""
    out: FloatArray = -np.expm1(-rate * p * t) / p
    return out


def _population_expected_repeats(
    t: FloatArray, params: StoreParameters, rng: np.random.Generator
) -> tuple[FloatArray, float]:
    """E[X(t)] over the population, by Monte Carlo over p (exact over lambda), and its error.

    Over lambda ~ Gamma(r, alpha): E[X(t) | p] = (1 - (alpha / (alpha + p t))**r) / p.
    """
    p = rng.beta(params.a, params.b, 200_000)
    grid = np.linspace(0, t.max(), 200)
    values = np.array(
        [-np.expm1(-params.r * np.log1p(p * g / params.alpha)) / p for g in grid]
    )  # (grid, draws)
    mean = values.mean(axis=1)
    error = float(values.std(axis=1).max() / np.sqrt(p.size))
    return np.interp(t, grid, mean), error


def test_truth_rows_match_customers(small_store: Store) -> None:
    truth = small_store.truth()
    customers = small_store.table("customers")
    assert (truth.customer_id == customers.customer_id).all()
    assert truth.notna().drop(columns="dropped_out_at").all().all()


def test_truth_agrees_with_orders(small_store: Store) -> None:
    truth = small_store.truth().set_index("customer_id")
    orders = small_store.table("orders")
    bought = orders[(orders.status != "cancelled") & orders.customer_id.notna()]
    per_customer = bought.groupby("customer_id").ordered_at.agg(["min", "max", "size"])
    per_customer = per_customer.reindex(truth.index)
    # Repeat purchases in the data are exactly the truth's; the first order is time 0.
    assert (per_customer["size"] - 1 == truth.repeat_purchases).all()
    assert (per_customer["min"] == truth.first_purchase_at).all()
    # Dropped out before the end: the last purchase is the dropout, nothing comes after.
    dead = ~truth.alive
    assert dead.any() and truth.alive.any()
    assert (truth.dropped_out_at[dead] < OBSERVATION_END).all()
    assert (per_customer["max"][dead] == truth.dropped_out_at[dead]).all()
    assert (truth.future_purchases[dead] == 0).all()
    assert (truth.repeat_purchases[dead] >= 1).all()  # BG/NBD: dropout follows a repeat purchase
    # Alive: no dropout yet (or only in the horizon).
    alive = truth[truth.alive]
    assert (alive.dropped_out_at.isna() | (alive.dropped_out_at >= OBSERVATION_END)).all()
    assert (truth.dropped_out_at.isna() <= truth.alive).all()
    # Cancelled orders never come from a dead customer after dropout.
    cancelled = orders[orders.status == "cancelled"].dropna(subset=["customer_id"])
    limit = truth.dropped_out_at.reindex(cancelled.customer_id).to_numpy()
    late = cancelled.ordered_at.to_numpy() - limit
    assert (late[~pd.isna(limit)] < np.timedelta64(6 * 3600 + 60, "s")).all()


def test_mbg_customers_may_drop_out_at_the_first_purchase(tmp_path: pytest.TempPathFactory) -> None:
    params = StoreParameters(dropout_at_first_purchase=True)
    out = tmp_path / "mbg"  # type: ignore[operator]
    simulate_store(out, customers=1000, seed=3, events=False, params=params)
    store = Store(out, params, 1000)
    truth = store.truth()
    assert (~truth.alive & (truth.repeat_purchases == 0)).any()
    assert (
        store.repeats_in_data().reindex(truth.customer_id).to_numpy() == truth.repeat_purchases
    ).all()


def test_truth_recovers_gamma_and_beta_moments(large_store: Store) -> None:
    params = large_store.params
    truth = large_store.truth()
    n = len(truth)
    rate = truth.purchase_rate.to_numpy()
    r, alpha = params.r, params.alpha
    # Mean and variance of lambda ~ Gamma(r, alpha).
    assert abs(rate.mean() - r / alpha) < Z * np.sqrt(r) / alpha / np.sqrt(n)
    var_se = np.sqrt((2 * r**2 + 6 * r) / n) / alpha**2  # sqrt((mu4 - sigma^4) / n)
    assert abs(rate.var() - r / alpha**2) < Z * var_se
    # Mean and variance of p ~ Beta(a, b).
    a, b = params.a, params.b
    p = truth.dropout_probability.to_numpy()
    mean_p, var_p = a / (a + b), a * b / ((a + b) ** 2 * (a + b + 1))
    assert abs(p.mean() - mean_p) < Z * np.sqrt(var_p / n)
    rng = np.random.default_rng(0)
    boot = np.array([rng.beta(a, b, n).var() for _ in range(200)])
    assert abs(p.var() - var_p) < Z * boot.std()


def test_method_of_moments_recovers_r_and_alpha(nbd_store: Store) -> None:
    """Without dropout, repeat purchases are Gamma-Poisson: fit r and alpha by moments.

    From the truth: r = mean**2 / var and alpha = mean / var of the rates. From the data, with
    exposures t_i: E[x] = r t / alpha and E[x (x - 1)] = r (r + 1) t**2 / alpha**2. Standard
    errors come from a parametric bootstrap of the same estimators.
    """
    params = nbd_store.params
    truth = nbd_store.truth()
    assert truth.alive.all()
    t = _operational_ages(nbd_store, truth)
    x = nbd_store.repeats_in_data().reindex(truth.customer_id).to_numpy().astype(float)

    def from_rates(rate: FloatArray) -> tuple[float, float]:
        m, v = rate.mean(), rate.var()
        return m * m / v, m / v

    def from_counts(counts: FloatArray) -> tuple[float, float]:
        m = counts.sum() / t.sum()
        s = (counts * (counts - 1)).sum() / (t * t).sum()
        r = m * m / (s - m * m)
        return r, r / m

    rng = np.random.default_rng(1)
    boot_rates, boot_counts = [], []
    for _ in range(200):
        rate = rng.gamma(params.r, 1 / params.alpha, t.size)
        boot_rates.append(from_rates(rate))
        boot_counts.append(from_counts(rng.poisson(rate * t).astype(float)))
    for estimate, boot in (
        (from_rates(truth.purchase_rate.to_numpy()), np.array(boot_rates)),
        (from_counts(x), np.array(boot_counts)),
    ):
        centre, se = boot.mean(axis=0), boot.std(axis=0)
        assert abs(centre[0] - params.r) < 0.05 * params.r  # the estimator is nearly unbiased
        assert abs(estimate[0] - centre[0]) < Z * se[0], ("r", estimate, centre, se)
        assert abs(estimate[1] - centre[1]) < Z * se[1], ("alpha", estimate, centre, se)


def test_data_repeat_purchases_match_the_bgnbd_expectation(large_store: Store) -> None:
    params = large_store.params
    truth = large_store.truth()
    t = _operational_ages(large_store, truth)
    x = large_store.repeats_in_data().reindex(truth.customer_id).to_numpy().astype(float)
    n = x.size
    # Against the given parameters: E[X(t)] of the BG/NBD model, averaged over customers.
    expected, mc_error = _population_expected_repeats(t, params, np.random.default_rng(2))
    se = np.sqrt(x.var() / n + mc_error**2)
    assert abs(x.mean() - expected.mean()) < Z * se, (x.mean(), expected.mean(), se)
    # Against the truth: E[X(t) | lambda, p] customer by customer.
    conditional = _expected_repeats(
        t, truth.purchase_rate.to_numpy(), truth.dropout_probability.to_numpy()
    )
    residual = x - conditional
    assert abs(residual.mean()) < Z * residual.std() / np.sqrt(n)
    # Customers who never repeat: P(X(t) = 0) = (alpha / (alpha + t))**r under BG/NBD.
    never = x == 0
    p0 = (params.alpha / (params.alpha + t)) ** params.r
    assert abs(never.mean() - p0.mean()) < Z * np.sqrt(p0.mean() * (1 - p0.mean()) / n)
    p0_truth = np.exp(-truth.purchase_rate.to_numpy() * t)
    assert abs(never.mean() - p0_truth.mean()) < Z * np.sqrt(
        p0_truth.mean() * (1 - p0_truth.mean()) / n
    )
    # The mean observed repeat rate per day of exposure is r / alpha, damped by dropout.
    assert x.sum() / t.sum() < params.r / params.alpha


def test_future_purchases_match_the_truth(large_store: Store) -> None:
    truth = large_store.truth()
    alive = truth[truth.alive]
    season = _season(large_store.params)
    end = (END - START).days + 1
    horizon = season.operational_time(end + 365.0) - season.operational_time(float(end))
    expected = _expected_repeats(
        horizon, alive.purchase_rate.to_numpy(), alive.dropout_probability.to_numpy()
    )
    residual = alive.future_purchases.to_numpy() - expected
    assert abs(residual.mean()) < Z * residual.std() / np.sqrt(residual.size)
    # Alive at the end: P(alive) averages E[(1 - p)**x]-like quantities; here just sanity.
    assert 0.3 < truth.alive.mean() < 0.95


def test_acquisition_grows(large_store: Store) -> None:
    truth = large_store.truth()
    second_year = truth.first_purchase_at >= pd.Timestamp("2025-01-01", tz="UTC")
    g = large_store.params.acquisition_growth / 365.25
    expected = (np.exp(g * 731) - np.exp(g * 366)) / (np.exp(g * 731) - 1)
    n = len(truth)
    assert abs(second_year.mean() - expected) < Z * np.sqrt(expected * (1 - expected) / n)


def test_seasonality_shows_in_the_orders(large_store: Store) -> None:
    orders = large_store.table("orders")
    at = orders.ordered_at
    days = at.dt.floor("D")
    per_day = days.value_counts()
    for year in (2024, 2025):
        friday = pd.Timestamp(black_friday(year), tz="UTC")
        peak = per_day[(per_day.index >= friday) & (per_day.index <= friday + pd.Timedelta(days=3))]
        before = per_day[
            (per_day.index >= friday - pd.Timedelta(days=28)) & (per_day.index < friday)
        ]
        assert peak.mean() > 1.5 * before.mean(), year
    weekday = at.dt.dayofweek.value_counts().sort_index()
    assert weekday[6] > 1.15 * weekday[5]  # Sunday busier than Saturday
    hour = at.dt.hour.value_counts().sort_index()
    assert hour.loc[19:21].sum() > 3 * hour.loc[1:3].sum()  # evening peak, quiet night (UTC)


def test_seasonality_keeps_the_mean_rate() -> None:
    season = Seasonality(date(2023, 1, 1), 3 * 365 + 1, 1.0)
    starts = [0, 365, 730]
    for start in starts:
        ratio = (
            season.operational_time(start + 365.0) - season.operational_time(float(start))
        ) / 365
        assert abs(ratio - 1) < 0.002
    flat = Seasonality(date(2023, 1, 1), 400, 0.0)
    assert np.allclose(flat.operational_time(np.array([0.0, 17.3, 399.0])), [0.0, 17.3, 399.0])


def test_consumables_are_rebought_near_their_cycle(large_store: Store) -> None:
    orders = large_store.table("orders")
    orders = orders[(orders.status != "cancelled") & orders.customer_id.notna()]
    orders = orders.sort_values(["customer_id", "ordered_at"])
    orders["rank"] = orders.groupby("customer_id").cumcount()
    lines = large_store.table("order_lines")
    coffee = lines[lines.category == "coffee"][["order_id", "product_id"]]
    coffee = coffee.merge(orders[["order_id", "customer_id", "rank"]])
    nxt = orders[["customer_id", "rank", "ordered_at"]].copy()
    nxt["rank"] -= 1
    pairs = orders[["customer_id", "rank", "ordered_at", "order_id"]].merge(
        nxt, on=["customer_id", "rank"], suffixes=("", "_next")
    )
    pairs["gap"] = (pairs.ordered_at_next - pairs.ordered_at).dt.total_seconds() / 86400
    later = coffee.assign(rank=coffee["rank"] - 1)
    again = coffee.merge(later, on=["customer_id", "rank", "product_id"])
    pairs["again"] = pairs.order_id.isin(again.order_id_x)
    near = pairs[(pairs.gap > 20) & (pairs.gap < 45)].again
    far = pairs[(pairs.gap < 5) | (pairs.gap > 150)].again
    se = np.sqrt(near.var() / near.size + far.var() / far.size)
    assert near.mean() - far.mean() > Z * se
    assert near.mean() > 1.5 * far.mean()

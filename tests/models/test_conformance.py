"""One conformance suite for every continuous-time BTYD model (fit/predict contract)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from btyd_simulation import simulate_bgnbd, simulate_paretonbd

from regulars.errors import InputError, NotFittedError
from regulars.models.btyd import BGNBD, MBGNBD, BTYDModel

Simulator = Callable[[dict[str, float], int, int], Any]


def _cases() -> list[Any]:
    cases: list[Any] = [
        pytest.param(BGNBD, {"r": 0.6, "alpha": 25.0, "a": 0.9, "b": 3.0},
                     simulate_bgnbd, id="bgnbd"),
        pytest.param(MBGNBD, {"r": 0.6, "alpha": 25.0, "a": 0.9, "b": 3.0},
                     lambda p, n, s: simulate_bgnbd(p, n, s, modified=True), id="mbgnbd"),
    ]  # fmt: skip
    try:
        pareto = importlib.import_module("regulars.models.btyd.paretonbd").ParetoNBD
    except (ImportError, AttributeError):  # pragma: no cover - while it is being written
        return cases
    cases.append(
        pytest.param(pareto, {"r": 0.6, "alpha": 25.0, "s": 0.7, "beta": 90.0},
                     simulate_paretonbd, id="paretonbd")
    )  # fmt: skip
    return cases


CASES = _cases()
SMALL = (np.array([0, 1, 2, 5, 0, 3]), np.array([0, 10, 20, 30, 0, 15]),
         np.array([40, 40, 35, 50, 20, 45]))  # fmt: skip


@pytest.mark.parametrize(("model_class", "truth", "simulate"), CASES)
def test_recovers_known_parameters(
    model_class: type[BTYDModel], truth: dict[str, float], simulate: Simulator
) -> None:
    x, t_x, T = simulate(truth, 20_000, 11)
    model = model_class().fit(x, t_x, T)
    for name, value in truth.items():
        assert model.params_[name] == pytest.approx(value, rel=0.2), name
        low, high = model.confidence_intervals(0.999)[name]
        assert low < value < high, (name, low, high)


@pytest.mark.parametrize(("model_class", "truth", "simulate"), CASES)
def test_fit_returns_self_and_learned_state(
    model_class: type[BTYDModel], truth: dict[str, float], simulate: Simulator
) -> None:
    model = model_class()
    assert model.fit(*SMALL) is model
    assert set(model.params_) == set(model_class.param_names)
    assert np.isfinite(model.loglik_)
    assert model.n_customers_ == 6
    assert model.loglik_ == pytest.approx(model.log_likelihood(*SMALL).sum(), rel=1e-9)


@pytest.mark.parametrize(("model_class", "truth", "simulate"), CASES)
def test_everything_fails_clearly_before_fit(
    model_class: type[BTYDModel], truth: dict[str, float], simulate: Simulator
) -> None:
    model = model_class()
    calls = [
        lambda: model.probability_alive(*SMALL),
        lambda: model.expected_purchases(*SMALL, horizon=30),
        lambda: model.probability_no_purchase(*SMALL, horizon=30),
        lambda: model.expected_purchases_new_customer([30]),
        lambda: model.time_to_next_purchase(*SMALL),
        lambda: model.standard_errors_,
        lambda: model.confidence_intervals(),
    ]
    for call in calls:
        with pytest.raises(NotFittedError, match="not fitted yet"):
            call()


@pytest.mark.parametrize(("model_class", "truth", "simulate"), CASES)
@pytest.mark.parametrize(
    ("frequency", "recency", "T", "message"),
    [
        ([1, -1], [1, 0], [5, 5], "frequency has 1 value.*not whole numbers >= 0"),
        ([1, 1.5], [1, 1], [5, 5], "frequency .*whole numbers"),
        ([1, 1], [1, 6], [5, 5], r"recency .*<= T"),
        ([0, 1], [2, 1], [5, 5], "recency .*0 for customers without repeats"),
        ([1, 1], [1, np.nan], [5, 5], "recency .*finite"),
        ([1, 1], [1, 1], [5], "one value per customer"),
        ([], [], [], "no customers"),
    ],
)
def test_bad_input_is_named(
    model_class: type[BTYDModel],
    truth: dict[str, float],
    simulate: Simulator,
    frequency: list[float],
    recency: list[float],
    T: list[float],
    message: str,
) -> None:
    with pytest.raises(InputError, match=message):
        model_class().fit(frequency, recency, T)


@pytest.mark.parametrize(("model_class", "truth", "simulate"), CASES)
def test_weights_equal_duplicated_rows(
    model_class: type[BTYDModel], truth: dict[str, float], simulate: Simulator
) -> None:
    x, t_x, T = simulate(truth, 300, 3)
    counts = np.arange(len(x)) % 3 + 1
    weighted = model_class().fit(x, t_x, T, weights=counts)
    repeated = model_class().fit(*(np.repeat(v, counts) for v in (x, t_x, T)))
    for name in model_class.param_names:
        assert weighted.params_[name] == pytest.approx(repeated.params_[name], rel=1e-6)
    assert weighted.loglik_ == pytest.approx(repeated.loglik_, rel=1e-9)


@pytest.mark.parametrize(("model_class", "truth", "simulate"), CASES)
def test_predictions_are_probabilities_and_counts(
    model_class: type[BTYDModel], truth: dict[str, float], simulate: Simulator
) -> None:
    x, t_x, T = simulate(truth, 2_000, 5)
    model = model_class().fit(x, t_x, T)
    alive = model.probability_alive(x, t_x, T)
    assert ((alive >= 0) & (alive <= 1)).all()
    short = model.expected_purchases(x, t_x, T, horizon=30)
    long = model.expected_purchases(x, t_x, T, horizon=365)
    assert (short >= 0).all() and (long >= short).all()
    quiet_short = model.probability_no_purchase(x, t_x, T, horizon=30)
    quiet_long = model.probability_no_purchase(x, t_x, T, horizon=365)
    assert ((quiet_long <= quiet_short + 1e-12) & (quiet_long >= 1 - alive - 1e-9)).all()
    assert model.probability_no_purchase(x, t_x, T, horizon=0) == pytest.approx(1.0)
    new = model.expected_purchases_new_customer([0.0, 100.0, 700.0])
    assert new[0] == pytest.approx(0.0) and new[1] < new[2]


@pytest.mark.parametrize(("model_class", "truth", "simulate"), CASES)
def test_new_customer_expectation_matches_simulation(
    model_class: type[BTYDModel], truth: dict[str, float], simulate: Simulator
) -> None:
    x, t_x, T = simulate(truth, 40_000, 8)
    model = model_class().fit(x, t_x, T)
    predicted = model.expected_purchases_new_customer(T)
    assert predicted.sum() == pytest.approx(x.sum(), rel=0.05)


@pytest.mark.parametrize(("model_class", "truth", "simulate"), CASES)
def test_parameter_draws_give_intervals(
    model_class: type[BTYDModel], truth: dict[str, float], simulate: Simulator
) -> None:
    x, t_x, T = simulate(truth, 5_000, 9)
    model = model_class().fit(x, t_x, T)
    draws = model.predict_with_draws(
        lambda p, d: model._expected_purchases(p, d, 90.0), x, t_x, T, n_draws=50
    )
    point = model.expected_purchases(x, t_x, T, horizon=90)
    low, high = np.percentile(draws, [5, 95], axis=0)
    assert draws.shape == (50, len(x))
    assert ((low <= point + 1e-9) & (point <= high + 1e-9)).mean() > 0.95


@pytest.mark.parametrize(("model_class", "truth", "simulate"), CASES)
def test_quantiles_over_draws_equal_those_of_every_draw(
    model_class: type[BTYDModel], truth: dict[str, float], simulate: Simulator
) -> None:
    x, t_x, T = simulate(truth, 3_000, 10)
    model = model_class().fit(x, t_x, T)

    def fn(p: Any, d: Any) -> Any:
        return model._expected_purchases(p, d, 90.0)

    every = model.predict_with_draws(fn, x, t_x, T, n_draws=30, random_state=4)
    fast = model.quantiles_over_draws(fn, x, t_x, T, n_draws=30, random_state=4)
    assert fast == pytest.approx(np.percentile(every, [5, 95], axis=0), rel=1e-12)


@pytest.mark.parametrize(("model_class", "truth", "simulate"), CASES)
def test_predict_all_equals_the_single_predictions(
    model_class: type[BTYDModel], truth: dict[str, float], simulate: Simulator
) -> None:
    x, t_x, T = simulate(truth, 2_000, 12)
    model = model_class().fit(x, t_x, T)
    every = model.predict_all(x, t_x, T, horizon=90, at=[30, 90])
    assert every["expected_purchases"] == pytest.approx(
        model.expected_purchases(x, t_x, T, horizon=90), rel=1e-12
    )
    assert every["probability_alive"] == pytest.approx(model.probability_alive(x, t_x, T))
    assert every["probability_no_purchase"] == pytest.approx(
        model.probability_no_purchase(x, t_x, T, horizon=90)
    )
    wait = model.time_to_next_purchase(x, t_x, T)
    assert np.array_equal(np.isnan(every["time_to_next_purchase"]), np.isnan(wait))
    assert every["expected_purchases_at"][1] == pytest.approx(every["expected_purchases"])


@pytest.mark.parametrize(("model_class", "truth", "simulate"), CASES)
def test_every_start_reaches_the_same_maximum(
    model_class: type[BTYDModel], truth: dict[str, float], simulate: Simulator
) -> None:
    x, t_x, T = simulate(truth, 3_000, 13)
    first = model_class().fit(x, t_x, T)
    every = model_class(all_starts=True, n_starts=4, random_state=7).fit(x, t_x, T)
    assert every.loglik_ >= first.loglik_ - 1e-6
    for name in model_class.param_names:
        assert every.params_[name] == pytest.approx(first.params_[name], rel=1e-4)


def test_group_rows_puts_equal_keys_together_and_names_a_row_of_each() -> None:
    from regulars.models.btyd.data import group_rows

    rng = np.random.default_rng(3)
    key = rng.integers(0, 50, 2_000).astype(np.float64)
    first, group = group_rows(key)
    assert len(first) == len(np.unique(key))
    np.testing.assert_array_equal(key[first][group], key)  # each row's group holds its key
    assert len(np.unique(key[first])) == len(first)  # and no two groups share one

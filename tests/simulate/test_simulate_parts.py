"""Building blocks of the simulator: identifiers, money, calendar, catalogue, baskets."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import numpy as np
import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from regulars.schema import MONEY
from regulars.simulate.baskets import staple_probability
from regulars.simulate.catalogue import build_catalogue
from regulars.simulate.columns import hex_ids, join_groups, money, money_text, prefixed_ids
from regulars.simulate.customers import arrival_quantiles
from regulars.simulate.seasonality import black_friday


@given(st.lists(st.integers(min_value=-(10**12), max_value=10**12), max_size=50))
def test_money_is_exact(cents: list[int]) -> None:
    array = money(np.array(cents, dtype=np.int64))
    assert array.type == MONEY
    assert array.to_pylist() == [Decimal(c).scaleb(-2) for c in cents]


@given(st.lists(st.integers(min_value=0, max_value=10**9), max_size=50))
def test_money_text(cents: list[int]) -> None:
    text = money_text(np.array(cents, dtype=np.int64)).to_pylist()
    assert text == [f"{c // 100}.{c % 100:02d}" for c in cents]


def test_identifiers() -> None:
    assert prefixed_ids("C", np.array([0, 42]), 8).to_pylist() == ["C00000000", "C00000042"]
    ids = hex_ids(np.arange(200_000), key=7).to_pylist()
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 36 and i[8] == i[13] == i[18] == i[23] == "-" for i in ids[:100])
    assert hex_ids(np.arange(5), key=7).to_pylist() == ids[:5]  # deterministic
    assert hex_ids(np.arange(5), key=8).to_pylist() != ids[:5]
    joined = join_groups(pa.array(["a", "b", "c"]), np.array([0, 2, 2, 3]), ",")
    assert joined.to_pylist() == ["a,b", "", "c"]


def test_black_friday() -> None:
    assert black_friday(2024) == date(2024, 11, 29)
    assert black_friday(2025) == date(2025, 11, 28)
    assert black_friday(2026) == date(2026, 11, 27)


def test_arrival_quantiles_are_sorted_across_chunks() -> None:
    rng = np.random.default_rng(0)
    last, chunks = 0.0, []
    for done in range(0, 10_000, 1000):
        q, last = arrival_quantiles(rng, 10_000, done, 1000, last)
        chunks.append(q)
    quantiles = np.concatenate(chunks)
    assert (np.diff(quantiles) >= 0).all() and quantiles[0] >= 0 and quantiles[-1] < 1
    # Order statistics of uniforms: the k-th of n has mean k / (n + 1).
    assert abs(quantiles[4999] - 0.5) < 4 * 0.5 / np.sqrt(10_001)


def test_catalogue() -> None:
    catalogue = build_catalogue(np.random.default_rng(1), 731)
    assert (np.diff(catalogue.category) >= 0).all()  # sorted by category
    retired = np.isfinite(catalogue.discontinued_at)
    assert retired.sum() == 5
    assert (catalogue.successor[retired] != np.flatnonzero(retired)).all()
    assert np.isinf(catalogue.discontinued_at[catalogue.successor]).all()
    assert catalogue.consumable.any() and (~catalogue.consumable).any()
    table = catalogue.to_table("USD")
    assert table.num_rows == catalogue.size


def test_staple_probability_peaks_at_the_cycle() -> None:
    cycle = np.full(4, 30.0)
    p = staple_probability(np.array([3.0, 30.0, 300.0, np.inf]), cycle)
    assert p[1] == max(p) and abs(p[1] - 0.9) < 1e-9
    assert p[0] < 0.2 and p[2] < 0.2 and p[3] == 0.6

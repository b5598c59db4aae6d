"""Category affinity: recency-weighted shares of spend, ranks, and their edge cases."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from regulars.errors import ConfigError, InputError
from regulars.recommend.affinity import (
    AFFINITY_COLUMNS,
    NO_CATEGORY,
    category_affinity,
    favourite_categories,
    item_categories,
)
from regulars.recommend.baskets import Baskets

AS_OF = date(2025, 6, 30)
COLUMNS = ["customer_id", "order_id", "ordered_at", "product_id", "spend"]
CATEGORY = {"k1": "kitchen", "k2": "kitchen", "g1": "garden", "t1": "tea", "x1": None}


def baskets_of(rows: list[tuple[str, str, str, str, float]]) -> Baskets:
    return Baskets.from_frame(pd.DataFrame(rows, columns=COLUMNS), as_of=AS_OF)


def categories_of(baskets: Baskets) -> np.ndarray:
    return np.array([CATEGORY[i] for i in baskets.item_ids], dtype=object)


def affinity(rows: list[tuple[str, str, str, str, float]], **kwargs: float) -> pd.DataFrame:
    baskets = baskets_of(rows)
    return category_affinity(baskets, categories_of(baskets), **kwargs)


def row(frame: pd.DataFrame, customer: str, category: str) -> pd.Series:
    found = frame[(frame["customer_id"] == customer) & (frame["category"] == category)]
    assert len(found) == 1
    return found.iloc[0]


# Bought kitchen (100) long ago and garden (40) recently; ordered at midnight, so the
# ages from the end of 2025-06-30 are whole days: 402 and 11.
KITCHEN_THEN_GARDEN = [
    ("A", "o1", "2024-05-25T00:00:00Z", "k1", 100.0),
    ("A", "o2", "2025-06-20T00:00:00Z", "g1", 40.0),
]


def test_without_decay_the_bigger_spend_is_the_favourite() -> None:
    frame = affinity(KITCHEN_THEN_GARDEN, half_life_days=np.inf)
    assert row(frame, "A", "kitchen")["rank"] == 1
    assert row(frame, "A", "kitchen")["share"] == pytest.approx(100 / 140)
    assert row(frame, "A", "garden")["share"] == pytest.approx(40 / 140)


def test_recency_weighting_moves_the_favourite_to_the_recent_category() -> None:
    frame = affinity(KITCHEN_THEN_GARDEN, half_life_days=30.0)
    kitchen = 100 * 0.5 ** (402 / 30)
    garden = 40 * 0.5 ** (11 / 30)
    assert row(frame, "A", "garden")["rank"] == 1
    assert row(frame, "A", "garden")["share"] == pytest.approx(garden / (kitchen + garden))
    assert row(frame, "A", "kitchen")["share"] == pytest.approx(kitchen / (kitchen + garden))
    # spend and the rest stay unweighted
    assert row(frame, "A", "kitchen")["spend"] == 100.0
    assert row(frame, "A", "kitchen")["last_bought_days"] == pytest.approx(402.0)
    assert row(frame, "A", "garden")["last_bought_days"] == pytest.approx(11.0)


def test_columns_shares_baskets_and_ranks() -> None:
    frame = affinity(
        [
            ("A", "o1", "2025-01-01T10:00:00Z", "k1", 10.0),
            ("A", "o1", "2025-01-01T10:00:00Z", "k2", 5.0),  # same basket, same category
            ("A", "o2", "2025-03-01T10:00:00Z", "k1", 10.0),
            ("A", "o2", "2025-03-01T10:00:00Z", "t1", 30.0),
            ("B", "o3", "2025-06-01T10:00:00Z", "t1", 8.0),
            ("C", "o4", "2025-02-01T10:00:00Z", "g1", 3.0),
            ("C", "o5", "2025-05-01T10:00:00Z", "t1", 6.0),
        ],
        half_life_days=90.0,
    )
    assert list(frame.columns) == list(AFFINITY_COLUMNS)
    assert frame.groupby("customer_id")["share"].sum().to_numpy() == pytest.approx([1, 1, 1])
    kitchen = row(frame, "A", "kitchen")
    assert kitchen["spend"] == 25.0
    assert kitchen["baskets"] == 2  # o1 counts once despite two kitchen products
    assert row(frame, "A", "tea")["baskets"] == 1
    # sorted by customer, then rank; ranks run 1..k per customer
    assert list(frame["customer_id"]) == ["A", "A", "B", "C", "C"]
    assert list(frame.groupby("customer_id")["rank"].apply(list)) == [[1, 2], [1], [1, 2]]
    assert row(frame, "B", "tea")["share"] == 1.0
    assert frame["baskets"].dtype == np.int64 and frame["rank"].dtype == np.int64


def test_products_without_a_category_count_under_none() -> None:
    baskets = baskets_of(
        [
            ("A", "o1", "2025-06-01T10:00:00Z", "k1", 30.0),
            ("A", "o1", "2025-06-01T10:00:00Z", "x1", 10.0),
            ("A", "o2", "2025-06-02T10:00:00Z", "g1", 10.0),
        ]
    )
    for missing in (None, np.nan, "", "  "):
        names = np.array(
            [missing if i == "g1" else CATEGORY[i] for i in baskets.item_ids], dtype=object
        )
        frame = category_affinity(baskets, names, half_life_days=np.inf)
        assert sorted(frame["category"]) == [NO_CATEGORY, "kitchen"]
        assert row(frame, "A", NO_CATEGORY)["share"] == pytest.approx(20 / 50)


def test_zero_spend_falls_back_to_weighted_line_counts() -> None:
    frame = affinity(
        [
            ("A", "o1", "2025-06-20T00:00:00Z", "k1", 0.0),
            ("A", "o2", "2025-06-20T00:00:00Z", "t1", 0.0),
            ("A", "o3", "2025-06-30T00:00:00Z", "t1", 0.0),
        ],
        half_life_days=10.0,
    )
    kitchen, tea = 0.5 ** (11 / 10), 0.5 ** (11 / 10) + 0.5 ** (1 / 10)
    assert row(frame, "A", "tea")["share"] == pytest.approx(tea / (kitchen + tea))
    assert row(frame, "A", "tea")["rank"] == 1


def test_ties_go_to_the_most_recent_then_to_the_name() -> None:
    same_basket = affinity(
        [
            ("A", "o1", "2025-06-01T10:00:00Z", "t1", 10.0),
            ("A", "o1", "2025-06-01T10:00:00Z", "k1", 10.0),
            ("A", "o1", "2025-06-01T10:00:00Z", "g1", 10.0),
        ]
    )
    assert list(same_basket["category"]) == ["garden", "kitchen", "tea"]
    later_tea = affinity(
        [
            ("A", "o1", "2025-01-01T10:00:00Z", "k1", 10.0),
            ("A", "o2", "2025-06-01T10:00:00Z", "t1", 10.0),
        ],
        half_life_days=np.inf,
    )
    assert list(later_tea["category"]) == ["tea", "kitchen"]
    assert list(later_tea["share"]) == [0.5, 0.5]


def test_a_split_history_counts_ages_from_the_held_out_basket() -> None:
    baskets = baskets_of(
        [
            ("A", "o1", "2025-05-01T00:00:00Z", "k1", 10.0),
            ("A", "o2", "2025-06-10T00:00:00Z", "t1", 10.0),
        ]
    )
    history, _truth = baskets.split_last(1)
    frame = category_affinity(history, categories_of(history))
    # o1 is 40 days before o2, the moment the customer is looked at
    assert row(frame, "A", "kitchen")["last_bought_days"] == pytest.approx(40.0)


def test_matches_a_plain_pandas_computation_on_random_baskets() -> None:
    rng = np.random.default_rng(3)
    n = 3000
    stamps = pd.Timestamp("2025-06-30T23:00:00Z") - pd.to_timedelta(
        rng.integers(0, 700 * 24, n), unit="h"
    )
    frame = pd.DataFrame(
        {
            "customer_id": rng.integers(0, 150, n).astype(str),
            "order_id": rng.integers(0, 900, n).astype(str),
            "ordered_at": stamps,
            "product_id": rng.choice(list(CATEGORY), n),
            "spend": rng.uniform(0, 50, n).round(2),
        }
    )
    # one customer and one time per order, as real orders have
    first = frame.groupby("order_id")[["customer_id", "ordered_at"]].transform("first")
    frame[["customer_id", "ordered_at"]] = first
    baskets = Baskets.from_frame(frame, as_of=AS_OF)
    got = category_affinity(baskets, categories_of(baskets), half_life_days=60.0)

    end = pd.Timestamp("2025-07-01T00:00:00Z")
    frame["age"] = (end - frame["ordered_at"]).dt.total_seconds() / 86400
    frame["category"] = frame["product_id"].map(CATEGORY).fillna(NO_CATEGORY)
    frame["weighted"] = frame["spend"] * 0.5 ** (frame["age"] / 60.0)
    want = frame.groupby(["customer_id", "category"]).agg(
        weighted=("weighted", "sum"),
        spend=("spend", "sum"),
        baskets=("order_id", "nunique"),
        last_bought_days=("age", "min"),
    )
    want["share"] = want["weighted"] / want.groupby(level=0)["weighted"].transform("sum")
    merged = got.set_index(["customer_id", "category"]).join(want, rsuffix="_want")
    assert len(merged) == len(want)
    for column in ("share", "spend", "last_bought_days"):
        assert merged[column].to_numpy() == pytest.approx(merged[f"{column}_want"].to_numpy())
    assert (merged["baskets"] == merged["baskets_want"]).all()
    best = want.reset_index().sort_values("share", ascending=False).groupby("customer_id").head(1)
    top = got[got["rank"] == 1].set_index("customer_id")["category"]
    assert (top.loc[best["customer_id"]].to_numpy() == best["category"].to_numpy()).all()


def test_item_category_must_have_one_entry_per_product() -> None:
    baskets = baskets_of(KITCHEN_THEN_GARDEN)
    with pytest.raises(InputError, match="item_category has 1 entries but the baskets have 2"):
        category_affinity(baskets, np.array(["kitchen"], dtype=object))


@pytest.mark.parametrize("half_life", [0.0, -5.0, np.nan])
def test_half_life_must_be_positive(half_life: float) -> None:
    baskets = baskets_of(KITCHEN_THEN_GARDEN)
    with pytest.raises(ConfigError, match="half_life_days must be a positive number"):
        category_affinity(baskets, categories_of(baskets), half_life_days=half_life)


def test_no_baskets_give_an_empty_frame_with_the_columns() -> None:
    frame = category_affinity(Baskets.empty(AS_OF), np.zeros(0, dtype=object))
    assert frame.empty and list(frame.columns) == list(AFFINITY_COLUMNS)


def test_item_categories_follows_the_item_ids() -> None:
    products = pd.DataFrame({"product_id": ["g1", "k1", "zz"], "category": ["garden", None, "x"]})
    got = item_categories(np.array(["k1", "g1", "unknown"], dtype=object), products)
    assert list(got) == [None, "garden", None]
    with pytest.raises(InputError, match="Required column category missing"):
        item_categories(np.array(["k1"]), products[["product_id"]])


def test_favourite_categories_keeps_the_top_ranks() -> None:
    frame = affinity(KITCHEN_THEN_GARDEN, half_life_days=30.0)
    assert list(favourite_categories(frame)["category"]) == ["garden"]
    assert list(favourite_categories(frame, top=2)["category"]) == ["garden", "kitchen"]
    with pytest.raises(ConfigError, match="top must be at least 1"):
        favourite_categories(frame, top=0)

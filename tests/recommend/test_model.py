"""The recommender's contract: errors before fit, modes, new customers, k, reasons."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from recs_support import baskets_of

from regulars.errors import ConfigError, NotFittedError
from regulars.recommend.evaluate import next_basket_split, score_lists
from regulars.recommend.model import COLUMNS, Recommender

ORDERS = {
    "ann": [(90, ["bread", "milk"]), (60, ["bread", "jam"]), (30, ["bread", "milk"])],
    "bob": [(80, ["bread", "milk", "tea"]), (20, ["milk", "tea"])],
    "cat": [(50, ["jam", "tea"])],
    "dan": [(10, ["cake"]), (5, ["cake", "tea"])],
}


def test_recommend_before_fit_says_what_to_do() -> None:
    with pytest.raises(NotFittedError, match="fit"):
        Recommender().recommend(["ann"])


@pytest.mark.parametrize("k", [0, -1, 2.5, True])
def test_k_must_be_a_positive_integer(k: object) -> None:
    rec = Recommender().fit(baskets_of(ORDERS))
    with pytest.raises(ConfigError, match="k must be"):
        rec.recommend(["ann"], k=k)  # type: ignore[arg-type]


def test_unknown_mode() -> None:
    rec = Recommender().fit(baskets_of(ORDERS))
    with pytest.raises(ConfigError, match="Unknown mode"):
        rec.recommend(["ann"], mode="upsell")  # type: ignore[arg-type]


def test_lists_have_the_columns_ranks_and_at_most_k_rows() -> None:
    rec = Recommender().fit(baskets_of(ORDERS))
    lists = rec.recommend(k=3)
    assert list(lists.columns) == COLUMNS
    assert lists["rank"].dtype == "int64" and lists["score"].dtype == "float64"
    assert list(lists["customer_id"].unique()) == ["ann", "bob", "cat", "dan"]
    for _, group in lists.groupby("customer_id"):
        assert group["rank"].tolist() == list(range(1, len(group) + 1))
        assert group["score"].is_monotonic_decreasing
        assert group["product_id"].is_unique and len(group) <= 3
    assert set(lists["reason"]) <= {"buy_again", "cross_sell", "category", "popular"}


def test_a_new_customer_gets_trending_products_only() -> None:
    rec = Recommender().fit(baskets_of(ORDERS))
    lists = rec.recommend(["zoe", "ann"], k=2)
    assert lists["customer_id"].tolist()[:2] == ["zoe", "zoe"]  # in the order asked
    zoe = lists[lists["customer_id"] == "zoe"]
    assert (zoe["reason"] == "popular").all()
    # The most recent baskets hold tea and cake: they trend.
    assert set(zoe["product_id"]) == {"tea", "cake"}
    assert rec.recommend(["zoe"], mode="buy_again").empty


def test_modes_split_bought_from_new() -> None:
    rec = Recommender().fit(baskets_of(ORDERS))
    again = rec.recommend(["cat"], k=5, mode="buy_again")
    assert set(again["product_id"]) == {"jam", "tea"}
    cross = rec.recommend(["cat"], k=5, mode="cross_sell")
    assert not set(cross["product_id"]) & {"jam", "tea"} and len(cross) > 0


def test_fit_is_deterministic() -> None:
    b = baskets_of(ORDERS)
    first = Recommender().fit(b).recommend(k=4)
    second = Recommender().fit(b).recommend(k=4)
    pd.testing.assert_frame_equal(first, second)


def test_metrics_by_hand() -> None:
    b = baskets_of({"a": [(9, ["x"]), (1, ["x", "y", "z"])], "b": [(8, ["y"]), (2, ["w"])]})
    split = next_basket_split(b)
    item = {name: i for i, name in enumerate(b.item_ids)}
    lists = pd.DataFrame(
        {
            "customer": [0, 0, 1, 1],
            "item": [item["z"], item["w"], item["y"], item["w"]],
            "rank": [1, 2, 1, 2],
        }
    )
    got = score_lists(lists, split, k=2)
    # a: truth {x, y, z}, hit z at rank 1 -> recall 1/3, DCG 1, ideal(2) 1 + 1/log2(3).
    # b: truth {w}, hit w at rank 2 -> recall 1, DCG 1/log2(3), ideal 1.
    ideal2 = 1 + 1 / np.log2(3)
    ideal3 = ideal2 + 1 / np.log2(4)
    assert got["recall"] == pytest.approx((1 / 3 + 1) / 2)
    assert got["ndcg"] == pytest.approx((1 / ideal2 + 1 / np.log2(3)) / 2)
    assert got["ndcg_li"] == pytest.approx((1 / ideal3 + 1 / np.log2(3)) / 2)
    assert got["hit_rate"] == 1.0
    assert got["repeat_share"] == 0.0  # z and w were new to them
    assert got["explore_recall"] == pytest.approx((1 / 2 + 1) / 2)  # a: z of {y, z}; b: w
    assert got["repeat_recall"] == 0.0  # a's x was not listed


def test_a_thin_history_gets_its_favourite_categorys_best_sellers() -> None:
    from regulars.recommend.features import candidates
    from regulars.recommend.filters import Catalogue

    orders = {
        "ann": [(30, ["tea1", "tea2"]), (20, ["tea2", "tea3"])],
        "bob": [(25, ["tea1", "tea3"]), (5, ["tea1"])],
        "cat": [(10, ["tea4"])],  # one basket, one tea: thin history
        "dan": [(8, ["mug1", "mug2"]), (3, ["mug1"])],
    }
    b = baskets_of(orders)
    products = pd.DataFrame(
        {
            "product_id": list(b.item_ids),
            "name": list(b.item_ids),
            "category": ["mug" if p.startswith("mug") else "tea" for p in b.item_ids],
            "active": True,
        }
    )
    rec = Recommender().fit(b, Catalogue.build(b.item_ids, products))
    cat = int(rec.customer_index_.get_loc("cat"))
    pool = candidates(rec.state_, np.array([cat]))
    from_category = set(b.item_ids[pool.item[(pool.source & 4) > 0]])  # the category bit
    # Every tea the store sells is a best seller of cat's favourite category; no mug is.
    assert from_category >= {"tea1", "tea2", "tea3"}
    assert not from_category & {"mug1", "mug2"}

"""Business filters hold for any history: no charge, nothing off sale, no rebuy in cross-sell."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from recs_support import baskets_of

from regulars.recommend.filters import Catalogue, cap_per_category
from regulars.recommend.model import Recommender

PRODUCTS = [f"P{i}" for i in range(12)] + ["POST", "giftcard-50"]
CATEGORIES = ["home", "garden", "kitchen"]


def _products(inactive: set[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "product_id": PRODUCTS,
            "name": [f"Thing {p}" for p in PRODUCTS[:-2]] + ["Postage", "Gift card 50"],
            "category": [CATEGORIES[i % 3] for i in range(len(PRODUCTS))],
            "active": [p not in inactive for p in PRODUCTS],
        }
    )


def test_catalogue_says_why_a_product_is_left_out() -> None:
    ids = np.array(["P0", "P1", "POST", "giftcard-50", "P9", "ghost"], dtype=object)
    catalogue = Catalogue.build(ids, _products({"P1"}), exclude=["P9"])
    assert catalogue.recommendable.tolist() == [True, False, False, False, False, False]
    assert list(catalogue.why_not[1:]) == [
        "inactive (not on sale)",
        "not a product (a charge, fee or voucher)",
        "not a product (a charge, fee or voucher)",
        "excluded by the store",
        "not in the products table",
    ]
    assert catalogue.category.tolist()[:2] == ["home", "garden"]


@pytest.mark.parametrize(
    ("name", "product"),
    [
        ("Coffee beans", True),
        ("Tipi tent", True),
        ("Shipping box set", True),
        ("FRENCH CARRIAGE LANTERN", True),  # Online Retail products named after charges
        ("BLACK BAROQUE CARRIAGE CLOCK", True),
        ("Next Day Carriage", False),
        ("Postage", False),
        ("Tip", False),
        ("Shipping charge", False),
        ("Gift Card 25 EUR", False),
        ("e-gift voucher", False),
        ("Service fee", False),
    ],
)
def test_charges_are_told_from_products_named_after_them(name: str, product: bool) -> None:
    products = pd.DataFrame(
        {"product_id": ["A"], "name": [name], "category": ["x"], "active": [True]}
    )
    catalogue = Catalogue.build(np.array(["A"], dtype=object), products)
    assert catalogue.recommendable.tolist() == [product]


def test_category_cap() -> None:
    customer = np.array([0, 0, 0, 0, 1, 1])
    category = np.array([5, 5, 5, -1, 5, 5])
    assert cap_per_category(customer, category, 2).tolist() == [1, 1, 0, 1, 1, 1]


histories = st.dictionaries(
    st.sampled_from([f"c{i}" for i in range(8)]),
    st.lists(
        st.tuples(st.integers(0, 400), st.lists(st.sampled_from(PRODUCTS), min_size=1, max_size=5)),
        min_size=1,
        max_size=6,
    ),
    min_size=1,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories, st.sets(st.sampled_from(PRODUCTS[:12]), max_size=6), st.integers(1, 8))
def test_filters_hold_for_any_history(
    orders: dict[str, list[tuple[int, list[str]]]], inactive: set[str], k: int
) -> None:
    b = baskets_of(orders)
    catalogue = Catalogue.build(b.item_ids, _products(inactive))
    rec = Recommender(max_per_category=2).fit(b, catalogue)
    customers = [*orders, "someone-new"]
    everything = rec.recommend(customers, k=k)
    cross = rec.recommend(customers, k=k, mode="cross_sell")
    for lists in (everything, cross):
        assert not lists["product_id"].isin(["POST", "giftcard-50", *inactive]).any()
        assert (lists.groupby("customer_id").size() <= k).all()
        per_category = lists.merge(_products(set()), on="product_id").groupby(
            ["customer_id", "category"]
        )
        assert (per_category.size() <= 2).all()
    bought = {(c, p) for c, baskets in orders.items() for _, items in baskets for p in items}
    listed = zip(cross["customer_id"], cross["product_id"], strict=True)
    assert not any(pair in bought for pair in listed)
    assert (cross["reason"] != "buy_again").all()
    again = everything[everything["reason"] == "buy_again"]
    assert all(
        pair in bought for pair in zip(again["customer_id"], again["product_id"], strict=True)
    )

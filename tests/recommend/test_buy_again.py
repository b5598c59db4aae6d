"""Buy-again: repurchase cycles, and "due now" before "bought often long ago"."""

from __future__ import annotations

import numpy as np
import pytest
from recs_support import baskets_of

from regulars.recommend.history import ItemStats, PersonalHistory, buy_again_score
from regulars.recommend.model import Recommender
from regulars.recommend.tifu import TifuParams, tifu_weights


def _history(orders: dict[str, list[tuple[int, list[str]]]]) -> tuple[PersonalHistory, object]:
    b = baskets_of(orders)
    h = PersonalHistory.build(b, tifu_weights(b, TifuParams()))
    return h, b


def test_cycles_are_personal_then_the_products_then_the_stores() -> None:
    h, b = _history(
        {
            "c1": [(100, ["milk", "tea"]), (70, ["milk"]), (40, ["milk"])],  # milk every 30 days
            "c2": [(90, ["milk"]), (70, ["milk"]), (5, ["soap"])],  # milk every 20 days
            "c3": [(60, ["milk"]), (25, ["milk"])],  # every 35 days
            "c4": [(12, ["milk", "soap"])],
        }
    )
    items = ItemStats.build(b, h, min_cycle_buyers=3)  # type: ignore[arg-type]
    milk, soap = list(b.item_ids).index("milk"), list(b.item_ids).index("soap")  # type: ignore[attr-defined]
    assert items.cycle_days[milk] == pytest.approx(30.0)  # median of 30, 20, 35
    assert np.isnan(items.cycle_days[soap])  # nobody rebought soap
    cycle = h.cycle_days(items, fallback_days=33.0)
    pair = {(h.customer[j], h.item[j]): cycle[j] for j in range(h.customer.size)}
    assert pair[(0, milk)] == pytest.approx(30.0)  # own
    assert pair[(3, milk)] == pytest.approx(30.0)  # the product's
    assert pair[(3, soap)] == pytest.approx(33.0)  # the store's
    assert items.repeat_rate[milk] == pytest.approx(3 / 4)


def test_due_now_beats_bought_often_long_ago() -> None:
    often_long_ago = buy_again_score(np.array([9.0]), np.array([8.0]))
    due_now = buy_again_score(np.array([2.0]), np.array([1.0]))
    just_bought = buy_again_score(np.array([2.0]), np.array([0.05]))
    assert due_now[0] > 100 * often_long_ago[0]
    assert due_now[0] > 10 * just_bought[0]
    assert buy_again_score(np.array([4.0]), np.array([1.0]))[0] > due_now[0]  # then frequency


def test_the_recommender_lists_the_due_product_first() -> None:
    # Bought "old" 6 times, a week apart, a year ago; "due" every 30 days, last 30 days ago.
    orders = {
        "me": [(400 - 7 * i, ["old"]) for i in range(6)]
        + [(90, ["due"]), (60, ["due"]), (30, ["due"])]
    }
    b = baskets_of(orders)
    rec = Recommender().fit(b)
    assert rec.ranker_.method == "blend"  # one customer: nothing to learn from
    lists = rec.recommend(["me"], k=2, mode="buy_again")
    assert lists["product_id"].tolist() == ["due", "old"]
    assert (lists["reason"] == "buy_again").all()

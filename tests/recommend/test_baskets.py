from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from recs_support import baskets_of

from regulars.recommend.baskets import Baskets
from regulars.recommend.tifu import TifuParams, item_neighbours, tifu_weights, top_per_row


def test_baskets_are_in_time_order_and_a_product_counts_once_per_order() -> None:
    b = baskets_of({"c1": [(5, ["a", "b"]), (50, ["a", "a", "c"])], "c2": [(1, ["b"])]})
    assert list(b.customer_ids) == ["c1", "c2"] and list(b.item_ids) == ["a", "b", "c"]
    c1 = b.customer == 0
    # The order 50 days ago is the first basket; "a" twice on it is one entry, spend summed.
    first = c1 & (b.basket == 0)
    assert sorted(b.item_ids[b.item[first]]) == ["a", "c"]
    assert b.spend[first & (b.item == 0)][0] == pytest.approx(20.0)
    assert b.baskets_per_customer().tolist() == [2, 1]
    assert np.allclose(np.unique(b.age_days[c1]), [5.5, 50.5])  # from the end of as_of


def test_split_last_holds_out_the_last_basket_of_repeat_customers_only() -> None:
    b = baskets_of({"c1": [(40, ["a"]), (20, ["b"]), (3, ["c", "d"])], "c2": [(9, ["a"])]})
    history, truth = b.split_last(1)
    assert sorted(truth.item_ids[truth.item]) == ["c", "d"]
    assert set(truth.customer) == {0}
    assert history.baskets_per_customer().tolist() == [2, 1]  # c2 keeps its only basket
    # c1 is looked at when the held-out basket was bought, 3.5 days before the end of as_of.
    assert history.view_days[0] == pytest.approx(3 + 0.5)
    assert history.view_days[1] == 0.0


def test_empty_frame_gives_no_customer() -> None:
    frame = pd.DataFrame(columns=["customer_id", "order_id", "ordered_at", "product_id"])
    b = Baskets.from_frame(frame, as_of=date(2025, 1, 1))
    assert b.n_customers == 0 and b.n_entries == 0


def test_tifu_weights_follow_the_paper() -> None:
    # 4 baskets, m = 3: groups {b0} and {b1, b2, b3}; r_b = 0.9, r_g = 0.6, G = 2.
    b = baskets_of({"c": [(40, ["x"]), (30, ["y"]), (20, ["z"]), (10, ["w"])]})
    weights = dict(zip(b.item_ids[b.item], tifu_weights(b, TifuParams()), strict=True))
    assert weights["x"] == pytest.approx(1.0 / 1 * 0.6 / 2)
    assert weights["y"] == pytest.approx(0.9**2 / 3 * 1 / 2)
    assert weights["z"] == pytest.approx(0.9 / 3 / 2)
    assert weights["w"] == pytest.approx(1 / 3 / 2)


def test_item_neighbours_are_cosine_of_buyer_sets() -> None:
    b = baskets_of({"c1": [(1, ["a", "b"])], "c2": [(1, ["a", "b"])], "c3": [(1, ["a", "c"])]})
    sim = item_neighbours(b, top=5).toarray()
    # a: 3 buyers, b: 2 shared with a -> 2 / sqrt(3 * 2); c: 1 shared -> 1 / sqrt(3).
    assert sim[0, 1] == pytest.approx(2 / np.sqrt(6))
    assert sim[0, 2] == pytest.approx(1 / np.sqrt(3))
    assert sim[1, 2] == 0.0 and np.allclose(np.diag(sim), 0.0)


def test_top_per_row_keeps_the_largest() -> None:
    import scipy.sparse as sp

    m = sp.csr_matrix(np.array([[0.1, 0.5, 0.3, 0.0], [0.0, 0.0, 0.2, 0.9]]))
    kept = top_per_row(m, 2, cells=4).toarray()  # two rows per block: a block at a time
    assert np.allclose(kept, [[0.0, 0.5, 0.3, 0.0], [0.0, 0.0, 0.2, 0.9]])
    assert np.allclose(top_per_row(m, 1).toarray(), [[0, 0.5, 0, 0], [0, 0, 0, 0.9]])

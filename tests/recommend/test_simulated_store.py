"""On the simulated store the truth is known: category affinities and each customer's staple.

Metrics:
- category match: the cosine similarity between the category mix of a customer's 10
  recommendations and their true category affinity, averaged over customers, against the
  same figure for the store's popular list (the same for everyone); and the share of
  customers whose most recommended category is their truest one.
- due first: for customers who rebought their staple, how often the staple leads their
  buy-again list when it is due (0.7-1.4 cycles since they last bought it), against when
  they just bought it (under 0.3 cycles) or are long overdue (over 3 cycles); and the
  learned ranker's mean score of the same (customer, staple) pairs moved to 0.2, 1 and 4
  cycles since the last purchase.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from recs_support import tables_of

from regulars import Workspace
from regulars.recommend.affinity import category_affinity
from regulars.recommend.features import FEATURES, candidates, features
from regulars.recommend.history import buy_again_score
from regulars.recommend.model import Recommender
from regulars.recommend.run import load_baskets, load_catalogue


@pytest.fixture(scope="module")
def fitted(sim_store: tuple[Workspace, Path]) -> tuple[Recommender, pd.DataFrame, Path]:
    ws, folder = sim_store
    tables = tables_of(ws)
    baskets = load_baskets(tables)
    rec = Recommender().fit(baskets, load_catalogue(tables, baskets))
    products = pd.read_parquet(folder / "products.parquet", columns=["product_id", "category"])
    return rec, products, folder


def _cosine(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (x * y).sum(1) / np.sqrt((x * x).sum(1) * (y * y).sum(1))


def test_recommended_categories_match_the_true_affinities(
    fitted: tuple[Recommender, pd.DataFrame, Path],
) -> None:
    rec, products, folder = fitted
    truth = pd.read_parquet(folder / "truth" / "category_affinity.parquet")
    categories = sorted(products["category"].unique())
    true = truth.pivot(index="customer_id", columns="category", values="affinity")
    true = true.reindex(columns=categories).fillna(0.0)
    lists = rec.recommend(k=10).merge(products, on="product_id")
    mix = lists.groupby(["customer_id", "category"]).size().unstack(fill_value=0)
    mix = mix.reindex(columns=categories, fill_value=0)
    ids = mix.index
    ours = _cosine(mix.loc[ids].to_numpy(float), true.loc[ids].to_numpy())
    popular = rec.recommend(["someone-new"], k=10).merge(products, on="product_id")
    pop_mix = popular["category"].value_counts().reindex(categories, fill_value=0)
    theirs = _cosine(np.tile(pop_mix.to_numpy(float), (len(ids), 1)), true.loc[ids].to_numpy())
    top_match = np.mean(mix.loc[ids].to_numpy().argmax(1) == true.loc[ids].to_numpy().argmax(1))
    # Measured: 0.84 against 0.68 for the popular list; top category right for 70%.
    assert ours.mean() >= 0.80
    assert ours.mean() >= theirs.mean() + 0.12
    assert top_match >= 0.6


def test_spend_affinity_recovers_the_true_affinity(
    fitted: tuple[Recommender, pd.DataFrame, Path], sim_store: tuple[Workspace, Path]
) -> None:
    _rec, products, folder = fitted
    baskets = load_baskets(tables_of(sim_store[0]))
    item_category = products.set_index("product_id")["category"].reindex(
        baskets.item_ids.astype(str)
    )
    shares = category_affinity(baskets, item_category.to_numpy(dtype=object))
    truth = pd.read_parquet(folder / "truth" / "category_affinity.parquet")
    both = truth.merge(shares, on=["customer_id", "category"], how="left").fillna({"share": 0.0})
    many = baskets.baskets_per_customer() >= 5
    regulars = set(baskets.customer_ids[many].astype(str))
    both = both[both["customer_id"].isin(regulars)]
    per_customer = both.groupby("customer_id")[["affinity", "share"]].corr().xs("affinity", level=1)
    assert per_customer["share"].median() >= 0.8


def test_buy_again_ranks_due_items_first(fitted: tuple[Recommender, pd.DataFrame, Path]) -> None:
    rec, _, folder = fitted
    truth = pd.read_parquet(folder / "truth" / "customers.parquet")
    history = rec.state_.history
    customer = rec.customer_index_.get_indexer(truth["customer_id"])
    item = pd.Index(rec.item_ids_.astype(str)).get_indexer(truth["staple_product_id"])
    pair = history.lookup(customer, np.maximum(item, 0))
    bought = (customer >= 0) & (item >= 0) & (pair >= 0)
    staple = truth[bought].assign(
        count=history.count[pair[bought]],
        cycles=history.last_days[pair[bought]] / truth["staple_cycle_days"][bought],
    )
    staple = staple[staple["count"] >= 2]
    lists = rec.recommend(staple["customer_id"], k=10, mode="buy_again")
    first = lists[lists["rank"] == 1].set_index("customer_id")["product_id"]
    leads = (
        first.reindex(staple["customer_id"]).to_numpy() == staple["staple_product_id"].to_numpy()
    )
    due = staple["cycles"].between(0.7, 1.4).to_numpy()
    just_bought = (staple["cycles"] < 0.3).to_numpy()
    overdue = (staple["cycles"] > 3).to_numpy()
    assert min(due.sum(), just_bought.sum(), overdue.sum()) >= 40
    # Measured: 0.86 when due, 0.76 just after buying, 0.78 long overdue.
    assert leads[due].mean() >= leads[just_bought].mean() + 0.05
    assert leads[due].mean() >= leads[overdue].mean() + 0.05


def test_the_learned_ranker_scores_an_item_highest_when_due(
    fitted: tuple[Recommender, pd.DataFrame, Path],
) -> None:
    """The same (customer, staple) pairs, scored as if 0.2, 1 or 4 cycles had passed."""
    rec, _, folder = fitted
    truth = pd.read_parquet(folder / "truth" / "customers.parquet")
    state = rec.state_
    customer = rec.customer_index_.get_indexer(truth["customer_id"])
    item = pd.Index(rec.item_ids_.astype(str)).get_indexer(truth["staple_product_id"])
    pair = state.history.lookup(customer, np.maximum(item, 0))
    keep = (customer >= 0) & (item >= 0) & (pair >= 0)
    keep[keep] &= state.history.count[pair[keep]] >= 2
    who = np.unique(customer[keep])
    pool = candidates(state, who)
    staple = dict(zip(customer[keep], item[keep], strict=True))
    rows = np.array([staple[c] == i for c, i in zip(pool.customer, pool.item, strict=True)])
    pairs = pool.subset(rows)
    x = features(state, pairs)
    col = {name: j for j, name in enumerate(FEATURES)}
    cycle = x[:, col["cycle_days"]]
    mean_score = {}
    for cycles in (0.2, 1.0, 4.0):
        moved = x.copy()
        moved[:, col["last_days"]] = cycles * cycle
        moved[:, col["due"]] = cycles * cycle / np.maximum(cycle, 1.0)
        moved[:, col["buy_again"]] = buy_again_score(x[:, col["count"]], moved[:, col["due"]])
        moved[:, col["days_since_last"]] = np.minimum(
            x[:, col["days_since_last"]], moved[:, col["last_days"]]
        )
        mean_score[cycles] = rec.ranker_.score(pairs.customer, moved).mean()
    assert len(who) >= 300
    # Measured on 1,076 customers: mean P(in the next basket) 0.31 at 0.2 cycles, 0.43 when
    # due, 0.36 at 4 cycles.
    assert mean_score[1.0] >= mean_score[0.2] + 0.05
    assert mean_score[1.0] >= mean_score[4.0] + 0.03

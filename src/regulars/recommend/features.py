"""Candidates and their features: what the ranker scores for each customer.

:class:`State` is what a fit keeps: the per-customer history (:mod:`.history`), the TIFU
vectors and neighbourhoods (:mod:`.tifu`), store-wide item figures and the category
shares. :func:`candidates` proposes, for a set of customers, the products worth scoring:

- ``buy_again``: what they bought before (the ``personal`` best by TIFU weight);
- ``cross_sell``: the best of the item neighbourhood (``u @ S``) and, on stores small enough
  for a customer-customer search, of the nearest customers' mean vector (TIFU-KNN);
- ``category``: the most bought products of their favourite category;
- ``popular``: the store's most bought and trending products;

keeping only recommendable products, and :func:`features` describes each (customer,
product) pair with the columns of :data:`FEATURES`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from regulars.recommend.baskets import Baskets
from regulars.recommend.history import (
    ItemStats,
    PersonalHistory,
    buy_again_score,
    store_cycle_days,
)
from regulars.recommend.tifu import (
    TifuParams,
    item_neighbours,
    tifu_weights,
    top_per_row,
    user_neighbours,
)

__all__ = [
    "FEATURES",
    "PER_CATEGORY",
    "POPULAR",
    "SOURCES",
    "Candidates",
    "Neighbourhood",
    "State",
    "candidates",
    "features",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

POPULAR = 20
"""Products kept per popularity list (most bought, most trending) of :attr:`State.popular`."""
PER_CATEGORY = 10
"""Best sellers kept per category in :attr:`State.category_top`."""

SOURCES = ("buy_again", "cross_sell", "category", "popular")
"""Where a candidate came from, as bit flags in this order (the first that applies names it)."""

FEATURES = (
    "bought",
    "count",
    "share",
    "last_days",
    "cycle_days",
    "due",
    "buy_again",
    "tifu",
    "item_knn",
    "user_knn",
    "popularity",
    "trend",
    "repeat_rate",
    "category_share",
    "baskets",
    "days_since_last",
    "basket_size",
)
"""The ranker's features, in column order."""


@dataclass(frozen=True)
class State:
    """Everything a fit keeps about the store's history."""

    history: PersonalHistory
    items: ItemStats
    vectors: sp.csr_matrix
    item_similarity: sp.csr_matrix
    user_mean: sp.csr_matrix | None
    category: IntArray
    category_share: sp.csr_matrix
    recommendable: BoolArray
    baskets: IntArray
    days_since_last: FloatArray
    basket_size: FloatArray
    store_cycle_days: float
    best_sellers: IntArray
    """The :data:`POPULAR` recommendable products bought by the most customers, best first."""
    trending: IntArray
    """The :data:`POPULAR` recommendable products with the most recent buyers, best first."""
    favourite_category: IntArray
    """Each customer's category with the largest share (-1 without one)."""
    category_top: dict[int, IntArray]
    """Per category code, its most bought recommendable products (:data:`PER_CATEGORY`)."""

    @classmethod
    def build(
        cls,
        baskets: Baskets,
        *,
        category: IntArray,
        recommendable: BoolArray,
        tifu: TifuParams,
        item_neighbours_kept: int,
        max_knn_customers: int,
        min_cycle_buyers: int = 3,
    ) -> State:
        """Build the state from baskets and the catalogue's codes (aligned with item ids)."""
        history = PersonalHistory.build(baskets, tifu_weights(baskets, tifu))
        items = ItemStats.build(baskets, history, min_cycle_buyers)
        vectors = history.matrix(history.tifu)
        n_users = int(np.count_nonzero(vectors.getnnz(axis=1)))
        user_mean = None
        if 0 < n_users <= max_knn_customers and tifu.neighbours > 0:
            user_mean = user_neighbours(vectors, tifu.neighbours)
        n_categories = int(category.max(initial=-1)) + 1
        known = category >= 0
        membership = sp.csr_matrix(
            (np.ones(int(known.sum())), (np.flatnonzero(known), category[known])),
            shape=(baskets.n_items, max(n_categories, 1)),
        )
        per_category = sp.csr_matrix(vectors @ membership)
        totals = np.asarray(vectors.sum(axis=1)).ravel()
        scale = np.divide(1.0, totals, out=np.zeros_like(totals), where=totals > 0)
        count = baskets.baskets_per_customer().astype(float)
        seen_age = np.full(baskets.n_customers, np.inf)
        np.minimum.at(seen_age, baskets.customer, baskets.age_days)
        lines = np.bincount(baskets.customer, minlength=baskets.n_customers).astype(float)
        category_top = {
            int(code): _top_items(
                PER_CATEGORY, items.popularity * (category == code), recommendable
            )
            for code in range(n_categories)
        }
        shares = sp.csr_matrix(sp.diags(scale) @ per_category)
        return cls(
            history=history,
            items=items,
            vectors=vectors,
            item_similarity=item_neighbours(baskets, item_neighbours_kept),
            user_mean=user_mean,
            category=category,
            category_share=shares,
            favourite_category=np.where(
                np.diff(shares.indptr) > 0, np.asarray(shares.argmax(axis=1)).ravel(), -1
            ).astype(np.int64),
            recommendable=recommendable,
            baskets=count.astype(np.int64),
            days_since_last=np.where(count > 0, seen_age - baskets.view_days, np.nan),
            basket_size=np.divide(lines, count, out=np.full_like(lines, np.nan), where=count > 0),
            store_cycle_days=store_cycle_days(history),
            best_sellers=_top_items(POPULAR, items.popularity, recommendable),
            trending=_top_items(POPULAR, items.trend, recommendable),
            category_top=category_top,
        )


def _top_items(n: int, by: FloatArray, recommendable: BoolArray) -> IntArray:
    """Return the ``n`` recommendable products with the largest positive ``by``."""
    score = np.where(recommendable, by, -np.inf)
    order = np.argsort(-score, kind="stable")[:n]
    return order[np.isfinite(score[order]) & (score[order] > 0)].astype(np.int64)


@dataclass(frozen=True)
class Neighbourhood:
    """What the neighbours say of a set of customers (one row per customer, in order)."""

    customers: IntArray
    item_knn: sp.csr_matrix
    """``u @ S``: the items that go with what each customer bought."""
    user_knn: sp.csr_matrix | None
    """The nearest customers' mean TIFU vector (TIFU-KNN), when searched."""

    def rows(self, customer: IntArray) -> IntArray:
        """Return the row of each of ``customer`` (all must be in :attr:`customers`)."""
        order = np.argsort(self.customers, kind="stable")
        at = np.searchsorted(self.customers[order], customer)
        return order[at].astype(np.int64)

    @classmethod
    def of(cls, state: State, customers: IntArray) -> Neighbourhood:
        """Compute the neighbourhood of ``customers`` (indices)."""
        vectors = state.vectors[customers]
        user_knn = None
        if state.user_mean is not None:
            user_knn = sp.csr_matrix(state.user_mean[customers] @ state.vectors)
        return cls(customers, sp.csr_matrix(vectors @ state.item_similarity), user_knn)


@dataclass(frozen=True)
class Candidates:
    """(customer, product) pairs to score, with where each came from (bit flags)."""

    customer: IntArray
    item: IntArray
    source: IntArray
    neighbourhood: Neighbourhood

    def subset(self, keep: BoolArray) -> Candidates:
        """Return the pairs where ``keep`` holds."""
        return Candidates(
            self.customer[keep], self.item[keep], self.source[keep], self.neighbourhood
        )

    @property
    def reason(self) -> npt.NDArray[np.str_]:
        """The first source of each pair, by :data:`SOURCES` order."""
        names = np.array(SOURCES)
        first = np.zeros(self.source.size, dtype=np.int64)
        for bit in range(len(SOURCES) - 1, -1, -1):
            first = np.where(self.source & (1 << bit), bit, first)
        return names[first]


def _pairs(matrix: sp.csr_matrix, rows: IntArray, top: int) -> tuple[IntArray, IntArray]:
    best = top_per_row(matrix, top).tocoo()
    keep = best.data > 0
    return rows[best.row[keep]].astype(np.int64), best.col[keep].astype(np.int64)


def candidates(
    state: State,
    customers: IntArray,
    *,
    personal: int = 100,
    neighbours: int = 50,
    per_category: int = PER_CATEGORY,
    popular: int = POPULAR,
) -> Candidates:
    """Propose products to score for each of ``customers`` (distinct indices)."""
    hood = Neighbourhood.of(state, customers)
    parts: list[tuple[IntArray, IntArray, int]] = []
    parts.append((*_pairs(state.vectors[customers], customers, personal), 0))
    parts.append((*_pairs(hood.item_knn, customers, neighbours), 1))
    if hood.user_knn is not None:
        parts.append((*_pairs(hood.user_knn, customers, neighbours), 1))
    if state.category_top and per_category:
        favourite = state.favourite_category[customers]
        for code in np.unique(favourite[favourite >= 0]):
            members = state.category_top[int(code)][:per_category]
            who = customers[favourite == code]
            parts.append((np.repeat(who, members.size), np.tile(members, who.size), 2))
    top = np.union1d(state.best_sellers[:popular], state.trending[:popular])
    parts.append((np.repeat(customers, top.size), np.tile(top, customers.size), 3))
    customer = np.concatenate([p[0] for p in parts])
    item = np.concatenate([p[1] for p in parts])
    flag = np.concatenate([np.full(p[0].size, 1 << p[2], dtype=np.int64) for p in parts])
    ok = state.recommendable[item]
    customer, item, flag = customer[ok], item[ok], flag[ok]
    n = state.history.n_items
    key = customer * n + item
    order = np.argsort(key, kind="stable")
    key, flag = key[order], flag[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if key.size else np.zeros(0, int)
    source = np.bitwise_or.reduceat(flag, starts) if key.size else flag
    uniq = key[starts]
    bought = state.history.lookup(uniq // n, uniq % n)
    source = np.where(bought >= 0, source | 1, source & ~1)
    return Candidates(uniq // n, uniq % n, source.astype(np.int64), hood)


def _sparse_values(matrix: sp.csr_matrix, rows: IntArray, cols: IntArray) -> FloatArray:
    """Return ``matrix[rows[j], cols[j]]`` for each j (rows local to ``matrix``)."""
    if rows.size == 0:
        return np.zeros(0)
    return np.asarray(matrix[rows, cols]).ravel().astype(float)


def features(state: State, pairs: Candidates) -> FloatArray:
    """Return the (pairs x :data:`FEATURES`) matrix; NaN where a figure does not apply."""
    h, it = state.history, state.items
    customer, item = pairs.customer, pairs.item
    at = h.lookup(customer, item)
    bought = at >= 0
    safe = np.where(bought, at, 0)
    count = np.where(bought, h.count[safe], 0.0)
    last = np.where(bought, h.last_days[safe], np.nan)
    own = h.own_cycle_days[safe]
    product_cycle = it.cycle_days[item]
    cycle = np.where(np.isnan(own) | ~bought, product_cycle, own)
    cycle = np.where(np.isnan(cycle), state.store_cycle_days, cycle)
    due = last / np.maximum(cycle, 1.0)
    again = np.where(bought, buy_again_score(count, due), 0.0)
    hood = pairs.neighbourhood  # computed once, by candidates()
    rows = hood.rows(customer)
    item_knn = _sparse_values(hood.item_knn, rows, item)
    if hood.user_knn is not None:
        user_knn = _sparse_values(hood.user_knn, rows, item)
    else:
        user_knn = np.full(customer.size, np.nan)
    code = state.category[item]
    category_share = np.full(customer.size, np.nan)
    known = code >= 0
    category_share[known] = _sparse_values(state.category_share, customer[known], code[known])
    baskets = state.baskets[customer].astype(float)
    columns = {
        "bought": bought.astype(float),
        "count": count,
        "share": count / np.maximum(baskets, 1.0),
        "last_days": last,
        "cycle_days": cycle,
        "due": due,
        "buy_again": again,
        "tifu": np.where(bought, h.tifu[safe], 0.0),
        "item_knn": item_knn,
        "user_knn": user_knn,
        "popularity": it.popularity[item],
        "trend": it.trend[item],
        "repeat_rate": it.repeat_rate[item],
        "category_share": category_share,
        "baskets": baskets,
        "days_since_last": state.days_since_last[customer],
        "basket_size": state.basket_size[customer],
    }
    return np.column_stack([columns[name] for name in FEATURES])

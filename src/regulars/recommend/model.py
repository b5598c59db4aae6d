"""The recommender: fit on a store's baskets, then list products per customer.

``Recommender().fit(baskets, catalogue)`` learns the ranker on a time split of the store's
own history (:mod:`.ranker`) and keeps the state of the whole history (:mod:`.features`);
``recommend(customer_ids, k=10)`` then returns, per customer, the ``k`` best
recommendable products with a score and a reason:

- ``buy_again``: bought before (the ranker weighs how often, how recently, how due);
- ``cross_sell``: not bought before, goes with what they bought (item neighbours) or with
  what customers like them bought (TIFU-KNN);
- ``category``: a best seller of their favourite category (thin history);
- ``popular``: a best seller or a trending product. A customer with no purchase (new, or
  unknown to the store) gets these only, ranked by trend then popularity.

``mode="buy_again"`` lists bought products only, ``mode="cross_sell"`` never does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from regulars.errors import ConfigError, NotFittedError
from regulars.recommend.baskets import Baskets
from regulars.recommend.features import POPULAR, Candidates, State, candidates, features
from regulars.recommend.filters import Catalogue, cap_per_category
from regulars.recommend.ranker import Ranker, rank_within, train_ranker
from regulars.recommend.tifu import TifuParams

__all__ = ["COLUMNS", "Mode", "Recommender"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
Mode = Literal["all", "buy_again", "cross_sell"]
MODES = ("all", "buy_again", "cross_sell")
COLUMNS = ["customer_id", "rank", "product_id", "score", "reason"]
"""Columns of a recommendation list."""


TRAINING_K = 10
"""The list length the ranker's training candidates are drawn for."""


def _pool(k: int, n_items: int) -> dict[str, int]:
    """Return how many candidates of each source to score for lists of ``k``.

    Up to 50 neighbours and 20 best sellers, fewer on a small catalogue (a quarter and an
    eighth of it), never fewer than ``2 k`` and ``k``.
    """
    return {
        "personal": max(100, 2 * k),
        "neighbours": max(2 * k, min(50, n_items // 4)),
        "popular": max(k, min(POPULAR, n_items // 8)),
    }


@dataclass
class Recommender:
    """Next-basket recommender: buy-again, cross-sell and fallbacks, blended by a ranker.

    Parameters
    ----------
    tifu
        TIFU-KNN's hyperparameters (Hu et al. 2020).
    item_neighbours
        Similar products kept per product.
    max_knn_customers
        Customer-customer neighbours only on stores with at most this many customers
        (the search is quadratic); item neighbours always.
    max_training_customers
        Customers sampled for the ranker's time split.
    max_per_category
        At most this many products of one category per list (``None``: no cap).
    random_state
        Seed of the sampling and the ranker.
    chunk
        Customers processed at a time (memory).
    """

    tifu: TifuParams = field(default_factory=TifuParams)
    item_neighbours: int = 50
    max_knn_customers: int = 30_000
    max_training_customers: int = 5_000
    max_per_category: int | None = None
    random_state: int = 0
    chunk: int = 20_000

    def _state(self, baskets: Baskets, catalogue: Catalogue) -> State:
        codes, _ = catalogue.category_codes()
        return State.build(
            baskets,
            category=codes,
            recommendable=catalogue.recommendable,
            tifu=self.tifu,
            item_neighbours_kept=self.item_neighbours,
            max_knn_customers=self.max_knn_customers,
        )

    def fit(self, baskets: Baskets, catalogue: Catalogue | None = None) -> Recommender:
        """Learn the ranker on a time split of ``baskets``, then keep the whole history.

        Parameters
        ----------
        baskets
            Every customer's baskets up to the recommendation date.
        catalogue
            Categories and recommendable products, aligned with ``baskets.item_ids``
            (default: every product recommendable, no categories).
        """
        if catalogue is None:
            catalogue = Catalogue.build(baskets.item_ids, None)
        if catalogue.recommendable.size != baskets.n_items:
            raise ConfigError(
                f"The catalogue has {catalogue.recommendable.size} products but the baskets "
                f"{baskets.n_items}.",
                fix="Build it with Catalogue.build(baskets.item_ids, products).",
            )
        history, last = baskets.split_last(1)
        learners = np.unique(last.customer)
        rng = np.random.default_rng(self.random_state)
        if learners.size > self.max_training_customers:
            learners = np.sort(rng.choice(learners, self.max_training_customers, replace=False))
        self.ranker_ = self._train(history, last, learners, catalogue)
        self.state_ = self._state(baskets, catalogue)
        self.catalogue_ = catalogue
        self.customer_index_ = pd.Index(baskets.customer_ids.astype(str))
        self.item_ids_ = baskets.item_ids
        self.training_customers_ = int(learners.size)
        return self

    def _train(
        self, history: Baskets, last: Baskets, learners: IntArray, catalogue: Catalogue
    ) -> Ranker:
        self.training_rows_ = 0
        if learners.size == 0:
            return train_ranker(np.zeros(0, np.int64), np.zeros((0, 1)), np.zeros(0, bool))
        everything = Catalogue(
            catalogue.category,
            catalogue.name,
            np.ones_like(catalogue.recommendable),
            catalogue.why_not,
        )
        state = self._state(history, everything)
        pairs = candidates(state, learners, **_pool(TRAINING_K, state.history.n_items))
        x = features(state, pairs)
        truth = np.unique(last.customer * last.n_items + last.item)
        key = pairs.customer * state.history.n_items + pairs.item
        label = np.isin(key, truth)
        self.training_rows_ = int(label.size)
        return train_ranker(pairs.customer, x, label, random_state=self.random_state)

    def _fitted(self) -> State:
        try:
            return self.state_
        except AttributeError:
            raise NotFittedError(
                "This Recommender is not fitted yet.", fix="Call fit(baskets) first."
            ) from None

    def recommend(
        self,
        customer_ids: Iterable[str] | None = None,
        *,
        k: int = 10,
        mode: Mode = "all",
    ) -> pd.DataFrame:
        """Return the ``k`` best products per customer: :data:`COLUMNS`, best first.

        Parameters
        ----------
        customer_ids
            The customers (default: every customer of the history). Unknown ids get the
            store's trending and popular products.
        k
            Products per customer.
        mode
            ``all``, ``buy_again`` (bought before only) or ``cross_sell`` (never bought).
        """
        state = self._fitted()
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            raise ConfigError(f"k must be a positive integer, got {k!r}.", fix="Pass k=10.")
        if mode not in MODES:
            raise ConfigError(f"Unknown mode {mode!r}.", fix=f"Use one of: {', '.join(MODES)}.")
        if customer_ids is None:
            ids = np.asarray(self.customer_index_, dtype=object)
        else:
            ids = np.asarray(list(dict.fromkeys(map(str, customer_ids))), dtype=object)
        index = self.customer_index_.get_indexer(ids).astype(np.int64)
        known = index >= 0
        if known.any():
            has = state.baskets[np.where(known, index, 0)] > 0
            known &= has
        frames = [self._for_new(ids[~known], k, mode)] if not known.all() else []
        who, idx = ids[known], index[known]
        for lo in range(0, idx.size, self.chunk):
            frames.append(
                self._for_known(who[lo : lo + self.chunk], idx[lo : lo + self.chunk], k, mode)
            )
        if not frames:
            frames = [self._for_new(ids[:0], k, mode)]
        out = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
        if len(ids) > 1:  # in the order asked, best first
            asked = pd.Index(ids).get_indexer(out["customer_id"])
            out = out.iloc[np.lexsort((out["rank"].to_numpy(), asked))].reset_index(drop=True)
        return out

    def _for_known(
        self, ids: npt.NDArray[np.object_], index: IntArray, k: int, mode: Mode
    ) -> pd.DataFrame:
        state = self.state_
        pairs = candidates(state, index, **_pool(k, state.history.n_items))
        if mode != "all":
            pairs = pairs.subset((pairs.source & 1) == (1 if mode == "buy_again" else 0))
        score = self.ranker_.score(pairs.customer, features(state, pairs), keep=max(20, 2 * k))
        return self._top(ids, index, pairs, score, k)

    def _top(
        self,
        ids: npt.NDArray[np.object_],
        index: IntArray,
        pairs: Candidates,
        score: FloatArray,
        k: int,
    ) -> pd.DataFrame:
        customer, item, reason = pairs.customer, pairs.item, pairs.reason
        if self.max_per_category is None:  # only each customer's best k can make the list
            head = rank_within(customer, score) < k
            customer, item, reason, score = customer[head], item[head], reason[head], score[head]
        order = np.lexsort((item, -score, customer))
        customer, item, reason, score = customer[order], item[order], reason[order], score[order]
        keep = cap_per_category(customer, self.state_.category[item], self.max_per_category)
        customer, item, reason, score = customer[keep], item[keep], reason[keep], score[keep]
        rank = rank_within(customer, score)
        top = rank < k
        order = np.argsort(index)
        position = order[np.searchsorted(index[order], customer[top])]
        return pd.DataFrame(
            {
                "customer_id": ids[position],
                "rank": (rank[top] + 1).astype(np.int64),
                "product_id": self.item_ids_[item[top]].astype(object),
                "score": score[top].astype(float),
                "reason": reason[top].astype(object),
            }
        )

    def _for_new(self, ids: npt.NDArray[np.object_], k: int, mode: Mode) -> pd.DataFrame:
        state = self.state_
        if mode == "buy_again":  # a new customer has bought nothing
            ids = ids[:0]
        items = state.items
        score = np.where(state.recommendable, items.trend + 1e-3 * items.popularity, -np.inf)
        best = np.argsort(-score, kind="stable")
        best = best[np.isfinite(score[best])]
        if self.max_per_category is not None:
            keep = cap_per_category(
                np.zeros(best.size, np.int64), state.category[best], self.max_per_category
            )
            best = best[keep]
        best = best[:k]
        n = ids.size
        return pd.DataFrame(
            {
                "customer_id": np.repeat(ids, best.size).astype(object),
                "rank": np.tile(np.arange(1, best.size + 1, dtype=np.int64), n),
                "product_id": np.tile(self.item_ids_[best].astype(object), n),
                "score": np.tile(score[best].astype(float), n),
                "reason": np.full(n * best.size, "popular", dtype=object),
            }
        )

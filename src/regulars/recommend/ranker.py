"""The ranker: how much buy-again, cross-sell and popularity each weigh, learned per store.

Trained on a time split of the store's own history: each customer's last basket is the
label, the baskets before it the history (:meth:`~.baskets.Baskets.split_last`); every
candidate of :func:`~.features.candidates` is a row, 1 when the product is in that last
basket. The model is scikit-learn's ``HistGradientBoostingClassifier`` (it handles the
features that do not apply, NaN, natively), so the score is P(the product is in the next
basket).

A store with too few repeat customers to learn from (fewer than ``min_positives`` products
rebought in a last basket) gets a tuned blend instead: ``w * buy_again + (1 - w) *
neighbours + 0.01 * trend`` (each scaled to 0..1 per customer), ``w`` picked on the same
split by recall at ``k`` over 0, 0.1, ..., 1 (ties: the nearest to 0.5; 0.5 when there is
nothing to tune on).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sklearn.ensemble import HistGradientBoostingClassifier
from threadpoolctl import threadpool_limits

from regulars.recommend.features import FEATURES

__all__ = ["Ranker", "train_ranker"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

_COLUMN = {name: i for i, name in enumerate(FEATURES)}
_THREADS = 2
"""Threads of the booster: more only contend on a busy machine."""
_WEIGHTS = np.round(np.linspace(0.0, 1.0, 11), 2)


def _per_customer_max(customer: IntArray, values: FloatArray) -> FloatArray:
    values = np.nan_to_num(values, nan=0.0)
    peak = np.zeros(int(customer.max(initial=-1)) + 1)
    np.maximum.at(peak, customer, values)
    scaled: FloatArray = np.divide(
        values, peak[customer], out=np.zeros_like(values), where=peak[customer] > 0
    )
    return scaled


def _blend(customer: IntArray, x: FloatArray, weight: float) -> FloatArray:
    again = _per_customer_max(customer, x[:, _COLUMN["buy_again"]])
    near = np.fmax(x[:, _COLUMN["item_knn"]], np.nan_to_num(x[:, _COLUMN["user_knn"]]))
    near = _per_customer_max(customer, near)
    score: FloatArray = weight * again + (1 - weight) * near + 0.01 * x[:, _COLUMN["trend"]]
    return score


def recall_at(customer: IntArray, score: FloatArray, label: BoolArray, k: int) -> float:
    """Return the mean share of each customer's positives ranked in their top ``k``."""
    if customer.size == 0 or not label.any():
        return 0.0
    order = np.lexsort((-score, customer))
    c, y = customer[order], label[order]
    starts = np.flatnonzero(np.r_[True, c[1:] != c[:-1]])
    rank = np.arange(c.size) - np.repeat(starts, np.diff(np.r_[starts, c.size]))
    hits = np.bincount(c[rank < k], weights=y[rank < k], minlength=int(c.max()) + 1)
    positives = np.bincount(c, weights=y, minlength=int(c.max()) + 1)
    has = positives > 0
    return float(np.mean(hits[has] / positives[has]))


@dataclass
class Ranker:
    """A fitted ranker: ``score`` gives each candidate row its score."""

    method: str
    reason: str
    model: HistGradientBoostingClassifier | None = None
    weight: float = 0.5
    columns: BoolArray | None = None

    def score(self, customer: IntArray, x: FloatArray) -> FloatArray:
        """Return the score of each row (higher: more likely in the next basket)."""
        if self.model is not None and self.columns is not None and x.shape[0]:
            with threadpool_limits(limits=_THREADS):
                proba: FloatArray = self.model.predict_proba(x[:, self.columns])[:, 1]
            return proba
        return _blend(customer, x, self.weight)


def train_ranker(
    customer: IntArray,
    x: FloatArray,
    label: BoolArray,
    *,
    k: int = 10,
    min_positives: int = 200,
    random_state: int = 0,
) -> Ranker:
    """Train on candidate rows of the split: ``label`` = the product is in the last basket."""
    positives = int(label.sum())
    if positives >= min_positives and positives < label.size:
        # A feature with no value (e.g. categories on a store without them) is left out.
        columns = np.array([np.isfinite(x[:, j]).any() for j in range(x.shape[1])], dtype=bool)
        model = HistGradientBoostingClassifier(
            max_iter=100,
            learning_rate=0.08,
            max_leaf_nodes=15,
            min_samples_leaf=40,
            l2_regularization=1.0,
            random_state=random_state,
        )
        with threadpool_limits(limits=_THREADS):
            model.fit(x[:, columns], label)
        return Ranker(
            "gradient-boosting",
            f"learned on {positives:,} products found in the last basket of "
            f"{np.unique(customer[label]).size:,} customers",
            model,
            columns=columns,
        )
    if positives == 0:
        return Ranker(
            "blend",
            "fixed blend 0.5 buy-again / 0.5 neighbours: no customer has two baskets to learn from",
        )
    recalls = np.array([recall_at(customer, _blend(customer, x, w), label, k) for w in _WEIGHTS])
    tied = _WEIGHTS[recalls >= recalls.max() - 1e-12]
    best = float(tied[np.argmin(np.abs(tied - 0.5))])  # among equals, the nearest to 0.5
    return Ranker(
        "blend",
        f"blend {best:.1f} buy-again / {1 - best:.1f} neighbours, tuned by recall@{k} on the "
        f"last baskets ({positives} hits: too few to learn a ranker, {min_positives} needed)",
        weight=best,
    )

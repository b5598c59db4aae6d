"""The ranker: how much buy-again, cross-sell and popularity each weigh, learned per store.

Trained on a time split of the store's own history: each customer's last basket is the
label, the baskets before it the history (:meth:`~.baskets.Baskets.split_last`); every
candidate of :func:`~.features.candidates` is a row, 1 when the product is in that last
basket. Two models, a cascade:

1. a logistic regression on the standardised features and their ``log1p`` (cheap: one dot
   product a row) scores every candidate; each customer's best ``keep`` go on to
2. a gradient-boosted classifier (scikit-learn's ``HistGradientBoostingClassifier``; it
   handles the features that do not apply, NaN, natively), whose P(the product is in the
   next basket) orders them. The others keep the linear score minus 1, below every one of
   them.

On Online Retail the cascade with ``keep = 20`` ranks as well as the booster over every
candidate (recall@10 0.204 against 0.204; the linear model alone: 0.200) at a fraction of
the cost, which is what makes scoring every customer of a big store affordable. The
recommender keeps ``max(20, 2 k)`` for lists of ``k``.

A store with too few repeat customers to learn from (fewer than ``min_positives`` products
found again in a last basket) gets a tuned blend instead: ``w * buy_again + (1 - w) *
neighbours + 0.01 * trend`` (each scaled to 0..1 per customer), ``w`` picked on the same
split by recall at ``k`` over 0, 0.1, ..., 1 (ties: the nearest to 0.5; 0.5 when there is
nothing to tune on).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from threadpoolctl import ThreadpoolController

from regulars.recommend.features import FEATURES

__all__ = ["Ranker", "rank_within", "recall_at", "train_ranker"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

_COLUMN = {name: i for i, name in enumerate(FEATURES)}
_THREADS = 2
"""Threads of the booster on many rows: more only contend on a busy machine."""
_FEW_ROWS = 20_000
"""Below this many rows the booster runs on one thread (starting threads costs more)."""
_CONTROLLER: ThreadpoolController | None = None


def _threads(rows: int) -> Any:
    """Return a context limiting OpenMP's threads (the controller is looked up once)."""
    global _CONTROLLER
    if _CONTROLLER is None:
        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=1 if rows < _FEW_ROWS else _THREADS, user_api="openmp")


_WEIGHTS = np.round(np.linspace(0.0, 1.0, 11), 2)
_LINEAR_ROWS = 100_000
"""Rows the logistic regression is fitted on (a random sample of the training rows)."""


def rank_within(customer: IntArray, score: FloatArray) -> IntArray:
    """Return each row's 0-based rank among its customer's rows, best score first.

    Ties keep the rows' order. ``score`` must lie in [-2, 2].
    """
    if customer.size == 0:
        return np.zeros(0, dtype=np.int64)
    local = np.unique(customer, return_inverse=True)[1].astype(float)
    order = np.argsort(local * 8.0 - score, kind="stable")
    c = local[order]
    starts = np.flatnonzero(np.r_[True, c[1:] != c[:-1]])
    rank = np.empty(customer.size, dtype=np.int64)
    rank[order] = np.arange(c.size) - np.repeat(starts, np.diff(np.r_[starts, c.size]))
    return rank


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
    return score / 1.01


def recall_at(customer: IntArray, score: FloatArray, label: BoolArray, k: int) -> float:
    """Return the mean share of each customer's positives ranked in their top ``k``."""
    if customer.size == 0 or not label.any():
        return 0.0
    top = rank_within(customer, score) < k
    n = int(customer.max()) + 1
    hits = np.bincount(customer[top], weights=label[top], minlength=n)
    positives = np.bincount(customer, weights=label, minlength=n)
    has = positives > 0
    return float(np.mean(hits[has] / positives[has]))


def _expand(x: FloatArray) -> FloatArray:
    """Return the linear model's inputs: the features (NaN as -1) and their log1p."""
    filled = np.nan_to_num(x, nan=-1.0)
    return np.hstack([filled, np.log1p(np.maximum(filled, 0.0))])


@dataclass(frozen=True)
class _Linear:
    """Logistic regression on :func:`_expand`'s inputs, standardisation folded in."""

    raw: FloatArray
    """Weight of each feature (NaN as -1)."""
    logged: FloatArray
    """Weight of each feature's log1p."""
    intercept: float

    def score(self, x: FloatArray) -> FloatArray:
        filled = np.nan_to_num(x, nan=-1.0)
        z = filled @ self.raw
        np.maximum(filled, 0.0, out=filled)
        np.log1p(filled, out=filled)
        z += filled @ self.logged + self.intercept
        proba: FloatArray = 1.0 / (1.0 + np.exp(-z))
        return proba

    @classmethod
    def fit(cls, x: FloatArray, label: BoolArray, rng: np.random.Generator) -> _Linear:
        if x.shape[0] > _LINEAR_ROWS:
            pick = rng.choice(x.shape[0], _LINEAR_ROWS, replace=False)
            x, label = x[pick], label[pick]
        inputs = _expand(x)
        mean, scale = inputs.mean(axis=0), inputs.std(axis=0)
        scale = np.where(scale > 0, scale, 1.0)
        model = LogisticRegression(max_iter=500).fit((inputs - mean) / scale, label)
        weight = model.coef_.ravel().astype(float) / scale
        n = x.shape[1]
        intercept = float(model.intercept_[0]) - float(weight @ mean)
        return cls(weight[:n], weight[n:], intercept)


@dataclass
class Ranker:
    """A fitted ranker: ``score`` gives each candidate row its score (higher: better)."""

    method: str
    reason: str
    booster: HistGradientBoostingClassifier | None = None
    linear: _Linear | None = None
    columns: BoolArray | None = None
    weight: float = 0.5
    keep: int = 20

    def score(self, customer: IntArray, x: FloatArray, *, keep: int | None = None) -> FloatArray:
        """Score candidate rows; the booster re-ranks each customer's best ``keep``."""
        if self.linear is None or self.booster is None or self.columns is None:
            return _blend(customer, x, self.weight)
        if x.shape[0] == 0:
            return np.zeros(0)
        first = self.linear.score(x)
        kept = rank_within(customer, first) < (keep or self.keep)
        score = first - 1.0
        with _threads(int(kept.sum())):
            score[kept] = self.booster.predict_proba(x[kept][:, self.columns])[:, 1]
        return score


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
        rng = np.random.default_rng(random_state)
        linear = _Linear.fit(x, label, rng)
        # A feature with no value (e.g. categories on a store without them) is left out.
        columns = np.array([np.isfinite(x[:, j]).any() for j in range(x.shape[1])], dtype=bool)
        booster = HistGradientBoostingClassifier(
            max_iter=25,
            learning_rate=0.2,
            max_leaf_nodes=31,
            min_samples_leaf=40,
            l2_regularization=1.0,
            early_stopping=False,
            random_state=random_state,
        )
        with _threads(x.shape[0]):
            booster.fit(x[:, columns], label)
        return Ranker(
            "gradient-boosting",
            f"learned on {positives:,} products found in the last basket of "
            f"{np.unique(customer[label]).size:,} customers",
            booster=booster,
            linear=linear,
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

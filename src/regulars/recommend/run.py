"""Recommendations for a store's customers: the glue between its tables and the recommender.

:func:`recommend` reads every customer's baskets up to ``as_of`` and the products table
from the engine that holds them, fits a :class:`~.model.Recommender` and lists the ``k``
best products per customer. :func:`evaluate_recommendations` scores the recommender and
the baselines by the next-basket protocol (:mod:`.evaluate`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import ibis.expr.types as ir
import numpy as np
import pandas as pd

from regulars.analytics import kpis
from regulars.errors import ConfigError, InputError
from regulars.recommend.baskets import Baskets, basket_lines
from regulars.recommend.evaluate import BASELINES, baselines, next_basket_split, score_lists
from regulars.recommend.filters import Catalogue
from regulars.recommend.model import Mode, Recommender

__all__ = [
    "RecommendationEvaluation",
    "Recommendations",
    "evaluate_recommendations",
    "load_baskets",
    "load_catalogue",
    "recommend",
]

Progress = Callable[[str], None]


def load_baskets(
    tables: Mapping[str, ir.Table], *, as_of: date | None = None, currency: str | None = None
) -> Baskets:
    """Read every customer's baskets up to ``as_of`` (default: the day of the last sale)."""
    orders = tables["orders"]
    if currency is None:
        currency = kpis.require_single_currency(orders)
    orders = kpis.single_currency(orders, currency)
    if as_of is None:
        last = orders.filter(orders.status != "cancelled").ordered_at.max().to_pyarrow().as_py()
        if last is None:
            raise InputError(
                "There are no sales to recommend from.",
                fix="Import the store's orders first (regulars import FILE).",
            )
        as_of = last.date()
    rows = basket_lines(orders, tables["order_lines"], as_of=as_of).to_pyarrow()
    if rows.num_rows == 0:
        raise InputError(
            f"No customer bought a product by {as_of}.",
            fix="Import order lines (not only order totals), or choose a later --as-of.",
        )
    return Baskets.from_frame(rows, as_of=as_of)


def load_catalogue(
    tables: Mapping[str, ir.Table], baskets: Baskets, *, exclude: Iterable[str] = ()
) -> Catalogue:
    """Match the store's products table to the baskets' products (see :mod:`.filters`)."""
    products = None
    if "products" in tables:
        table = tables["products"].select("product_id", "name", "category", "active")
        products = table.to_pyarrow().to_pandas()
    return Catalogue.build(baskets.item_ids, products, exclude=exclude)


@dataclass
class Recommendations:
    """The lists (``customer_id, rank, product_id, score, reason``) and how they were made."""

    frame: pd.DataFrame
    as_of: date
    k: int
    mode: str
    ranker: str
    ranker_reason: str
    customers: int
    products: int
    recommendable: int
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        """Return everything but the frame as plain data."""
        reasons = self.frame["reason"].value_counts()
        return {
            "as_of": self.as_of.isoformat(),
            "k": self.k,
            "mode": self.mode,
            "ranker": self.ranker,
            "ranker_reason": self.ranker_reason,
            "customers": self.customers,
            "products": self.products,
            "recommendable_products": self.recommendable,
            "rows": len(self.frame),
            "reasons": {str(r): int(n) for r, n in reasons.items()},
            "seconds": round(self.seconds, 3),
        }


def _check_k(k: object) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 1 <= int(k) <= 1000:
        raise ConfigError(f"k must be an integer from 1 to 1000, got {k!r}.", fix="Use --k 10.")
    return int(k)


def recommend(
    tables: Mapping[str, ir.Table],
    *,
    as_of: date | None = None,
    k: int = 10,
    customers: Iterable[str] | None = None,
    mode: Mode = "all",
    currency: str | None = None,
    max_per_category: int | None = None,
    exclude: Iterable[str] = (),
    recommender: Recommender | None = None,
    progress: Progress | None = None,
) -> Recommendations:
    """Recommend ``k`` products to each customer as of a date.

    Parameters
    ----------
    tables
        The canonical tables as Ibis tables of one backend.
    as_of
        The recommendation date (default: the day of the last sale); nothing after it is used.
    k
        Products per customer.
    customers
        Customer ids (default: every customer who bought by ``as_of``); unknown or new
        customers get the popular and trending products.
    mode
        ``all``, ``buy_again`` or ``cross_sell`` (see :class:`~.model.Recommender`).
    currency
        The currency to read (needed when the store sells in several).
    max_per_category
        At most this many products of one category per customer.
    exclude
        Product ids never to recommend.
    recommender
        A configured, unfitted :class:`~.model.Recommender` (default settings otherwise).
    progress
        Called with the name of each step.
    """
    step = progress or (lambda _name: None)
    k = _check_k(k)
    started = time.perf_counter()
    step("reading baskets")
    baskets = load_baskets(tables, as_of=as_of, currency=currency)
    catalogue = load_catalogue(tables, baskets, exclude=exclude)
    model = recommender or Recommender()
    if max_per_category is not None:
        if max_per_category < 1:
            raise ConfigError(
                f"max_per_category must be at least 1, got {max_per_category}.",
                fix="Use --max-per-category 3, or leave it out.",
            )
        model.max_per_category = max_per_category
    step("fitting the recommender")
    model.fit(baskets, catalogue)
    step("recommending")
    frame = model.recommend(customers, k=k, mode=mode)
    return Recommendations(
        frame=frame,
        as_of=baskets.as_of,
        k=k,
        mode=mode,
        ranker=model.ranker_.method,
        ranker_reason=model.ranker_.reason,
        customers=int(frame["customer_id"].nunique()),
        products=baskets.n_items,
        recommendable=int(catalogue.recommendable.sum()),
        seconds=time.perf_counter() - started,
    )


@dataclass
class RecommendationEvaluation:
    """Metrics of the recommender and the baselines, per k."""

    protocol: str
    as_of: date
    cutoff: date | None
    customers: int
    ranker: str
    ranker_reason: str
    metrics: dict[str, dict[int, dict[str, float]]] = field(default_factory=dict)
    seconds: float = 0.0

    def rows(self) -> list[dict[str, Any]]:
        """Return one row per (method, k) with every metric."""
        return [
            {"method": method, "k": k, **values}
            for method, per_k in self.metrics.items()
            for k, values in per_k.items()
        ]

    def as_dict(self) -> dict[str, Any]:
        """Return the evaluation as plain data."""
        return {
            "protocol": self.protocol,
            "as_of": self.as_of.isoformat(),
            "cutoff": self.cutoff.isoformat() if self.cutoff else None,
            "customers": self.customers,
            "ranker": self.ranker,
            "ranker_reason": self.ranker_reason,
            "results": self.rows(),
            "seconds": round(self.seconds, 3),
        }


def evaluate_recommendations(
    tables: Mapping[str, ir.Table],
    *,
    as_of: date | None = None,
    protocol: str = "last",
    cutoff: date | None = None,
    ks: Sequence[int] = (10, 20),
    currency: str | None = None,
    recommender: Recommender | None = None,
    progress: Progress | None = None,
) -> RecommendationEvaluation:
    """Score the recommender and the baselines on the next basket (see :mod:`.evaluate`)."""
    step = progress or (lambda _name: None)
    ks = sorted({_check_k(k) for k in ks})
    if not ks:
        raise ConfigError("No k to evaluate at.", fix="Use --k 10 --k 20.")
    started = time.perf_counter()
    step("reading baskets")
    baskets = load_baskets(tables, as_of=as_of, currency=currency)
    split = next_basket_split(baskets, protocol=protocol, cutoff=cutoff)
    if split.customers.size == 0:
        raise InputError(
            "No customer has two baskets to evaluate on.",
            fix="Evaluate on a store with repeat customers.",
        )
    catalogue = load_catalogue(tables, split.history)
    everything = Catalogue(  # the truth may hold any product: none is filtered out here
        catalogue.category, catalogue.name, np.ones_like(catalogue.recommendable), catalogue.why_not
    )
    step("fitting the recommender on the history")
    model = (recommender or Recommender()).fit(split.history, everything)
    ids = split.history.customer_ids[split.customers]
    step("recommending")
    lists = model.recommend(ids, k=max(ks))
    coded = pd.DataFrame(
        {
            "customer": pd.Index(baskets.customer_ids.astype(str)).get_indexer(
                lists["customer_id"]
            ),
            "item": pd.Index(baskets.item_ids.astype(str)).get_indexer(lists["product_id"]),
            "rank": lists["rank"].to_numpy(),
        }
    )
    result = RecommendationEvaluation(
        protocol=protocol,
        as_of=baskets.as_of,
        cutoff=cutoff,
        customers=int(split.customers.size),
        ranker=model.ranker_.method,
        ranker_reason=model.ranker_.reason,
    )
    step("scoring")
    result.metrics["regulars"] = {k: score_lists(coded, split, k=k) for k in ks}
    for k in ks:
        for name, rows in baselines(split, k=k).items():
            result.metrics.setdefault(name, {})[k] = score_lists(rows, split, k=k)
    result.metrics = {m: result.metrics[m] for m in ("regulars", *BASELINES)}
    result.seconds = time.perf_counter() - started
    return result

"""Category affinity: which categories each customer prefers, by recency-weighted spend.

For every (customer, category) pair with a purchase, :func:`category_affinity` gives:

- ``share``: the category's share of the customer's **recency-weighted** spend. Each
  (basket, product) entry weighs ``spend * 0.5 ** (age_days / half_life_days)``: a basket
  bought one half-life ago counts half as much as one bought at the end of ``as_of``.
  Shares sum to 1 per customer. Negative spend (a line below zero) counts as 0; a customer
  whose weighted spend is zero everywhere (free products only) gets shares of the weighted
  *number of entries* instead.
- ``spend``: the category's unweighted spend.
- ``baskets``: the number of the customer's baskets with the category.
- ``last_bought_days``: days from the last basket with the category to the end of ``as_of``.

Ages are counted from when the customer is looked at: the end of ``as_of``, or, for the
history part of :meth:`Baskets.split_last`, the customer's ``view_days``.
- ``rank``: 1 for the favourite. Ties in share go to the category bought more recently,
  then to the first category in alphabetical order, so the ranking is deterministic.

Products without a category (``None``, NaN or a blank string) are put under the category
:data:`NO_CATEGORY` (``"(none)"``): their spend still counts, so the other shares are not
inflated, and a store can see how much of a customer's spend is uncategorised.

Everything is vectorised over the entries of :class:`~regulars.recommend.baskets.Baskets`;
nothing here reads files or the clock.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from regulars.errors import ConfigError, InputError
from regulars.recommend.baskets import Baskets

__all__ = [
    "AFFINITY_COLUMNS",
    "NO_CATEGORY",
    "category_affinity",
    "favourite_categories",
    "item_categories",
]

NO_CATEGORY = "(none)"
"""The category of products that have none."""

AFFINITY_COLUMNS = (
    "customer_id",
    "category",
    "share",
    "spend",
    "baskets",
    "last_bought_days",
    "rank",
)
"""The columns of :func:`category_affinity`, in order."""


def _clean_categories(item_category: Any, n_items: int) -> npt.NDArray[np.str_]:
    values = pd.Series(np.asarray(item_category, dtype=object), dtype=object)
    if len(values) != n_items:
        raise InputError(
            f"item_category has {len(values):,} entries but the baskets have {n_items:,} products.",
            column="item_category",
            expected="one category (or None) per product, in the order of baskets.item_ids",
            fix="Build it with item_categories(baskets.item_ids, products).",
        )
    text = values.where(values.notna(), NO_CATEGORY).astype(str).str.strip()
    text = text.where(text != "", NO_CATEGORY)
    return np.asarray(text.to_numpy(dtype=object), dtype=str)


def _dense_rank(values: npt.NDArray[Any]) -> npt.NDArray[np.int64]:
    """Return 0 for the smallest value, 1 for the next distinct one...: ties share a rank."""
    order = np.argsort(values)
    ordered = values[order]
    step = np.ones(values.size, dtype=np.int64)
    step[1:] = ordered[1:] != ordered[:-1]
    rank = np.empty(values.size, dtype=np.int64)
    rank[order] = np.cumsum(step) - 1
    return rank


def _empty_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": pd.Series(dtype=object),
            "category": pd.Series(dtype=object),
            "share": pd.Series(dtype=float),
            "spend": pd.Series(dtype=float),
            "baskets": pd.Series(dtype=np.int64),
            "last_bought_days": pd.Series(dtype=float),
            "rank": pd.Series(dtype=np.int64),
        }
    )


def category_affinity(
    baskets: Baskets,
    item_category: npt.ArrayLike,
    *,
    half_life_days: float = 180.0,
) -> pd.DataFrame:
    """Return each customer's categories, ranked by recency-weighted share of spend.

    Parameters
    ----------
    baskets
        Every customer's baskets (:meth:`Baskets.from_frame`).
    item_category
        The category of each product, aligned with ``baskets.item_ids`` (``None`` for a
        product without one: it counts under :data:`NO_CATEGORY`).
    half_life_days
        Days after which a basket's spend counts half (must be positive; ``inf`` weighs
        every basket alike).

    Returns
    -------
    pandas.DataFrame
        One row per (customer, category) bought, sorted by customer id and rank, with the
        columns of :data:`AFFINITY_COLUMNS` (see the module docstring).

    Raises
    ------
    ConfigError
        When ``half_life_days`` is not a positive number.
    InputError
        When ``item_category`` is not one entry per product.
    """
    half_life = float(half_life_days)
    if not half_life > 0:  # also catches NaN
        raise ConfigError(
            f"half_life_days must be a positive number of days; got {half_life_days!r}.",
            fix="Pass e.g. half_life_days=180 (a basket half a year old counts half).",
        )
    names = _clean_categories(item_category, baskets.n_items)
    if baskets.n_entries == 0:
        return _empty_frame()
    unique_names, item_code = np.unique(names, return_inverse=True)
    categories = unique_names.astype(object)
    n_cat = categories.size
    category = item_code[baskets.item]
    # Ages from when each customer is looked at (the end of as_of, but for split histories).
    age = baskets.age_days - baskets.view_days[baskets.customer]
    weight = np.exp2(-np.maximum(age, 0.0) / half_life)  # a basket after then counts as fresh

    # One sort of (customer, category, basket) gives the groups and their distinct baskets.
    stride = int(baskets.basket.max()) + 1
    key = (baskets.customer * n_cat + category) * stride + baskets.basket
    order = np.argsort(key)
    sorted_key = key[order]
    group_key = sorted_key // stride
    new_group = np.ones(order.size, dtype=bool)
    new_group[1:] = group_key[1:] != group_key[:-1]
    new_pair = np.ones(order.size, dtype=bool)
    new_pair[1:] = sorted_key[1:] != sorted_key[:-1]
    starts = np.flatnonzero(new_group)
    group_customer = group_key[starts] // n_cat
    group_category = group_key[starts] % n_cat

    spend_sorted = baskets.spend[order]
    weight_sorted = weight[order]
    spend = np.add.reduceat(spend_sorted, starts)
    weighted = np.add.reduceat(np.maximum(spend_sorted, 0.0) * weight_sorted, starts)
    counted = np.add.reduceat(weight_sorted, starts)
    n_baskets = np.add.reduceat(new_pair.astype(np.int64), starts)
    last_bought = np.minimum.reduceat(age[order], starts)

    total = np.bincount(group_customer, weights=weighted, minlength=baskets.n_customers)
    total_counted = np.bincount(group_customer, weights=counted, minlength=baskets.n_customers)
    by_spend = total[group_customer] > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(
            by_spend,
            weighted / total[group_customer],
            counted / total_counted[group_customer],
        )

    # Rank: share (descending), then the most recent, then the category name. The groups
    # are in (customer, category) order and the last sort is stable, so the name breaks the
    # last ties. (Integer keys from dense ranks: a third of the time of np.lexsort.)
    n_groups = starts.size
    by_share = _dense_rank(-share) * (n_groups + 1) + _dense_rank(last_bought)
    ranked = np.argsort(group_customer * (n_groups + 1) + _dense_rank(by_share), kind="stable")
    ranked_customer = group_customer[ranked]
    first_of_customer = np.ones(n_groups, dtype=bool)
    first_of_customer[1:] = ranked_customer[1:] != ranked_customer[:-1]
    position = np.arange(n_groups)
    start = np.maximum.accumulate(np.where(first_of_customer, position, 0))
    rank = position - start + 1

    # customer_ids are sorted (np.unique), so customer order is customer-id order.
    return pd.DataFrame(
        {
            "customer_id": baskets.customer_ids[ranked_customer],
            "category": categories[group_category[ranked]],
            "share": share[ranked],
            "spend": spend[ranked],
            "baskets": n_baskets[ranked].astype(np.int64),
            "last_bought_days": last_bought[ranked],
            "rank": rank.astype(np.int64),
        }
    )


def favourite_categories(affinity: pd.DataFrame, *, top: int = 1) -> pd.DataFrame:
    """Return each customer's ``top`` favourite categories (the rows of rank ``<= top``).

    Parameters
    ----------
    affinity
        The frame of :func:`category_affinity`.
    top
        How many categories to keep per customer (at least 1).

    Returns
    -------
    pandas.DataFrame
        The same columns, sorted by customer id and rank, index reset.

    Raises
    ------
    ConfigError
        When ``top`` is below 1.
    """
    if top < 1:
        raise ConfigError(
            f"top must be at least 1; got {top!r}.", fix="Pass top=1 for the favourite."
        )
    kept = affinity[affinity["rank"] <= top]
    return kept.sort_values(["customer_id", "rank"], kind="stable").reset_index(drop=True)


def item_categories(item_ids: npt.ArrayLike, products: pd.DataFrame) -> npt.NDArray[Any]:
    """Return the category of each product id in ``item_ids`` (``None`` when unknown).

    Parameters
    ----------
    item_ids
        Product ids, e.g. ``baskets.item_ids``.
    products
        A frame with ``product_id`` and ``category`` (the canonical products table).

    Returns
    -------
    numpy.ndarray
        An object array aligned with ``item_ids``, ready for :func:`category_affinity`.

    Raises
    ------
    InputError
        When ``products`` lacks one of the two columns.
    """
    for column in ("product_id", "category"):
        if column not in products.columns:
            raise InputError(
                f"Required column {column} missing from the products.",
                column=column,
                expected="columns product_id and category",
                fix="Pass the canonical products table (regulars import ... products).",
            )
    lookup = products.drop_duplicates("product_id", keep="last")
    index = pd.Index(lookup["product_id"].astype(str))
    where = index.get_indexer(pd.Index(np.asarray(item_ids, dtype=object).astype(str)))
    known = lookup["category"].to_numpy(dtype=object)
    out = np.full(where.size, None, dtype=object)
    out[where >= 0] = known[where[where >= 0]]
    return out

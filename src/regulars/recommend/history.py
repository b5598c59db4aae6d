"""What each customer bought before, per product, and when it is due again (buy-again).

For each (customer, product) bought at least once:

- ``count``: baskets holding the product; ``last_days``/``first_days``: days since its last
  and first purchase.
- ``cycle_days``: its repurchase cycle: the customer's own interval
  ``(first_days - last_days) / (count - 1)`` when they bought it in at least two baskets;
  otherwise the product's typical cycle (the median personal interval among the customers
  who rebought it, when at least ``min_cycle_buyers`` did); otherwise the store's median
  personal interval.
- ``due``: ``last_days / cycle_days`` (1 = due today, 2 = a full cycle late).
- ``buy_again``: the buy-again score, ``count ** 0.5 * exp(-ln(due) ** 2 / (2 * 0.6 ** 2))``:
  frequency counts, but a product is most likely rebought around one cycle after the last
  purchase, so "due now" beats "bought often long ago" (a product bought 9 times but 8
  cycles ago scores 3 * 0.0003; one bought twice and due now scores 1.4).

The pairs are kept as flat arrays sorted by ``customer * n_items + item``, so a customer's
products are one contiguous slice (:meth:`PersonalHistory.rows`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from regulars.recommend.baskets import Baskets

__all__ = [
    "DUE_WIDTH",
    "ItemStats",
    "PersonalHistory",
    "buy_again_score",
    "store_cycle_days",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

DUE_WIDTH = 0.6
"""Width (in log cycles) of the window around the due date where a rebuy is likely."""
_MIN_DUE = 0.02


def buy_again_score(count: FloatArray, due: FloatArray) -> FloatArray:
    """Return the buy-again score of products bought ``count`` times, ``due`` cycles ago."""
    log_due = np.log(np.maximum(due, _MIN_DUE))
    return np.sqrt(count) * np.exp(-(log_due**2) / (2 * DUE_WIDTH**2))


@dataclass(frozen=True)
class ItemStats:
    """Store-wide figures per product (index = item index)."""

    buyers: FloatArray
    """Customers who bought it."""
    popularity: FloatArray
    """Buyers / the most-bought product's buyers (0..1)."""
    trend: FloatArray
    """Recent buyers, each basket weighted 0.5 ** (days ago / 30), scaled to 0..1."""
    repeat_rate: FloatArray
    """Share of its buyers who bought it in two baskets or more."""
    cycle_days: FloatArray
    """Typical repurchase cycle (NaN when too few customers rebought it)."""

    @classmethod
    def build(cls, baskets: Baskets, history: PersonalHistory, min_cycle_buyers: int) -> ItemStats:
        """Compute the figures from the baskets and the per-customer history."""
        n = baskets.n_items
        items = history.item
        buyers = np.bincount(items, minlength=n).astype(float)
        repeaters = np.bincount(items, weights=(history.count > 1), minlength=n)
        trend = np.bincount(baskets.item, weights=0.5 ** (baskets.age_days / 30.0), minlength=n)
        cycle = np.full(n, np.nan)
        own = history.own_cycle_days
        known = ~np.isnan(own)
        if known.any():
            order = np.lexsort((own[known], items[known]))
            it, values = items[known][order], own[known][order]
            starts = np.flatnonzero(np.r_[True, it[1:] != it[:-1]])
            sizes = np.diff(np.r_[starts, it.size])
            medians = (values[starts + (sizes - 1) // 2] + values[starts + sizes // 2]) / 2
            enough = sizes >= min_cycle_buyers
            cycle[it[starts[enough]]] = medians[enough]
        return cls(
            buyers=buyers,
            popularity=buyers / max(buyers.max(initial=0.0), 1.0),
            trend=trend / max(trend.max(initial=0.0), 1e-12),
            repeat_rate=np.divide(repeaters, buyers, out=np.zeros(n), where=buyers > 0),
            cycle_days=cycle,
        )


@dataclass(frozen=True)
class PersonalHistory:
    """Per (customer, product) purchase history, sorted by customer then product.

    ``tifu`` is the pair's weight in the customer's TIFU vector (:mod:`.tifu`).
    """

    _n_customers: int
    n_items: int
    customer: IntArray
    item: IntArray
    count: FloatArray
    last_days: FloatArray
    first_days: FloatArray
    spend: FloatArray
    tifu: FloatArray

    @property
    def n_customers(self) -> int:
        """Number of customers (bought or not)."""
        return self._n_customers

    @cached_property
    def key(self) -> IntArray:
        """``customer * n_items + item`` of each pair (sorted)."""
        key: IntArray = self.customer * self.n_items + self.item
        return key

    @cached_property
    def own_cycle_days(self) -> FloatArray:
        """The customer's own repurchase interval (NaN when bought in one basket only)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            interval = (self.first_days - self.last_days) / (self.count - 1)
        return np.where(self.count > 1, interval, np.nan)

    def rows(self, customers: IntArray) -> tuple[IntArray, IntArray]:
        """Return the (start, end) of each customer's slice of the pairs."""
        key = self.key
        start = np.searchsorted(key, customers * self.n_items, side="left")
        end = np.searchsorted(key, (customers + 1) * self.n_items, side="left")
        return start.astype(np.int64), end.astype(np.int64)

    def lookup(self, customers: IntArray, items: IntArray) -> IntArray:
        """Return the pair index of each (customer, item), or -1 when never bought."""
        key = self.key
        wanted = customers * self.n_items + items
        at = np.searchsorted(key, wanted)
        found = at < key.size
        found[found] = key[at[found]] == wanted[found]
        return np.where(found, at, -1)

    def cycle_days(self, items: ItemStats, fallback_days: float) -> FloatArray:
        """Return the repurchase cycle of each pair: own, else the product's, else the store's."""
        own = self.own_cycle_days
        product = items.cycle_days[self.item]
        return np.where(np.isnan(own), np.where(np.isnan(product), fallback_days, product), own)

    def matrix(self, values: FloatArray) -> sp.csr_matrix:
        """Return ``values`` (one per pair) as a (customers x items) sparse matrix."""
        shape = (self.n_customers, self.n_items)
        return sp.csr_matrix((values, (self.customer, self.item)), shape=shape)

    @classmethod
    def build(cls, baskets: Baskets, tifu: FloatArray) -> PersonalHistory:
        """Aggregate the baskets per (customer, product); ``tifu``: each entry's TIFU weight.

        Days are counted from each customer's ``view_days`` (when they are looked at).
        """
        n = max(baskets.n_items, 1)
        key = baskets.customer * n + baskets.item
        uniq, inverse = np.unique(key, return_inverse=True)
        age = baskets.age_days - baskets.view_days[baskets.customer]
        count = np.bincount(inverse, minlength=uniq.size).astype(float)
        last = np.full(uniq.size, np.inf)
        np.minimum.at(last, inverse, age)
        first = np.full(uniq.size, -np.inf)
        np.maximum.at(first, inverse, age)
        spend = np.bincount(inverse, weights=baskets.spend, minlength=uniq.size).astype(float)
        weight = np.bincount(inverse, weights=tifu, minlength=uniq.size).astype(float)
        return cls(baskets.n_customers, n, uniq // n, uniq % n, count, last, first, spend, weight)


def store_cycle_days(history: PersonalHistory, default: float = 30.0) -> float:
    """Return the median personal repurchase interval over the store (``default`` if none)."""
    own = history.own_cycle_days
    own = own[~np.isnan(own) & (own > 0)]
    return float(np.median(own)) if own.size else default

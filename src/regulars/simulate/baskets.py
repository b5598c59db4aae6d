"""What goes into a basket: products drawn from the buyer's category affinity.

Each basket has ``1 + Poisson(mu)`` product draws (``mu`` is personal). A draw picks a category
from the buyer's Dirichlet affinity (gifts three times as likely in the gift season), then a
product of that category by popularity; a discontinued product is replaced by its successor.
A customer's staple consumable is rebought with a probability that peaks when the time since
the previous purchase is near the product's repurchase cycle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from regulars.simulate.catalogue import CATEGORIES, Catalogue

__all__ = ["Lines", "draw_items", "draw_lines", "staple_probability"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

_GIFTS = [c.name for c in CATEGORIES].index("gifts")
_MAX_DRAWS = 8


@dataclass(frozen=True)
class Lines:
    """Basket lines, grouped by basket and sorted by product within a basket.

    Parameters
    ----------
    basket
        Index of the basket (order or session) of each line.
    product
        Product index.
    quantity
        Units.
    line_no
        1-based position of the line in its basket.
    """

    basket: IntArray
    product: IntArray
    quantity: IntArray
    line_no: IntArray

    @property
    def size(self) -> int:
        """Number of lines."""
        return int(self.basket.size)

    def offsets(self, baskets: int) -> IntArray:
        """Return where each basket's lines start, plus the end (length ``baskets + 1``)."""
        counts = np.bincount(self.basket, minlength=baskets)
        return np.concatenate(([0], np.cumsum(counts))).astype(np.int64)


def staple_probability(gap_days: FloatArray, cycle_days: FloatArray) -> FloatArray:
    """Probability that a basket contains the buyer's staple, given the gap since the last one.

    Parameters
    ----------
    gap_days
        Days since the buyer's previous purchase (``inf`` for a first purchase).
    cycle_days
        Repurchase cycle of the staple.

    Returns
    -------
    numpy.ndarray
        0.6 for a first purchase; otherwise ``0.15 + 0.75 * exp(-log(gap / cycle)**2 / 0.4)``,
        which peaks at 0.9 when the gap equals the cycle.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.log(np.maximum(gap_days, 0.01) / cycle_days)
        near_cycle = 0.15 + 0.75 * np.exp(-(ratio**2) / 0.4)
    return np.where(np.isinf(gap_days), 0.6, near_cycle)


def draw_items(
    rng: np.random.Generator,
    catalogue: Catalogue,
    *,
    affinity: FloatArray,
    owner: IntArray,
    gift_season: BoolArray,
    day: IntArray,
    draws: IntArray,
) -> tuple[IntArray, IntArray]:
    """Draw products for baskets: ``draws[i]`` products for basket ``i``.

    Parameters
    ----------
    rng
        Random generator.
    catalogue
        The catalogue.
    affinity
        Category affinities of the buyers, one row per buyer.
    owner
        The buyer (row of ``affinity``) of each basket.
    gift_season
        Per simulated day, whether gifts are in season.
    day
        Day (since the start) of each basket.
    draws
        Number of products to draw for each basket.

    Returns
    -------
    tuple of numpy.ndarray
        Basket index and product index of each draw (duplicates possible).
    """
    basket = np.repeat(np.arange(draws.size, dtype=np.int64), draws)
    buyer = owner[basket]
    boost = np.where(gift_season[day[basket]], 3.0, 1.0)
    total = 1.0 + (boost - 1.0) * affinity[buyer, _GIFTS]
    pick = rng.random(basket.size) * total
    category = np.zeros(basket.size, dtype=np.int64)
    cumulative = np.zeros(basket.size)
    for c in range(len(CATEGORIES) - 1):  # one column at a time: no (draws x categories) array
        weight = affinity[buyer, c]
        if c == _GIFTS:
            weight *= boost
        cumulative += weight
        category += pick > cumulative
    del buyer, boost, total, pick, cumulative
    # Products are sorted by category: category c's popularity spans [c, c + 1) of the ladder.
    ladder = catalogue.category + _within_category_cdf(catalogue)
    product = np.searchsorted(ladder, category + rng.random(basket.size), side="left")
    product = np.minimum(product, catalogue.size - 1)
    retired = day[basket] >= catalogue.discontinued_at[product]
    product = np.where(retired, catalogue.successor[product], product)
    return basket, product


def _within_category_cdf(catalogue: Catalogue) -> FloatArray:
    """Cumulative popularity of each product within its category (1 at a category's last)."""
    cdf = np.empty(catalogue.size)
    for c in range(len(CATEGORIES)):
        members = np.flatnonzero(catalogue.category == c)
        cdf[members] = np.cumsum(catalogue.popularity[members])
        cdf[members[-1]] = 1.0
    return cdf


def draw_lines(
    rng: np.random.Generator,
    catalogue: Catalogue,
    *,
    affinity: FloatArray,
    owner: IntArray,
    basket_mean: FloatArray,
    gift_season: BoolArray,
    day: IntArray,
    staple: IntArray,
    gap_days: FloatArray,
) -> Lines:
    """Draw the lines of a set of baskets.

    Parameters
    ----------
    rng
        Random generator.
    catalogue
        The catalogue.
    affinity
        Category affinities of the buyers, one row per buyer.
    owner
        The buyer (row of ``affinity``) of each basket.
    basket_mean
        Personal mean number of extra draws of each basket's buyer.
    gift_season
        Per simulated day, whether gifts are in season.
    day
        Day of each basket.
    staple
        The buyer's staple product per basket, or -1 for none.
    gap_days
        Days since the buyer's previous purchase (``inf`` for a first purchase).

    Returns
    -------
    Lines
        The lines; every basket gets at least one line.
    """
    n = day.size
    has_staple = staple >= 0
    cycle = np.where(has_staple, catalogue.cycle_days[np.maximum(staple, 0)], 1.0)
    with_staple = has_staple & (rng.random(n) < staple_probability(gap_days, cycle))
    draws = np.minimum(1 + rng.poisson(basket_mean), _MAX_DRAWS) - with_staple
    basket, product = draw_items(
        rng,
        catalogue,
        affinity=affinity,
        owner=owner,
        gift_season=gift_season,
        day=day,
        draws=draws,
    )
    extra = np.flatnonzero(with_staple)
    extra_product = staple[extra]
    extra_product = np.where(
        day[extra] >= catalogue.discontinued_at[extra_product],
        catalogue.successor[extra_product],
        extra_product,
    )
    key = np.concatenate((basket, extra)) * catalogue.size + np.concatenate(
        (product, extra_product)
    )
    key = np.unique(key)
    basket = key // catalogue.size
    product = key % catalogue.size

    consumable = catalogue.consumable[product]
    quantity = np.where(
        consumable,
        rng.choice(np.array([1, 2, 3, 4]), size=key.size, p=[0.72, 0.18, 0.07, 0.03]),
        rng.choice(np.array([1, 2]), size=key.size, p=[0.94, 0.06]),
    ).astype(np.int64)
    starts = np.flatnonzero(np.concatenate(([True], basket[1:] != basket[:-1])))
    counts = np.diff(np.append(starts, basket.size))
    line_no = np.arange(basket.size, dtype=np.int64) - np.repeat(starts, counts) + 1
    return Lines(basket=basket, product=product, quantity=quantity, line_no=line_no)

"""The simulated store's catalogue: a coffee and tea shop with snacks, kitchen gear and gifts.

Consumables (coffee, tea, snacks, filters) have a repurchase cycle of 20 to 90 days; durables
(kitchen gear, apparel, gifts) are rarely bought again. A few products are discontinued during
the observation period: they appear in older orders only, and are inactive in ``products``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from regulars.simulate.columns import money, money_text

__all__ = ["CATEGORIES", "Catalogue", "CategorySpec", "build_catalogue"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class CategorySpec:
    """A product category and how its products are priced and rebought.

    Parameters
    ----------
    name
        Category name, as written in ``products.category``.
    code
        Three-letter SKU prefix.
    share
        Mean share of the category in customers' baskets (the Dirichlet mean).
    cycle_days
        Typical days between repurchases of one product, or 0 for durables.
    items
        Product names (the base names, combined with ``variants``).
    variants
        Variant suffixes and their price ranges in dollars: ``(suffix, low, high)``.
    """

    name: str
    code: str
    share: float
    cycle_days: float
    items: tuple[str, ...]
    variants: tuple[tuple[str, float, float], ...]


CATEGORIES: tuple[CategorySpec, ...] = (
    CategorySpec(
        "coffee",
        "COF",
        0.36,
        30.0,
        (
            "Ethiopia Yirgacheffe",
            "Colombia Huila",
            "Brazil Cerrado",
            "Guatemala Antigua",
            "Kenya AA",
            "Sumatra Mandheling",
            "House Espresso",
            "Decaf Swiss Water",
            "Costa Rica Tarrazu",
            "Rwanda Nyamasheke",
        ),
        (("Whole Bean 250g", 11.5, 17.0), ("Ground 250g", 11.5, 17.0), ("Whole Bean 1kg", 34, 52)),
    ),
    CategorySpec(
        "tea",
        "TEA",
        0.2,
        45.0,
        (
            "Earl Grey",
            "English Breakfast",
            "Sencha",
            "Jasmine Pearls",
            "Darjeeling First Flush",
            "Rooibos Vanilla",
            "Chamomile",
            "Peppermint",
            "Masala Chai",
            "Oolong Tie Guan Yin",
        ),
        (("Loose Leaf 100g", 7.5, 19.0), ("20 Tea Bags", 5.5, 9.5)),
    ),
    CategorySpec(
        "snacks",
        "SNK",
        0.15,
        21.0,
        (
            "Dark Chocolate 70%",
            "Milk Chocolate Hazelnut",
            "Almond Biscotti",
            "Salted Caramel Cookies",
            "Oat and Honey Bars",
            "Stroopwafels",
            "Candied Pecans",
            "Shortbread Tin",
        ),
        (("", 2.99, 9.5),),
    ),
    CategorySpec(
        "kitchen",
        "KIT",
        0.13,
        0.0,
        (
            "Pour-Over Dripper",
            "Gooseneck Kettle",
            "Burr Grinder",
            "French Press 1L",
            "Milk Frother",
            "Cold Brew Jar",
            "Digital Scale",
            "Ceramic Mug",
            "Travel Tumbler",
            "Glass Teapot",
        ),
        (("", 9.0, 149.0),),
    ),
    CategorySpec(
        "apparel",
        "APP",
        0.07,
        0.0,
        ("Logo T-Shirt", "Barista Apron", "Knit Beanie", "Hoodie", "Canvas Tote Bag", "Socks"),
        (("", 12.0, 59.0),),
    ),
    CategorySpec(
        "gifts",
        "GFT",
        0.09,
        0.0,
        (
            "Tasting Set",
            "Holiday Gift Box",
            "Mug and Beans Set",
            "Tea Lover Hamper",
            "Brewing Starter Kit",
        ),
        (("", 25.0, 89.0),),
    ),
)
"""The categories of the simulated store, in the order of their index."""

_EXTRA_CONSUMABLES = (
    ("kitchen", "Paper Filters 100 Pack", 90.0, 6.5),
    ("kitchen", "Descaler", 75.0, 12.0),
)
_GIFT_CARDS = (("gifts", "Gift Card 25", 2500), ("gifts", "Gift Card 50", 5000))
_DISCONTINUED = 5


@dataclass(frozen=True)
class Catalogue:
    """The products, as parallel arrays (index = position), sorted by category.

    Parameters
    ----------
    product_id, sku, name
        Identifiers and names.
    category
        Category index into :data:`CATEGORIES`.
    price_cents
        List price in cents.
    cycle_days
        Repurchase cycle in days (0 for durables).
    popularity
        Relative popularity within the category (sums to 1 in each category).
    discontinued_at
        Day (since the start) after which the product is no longer sold; ``inf`` if active.
    successor
        The product sold instead once this one is discontinued (itself if active).
    """

    product_id: list[str]
    sku: list[str]
    name: list[str]
    category: IntArray
    price_cents: IntArray
    cycle_days: FloatArray
    popularity: FloatArray
    discontinued_at: FloatArray
    successor: IntArray

    @property
    def size(self) -> int:
        """Number of products."""
        return len(self.product_id)

    @property
    def consumable(self) -> BoolArray:
        """Whether each product is a consumable (has a repurchase cycle)."""
        return self.cycle_days > 0

    @property
    def category_names(self) -> list[str]:
        """Category name of each product."""
        return [CATEGORIES[c].name for c in self.category]

    def product_fields_json(self) -> list[str]:
        """Return each product's Segment product fields as JSON members (no braces).

        Returns
        -------
        list of str
            ``"product_id":"P1001","sku":...,"category":...,"name":...,"price":12.99``.
        """
        prices = money_text(self.price_cents).to_pylist()
        out = []
        for i in range(self.size):
            head = json.dumps(
                {
                    "product_id": self.product_id[i],
                    "sku": self.sku[i],
                    "category": CATEGORIES[self.category[i]].name,
                    "name": self.name[i],
                },
                separators=(",", ":"),
            )
            out.append(f'{head[1:-1]},"price":{prices[i]}')
        return out

    def to_table(self, currency: str) -> pa.Table:
        """Return the ``products`` table (before conforming to the canonical schema).

        Parameters
        ----------
        currency
            The store's currency code.

        Returns
        -------
        pyarrow.Table
            One row per product.
        """
        n = self.size
        return pa.table(
            {
                "product_id": pa.array(self.product_id),
                "sku": pa.array(self.sku),
                "name": pa.array(self.name),
                "category": pa.array(self.category_names),
                "price": money(self.price_cents),
                "currency": pa.array([currency] * n),
                "active": pa.array(np.isinf(self.discontinued_at)),
            }
        )


def _price(rng: np.random.Generator, low: float, high: float) -> int:
    """Draw a shop-like price in cents between ``low`` and ``high`` (ending .99, .50 or .00)."""
    dollars = int(np.floor(np.exp(rng.uniform(np.log(low), np.log(high)))))
    ending = int(rng.choice(np.array([99, 50, 0, 95]), p=[0.55, 0.2, 0.15, 0.1]))
    return max(dollars * 100 + ending, round(low * 100))


def build_catalogue(rng: np.random.Generator, observed_days: int) -> Catalogue:
    """Build the catalogue: names from :data:`CATEGORIES`, prices and popularity from ``rng``.

    Parameters
    ----------
    rng
        Random generator of the catalogue.
    observed_days
        Length of the observation period (discontinuation days fall inside it).

    Returns
    -------
    Catalogue
        About 120 products, five of them discontinued.
    """
    rows: list[tuple[int, str, str, int, float]] = []  # category, sku, name, cents, cycle
    for c, spec in enumerate(CATEGORIES):
        k = 0
        for item in spec.items:
            for suffix, low, high in spec.variants:
                k += 1
                name = f"{item} {suffix}".strip()
                rows.append(
                    (c, f"{spec.code}-{k:03d}", name, _price(rng, low, high), spec.cycle_days)
                )
        extras = [
            (n, cyc, int(p * 100)) for cat, n, cyc, p in _EXTRA_CONSUMABLES if cat == spec.name
        ]
        extras += [(n, 0.0, cents) for cat, n, cents in _GIFT_CARDS if cat == spec.name]
        for name, cycle, cents in extras:
            k += 1
            rows.append((c, f"{spec.code}-{k:03d}", name, cents, cycle))
    for _, _, name, _, _ in rows:
        if any(ch in name for ch in ',"\n\r'):  # names go unquoted into CSV and JSON
            raise ValueError(f"product name {name!r} needs quoting")

    n = len(rows)
    category = np.array([row[0] for row in rows], dtype=np.int64)
    popularity = np.empty(n)
    for c in range(len(CATEGORIES)):
        members = np.flatnonzero(category == c)
        weights = 1.0 / (1.0 + rng.permutation(members.size)) ** 0.8  # Zipf-like
        popularity[members] = weights / weights.sum()

    discontinued_at = np.full(n, np.inf)
    successor = np.arange(n, dtype=np.int64)
    for i in np.sort(rng.choice(n, size=_DISCONTINUED, replace=False)):
        discontinued_at[i] = rng.uniform(0.15, 0.85) * observed_days
    for i in np.flatnonzero(np.isfinite(discontinued_at)):
        same = np.flatnonzero((category == category[i]) & np.isinf(discontinued_at))
        successor[i] = same[np.argmax(popularity[same])]

    return Catalogue(
        product_id=[f"P{1001 + i}" for i in range(n)],
        sku=[row[1] for row in rows],
        name=[row[2] for row in rows],
        category=category,
        price_cents=np.array([row[3] for row in rows], dtype=np.int64),
        cycle_days=np.array([row[4] for row in rows], dtype=np.float64),
        popularity=popularity,
        discontinued_at=discontinued_at,
        successor=successor,
    )

"""Business filters: what may be recommended at all, and variety across categories.

A product may be recommended when all of these hold:

- it is in the store's ``products`` table and ``active`` there (discontinued or out-of-stock
  products are not on sale). When the store has no products table at all, every product
  seen in the order lines counts as active;
- it is a product, not a charge: neither its id nor its name holds a charge phrase
  (:data:`NON_PRODUCT_PATTERN`: gift cards and vouchers, delivery or shipping charges,
  handling and service fees) or is a charge word (:data:`CHARGE_NAME_PATTERN`: shipping,
  postage, carriage, delivery, fee, tip, deposit, samples, adjustment, discount, manual,
  with at most two words before it: "Next Day Carriage" is a charge, "Carriage Clock" a
  product);
- the store did not exclude it (``exclude``: product ids).

Cross-sell lists also leave out what the customer already bought; ``max_per_category``
caps how many products of one category a list holds.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = ["CHARGE_NAME_PATTERN", "NON_PRODUCT_PATTERN", "Catalogue", "cap_per_category"]

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

NON_PRODUCT_PATTERN = re.compile(
    r"\b(gift[\s_-]?(card|voucher|certificate)s?|e-?gift|delivery charges?|shipping (charge|fee)s?|"
    r"handling fees?|service fees?|bank charges?)\b",
    re.IGNORECASE,
)
"""Ids or names of charges, wherever the words stand in them (gift cards, fees...)."""

CHARGE_NAME_PATTERN = re.compile(
    r"^(\w+\s+){0,2}(shipping|postage|carriage|delivery|fee|tip|gratuity|deposit|samples?|"
    r"adjust(ment)?|discount|manual)(\s+(charges?|fees?|costs?))?$",
    re.IGNORECASE,
)
"""Ids or names that ARE a charge word, with at most two words before it ("Next Day
Carriage", "Postage", "Tip") but not a product named after one ("Carriage Clock",
"French Carriage Lantern", "Shipping Box Set")."""


@dataclass(frozen=True)
class Catalogue:
    """Per product (aligned with the baskets' item ids): category, name, recommendable."""

    category: npt.NDArray[Any]
    """Category of each product (``None`` when unknown)."""
    name: npt.NDArray[Any]
    """Name of each product (``None`` when unknown)."""
    recommendable: BoolArray
    """Whether the product may be recommended."""
    why_not: npt.NDArray[Any]
    """Why a product may not be recommended (``None`` when it may)."""

    @classmethod
    def build(
        cls,
        item_ids: npt.NDArray[Any],
        products: pd.DataFrame | None,
        *,
        exclude: Iterable[str] = (),
    ) -> Catalogue:
        """Match the store's products table to the item ids and apply the filters.

        Parameters
        ----------
        item_ids
            Product ids of the baskets.
        products
            ``product_id, name, category, active`` (the canonical products table), or
            ``None``/empty when the store has none.
        exclude
            Product ids never to recommend.
        """
        ids = pd.Index(np.asarray(item_ids, dtype=object).astype(str))
        n = len(ids)
        why: list[str | None] = [None] * n
        if products is not None and len(products):
            table = products.drop_duplicates("product_id", keep="last")
            table = table.set_index(table["product_id"].astype(str))
            at = table.reindex(ids)
            known = at["product_id"].notna().to_numpy()
            active = at["active"].eq(True).to_numpy(dtype=bool)
            category = at["category"].astype(object).where(at["category"].notna(), None)
            name = at["name"].astype(object).where(at["name"].notna(), None)
            for j in np.flatnonzero(~known):
                why[j] = "not in the products table"
            for j in np.flatnonzero(known & ~active):
                why[j] = "inactive (not on sale)"
        else:
            category = pd.Series([None] * n, dtype=object)
            name = pd.Series([None] * n, dtype=object)
        names = name.to_numpy(dtype=object)
        for i, (pid, label) in enumerate(zip(ids, names, strict=True)):
            texts = [pid.replace("_", " ").replace("-", " ")]
            texts += [] if label is None else [" ".join(str(label).split())]
            if why[i] is None and any(
                NON_PRODUCT_PATTERN.search(t) or CHARGE_NAME_PATTERN.match(t) for t in texts
            ):
                why[i] = "not a product (a charge, fee or voucher)"
        excluded = set(map(str, exclude))
        for i, pid in enumerate(ids):
            if why[i] is None and pid in excluded:
                why[i] = "excluded by the store"
        why_not = np.array(why, dtype=object)
        return cls(
            category=category.to_numpy(dtype=object),
            name=names,
            recommendable=np.array([w is None for w in why], dtype=bool),
            why_not=why_not,
        )

    def category_codes(self) -> tuple[IntArray, list[str]]:
        """Return each product's category code (-1 when unknown) and the category names."""
        known = [c for c in self.category if c is not None]
        names = sorted(set(map(str, known)))
        lookup = {c: i for i, c in enumerate(names)}
        codes = np.array(
            [lookup[str(c)] if c is not None else -1 for c in self.category], dtype=np.int64
        )
        return codes, names


def cap_per_category(
    customer: IntArray, category: IntArray, max_per_category: int | None
) -> BoolArray:
    """Return which rows to keep so no customer gets more than the cap of one category.

    Rows must be sorted by customer and then by rank (best first); unknown categories
    (code -1) are not capped.
    """
    keep = np.ones(customer.size, dtype=bool)
    if max_per_category is None or customer.size == 0:
        return keep
    frame = pd.DataFrame({"c": customer, "k": category})
    nth = frame.groupby(["c", "k"], sort=False).cumcount().to_numpy()
    keep &= (nth < max_per_category) | (category < 0)
    return keep

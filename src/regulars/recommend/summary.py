"""What the customers will buy next, summed up per RFM segment and for the store (the report).

:func:`recommendation_summary` recommends to every customer (:func:`.run.recommend`) and
counts, per RFM segment, the most recommended products and the share of buy-again; for
the store, the reasons and the observed repeat ratio (the share of the products in the
latest basket of customers with two or more that they had bought before).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import ibis.expr.types as ir
import numpy as np
import pandas as pd

from regulars.errors import InputError

__all__ = [
    "MIN_RECOMMENDED_CUSTOMERS",
    "RecommendationSummary",
    "recommendation_definitions",
    "recommendation_summary",
]

Progress = Callable[[str], None]

REASONS = ("buy_again", "cross_sell", "category", "popular")
TOP_PRODUCTS = 5
MIN_RECOMMENDED_CUSTOMERS = 10


@dataclass
class RecommendationSummary:
    """What the customers will buy next, per RFM segment and for the store.

    Attributes
    ----------
    k, unavailable
        Products per customer; why there are no recommendations (no order lines, one
        product, too few customers), or None.
    ranker, ranker_reason, customers
        How the recommender ranks, why, and how many customers got a list.
    reasons, repeat_ratio
        Recommendations per reason (buy_again, cross_sell, category, popular); the share
        of buy-again.
    observed_repeat_ratio, observed_customers
        Among the customers with two or more baskets (how many), the share of the products
        of their latest basket that they had bought before (None: nobody has two).
    segments
        Per RFM segment, largest first: segment, customers, recommended_customers,
        recommendations, buy_again, repeat_ratio.
    top_products
        Per segment its top 5: segment, rank, product_id, name, category, customers (with
        it in their top ``k``), share (of the segment's recommended_customers).
    """

    k: int
    unavailable: str | None = None
    ranker: str = ""
    ranker_reason: str = ""
    customers: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    repeat_ratio: float | None = None
    observed_repeat_ratio: float | None = None
    observed_customers: int = 0
    segments: pd.DataFrame = field(default_factory=pd.DataFrame)
    top_products: pd.DataFrame = field(default_factory=pd.DataFrame)

    def as_dict(self) -> dict[str, Any]:
        """Return the summary as plain data (frames as lists of rows)."""
        out = {k: v for k, v in vars(self).items() if not isinstance(v, pd.DataFrame)}
        return out | {n: getattr(self, n).to_dict("records") for n in ("segments", "top_products")}


def recommendation_definitions(k: int) -> dict[str, str]:
    """Return the definitions of the recommendation figures, in words."""
    return {
        "recommendations": f"Each customer's top {k} products to buy next as of the analysis "
        "date, ranked by a model learned on the store's own order lines. Buy-again: bought "
        "before by the customer; cross-sell: not bought yet, goes with what they or customers "
        "like them bought; category: a best seller of their favourite category; popular: a "
        "best seller or a trending product.",
        "customers with it in their top k": f"Customers of the segment with the product among "
        f"their {k} recommendations; the share is of the segment's customers with a list.",
        "recommended repeat ratio": "Share of the recommendations that are buy-again.",
        "observed repeat ratio": "Among customers with two or more baskets, the share of the "
        "products in their latest basket that they had bought before.",
    }


def recommendation_summary(
    tables: Mapping[str, ir.Table], segments: ir.Table, *, as_of: date, currency: str, k: int,
    progress: Progress,
) -> RecommendationSummary:  # fmt: skip
    """Recommend to every customer; sum up per segment (customer_id, segment) and store."""
    from regulars.recommend.model import Recommender
    from regulars.recommend.run import load_baskets, load_catalogue

    out = RecommendationSummary(k=k)
    try:
        baskets = load_baskets(tables, as_of=as_of, currency=currency)
        if baskets.n_items < 2:
            out.unavailable = f"The order lines name one product only ({baskets.item_ids[0]}):"
            out.unavailable += " there is nothing to choose between."
        elif baskets.n_customers < MIN_RECOMMENDED_CUSTOMERS:
            out.unavailable = f"Only {baskets.n_customers} customer(s) bought products: too few "
            out.unavailable += f"to learn from (at least {MIN_RECOMMENDED_CUSTOMERS} are needed)."
        else:
            progress("fitting the recommender")  # on the baskets already read
            model = Recommender().fit(baskets, load_catalogue(tables, baskets))
            lists = model.recommend(k=k)
    except InputError as exc:
        out.unavailable = f"{exc.message} {exc.fix or ''}".strip()
    if out.unavailable:
        return out
    history, truth = baskets.split_last(1)
    n = baskets.n_items
    seen = np.isin(truth.customer * n + truth.item, history.customer * n + history.item)
    out.observed_repeat_ratio = float(seen.mean()) if seen.size else None
    out.observed_customers = int(np.unique(truth.customer).size)
    out.ranker, out.ranker_reason = model.ranker_.method, model.ranker_.reason
    out.customers = int(lists["customer_id"].nunique())
    frame = lists.assign(buy_again=lists["reason"] == "buy_again")
    out.reasons = {r: int((frame["reason"] == r).sum()) for r in REASONS}
    out.repeat_ratio = float(frame["buy_again"].mean()) if len(frame) else None
    who = segments.to_pyarrow().to_pandas().dropna(subset=["segment"])
    rows = frame.merge(who, on="customer_id")
    per = rows.groupby("segment").agg(
        recommended_customers=("customer_id", "nunique"),
        recommendations=("product_id", "size"),
        buy_again=("buy_again", "sum"),
    )
    per = who.groupby("segment").size().rename("customers").to_frame().join(per)
    per = per.fillna(0).astype("int64").reset_index()
    ratio = per["buy_again"] / per["recommendations"].where(per["recommendations"] > 0)
    per["repeat_ratio"] = ratio.astype(object).where(ratio.notna(), None)
    per = per.sort_values(["customers", "segment"], ascending=[False, True])
    out.segments = per.reset_index(drop=True)
    top = rows.groupby(["segment", "product_id"]).size().rename("customers").reset_index()
    top = top.sort_values(["segment", "customers", "product_id"], ascending=[True, False, True])
    top["rank"] = top.groupby("segment").cumcount() + 1
    top = top[top["rank"] <= TOP_PRODUCTS].merge(per[["segment", "recommended_customers"]])
    top["share"] = top["customers"] / top.pop("recommended_customers")
    products = tables["products"].select("product_id", "name", "category")
    names = products.filter(products.product_id.isin(sorted(set(top["product_id"]))))
    top = top.merge(names.to_pyarrow().to_pandas().drop_duplicates("product_id"), how="left")
    columns = ["segment", "rank", "product_id", "name", "category", "customers", "share"]
    out.top_products = top[columns].reset_index(drop=True)
    return out

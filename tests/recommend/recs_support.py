"""Hand-built baskets for the recommender tests."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta

import ibis.expr.types as ir
import pandas as pd

from regulars import Workspace
from regulars.recommend.baskets import Baskets

TABLE_NAMES = ("orders", "order_lines", "products", "refunds", "customers")

AS_OF = date(2025, 6, 30)


def baskets_of(orders: dict[str, list[tuple[int, list[str]]]], as_of: date = AS_OF) -> Baskets:
    """Build baskets from {customer: [(days before as_of, [product ids]), ...]}."""
    rows = []
    end = datetime.combine(as_of, datetime.min.time(), tzinfo=UTC) + timedelta(hours=12)
    for customer, baskets in orders.items():
        for n, (days_ago, items) in enumerate(baskets):
            for item in items:
                rows.append(
                    {
                        "customer_id": customer,
                        "order_id": f"{customer}-{n}",
                        "ordered_at": end - timedelta(days=days_ago),
                        "product_id": item,
                        "spend": 10.0,
                    }
                )
    return Baskets.from_frame(pd.DataFrame(rows), as_of=as_of)


def tables_of(ws: Workspace) -> Mapping[str, ir.Table]:
    """Return the canonical tables of a workspace, on one connection."""
    con = ws.connect()
    return {name: ws.table(name, con) for name in TABLE_NAMES}

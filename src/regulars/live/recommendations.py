"""The products to show one customer, as the API serves them.

They are computed with the rest of the customer table by ``regulars score`` (the learned
recommender of :mod:`regulars.recommend`) and read from the latest complete version. A
customer that version does not know (new since, or never bought) gets the store's best
sellers of the last 90 days, as the recommender's own fallback does.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from regulars.store import UnitOfWork
from regulars.store.tables import ORDER_LINES, ORDERS

__all__ = ["POPULAR_DAYS", "customer_recommendations", "popular_products"]

POPULAR_DAYS = 90


def popular_products(uow: UnitOfWork, *, k: int, days: int = POPULAR_DAYS) -> list[str]:
    """Return the ``k`` products in the most orders of the last ``days`` days of sales."""
    conn = uow.connection
    last = conn.execute(sa.select(sa.func.max(ORDERS.c.ordered_at))).scalar_one()
    if last is None:
        return []
    since = last - timedelta(days=days)
    orders = sa.func.count(sa.distinct(ORDER_LINES.c.order_id))
    rows = conn.execute(
        sa.select(ORDER_LINES.c.product_id, orders.label("orders"))
        .join(ORDERS, ORDERS.c.order_id == ORDER_LINES.c.order_id)
        .where(ORDERS.c.ordered_at >= since, ORDERS.c.status != "cancelled")
        .group_by(ORDER_LINES.c.product_id)
        .order_by(orders.desc(), ORDER_LINES.c.product_id)
        .limit(k)
    )
    return [r.product_id for r in rows]


def customer_recommendations(uow: UnitOfWork, customer_id: str, *, k: int = 10) -> dict[str, Any]:
    """Return up to ``k`` products for the customer, best first, each with its reason.

    Keys: ``customer_id``, ``as_of`` (of the scores used, ``None`` for the live fallback),
    ``source`` (``scores`` or ``popular``) and ``items`` (``rank``, ``product_id``,
    ``score``, ``reason``).
    """
    version = uow.scores.latest_complete_version()
    score = None if version is None else uow.scores.score(customer_id, version_id=version.id)
    listed = [] if score is None else list((score.extra or {}).get("recommendations") or [])
    if listed and version is not None:
        items = [
            {
                "rank": rank,
                "product_id": str(item["product_id"]),
                "score": item.get("score"),
                "reason": item.get("reason"),
            }
            for rank, item in enumerate(listed[:k], start=1)
        ]
        return {
            "customer_id": customer_id,
            "as_of": version.as_of.isoformat(),
            "source": "scores",
            "items": items,
        }
    popular = popular_products(uow, k=k)
    return {
        "customer_id": customer_id,
        "as_of": None,
        "source": "popular",
        "items": [
            {"rank": rank, "product_id": product, "score": None, "reason": "popular"}
            for rank, product in enumerate(popular, start=1)
        ],
    }

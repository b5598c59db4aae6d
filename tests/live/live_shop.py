"""Send a simulated shop through the store's repositories (a realistic operational store)."""

from __future__ import annotations

import json
from typing import Any

from regulars.store import Database, Order, OrderLine, Refund, to_minor

EVENTS_SENT = 400


def fill_store(database: Database, shop: dict[str, list[dict[str, Any]]]) -> dict[str, str]:
    """Send the shop's customers, orders, refunds and some events to the store.

    Returns the store's customer id of each simulated customer id.
    """
    lines: dict[str, list[OrderLine]] = {}
    for line in shop["order_lines"]:
        currency = "USD"
        lines.setdefault(line["order_id"], []).append(
            OrderLine(
                line["line_no"],
                line["product_id"],
                line["quantity"],
                to_minor(line["unit_price"], currency),
                to_minor(line["line_total"], currency),
                sku=line["sku"],
                name=line["name"],
                category=line["category"],
            )
        )
    ids: dict[str, str] = {}
    with database.unit_of_work() as uow:
        for row in shop["customers"]:
            customer = uow.customers.resolve(email=row["email"], external_id=row["customer_id"])
            traits = {
                "country": row["country"],
                "city": row["city"],
                "gender": row["gender"],
                "birthday": row["birthday"].isoformat() if row["birthday"] else None,
            }
            uow.customers.update_profile(
                customer.customer.id, first_name=row["first_name"], traits=traits
            )
            ids[row["customer_id"]] = customer.customer.id
        for row in shop["orders"]:
            cur = row["currency"]
            uow.orders.upsert(
                Order(
                    row["order_id"],
                    ids[row["customer_id"]] if row["customer_id"] else None,
                    row["ordered_at"],
                    cur,
                    subtotal=to_minor(row["subtotal"], cur),
                    total=to_minor(row["total"], cur),
                    discount_total=to_minor(row["discount_total"], cur),
                    shipping_total=to_minor(row["shipping_total"], cur),
                    tax_total=to_minor(row["tax_total"], cur),
                    status=row["status"],
                    lines=tuple(lines.get(row["order_id"], ())),
                    discount_codes=tuple(row["discount_codes"] or ()),
                    channel=row["channel"],
                    source_name=row["source_name"],
                )
            )
        for row in shop["refunds"]:
            cur = row["currency"]
            uow.orders.upsert_refund(
                Refund(
                    row["refund_id"],
                    row["order_id"],
                    row["refunded_at"],
                    to_minor(row["amount"], cur),
                    cur,
                    reason=row["reason"],
                    lines=tuple(
                        {**x, "amount": to_minor(x["amount"], cur)} for x in row["lines"] or ()
                    ),
                )
            )
        for row in shop["events"][:EVENTS_SENT]:
            kind = "identify" if row["type"] == "identify" else "track"
            message: dict[str, Any] = {
                "messageId": row["event_id"],
                "type": kind,
                "userId": row["customer_id"],
                "anonymousId": row["anonymous_id"],
                "timestamp": row["occurred_at"].isoformat(),
            }
            if kind == "track":
                message["event"] = row["type"]
            props = row["properties"]
            if props:
                message["traits" if kind == "identify" else "properties"] = json.loads(props)
            uow.events.record(message)
    return ids

"""The simulator's output is a valid canonical import source: schemas, keys and invariants."""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
from simulate_support import OBSERVATION_END, START_TS, Store

from regulars.schema import ORDER_STATUSES, TABLES
from regulars.simulate.writer import CATEGORY_AFFINITY_SCHEMA, TRUTH_SCHEMA


@pytest.mark.parametrize("name", list(TABLES))
def test_schemas_are_exactly_the_canonical_ones(small_store: Store, name: str) -> None:
    schema = pq.read_schema(small_store.path / f"{name}.parquet")
    assert schema.equals(TABLES[name].arrow_schema, check_metadata=True)


def test_truth_schema(small_store: Store) -> None:
    schema = pq.read_schema(small_store.path / "truth" / "customers.parquet")
    assert schema.equals(TRUTH_SCHEMA, check_metadata=True)
    schema = pq.read_schema(small_store.path / "truth" / "category_affinity.parquet")
    assert schema.equals(CATEGORY_AFFINITY_SCHEMA, check_metadata=True)
    for field in (*TRUTH_SCHEMA, *CATEGORY_AFFINITY_SCHEMA):
        assert field.metadata[b"doc"], field.name


def test_manifest_counts_the_rows(small_store: Store) -> None:
    manifest = json.loads((small_store.path / "manifest.json").read_text())
    assert manifest["format"] == "regulars-canonical"
    assert manifest["version"] == 1
    assert manifest["generator"] == "regulars simulate"
    assert manifest["seed"] == 11
    assert manifest["customers"] == 3000
    for name in TABLES:
        rows = pq.ParquetFile(small_store.path / f"{name}.parquet").metadata.num_rows
        assert manifest["counts"][name] == rows, name
    assert manifest["counts"]["customers"] == 3000


def test_params_json(small_store: Store) -> None:
    params = json.loads((small_store.path / "truth" / "params.json").read_text())
    assert params["model"] == "BG/NBD"
    assert (params["r"], params["alpha"], params["a"], params["b"]) == (0.3, 20.0, 0.8, 2.5)
    assert params["horizon_days"] == 365
    assert (params["start"], params["end"]) == ("2024-01-01", "2025-12-31")
    assert params["observation_end"] == "2026-01-01T00:00:00Z"
    assert params["seed"] == 11
    assert params["parameters"]["currency"] == "USD"


def test_orders_invariants(small_store: Store) -> None:
    orders = small_store.table("orders")
    lines = small_store.table("order_lines")
    assert orders.order_id.is_unique
    assert set(orders.status) <= set(ORDER_STATUSES)
    assert set(orders.status) == set(ORDER_STATUSES)  # every status occurs
    assert set(orders.currency) == {"USD"}
    assert str(orders.ordered_at.dt.tz) == "UTC"
    assert orders.ordered_at.min() >= START_TS
    assert orders.ordered_at.max() < OBSERVATION_END
    money = ["subtotal", "discount_total", "shipping_total", "tax_total", "total"]
    assert all(isinstance(v, Decimal) for v in orders[money].to_numpy().ravel())
    assert (
        orders.total
        == orders.subtotal - orders.discount_total + orders.shipping_total + orders.tax_total
    ).all()
    assert (orders[money] >= 0).all().all()

    assert set(lines.order_id) == set(orders.order_id)  # every order has lines, no orphans
    assert (lines.quantity > 0).all()
    assert (lines.line_total == lines.quantity.map(Decimal) * lines.unit_price).all()
    assert all(v == v.quantize(Decimal("0.01")) for v in lines.unit_price)
    line_no = lines.groupby("order_id").line_no.agg(["min", "max", "count", "nunique"])
    assert (line_no["min"] == 1).all()
    assert (line_no["max"] == line_no["count"]).all()
    assert (line_no["nunique"] == line_no["count"]).all()
    subtotal = lines.groupby("order_id").line_total.sum()
    assert (orders.set_index("order_id").subtotal == subtotal.reindex(orders.order_id)).all()
    assert not lines.duplicated(["order_id", "product_id"]).any()

    products = small_store.table("products")
    assert set(lines.product_id) <= set(products.product_id)


def test_customers_and_guests(small_store: Store) -> None:
    customers = small_store.table("customers")
    orders = small_store.table("orders")
    assert customers.customer_id.is_unique
    assert len(customers) == 3000
    known = orders.customer_id.dropna()
    assert set(known) == set(customers.customer_id)  # every customer bought, ids all known
    guests = orders.customer_id.isna()
    assert 0.03 < guests.mean() < 0.15
    # Customer ids follow arrival (first purchase) order, across chunks.
    truth = small_store.truth()
    assert (truth.customer_id == customers.customer_id).all()
    assert truth.first_purchase_at.is_monotonic_increasing
    first = orders.dropna(subset=["customer_id"]).groupby("customer_id").ordered_at.min()
    created = customers.created_at.to_numpy()
    assert (created < first.reindex(customers.customer_id).to_numpy()).all()
    assert customers.created_at.min() >= START_TS
    assert customers.email.notna().mean() > 0.98
    assert customers.email.dropna().is_unique
    assert (customers.email.dropna() == customers.email.dropna().str.lower()).all()
    assert 0.2 < customers.birthday.isna().mean() < 0.6
    assert 0.05 < customers.gender.isna().mean() < 0.3
    assert {"female", "male"} <= set(customers.gender.dropna())
    assert customers.country.nunique() >= 5 and customers.city.notna().all()
    for column in ("accepts_email_marketing", "accepts_sms_marketing"):
        assert 0.05 < customers[column].mean() < 0.8


def test_products(small_store: Store) -> None:
    products = small_store.table("products")
    assert products.product_id.is_unique
    assert set(products.category) == {"coffee", "tea", "snacks", "kitchen", "apparel", "gifts"}
    assert 1 <= (~products.active).sum() <= 10
    assert all(p == p.quantize(Decimal("0.01")) and p > 0 for p in products.price)
    assert (products.sku != products.product_id).all()
    # Discontinued products were sold, but only before their end.
    lines = small_store.table("order_lines").merge(
        small_store.table("orders")[["order_id", "ordered_at"]]
    )
    retired = set(products.product_id[~products.active])
    assert retired & set(lines.product_id)
    last_sale = lines[lines.product_id.isin(retired)].ordered_at.max()
    assert last_sale < OBSERVATION_END - pd.Timedelta(days=60)


def test_discount_codes(small_store: Store) -> None:
    orders = small_store.table("orders")
    codes = orders.discount_codes.map(list)
    assert (
        (codes.map(len) > 0) == (orders.discount_total > 0) | codes.map(lambda c: c == ["FREESHIP"])
    ).all()
    firsts = (
        orders.dropna(subset=["customer_id"])
        .sort_values("ordered_at")
        .groupby("customer_id")
        .head(1)
    )
    welcome = codes[firsts.index].map(lambda c: c == ["WELCOME10"])
    share, n = welcome.mean(), len(firsts)
    assert abs(share - 0.35) < 4 * np.sqrt(0.35 * 0.65 / n)
    assert not codes.drop(firsts.index).map(lambda c: "WELCOME10" in c).any()
    used = welcome[welcome].index
    ten_percent = orders.subtotal[used].map(
        lambda v: (v * Decimal("0.1")).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    )
    assert (orders.discount_total[used] == ten_percent).all()
    assert {"FREESHIP", "SPRING15", "THANKYOU5"} <= set(codes.explode().dropna())


def test_refunds(small_store: Store) -> None:
    orders = small_store.table("orders").set_index("order_id")
    refunds = small_store.table("refunds")
    assert refunds.refund_id.is_unique
    assert refunds.order_id.is_unique  # one refund per order
    refunded = orders.loc[refunds.order_id]
    assert (refunds.amount.values > 0).all()
    assert (refunds.amount.values <= refunded.total.values).all()
    assert (refunds.refunded_at.values > refunded.ordered_at.values).all()
    assert refunds.refunded_at.max() < OBSERVATION_END
    assert set(refunds.currency) == {"USD"}
    full = refunds.amount.values == refunded.total.values
    assert (refunded.status[full] == "refunded").all()
    assert (refunded.status[~full] == "partially_refunded").all()
    assert set(orders.index[orders.status.isin(["refunded", "partially_refunded"])]) == set(
        refunds.order_id
    )
    assert not orders.loc[orders.status == "cancelled"].index.isin(refunds.order_id).any()
    share = len(refunds) / (orders.status != "cancelled").sum()
    assert 0.02 < share < 0.06
    lines = refunds.explode("lines").lines
    assert lines.map(lambda x: x["quantity"] > 0 and x["amount"] > 0).all()


def test_cancelled_orders(small_store: Store) -> None:
    orders = small_store.table("orders")
    cancelled = orders.status == "cancelled"
    n = len(orders)
    assert abs(cancelled.mean() - 0.02) < 4 * np.sqrt(0.02 * 0.98 / n) + 0.002


def test_order_lines_csv(small_store: Store) -> None:
    path = small_store.path / "order_lines.csv"
    header = path.read_text().splitlines()[0]
    assert header.split(",") == [
        "order_id",
        "customer_id",
        "ordered_at",
        "product_id",
        "quantity",
        "unit_price",
        "category",
        "name",
        "currency",
        "status",
    ]
    csv = pcsv.read_csv(
        path, convert_options=pcsv.ConvertOptions(strings_can_be_null=True)
    ).to_pandas()
    expected = small_store.table("order_lines").merge(small_store.table("orders"), on="order_id")
    assert len(csv) == len(expected)
    assert (csv.order_id.values == expected.order_id.values).all()
    assert (csv.customer_id.isna().values == expected.customer_id.isna().values).all()
    assert (csv.customer_id.dropna().values == expected.customer_id.dropna().values).all()
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert raw.ordered_at.str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ").all()
    assert (pd.to_datetime(raw.ordered_at, utc=True).values == expected.ordered_at.values).all()
    assert raw.unit_price.str.fullmatch(r"\d+\.\d\d").all()
    assert (raw.unit_price.map(Decimal).values == expected.unit_price.values).all()
    assert (csv.quantity.values == expected.quantity.values).all()
    assert (csv.status.values == expected.status.values).all()
    assert set(csv.currency) == {"USD"}


def test_events(small_store: Store) -> None:
    events = small_store.table("events")
    orders = small_store.table("orders")
    customers = small_store.table("customers").set_index("customer_id")
    assert events.event_id.is_unique
    assert events.event_id.str.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    ).all()
    assert set(events.type) == {
        "identify",
        "Product Viewed",
        "Product Added",
        "Cart Viewed",
        "Checkout Started",
        "Order Completed",
    }
    assert events.occurred_at.min() >= START_TS
    assert events.occurred_at.max() < OBSERVATION_END
    assert events.anonymous_id.notna().all()
    props = events.properties.map(json.loads)

    identify = events[events.type == "identify"]
    assert len(identify) == len(customers)
    assert (
        identify.occurred_at.values == customers.created_at.reindex(identify.customer_id).values
    ).all()

    known = events.dropna(subset=["customer_id"])
    assert set(known.customer_id) <= set(customers.index)
    assert (
        known.occurred_at.values >= customers.created_at.reindex(known.customer_id).values
    ).all()

    completed = events[events.type == "Order Completed"]
    done = props[completed.index]
    by_order = pd.DataFrame(
        {
            "order_id": done.map(lambda p: p["order_id"]),
            "total": done.map(lambda p: Decimal(str(p["total"]))),
            "occurred_at": completed.occurred_at.values,
            "products": done.map(
                lambda p: sorted((x["product_id"], x["quantity"]) for x in p["products"])
            ),
            "customer_id": completed.customer_id.values,
        }
    ).set_index("order_id")
    assert by_order.index.is_unique
    assert set(by_order.index) == set(orders.order_id)
    o = orders.set_index("order_id").loc[by_order.index]
    assert (by_order.total.values == o.total.values).all()
    assert (by_order.occurred_at.values == o.ordered_at.values).all()
    assert (by_order.customer_id.isna().values == o.customer_id.isna().values).all()
    lines = small_store.table("order_lines")
    bought = lines.groupby("order_id").apply(
        lambda g: sorted(zip(g.product_id, g.quantity, strict=True)), include_groups=False
    )
    assert (by_order.products == bought.reindex(by_order.index)).all()

    # Segment spec fields.
    viewed = props[events.type == "Product Viewed"].iloc[0]
    assert {"product_id", "sku", "category", "name", "price", "currency"} <= set(viewed)
    added = props[events.type == "Product Added"].iloc[0]
    assert {"cart_id", "product_id", "sku", "category", "name", "price", "quantity"} <= set(added)
    order_props = done.iloc[0]
    assert {
        "order_id",
        "total",
        "revenue",
        "shipping",
        "tax",
        "discount",
        "currency",
        "products",
    } <= set(order_props)

    # Abandonment: carts and checkouts that never became orders.
    cart = props.map(lambda p: p.get("cart_id"))
    ordered_carts = set(cart[completed.index])
    added_carts = set(cart[events.type == "Product Added"])
    checkout_carts = set(cart[events.type == "Checkout Started"])
    assert len(added_carts - ordered_carts) > 0.2 * len(ordered_carts)
    assert len(checkout_carts - ordered_carts) > 0.02 * len(ordered_carts)
    assert ordered_carts <= checkout_carts
    # Anonymous visitors: sessions without a customer and without an order.
    anonymous = events[events.customer_id.isna() & (events.type == "Product Viewed")]
    assert anonymous.anonymous_id.nunique() > 0.3 * len(customers)

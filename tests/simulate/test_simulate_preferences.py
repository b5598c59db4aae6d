"""The true preferences in ``truth/``: staples and category affinities, and what they drove."""

from __future__ import annotations

import numpy as np
import pandas as pd
from simulate_support import Store

from regulars.simulate.catalogue import CATEGORIES

CYCLE_DAYS = {c.name: c.cycle_days for c in CATEGORIES}


def _bought_orders(store: Store) -> pd.DataFrame:
    """Non-cancelled orders of registered customers, in time order per customer."""
    orders = store.table("orders")
    bought = orders[(orders.status != "cancelled") & orders.customer_id.notna()]
    return bought.sort_values(["customer_id", "ordered_at"])


def test_staples_are_active_consumables(small_store: Store) -> None:
    truth = small_store.truth()
    products = small_store.table("products").set_index("product_id")
    assert truth.staple_product_id.isin(products.index).all()
    staples = products.loc[truth.staple_product_id]
    assert staples.active.all()
    cycle = staples.category.map(CYCLE_DAYS).to_numpy()
    assert (cycle > 0).all()
    assert (truth.staple_cycle_days.to_numpy() == cycle).all()
    assert truth.staple_product_id.nunique() > 5  # not everyone shares one staple


def test_category_affinity_is_a_distribution_per_customer(small_store: Store) -> None:
    affinity = small_store.affinity()
    truth = small_store.truth()
    # Every customer has rows, grouped and in the order of truth/customers.parquet.
    assert (affinity.customer_id.drop_duplicates().to_numpy() == truth.customer_id).all()
    assert affinity.customer_id.is_monotonic_increasing
    assert not affinity.duplicated(["customer_id", "category"]).any()
    assert (affinity.affinity > 0).all()
    sums = affinity.groupby("customer_id", sort=False).affinity.sum()
    assert np.allclose(sums.to_numpy(), 1.0, rtol=0, atol=1e-12)
    # The categories are the products' categories, spelled the same.
    products = small_store.table("products")
    assert set(affinity.category) == set(products.category) == set(CYCLE_DAYS)
    # Population mean near the category shares (Dirichlet mean), each within 4 s.e.
    wide = affinity.pivot(index="customer_id", columns="category", values="affinity").fillna(0)
    shares = pd.Series({c.name: c.share for c in CATEGORIES})
    se = wide.std() / np.sqrt(len(wide))
    assert ((wide.mean() - shares).abs() < 4 * se).all(), (wide.mean(), shares)


def test_affinity_drove_the_baskets(large_store: Store) -> None:
    """Customers with many lines buy each category in proportion to their true affinity."""
    lines = large_store.table("order_lines")[["order_id", "category"]]
    orders = large_store.table("orders")[["order_id", "customer_id"]].dropna()
    lines = lines.merge(orders)
    per_customer = lines.groupby("customer_id").size()
    heavy = per_customer.index[per_customer >= 20]
    assert len(heavy) > 300
    observed = pd.crosstab(lines.customer_id, lines.category, normalize="index").reindex(heavy)
    affinity = large_store.affinity()
    true = affinity.pivot(index="customer_id", columns="category", values="affinity")
    true = true.reindex(index=heavy, columns=observed.columns).fillna(0)
    for category in observed.columns:  # across customers, one category at a time
        r = np.corrcoef(true[category], observed[category])[0, 1]
        assert r > 0.8, (category, r)
    # Customer by customer, the observed category mix follows the true one.
    within = [np.corrcoef(true.loc[c], observed.loc[c])[0, 1] for c in heavy]
    assert np.median(within) > 0.9
    # And not another customer's affinity: shuffled, the link disappears.
    shuffled = true.sample(frac=1.0, random_state=0)
    r_shuffled = np.corrcoef(shuffled["coffee"], observed["coffee"])[0, 1]
    assert abs(r_shuffled) < 0.2


def test_staple_is_the_most_bought_product(large_store: Store) -> None:
    orders = _bought_orders(large_store)
    per_customer = orders.groupby("customer_id").size()
    heavy = per_customer.index[per_customer >= 10]
    assert len(heavy) > 300
    lines = large_store.table("order_lines")[["order_id", "product_id"]]
    lines = lines.merge(orders[orders.customer_id.isin(heavy)][["order_id", "customer_id"]])
    counts = lines.groupby(["customer_id", "product_id"]).size().unstack(fill_value=0)
    staple = large_store.truth().set_index("customer_id").staple_product_id.reindex(counts.index)
    column = counts.columns.get_indexer(staple)
    assert (column >= 0).all()
    table = counts.to_numpy()
    rows = np.arange(len(table))
    staple_orders = table[rows, column].copy()
    table[rows, column] = -1
    top_other = table.max(axis=1)
    n_orders = per_customer.reindex(counts.index).to_numpy()
    # The staple is in more orders than any other product for most heavy customers, and on
    # average in far more of their orders than their favourite other product.
    assert (staple_orders > top_other).mean() > 0.75
    assert (staple_orders / n_orders).mean() > 1.5 * (top_other / n_orders).mean()


def test_staple_is_rebought_near_its_cycle(large_store: Store) -> None:
    """The staple is in an order far more often when the gap since the last is near its cycle."""
    orders = _bought_orders(large_store)[["order_id", "customer_id", "ordered_at"]]
    previous = orders.groupby("customer_id").ordered_at.shift()
    orders = orders.assign(gap=(orders.ordered_at - previous).dt.total_seconds() / 86400)
    orders = orders.dropna(subset=["gap"])
    truth = large_store.truth().set_index("customer_id")
    orders = orders.join(truth[["staple_product_id", "staple_cycle_days"]], on="customer_id")
    lines = large_store.table("order_lines")[["order_id", "product_id"]]
    with_staple = lines.merge(
        orders[["order_id", "staple_product_id"]],
        left_on=["order_id", "product_id"],
        right_on=["order_id", "staple_product_id"],
    )
    orders["staple"] = orders.order_id.isin(with_staple.order_id)
    ratio = orders.gap / orders.staple_cycle_days
    near = orders.staple[(ratio > 0.8) & (ratio < 1.25)]
    far = orders.staple[(ratio < 0.2) | (ratio > 5)]
    assert near.size > 1000 and far.size > 1000
    se = np.sqrt(near.var() / near.size + far.var() / far.size)
    assert near.mean() - far.mean() > 4 * se
    assert near.mean() > 2 * far.mean()

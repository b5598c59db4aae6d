"""Storefront events in the Segment e-commerce spec: browsing, carts, checkouts and orders.

Sessions come in three kinds:

- one converting session per order: ``Product Viewed`` (the bought products and a few more),
  ``Product Added`` per line, ``Cart Viewed``, ``Checkout Started``, ``Order Completed``
  (at the order's time, with its ``order_id``, totals and ``products[]``);
- abandoned sessions of customers, while they are active (they stop about a month after
  dropping out), each reaching the product page, the cart, the cart page or the checkout;
- sessions of anonymous visitors who never buy.

Events before a customer's account exists carry only the ``anonymous_id``; the account is
created with an ``identify`` call just before the first order. Event ids are deterministic
UUID-shaped ``messageId``s, numbered across the store.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from regulars.simulate.baskets import draw_items
from regulars.simulate.catalogue import CATEGORIES, Catalogue
from regulars.simulate.customers import CustomerBatch
from regulars.simulate.orders import OrderBatch
from regulars.simulate.parameters import Period, StoreParameters
from regulars.simulate.purchases import Purchases
from regulars.simulate.seasonality import Seasonality

__all__ = [
    "EVENT_TYPES",
    "KEY_CUSTOMER",
    "KEY_EVENT",
    "KEY_GUEST",
    "KEY_VISITOR",
    "SessionPlan",
    "plan_sessions",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

EVENT_TYPES = (
    "identify",
    "Product Viewed",
    "Product Added",
    "Cart Viewed",
    "Checkout Started",
    "Order Completed",
)
"""The event types written, in their order within a session."""

KEY_EVENT = 0x6576656E74
"""Key of event ids (``messageId``)."""
KEY_CART = 0x63617274
"""Key of cart ids."""
KEY_CUSTOMER = 0x637573746F6D6572
"""Key of the anonymous ids of customers."""
KEY_GUEST = 0x6775657374
"""Key of the anonymous ids of guests."""
KEY_VISITOR = 0x76697369746F72
"""Key of the anonymous ids of visitors."""

_CUSTOMER, _GUEST, _VISITOR = 0, 1, 2
_ABANDONED_STAGE_P = np.array([0.55, 0.25, 0.08, 0.12])  # views, cart, cart page, checkout
_MAX_QUANTITY = 10


@dataclass(frozen=True)
class SessionPlan:
    """Sessions of a chunk, sorted by start, with their items and event times.

    Parameters
    ----------
    kind
        Owner kind of each session: 0 customer, 1 guest, 2 visitor.
    owner
        Chunk-local index of the owner (customer, guest or visitor).
    stage
        Furthest step reached: 0 product page, 1 added to cart, 2 cart page, 3 checkout,
        4 order completed.
    order
        Order index of a converting session, else -1.
    cart_seconds, checkout_seconds, completed_seconds
        Times of the session-level events (seconds since the start).
    item_session, item_product, item_quantity, item_added
        Session, product, units and whether added to the cart, of each viewed item (grouped
        by session).
    view_seconds, add_seconds
        Times of each item's ``Product Viewed`` and ``Product Added`` events.
    n_visitors
        Number of anonymous visitors in the chunk.
    """

    kind: IntArray
    owner: IntArray
    stage: IntArray
    order: IntArray
    cart_seconds: IntArray
    checkout_seconds: IntArray
    completed_seconds: IntArray
    item_session: IntArray
    item_product: IntArray
    item_quantity: IntArray
    item_added: BoolArray
    view_seconds: IntArray
    add_seconds: IntArray
    n_visitors: int

    @property
    def size(self) -> int:
        """Number of sessions."""
        return int(self.kind.size)


def _segment_cumsum(values: FloatArray, group: IntArray) -> FloatArray:
    """Cumulative sums restarting at each group (``group`` sorted)."""
    total = np.cumsum(values)
    starts = np.flatnonzero(np.concatenate(([True], group[1:] != group[:-1])))
    counts = np.diff(np.append(starts, group.size))
    return total - np.repeat(total[starts] - values[starts], counts)


def _shares(n: int) -> FloatArray:
    shares = np.array([c.share for c in CATEGORIES])
    return np.broadcast_to(shares / shares.sum(), (n, shares.size)).copy()


def plan_sessions(
    rng: np.random.Generator,
    *,
    customers: CustomerBatch,
    purchases: Purchases,
    orders: OrderBatch,
    catalogue: Catalogue,
    params: StoreParameters,
    period: Period,
    season: Seasonality,
) -> SessionPlan:
    """Plan the sessions of a chunk: who, when, which products, how far they got.

    Parameters
    ----------
    rng
        Random generator of the chunk's events.
    customers
        The chunk's customers.
    purchases
        Their purchases (the dropout time bounds their browsing).
    orders
        The chunk's orders (one converting session each).
    catalogue
        The catalogue.
    params
        Population parameters (abandoned sessions per purchase, visitors per customer).
    period
        The simulated period.
    season
        The store's seasonality.

    Returns
    -------
    SessionPlan
        The sessions.
    """
    end = float(period.observed_days)
    n = customers.size
    # Abandoned sessions of customers, while active (and a month after dropping out).
    active_until = np.where(np.isnan(purchases.dropout_time), end, purchases.dropout_time + 30)
    w0 = season.operational_time(np.maximum(customers.first_time - 21, 0))
    w1 = season.operational_time(np.minimum(active_until, end))
    mean = params.browse_sessions_per_purchase * customers.rate * np.maximum(w1 - w0, 0)
    per_customer = rng.poisson(mean)
    browsing = np.repeat(np.arange(n, dtype=np.int64), per_customer)
    browse_u = w0[browsing] + rng.random(browsing.size) * (w1 - w0)[browsing]
    browse_time = season.calendar_time(browse_u)
    n_visitors = int(rng.poisson(params.visitors_per_customer * n))
    visit_time = season.arrival_times(rng.random(n_visitors), end, params.acquisition_growth)

    n_orders = orders.size
    n_other = browsing.size + n_visitors
    # Sessions in order of their (approximate) start: orders, then the others.
    start_time = np.concatenate((orders.time, browse_time, visit_time))
    sort = np.argsort(start_time, kind="stable")
    start_time = start_time[sort]
    kind = np.concatenate(
        (
            np.where(orders.customer >= 0, _CUSTOMER, _GUEST),
            np.full(browsing.size, _CUSTOMER),
            np.full(n_visitors, _VISITOR),
        )
    )[sort]
    owner = np.concatenate(
        (
            np.where(orders.customer >= 0, orders.customer, orders.guest),
            browsing,
            np.arange(n_visitors, dtype=np.int64),
        )
    )[sort]
    stage = np.concatenate(
        (np.full(n_orders, 4), rng.choice(4, size=n_other, p=_ABANDONED_STAGE_P))
    )[sort]
    order = np.concatenate((np.arange(n_orders), np.full(n_other, -1)))[sort]
    del browsing, browse_time, visit_time
    position = np.empty(sort.size, dtype=np.int64)  # the session of each order: position[o]
    position[sort] = np.arange(sort.size)
    day = np.minimum(start_time.astype(np.int64), period.observed_days - 1)

    # Items: the order's lines and extra views in converting sessions, draws in the others.
    # Affinity rows: the chunk's customers, then the population's shares (guests, visitors).
    affinity = np.concatenate((customers.affinity, _shares(1)))
    buyer = np.where(kind == _CUSTOMER, owner, n)
    extra_views = np.where(
        order >= 0, rng.poisson(0.6, stage.size), 1 + rng.poisson(0.7, stage.size)
    )
    drawn_session, drawn_product = draw_items(
        rng,
        catalogue,
        affinity=affinity,
        owner=buyer,
        gift_season=season.gift_season,
        day=day,
        draws=extra_views,
    )
    del buyer, extra_views
    lines = orders.lines
    session = np.concatenate((position[lines.basket], drawn_session))
    product = np.concatenate((lines.product, drawn_product))
    bought = np.zeros(session.size, dtype=np.bool_)
    bought[: lines.size] = True
    quantity = np.concatenate(
        (lines.quantity, rng.choice(np.array([1, 2]), size=drawn_session.size, p=[0.85, 0.15]))
    )
    del drawn_session, drawn_product
    # One item per (session, product); a bought line wins over an extra view of its product.
    rank = np.lexsort((~bought, product, session))
    session, product, bought, quantity = session[rank], product[rank], bought[rank], quantity[rank]
    del rank
    keep = np.ones(session.size, dtype=np.bool_)
    keep[1:] = (session[1:] != session[:-1]) | (product[1:] != product[:-1])
    session, product, bought, quantity = session[keep], product[keep], bought[keep], quantity[keep]
    del keep
    added = np.where(order[session] >= 0, bought, stage[session] >= 1)
    del bought

    # Timing, as offsets in seconds from the session's first event.
    view_gap = rng.uniform(20, 240, session.size)
    add_gap = np.where(added, rng.uniform(5, 60, session.size), 0.0)
    step = view_gap + add_gap
    view_offset = _segment_cumsum(step, session) - step
    add_offset = view_offset + add_gap
    del view_gap, add_gap, step
    last_item = np.cumsum(np.bincount(session, minlength=stage.size)) - 1
    item_end = add_offset[last_item]
    cart_offset = item_end + rng.uniform(10, 120, stage.size)
    checkout_offset = cart_offset + rng.uniform(20, 180, stage.size)
    completed_offset = checkout_offset + rng.uniform(60, 400, stage.size)
    last_offset = np.select(
        [stage <= 1, stage == 2, stage == 3],
        [item_end, cart_offset, checkout_offset],
        completed_offset,
    )
    end_seconds = period.observed_days * 86400
    order_seconds = orders.seconds[np.maximum(order, 0)]
    begin = np.where(
        order >= 0,
        order_seconds - completed_offset,
        np.minimum(start_time * 86400, end_seconds - 1 - last_offset),
    )

    def at(offset: FloatArray, index: IntArray | None = None) -> IntArray:
        base = begin if index is None else begin[index]
        seconds: IntArray = np.clip(np.floor(base + offset), 0, end_seconds - 1).astype(np.int64)
        return seconds

    return SessionPlan(
        kind=kind,
        owner=owner,
        stage=stage,
        order=order,
        cart_seconds=at(cart_offset),
        checkout_seconds=at(checkout_offset),
        completed_seconds=np.where(order >= 0, order_seconds, at(completed_offset)),
        item_session=session,
        item_product=product,
        item_quantity=np.minimum(quantity, _MAX_QUANTITY - 1),
        item_added=added,
        view_seconds=at(view_offset, session),
        add_seconds=at(add_offset, session),
        n_visitors=n_visitors,
    )

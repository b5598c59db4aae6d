"""Ingesting the single messages of many requests at once (the service's group commit).

:func:`ingest_group` gives every message the result :func:`~regulars.live.ingest.ingest`
would give it, in the caller's transaction, but stores the common ones set-based::

    with database.unit_of_work() as uow:
        outcomes = ingest_group(uow, messages)   # Ingested, or the error of that message

The messages of a group come from concurrent requests, so any order of them is one the
requests could have arrived in; the results are those of one such order.

1. Every message is validated; an invalid one gets its :class:`~regulars.errors.InputError`
   and nothing of it is written.
2. The *plain* messages are stored in one multi-row ``INSERT ... ON CONFLICT DO NOTHING``:
   a ``track``, ``page`` or ``screen`` message that changes no identity and no stored
   order (an ``Order Completed`` of a known customer with a new, valid order is plain: its
   order and lines go in with one insert each, after one query for the orders stored), i.e.

   - with a ``userId`` and/or email whose identities (its ``anonymousId`` too) all belong
     to one live customer already (who has an email when the message gives one), or
   - with only an ``anonymousId``: it belongs to that id's live owner, or to nobody yet. Its
     anonymous-id lock is taken first, as a single message's is, so an identify linking
     the id meanwhile either attaches it or is seen.

   The identities and their owners are read, and the owners locked (``FOR KEY SHARE`` on
   PostgreSQL, so no merge of them can commit meanwhile), in one query.
3. Every other message (identify, alias, the other order events, an order already stored
   or with an error, a new customer or anonymous id, a ``messageId`` twice in the group, a
   replay: one the insert did not store) goes through
   :func:`~regulars.live.ingest.ingest`'s own path, a savepoint each.

A known customer's ``Product Viewed`` thus costs a share of the group's 2-3 statements
(the anonymous-id locks when the group has anonymous events, the owners, the insert)
instead of 8 statements of its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from regulars.errors import RegularsError
from regulars.live.ingest import Ingested, _ingest, _Message, _parse
from regulars.live.segment_orders import ORDER_COMPLETED, _order, apply_order_event
from regulars.store import Event, Order, UnitOfWork
from regulars.store.identities import live_owners, lock_anonymous_ids
from regulars.store.orders import check_order

__all__ = ["PLAIN_TYPES", "ingest_group"]

PLAIN_TYPES = frozenset({"track", "page", "screen"})
"""The message types that may be stored set-based (no order change but a new order)."""

Outcome = Ingested | RegularsError


def ingest_group(uow: UnitOfWork, messages: Sequence[Mapping[str, Any]]) -> list[Outcome]:
    """Ingest many single messages in the caller's transaction; one outcome per message.

    Parameters
    ----------
    uow
        The caller's unit of work; nothing is committed here.
    messages
        Messages as :func:`~regulars.live.ingest.ingest` takes them.

    Returns
    -------
    list
        In the order given: what :func:`~regulars.live.ingest.ingest` returns for the
        message, or the :class:`~regulars.errors.RegularsError` it raises (that message
        then left nothing written).
    """
    outcomes: list[Outcome | None] = [None] * len(messages)
    parsed: dict[int, _Message] = {}
    for index, message in enumerate(messages):
        try:
            parsed[index] = _parse(message)
        except RegularsError as err:
            outcomes[index] = err
    first_of: dict[str, int] = {}
    for index, one in parsed.items():
        first_of.setdefault(one.message_id, index)
    plain = {i: parsed[i] for i in first_of.values() if _is_plain(parsed[i])}
    for index, result in _store_plain(uow, plain).items():
        outcomes[index] = result
    for index, one in parsed.items():
        if outcomes[index] is None:
            try:
                outcomes[index] = _ingest(uow, one)
            except RegularsError as err:
                outcomes[index] = err
    return [outcome for outcome in outcomes if outcome is not None]


def _is_plain(message: _Message) -> bool:
    if message.type not in PLAIN_TYPES:
        return False
    return message.order is None or (message.order.event == ORDER_COMPLETED and _known(message))


def _known(message: _Message) -> bool:
    """Whether the message names a customer (not only a browser)."""
    return message.user_id is not None or message.email is not None


def _identities(message: _Message) -> list[tuple[str, str]]:
    pairs = (
        ("external_id", message.user_id),
        ("email", message.email),
        ("anonymous_id", message.anonymous_id),
    )
    return [(kind, value) for kind, value in pairs if value is not None]


def _store_plain(uow: UnitOfWork, plain: Mapping[int, _Message]) -> dict[int, Ingested]:
    """Store the plain messages whose customer is already known; return their results."""
    if not plain:
        return {}
    conn = uow.connection
    lock_anonymous_ids(
        conn, [m.anonymous_id for m in plain.values() if m.anonymous_id and not _known(m)]
    )
    wanted = sorted({pair for m in plain.values() for pair in _identities(m)})
    writing = uow.backend == "postgresql" and not uow.read_only
    owned = live_owners(conn, wanted, lock=writing)
    chosen: dict[int, str | None] = {}
    for index, message in plain.items():
        if not _known(message):
            anonymous = message.anonymous_id
            found = None if anonymous is None else owned.get(("anonymous_id", anonymous))
            if found is None or found[1]:  # nobody's yet, or a live customer's
                chosen[index] = None if found is None else found[0]
            continue
        found_all = [owned.get(pair) for pair in _identities(message)]
        first = found_all[0]
        if first is None or any(found != first for found in found_all):
            continue  # an identity nobody has yet, or two owners: one by one
        if first[1] and (first[2] or message.email is None):  # live, with an email if given
            chosen[index] = first[0]
    orders = _new_orders(uow, {i: plain[i] for i in chosen}, chosen)
    chosen = {i: owner for i, owner in chosen.items() if plain[i].order is None or i in orders}
    events = uow.events.record_new([(plain[i].raw, owner) for i, owner in chosen.items()])
    stored = {i: events[plain[i].message_id] for i in chosen if plain[i].message_id in events}
    _store_orders(uow, {i: (plain[i], orders[i], stored[i]) for i in orders if i in stored})
    return {
        index: Ingested(
            message_id=event.message_id,
            event_id=event.id,
            type=event.type,
            event=event.event,
            customer_id=chosen[index],
            created=True,
            order_id=None if plain[index].order is None else orders[index].order_id,
        )
        for index, event in stored.items()
    }


def _new_orders(
    uow: UnitOfWork, messages: Mapping[int, _Message], owners: Mapping[int, str | None]
) -> dict[int, Order]:
    """Return the orders of the ``Order Completed`` messages that create a valid new order.

    An order already stored (an update), twice in the group, or with an error is left to
    the one-by-one path, which updates it or raises the error for its message alone.
    """
    made: dict[int, Order] = {}
    for index, message in messages.items():
        change = message.order
        if change is None:
            continue
        try:  # the time is the stored event's; this one only lets the checks run
            order = _order(change, None, owners[index], datetime.now(UTC))
            check_order(order)
        except RegularsError:
            continue
        made[index] = order
    stored = uow.orders.stored_ids([order.order_id for order in made.values()])
    firsts: dict[str, int] = {}
    for index, order in made.items():
        if order.order_id not in stored:
            firsts.setdefault(order.order_id, index)
    return {index: made[index] for index in firsts.values()}


def _store_orders(uow: UnitOfWork, orders: Mapping[int, tuple[_Message, Order, Event]]) -> None:
    """Insert the new orders at their events' times; one stored meanwhile is updated."""
    timed = [replace(order, ordered_at=event.occurred_at) for _, order, event in orders.values()]
    inserted = uow.orders.insert_new(timed)
    for message, order, event in orders.values():
        if order.order_id not in inserted and message.order is not None:
            apply_order_event(uow, message.order, customer_id=order.customer_id,
                              at=event.occurred_at)  # fmt: skip

"""Ingesting Segment messages: one use case behind ``/v1/track``, ``/v1/identify``, ``/v1/batch``.

::

    with database.unit_of_work() as uow:
        result = ingest(uow, {"messageId": "m-1", "type": "identify", "userId": "shop-42",
                              "anonymousId": "a-9", "traits": {"email": "ann@example.com"}})
    result.customer_id        # 'cus_...'

What a message does (Segment spec fields in quotes):

- Every message is stored once, by ``messageId`` (the payload is the message as received).
  A replay, later or concurrent, changes nothing and returns the first delivery's result.
- ``identify``: the customer of ``userId`` (an external id) and/or ``traits.email`` is
  found or created (two records holding them are merged); ``anonymousId`` is linked to
  them, which attaches their earlier anonymous events; the profile takes ``traits.email``,
  ``first_name``/``firstName`` (else the first word of ``name``), ``last_name``/
  ``lastName`` and ``phone``; every other trait goes into the customer's traits (a
  trait set to null is removed). Without ``userId`` nor ``traits.email`` the event is
  stored and belongs to the owner of its ``anonymousId`` if known: an anonymous id alone
  never creates a customer nor changes a profile (a shared computer is not a person).
- ``track``, ``page``, ``screen``, ``group``: the customer of ``userId`` and/or
  ``context.traits.email`` (for order events ``properties.email`` first) is found or
  created and ``anonymousId`` linked; with only an ``anonymousId`` the event belongs to
  its owner if known, else to nobody until an identify (or an order) ties the id to a
  customer. Order events write orders and refunds (:mod:`regulars.live.segment_orders`);
  other events (Product Viewed, Cart Viewed, Email Opened, ...) are stored as events only.
- ``alias``: ``previousId`` joins the customer of ``userId``: as an anonymous id, or, when
  it is another customer's external id, by merging the two records (into the older one).

Everything happens in the caller's unit of work and is never committed here. Each message
runs in a savepoint: an error (an :class:`~regulars.errors.InputError` whose ``column`` is
the dotted path of the field, e.g. ``properties.products[2].price``) leaves nothing of that
message written, and a delivery that loses a race to a concurrent one of the same message
leaves nothing either and returns the winner's result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from regulars.errors import InputError
from regulars.live._fields import at, json_problem, mapping, relocated, text
from regulars.live.segment_orders import (
    OrderChange,
    apply_order_event,
    order_event,
    order_id_of,
    parse_order_event,
)
from regulars.store import Event, UnitOfWork
from regulars.store.customers import normalize_identity
from regulars.store.events import SEGMENT_TYPES, parse_timestamp
from regulars.store.types import check_text

__all__ = ["Ingested", "ingest", "ingest_batch"]

_PROFILE_KEYS = frozenset(("email", "first_name", "firstName", "last_name", "lastName", "phone"))


@dataclass(frozen=True)
class Ingested:
    """What ingesting one message did.

    Attributes
    ----------
    message_id
        The message's ``messageId``.
    event_id
        The id of the stored event.
    type
        The Segment call: track, identify, page, screen, group or alias.
    event
        The track event's name (``None`` for other calls).
    customer_id
        The live customer the event belongs to (``None``: anonymous and not yet known).
    created
        ``False`` for a replay: the other fields then describe the first delivery (the
        customer as it is now, after merges and links).
    order_id
        The order created, updated, cancelled or refunded by the event.
    """

    message_id: str
    event_id: int
    type: str
    event: str | None
    customer_id: str | None
    created: bool
    order_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the result as a JSON-ready dict (the service's response body)."""
        return {
            "message_id": self.message_id,
            "event_id": self.event_id,
            "type": self.type,
            "event": self.event,
            "customer_id": self.customer_id,
            "created": self.created,
            "order_id": self.order_id,
        }


@dataclass(frozen=True)
class _Profile:
    email: str | None
    first_name: str | None
    last_name: str | None
    phone: str | None
    traits: Mapping[str, Any]


@dataclass(frozen=True)
class _Message:
    """A message validated without the store: what ingesting it will do."""

    raw: Mapping[str, Any]
    message_id: str
    type: str
    user_id: str | None
    anonymous_id: str | None
    email: str | None
    profile: _Profile | None = None
    previous_id: str | None = None
    order: OrderChange | None = None


def ingest(uow: UnitOfWork, message: Mapping[str, Any]) -> Ingested:
    """Ingest one Segment message (track, identify, page, screen, group or alias).

    Parameters
    ----------
    uow
        The caller's unit of work; nothing is committed here.
    message
        The message as received: ``messageId`` (required, the deduplication key), ``type``
        (default ``track``), ``event`` (track), ``userId``, ``anonymousId``, ``timestamp``
        (ISO 8601, default the time of receipt), ``traits`` (identify), ``properties``
        (track; Segment e-commerce v2 for orders), ``context.traits.email``, ``previousId``
        (alias).

    Returns
    -------
    Ingested
        What was stored; for a replay (``created=False``), the first delivery's result.

    Raises
    ------
    InputError
        If a field is not valid; ``column`` is its dotted path (``traits.email``,
        ``properties.products[2].price``). Nothing of the message is then written.
    """
    return _ingest(uow, _parse(message))


def ingest_batch(uow: UnitOfWork, messages: Sequence[Mapping[str, Any]]) -> list[Ingested]:
    """Ingest the messages of a Segment ``batch`` call, in order, in the caller's transaction.

    Every message is validated before any is ingested, so a malformed message refuses the
    whole batch before anything is written. Errors that need the store (an order without
    a currency, a refund of an unknown order) show up while ingesting; the caller rolls the
    transaction back then (the service does), so a batch is written whole or not at all.
    A ``messageId`` repeated inside the batch is a replay of its first occurrence.

    Parameters
    ----------
    uow
        The caller's unit of work; nothing is committed here.
    messages
        The ``batch`` array: messages as :func:`ingest` takes them.

    Returns
    -------
    list[Ingested]
        One result per message, in order.

    Raises
    ------
    InputError
        If a message is not valid; ``column`` is prefixed with its index, e.g.
        ``batch[3].properties.total``.
    """
    if isinstance(messages, str | bytes | Mapping) or not isinstance(messages, Sequence):
        raise InputError(
            "A batch must be a list of messages.",
            column="batch",
            value=messages,
            expected="a JSON array of Segment messages",
        )
    parsed = []
    for index, message in enumerate(messages):
        try:
            parsed.append(_parse(message))
        except InputError as err:
            raise _in_batch(err, index) from None
    results = []
    for index, one in enumerate(parsed):
        try:
            results.append(_ingest(uow, one))
        except InputError as err:
            raise _in_batch(err, index) from None
    return results


def _in_batch(err: InputError, index: int) -> InputError:
    where = f"batch[{index}]"
    return relocated(err, where if err.column is None else f"{where}.{err.column}")


# ---- validating, without the store ---------------------------------------------------


def _parse(message: Any) -> _Message:
    if not isinstance(message, Mapping):
        raise InputError(
            "A message must be a JSON object.", value=message, expected="a Segment message"
        )
    if (bad := json_problem(message)) is not None:
        raise InputError(
            f"{bad} cannot be stored as JSON.",
            column=bad,
            expected="JSON values only (finite numbers, texts, lists, objects)",
        )
    message_id = check_text(message.get("messageId"), field="messageId", max_length=255)
    raw_type = message.get("type") or "track"
    kind = raw_type.strip().lower() if isinstance(raw_type, str) else ""
    if kind not in SEGMENT_TYPES:
        raise InputError(
            "Unknown Segment message type.",
            column="type",
            value=raw_type,
            expected=f"one of {', '.join(SEGMENT_TYPES)}",
        )
    name = text(message.get("event"), "event", max_length=200)
    if kind == "track" and name is None:
        raise InputError(
            "A track message needs an event name.",
            column="event",
            expected="an event name such as 'Order Completed'",
        )
    if message.get("timestamp") is not None:
        parse_timestamp(message["timestamp"])  # the error names `timestamp`
    parsed = _Message(
        raw=message,
        message_id=message_id,
        type=kind,
        user_id=_identity(message.get("userId"), "external_id", "userId"),
        anonymous_id=_identity(message.get("anonymousId"), "anonymous_id", "anonymousId"),
        email=None,
    )
    if kind == "identify":
        traits = mapping(message.get("traits"), "traits")
        profile = _profile(traits)
        return _with(parsed, email=profile.email, profile=profile)
    if kind == "alias":
        previous = _identity(message.get("previousId"), "anonymous_id", "previousId")
        return _with(parsed, previous_id=previous)
    context_traits = mapping(
        mapping(message.get("context"), "context").get("traits"), "context.traits"
    )
    email = _email(context_traits.get("email"), "context.traits.email")
    order_name = order_event(name) if kind == "track" else None
    if order_name is None:
        return _with(parsed, email=email)
    properties = mapping(message.get("properties"), "properties")
    order = parse_order_event(order_name, properties, message_id=message_id)
    return _with(parsed, email=_email(properties.get("email"), "properties.email") or email,
                 order=order)  # fmt: skip


def _with(message: _Message, **changes: Any) -> _Message:
    return _Message(**{**message.__dict__, **changes})


def _identity(value: Any, kind: str, path: str) -> str | None:
    if value is None or value == "":
        return None
    with at(path):
        return normalize_identity(kind, value)


def _email(value: Any, path: str) -> str | None:
    return _identity(value, "email", path)


def _first(traits: Mapping[str, Any], *keys: str) -> tuple[Any, str]:
    """Return the first present trait among ``keys`` and its path."""
    for key in keys:
        if traits.get(key) not in (None, ""):
            return traits[key], f"traits.{key}"
    return None, f"traits.{keys[0]}"


def _profile(traits: Mapping[str, Any]) -> _Profile:
    first_name = text(*_first(traits, "first_name", "firstName"), max_length=200)
    if first_name is None and isinstance(traits.get("name"), str) and traits["name"].split():
        first_name = text(traits["name"].split()[0], "traits.name", max_length=200)
    return _Profile(
        email=_email(traits.get("email"), "traits.email"),
        first_name=first_name,
        last_name=text(*_first(traits, "last_name", "lastName"), max_length=200),
        phone=text(traits.get("phone"), "traits.phone", max_length=50),
        traits={k: v for k, v in traits.items() if k not in _PROFILE_KEYS},
    )


# ---- writing ---------------------------------------------------------------------------


def _ingest(uow: UnitOfWork, message: _Message) -> Ingested:
    first = uow.events.get(message.message_id)
    if first is not None:
        return _replay(uow, first)
    savepoint = uow.connection.begin_nested()
    try:
        done = _apply(uow, message)
    except BaseException:
        savepoint.rollback()
        raise
    if done is None:  # a concurrent delivery of the same message committed first
        savepoint.rollback()
        winner = uow.events.get(message.message_id)
        assert winner is not None, "the event that won the race is committed"
        return _replay(uow, winner)
    savepoint.commit()
    return done


def _result(
    uow: UnitOfWork,
    event: Event,
    *,
    created: bool,
    order_id: str | None,
    canonical: bool = False,
) -> Ingested:
    """Return what became of the stored ``event`` (its customer as of now, after merges).

    ``canonical``: the event's customer is known to be the live record (it was read in
    this transaction and nothing merged it since), so it is not read again.
    """
    owner = event.customer_id
    if owner is not None and not canonical:
        owner = uow.customers.canonical_id(owner)
    return Ingested(
        message_id=event.message_id,
        event_id=event.id,
        type=event.type,
        event=event.event,
        customer_id=owner,
        created=created,
        order_id=order_id,
    )


def _replay(uow: UnitOfWork, event: Event) -> Ingested:
    return _result(uow, event, created=False, order_id=order_id_of(event.payload))


def _apply(uow: UnitOfWork, message: _Message) -> Ingested | None:
    """Write the message; ``None`` when another delivery of it was stored meanwhile."""
    customers = uow.customers
    customer_id = None
    if message.user_id is not None or message.email is not None:
        found = customers.resolve(email=message.email, external_id=message.user_id)
        customer_id = found.customer.id
    # The event is written before anything else the message changes: a concurrent
    # delivery of the same message waits here for the first one, then changes nothing.
    event, created = uow.events.record(message.raw, customer_id=customer_id, canonical=True)
    if not created:
        return None
    if customer_id is not None:
        if message.anonymous_id is not None:
            customers.link_anonymous_id(customer_id, message.anonymous_id, canonical=True)
        if message.profile is not None:
            profile = message.profile
            customers.update_profile(
                customer_id,
                email=profile.email,
                first_name=profile.first_name,
                last_name=profile.last_name,
                phone=profile.phone,
                traits=profile.traits or None,
            )
        if message.previous_id is not None:
            _alias(uow, customer_id, message.previous_id)
    order_id = None
    if message.order is not None:
        order_id = apply_order_event(
            uow, message.order, customer_id=event.customer_id, at=event.occurred_at
        )
    # Only an alias merges records; otherwise the event's customer is still the live one
    # (resolved above, or the owner of its anonymous id found live when it was stored).
    canonical = message.previous_id is None
    return _result(uow, event, created=True, order_id=order_id, canonical=canonical)


def _alias(uow: UnitOfWork, customer_id: str, previous_id: str) -> None:
    """Join ``previousId`` to the customer: another customer's external id merges them."""
    customers = uow.customers
    other = customers.find("external_id", previous_id)
    if other is None:
        customers.link_anonymous_id(customer_id, previous_id)
        return
    this = customers.require(customer_id)
    if other.id != this.id:
        survivor, loser = sorted((this, other), key=lambda c: (c.created_at, c.id))
        customers.merge(survivor.id, loser.id)

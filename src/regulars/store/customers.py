"""Customers and their identities: find-or-create by any identity, link, merge.

A customer is recognised by any of its identities: an email (lower-cased), an external
id (the shop's customer id, Segment's ``userId``) or an anonymous id (Segment's
``anonymousId``). Each identity belongs to one customer at most.

- :meth:`CustomerRepository.resolve` finds the customer of an email or external id, creates
  one when none is known, and merges the records when the identities given belong to
  different customers (the same person, seen twice).
- An anonymous id never creates nor merges customers (a shared computer is not a person):
  it is linked to the first customer it is seen with, and that customer's earlier
  anonymous events are attached to them.
- :meth:`CustomerRepository.merge` moves every order, event, identity and consent of one
  record to another in the unit of work's transaction; the emptied record keeps only a
  pointer (``merged_into``) so that its old id still finds the survivor.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from regulars.errors import InputError
from regulars.store._sql import insert_ignore
from regulars.store.errors import ConflictError, NotFoundError
from regulars.store.records import Customer, Identity, Resolution
from regulars.store.tables import (
    CONSENTS,
    CUSTOMER_IDENTITIES,
    CUSTOMER_SCORES,
    CUSTOMERS,
    EVENTS,
    IDENTITY_KINDS,
    ORDERS,
)
from regulars.store.types import check_text, new_id, optional_text
from regulars.store.uow import Repository

__all__ = ["PROFILE_FIELDS", "CustomerRepository", "normalize_identity"]

PROFILE_FIELDS = ("email", "first_name", "last_name", "phone")
"""The personal columns of a customer record (besides ``traits``)."""

_MAX_MERGE_HOPS = 16
_ANONYMOUS_LOCK_SPACE = 0x616E6F6E  # "anon": the first key of the anonymous-id locks


def normalize_identity(kind: str, value: Any) -> str:
    """Return the stored form of an identity (emails lower-cased, text stripped).

    Raises
    ------
    InputError
        If ``kind`` is unknown or ``value`` is not a valid identity of that kind.
    """
    if kind not in IDENTITY_KINDS:
        raise InputError(
            "Unknown identity kind.",
            value=kind,
            expected=f"one of {', '.join(IDENTITY_KINDS)}",
        )
    if kind == "email":
        email = check_text(value, field="email", max_length=320).lower()
        local, _, domain = email.partition("@")
        if not local or not domain or " " in email:
            raise InputError("Not an email address.", column="email", value=value)
        return email
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # Segment allows numeric user ids
    return check_text(value, field=kind, max_length=255)


def _customer(row: Any) -> Customer:
    return Customer(
        id=row.id,
        email=row.email,
        first_name=row.first_name,
        last_name=row.last_name,
        phone=row.phone,
        traits=dict(row.traits or {}),
        created_at=row.created_at,
        updated_at=row.updated_at,
        merged_into=row.merged_into,
        merged_at=row.merged_at,
        erased_at=row.erased_at,
    )


class CustomerRepository(Repository):
    """Customer records and the identities that recognise them."""

    # ---- reading -------------------------------------------------------------------

    def get(self, customer_id: str, *, follow_merges: bool = True) -> Customer | None:
        """Return the customer ``customer_id`` (its survivor if it was merged), or ``None``.

        In a writing transaction on PostgreSQL the records read are locked ``FOR KEY
        SHARE`` until it ends: a concurrent merge waits for it, so the event, order or
        identity it then writes for the customer is moved by that merge instead of being
        left on the merged record (and a merge that committed first is seen and followed).
        """
        return self._get(customer_id, follow_merges=follow_merges, lock=self._share_lock())

    def _get(self, customer_id: str, *, follow_merges: bool, lock: str | None) -> Customer | None:
        row = self._row(customer_id, lock)
        hops = 0
        while follow_merges and row is not None and row.merged_into is not None:
            hops += 1
            if hops > _MAX_MERGE_HOPS:
                raise ConflictError(f"Customer {customer_id} has a loop of merges.")
            row = self._row(row.merged_into, lock)
        return None if row is None else _customer(row)

    def require(self, customer_id: str) -> Customer:
        """Return the customer as :meth:`get` does.

        Raises
        ------
        NotFoundError
            If there is no such customer.
        """
        customer = self.get(customer_id)
        if customer is None:
            raise NotFoundError(f"There is no customer with id {customer_id!r}.")
        return customer

    def canonical_id(self, customer_id: str) -> str:
        """Return the id of the live record for ``customer_id`` (after merges)."""
        return self.require(customer_id).id

    def find(self, kind: str, value: Any) -> Customer | None:
        """Return the customer an identity belongs to, or ``None``."""
        owner = self._owner(kind, normalize_identity(kind, value))
        return None if owner is None else self.get(owner)

    def identities(self, customer_id: str) -> list[Identity]:
        """Return every identity of the customer, oldest first."""
        rows = self._conn.execute(
            sa.select(CUSTOMER_IDENTITIES)
            .where(CUSTOMER_IDENTITIES.c.customer_id == self.canonical_id(customer_id))
            .order_by(CUSTOMER_IDENTITIES.c.id)
        )
        return [Identity(r.kind, r.value, r.customer_id, r.created_at) for r in rows]

    def merged_ids(self, customer_id: str) -> list[str]:
        """Return the ids of the records merged into the customer."""
        rows = self._conn.execute(
            sa.select(CUSTOMERS.c.id)
            .where(CUSTOMERS.c.merged_into == self.canonical_id(customer_id))
            .order_by(CUSTOMERS.c.id)
        )
        return [r.id for r in rows]

    # ---- writing -------------------------------------------------------------------

    def create(
        self,
        *,
        email: str | None = None,
        external_id: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        phone: str | None = None,
        traits: Mapping[str, Any] | None = None,
    ) -> Customer:
        """Create a customer with the given profile and identities.

        Raises
        ------
        ConflictError
            If the email or external id already belongs to a customer (use :meth:`resolve`).
        """
        stored_email = None if email is None else normalize_identity("email", email)
        customer_id = self._insert_customer(email=stored_email)
        for kind, value in (("email", stored_email), ("external_id", external_id)):
            if value is not None:
                self.add_identity(customer_id, kind, value)
        return self.update_profile(
            customer_id, first_name=first_name, last_name=last_name, phone=phone, traits=traits
        )

    def resolve(
        self,
        *,
        email: str | None = None,
        external_id: str | None = None,
        anonymous_id: str | None = None,
    ) -> Resolution:
        """Find the customer of an email or external id, or create one.

        Identities not yet known are added to the customer found. When the email and the
        external id belong to two different customers, those records are merged into the
        older one. An anonymous id is linked as :meth:`link_anonymous_id` does.

        Raises
        ------
        InputError
            If neither an email nor an external id is given.
        """
        wanted = [
            (kind, normalize_identity(kind, value))
            for kind, value in (("email", email), ("external_id", external_id))
            if value is not None
        ]
        if not wanted:
            raise InputError(
                "A customer is resolved by an email or an external id; neither was given.",
                fix="Pass email= or external_id= (an anonymous id alone is linked later).",
            )
        owners = {o for kind, value in wanted if (o := self._owner(kind, value)) is not None}
        created = not owners
        merged: list[str] = []
        if created:
            survivor = self._insert_customer(email=email and normalize_identity("email", email))
        else:
            survivor, losers = self._oldest(owners)
            for loser in losers:
                self.merge(survivor, loser)
                merged.append(loser)
        for kind, value in wanted:
            if self._insert_identity(survivor, kind, value):
                continue
            owner = self._owner(kind, value)  # another transaction took it meanwhile
            if owner is None or self.canonical_id(owner) == survivor:
                continue
            if created:  # our new record lost the race: fold it into the existing one
                self.merge(self.canonical_id(owner), survivor, drop_loser=True)
                survivor, created = self.canonical_id(owner), False
            else:
                survivor, losers = self._oldest({survivor, owner})
                for loser in losers:
                    self.merge(survivor, loser)
                    merged.append(loser)
        if email is not None:
            self._fill_email(survivor, normalize_identity("email", email))
        if anonymous_id is not None:
            self.link_anonymous_id(survivor, anonymous_id)
        return Resolution(self.require(survivor), created=created, merged=tuple(merged))

    def add_identity(self, customer_id: str, kind: str, value: Any) -> bool:
        """Give the customer an identity; return whether it is new.

        Raises
        ------
        ConflictError
            If the identity belongs to another customer.
        """
        target = self.canonical_id(customer_id)
        stored = normalize_identity(kind, value)
        if self._insert_identity(target, kind, stored):
            return True
        owner = self._owner(kind, stored)
        if owner is not None and self.canonical_id(owner) != target:
            raise ConflictError(
                f"The {kind} {stored!r} belongs to customer {owner}, not {target}.",
                fix="Merge the two customers if they are the same person.",
            )
        return False

    def link_anonymous_id(self, customer_id: str, anonymous_id: Any) -> int:
        """Tie an anonymous id to the customer and attach its unlinked events to them.

        Returns
        -------
        int
            How many events were attached; 0 when the anonymous id already belongs to
            another customer (the first customer seen with it keeps it).
        """
        target = self.canonical_id(customer_id)
        stored = normalize_identity("anonymous_id", anonymous_id)
        self.lock_anonymous_id(stored)
        self._insert_identity(target, "anonymous_id", stored)
        owner = self._owner("anonymous_id", stored)
        if owner is None or self.canonical_id(owner) != target:
            return 0
        result = self._conn.execute(
            sa.update(EVENTS)
            .where(EVENTS.c.anonymous_id == stored, EVENTS.c.customer_id.is_(None))
            .values(customer_id=target)
        )
        return int(result.rowcount)

    def lock_anonymous_id(self, anonymous_id: str) -> None:
        """Hold the anonymous id (a stored value) until the transaction ends (PostgreSQL).

        Linking an anonymous id and storing an event that looks up its owner take this
        lock first, so they never interleave: an anonymous event stored while an identify
        links its id is either attached by that identify or finds the new owner itself.
        (SQLite runs one writer at a time: nothing to do.) The lock is an advisory lock in
        the two-key space, which never meets the migrations' single-key one.
        """
        if self._uow.backend == "postgresql":
            self._conn.execute(
                sa.text("SELECT pg_advisory_xact_lock(:space, hashtext(:value))"),
                {"space": _ANONYMOUS_LOCK_SPACE, "value": anonymous_id},
            )

    def update_profile(
        self,
        customer_id: str,
        *,
        email: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        phone: str | None = None,
        traits: Mapping[str, Any] | None = None,
    ) -> Customer:
        """Set the given profile fields (``None`` leaves a field as it is).

        A new email becomes the customer's email and one more identity; ``traits`` are
        merged into the stored ones (a key set to ``None`` is removed).
        """
        # Locked until the transaction ends: concurrent updates of one profile (traits are
        # read, merged and written back) run one after the other, and none is lost.
        current = self._get(customer_id, follow_merges=True, lock=self._update_lock())
        if current is None:
            raise NotFoundError(f"There is no customer with id {customer_id!r}.")
        if current.erased_at is not None:
            raise ConflictError(f"Customer {current.id} was erased; it has no profile.")
        values: dict[str, Any] = {}
        if email is not None:
            values["email"] = normalize_identity("email", email)
            self.add_identity(current.id, "email", values["email"])
        for field, value, limit in (
            ("first_name", first_name, 200),
            ("last_name", last_name, 200),
            ("phone", phone, 50),
        ):
            if value is not None:
                values[field] = optional_text(value, field=field, max_length=limit)
        if traits:
            merged_traits = {**current.traits, **traits}
            values["traits"] = {k: v for k, v in merged_traits.items() if v is not None}
        if values:
            values["updated_at"] = self._now()
            self._conn.execute(
                sa.update(CUSTOMERS).where(CUSTOMERS.c.id == current.id).values(**values)
            )
        return self.require(current.id)

    def merge(self, survivor_id: str, loser_id: str, *, drop_loser: bool = False) -> Customer:
        """Merge the record ``loser_id`` into ``survivor_id``; return the survivor.

        Every order, event, identity and consent of the loser moves to the survivor; the
        survivor's empty profile fields are filled from the loser's, and traits are merged
        (the survivor's win). The loser's scores are dropped (the next scoring run counts
        its orders under the survivor). The loser keeps no personal data, only
        ``merged_into`` (or is deleted with ``drop_loser``).

        Raises
        ------
        NotFoundError
            If either customer does not exist.
        ConflictError
            If either was erased.
        """
        survivor, loser = self.canonical_id(survivor_id), self.canonical_id(loser_id)
        if survivor == loser:
            return self.require(survivor)
        rows = {
            r.id: r
            for r in self._conn.execute(
                sa.select(CUSTOMERS)
                .where(CUSTOMERS.c.id.in_(sorted((survivor, loser))))
                .order_by(CUSTOMERS.c.id)
                .with_for_update()
            )
        }
        if rows[survivor].erased_at is not None or rows[loser].erased_at is not None:
            raise ConflictError("An erased customer cannot be merged.")
        for table in (CUSTOMER_IDENTITIES, ORDERS, EVENTS, CONSENTS):
            self._conn.execute(
                sa.update(table).where(table.c.customer_id == loser).values(customer_id=survivor)
            )
        self._conn.execute(sa.delete(CUSTOMER_SCORES).where(CUSTOMER_SCORES.c.customer_id == loser))
        self._conn.execute(
            sa.update(CUSTOMERS)
            .where(CUSTOMERS.c.merged_into == loser)
            .values(merged_into=survivor)
        )
        now = self._now()
        keep, gone = rows[survivor], rows[loser]
        filled: dict[str, Any] = {f: getattr(gone, f) for f in PROFILE_FIELDS}
        filled.update({f: getattr(keep, f) for f in PROFILE_FIELDS if getattr(keep, f)})
        filled["traits"] = {**(gone.traits or {}), **(keep.traits or {})}
        filled["created_at"] = min(keep.created_at, gone.created_at)
        self._conn.execute(
            sa.update(CUSTOMERS).where(CUSTOMERS.c.id == survivor).values(**filled, updated_at=now)
        )
        if drop_loser:
            self._conn.execute(sa.delete(CUSTOMERS).where(CUSTOMERS.c.id == loser))
        else:
            emptied = dict.fromkeys(PROFILE_FIELDS)
            self._conn.execute(
                sa.update(CUSTOMERS)
                .where(CUSTOMERS.c.id == loser)
                .values(**emptied, traits={}, merged_into=survivor, merged_at=now, updated_at=now)
            )
        return self.require(survivor)

    # ---- helpers -------------------------------------------------------------------

    def _share_lock(self) -> str | None:
        writing = self._uow.backend == "postgresql" and not self._uow.read_only
        return "key share" if writing else None

    def _update_lock(self) -> str | None:
        return "no key update" if self._share_lock() else None

    def _row(self, customer_id: str, lock: str | None = None) -> Any:
        query = sa.select(CUSTOMERS).where(CUSTOMERS.c.id == customer_id)
        if lock == "key share":
            query = query.with_for_update(read=True, key_share=True)
        elif lock == "no key update":
            query = query.with_for_update(key_share=True)
        return self._conn.execute(query).first()

    def _owner(self, kind: str, value: str) -> str | None:
        owner = self._conn.execute(
            sa.select(CUSTOMER_IDENTITIES.c.customer_id).where(
                CUSTOMER_IDENTITIES.c.kind == kind, CUSTOMER_IDENTITIES.c.value == value
            )
        ).scalar_one_or_none()
        return None if owner is None else str(owner)

    def _oldest(self, ids: set[str]) -> tuple[str, list[str]]:
        live = {self.canonical_id(i) for i in ids}
        rows = self._conn.execute(
            sa.select(CUSTOMERS.c.id, CUSTOMERS.c.created_at).where(CUSTOMERS.c.id.in_(live))
        ).all()
        ordered = [r.id for r in sorted(rows, key=lambda r: (r.created_at, r.id))]
        return ordered[0], ordered[1:]

    def _insert_customer(self, *, email: str | None) -> str:
        now = self._now()
        customer_id = new_id("cus")
        self._conn.execute(
            sa.insert(CUSTOMERS).values(
                id=customer_id, email=email, traits={}, created_at=now, updated_at=now
            )
        )
        return customer_id

    def _insert_identity(self, customer_id: str, kind: str, value: str) -> bool:
        row = {"customer_id": customer_id, "kind": kind, "value": value, "created_at": self._now()}
        return insert_ignore(self._conn, CUSTOMER_IDENTITIES, row, ("kind", "value"))

    def _fill_email(self, customer_id: str, email: str) -> None:
        self._conn.execute(
            sa.update(CUSTOMERS)
            .where(CUSTOMERS.c.id == customer_id, CUSTOMERS.c.email.is_(None))
            .values(email=email, updated_at=self._now())
        )

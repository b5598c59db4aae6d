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
from regulars.store.errors import ConflictError, NotFoundError
from regulars.store.identities import (
    attach_anonymous_events,
    insert_identity,
    lock_anonymous_id,
    normalize_identity,
    owner_of,
    owners_of,
)
from regulars.store.records import Customer, Identity, Resolution
from regulars.store.tables import (
    CONSENTS,
    CUSTOMER_IDENTITIES,
    CUSTOMER_SCORES,
    CUSTOMERS,
    EVENTS,
    ORDERS,
)
from regulars.store.types import new_id, optional_text
from regulars.store.uow import Repository

__all__ = ["PROFILE_FIELDS", "CustomerRepository", "normalize_identity"]

PROFILE_FIELDS = ("email", "first_name", "last_name", "phone")
"""The personal columns of a customer record (besides ``traits``)."""

_MAX_MERGE_HOPS = 16


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
        owner = owner_of(self._conn, kind, normalize_identity(kind, value))
        return None if owner is None else self.get(owner)

    def identities(self, customer_id: str, *, canonical: bool = False) -> list[Identity]:
        """Return every identity of the customer, oldest first.

        ``canonical=True``: ``customer_id`` is known to be the live record (read in this
        transaction), so it is not looked up again.
        """
        target = customer_id if canonical else self.canonical_id(customer_id)
        rows = self._conn.execute(
            sa.select(CUSTOMER_IDENTITIES)
            .where(CUSTOMER_IDENTITIES.c.customer_id == target)
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
        customer_id = self._insert_customer(email=stored_email).id
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
        owned = owners_of(self._conn, wanted)
        if len(owned) == len(wanted) and len(set(owned.values())) == 1:
            known = self._known(next(iter(owned.values())), email=email is not None)
            if known is not None:  # every identity is already this live customer's
                if anonymous_id is not None:
                    self.link_anonymous_id(known.id, anonymous_id, canonical=True)
                return Resolution(known, created=False)
        owners = set(owned.values())
        created = not owners
        merged: list[str] = []
        fresh = None  # the record created here, while it is the survivor
        if created:
            fresh = self._insert_customer(email=email and normalize_identity("email", email))
            survivor = fresh.id
        else:
            survivor, losers = self._oldest(owners)
            for loser in losers:
                self.merge(survivor, loser)
                merged.append(loser)
        for kind, value in wanted:
            if insert_identity(self._conn, survivor, kind, value, at=self._now()):
                continue
            owner = owner_of(self._conn, kind, value)  # another transaction took it meanwhile
            if owner is None or self.canonical_id(owner) == survivor:
                continue
            if created:  # our new record lost the race: fold it into the existing one
                self.merge(self.canonical_id(owner), survivor, drop_loser=True)
                survivor, created, fresh = self.canonical_id(owner), False, None
            else:
                survivor, losers = self._oldest({survivor, owner})
                for loser in losers:
                    self.merge(survivor, loser)
                    merged.append(loser)
        if email is not None and fresh is None:  # a record created here has the email
            self._fill_email(survivor, normalize_identity("email", email))
        if anonymous_id is not None:
            self.link_anonymous_id(survivor, anonymous_id)
        customer = self.require(survivor) if fresh is None else _customer(fresh)
        return Resolution(customer, created=created, merged=tuple(merged))

    def add_identity(self, customer_id: str, kind: str, value: Any) -> bool:
        """Give the customer an identity; return whether it is new.

        Raises
        ------
        ConflictError
            If the identity belongs to another customer.
        """
        return self._add_identity(
            self.canonical_id(customer_id), kind, normalize_identity(kind, value)
        )

    def _add_identity(self, target: str, kind: str, stored: str) -> bool:
        """Give the live record ``target`` the identity ``stored`` (normalized)."""
        if kind == "anonymous_id":
            self.lock_anonymous_id(stored)
        owner = owner_of(self._conn, kind, stored)
        if owner is None and insert_identity(self._conn, target, kind, stored, at=self._now()):
            if kind == "anonymous_id":  # as a link does: its earlier events are the owner's
                attach_anonymous_events(self._conn, target, stored)
            return True
        if owner is None:
            owner = owner_of(self._conn, kind, stored)  # another transaction took it meanwhile
        if owner is not None and owner != target and self.canonical_id(owner) != target:
            raise ConflictError(
                f"The {kind} {stored!r} belongs to customer {owner}, not {target}.",
                fix="Merge the two customers if they are the same person.",
            )
        return False

    def link_anonymous_id(
        self, customer_id: str, anonymous_id: Any, *, canonical: bool = False
    ) -> int:
        """Tie an anonymous id to the customer and attach its unlinked events to them.

        The events are attached when the id becomes the customer's: an anonymous event
        stored later finds its owner itself, so linking an id the customer already has
        attaches nothing more.

        Parameters
        ----------
        customer_id
            The customer (any of its records' ids).
        anonymous_id
            The anonymous id to link.
        canonical
            Whether ``customer_id`` is already the live record's id, read in this
            transaction (as :meth:`resolve` returns it): it is then not read again.

        Returns
        -------
        int
            How many events were attached; 0 when the anonymous id already belongs to
            another customer (the first customer seen with it keeps it) or to this one.
        """
        target = customer_id if canonical else self.canonical_id(customer_id)
        stored = normalize_identity("anonymous_id", anonymous_id)
        self.lock_anonymous_id(stored)
        owner = owner_of(self._conn, "anonymous_id", stored)
        if owner == target:
            return 0  # linked before, under this lock: its events were attached then
        if owner is None and insert_identity(
            self._conn, target, "anonymous_id", stored, at=self._now()
        ):
            return attach_anonymous_events(self._conn, target, stored)
        if owner is None:
            owner = owner_of(self._conn, "anonymous_id", stored)
        if owner is None or self.canonical_id(owner) != target:
            return 0
        return attach_anonymous_events(self._conn, target, stored)

    def lock_anonymous_id(self, anonymous_id: str) -> None:
        """Hold the anonymous id (a stored value) until the transaction ends (PostgreSQL).

        Linking an anonymous id and storing an event that looks up its owner take this
        lock first, so they never interleave: an anonymous event stored while an identify
        links its id is either attached by that identify or finds the new owner itself.
        (SQLite runs one writer at a time: nothing to do.) The lock is an advisory lock in
        the two-key space, which never meets the migrations' single-key one.
        """
        lock_anonymous_id(self._conn, anonymous_id)

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
            self._add_identity(current.id, "email", values["email"])
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
        if not values:
            return current
        values["updated_at"] = self._now()
        updated = self._conn.execute(
            sa.update(CUSTOMERS)
            .where(CUSTOMERS.c.id == current.id)
            .values(**values)
            .returning(*CUSTOMERS.columns)
        ).one()
        return _customer(updated)

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

    def _known(self, owner: str, *, email: bool) -> Customer | None:
        """Return the owner if it is a live record (with an email if ``email``), else ``None``.

        The record is read (and locked) as :meth:`get` does; ``None`` sends :meth:`resolve`
        down its general path (a record merged or erased meanwhile, an email to fill in).
        """
        row = self._row(owner, self._share_lock())
        if row is None or row.merged_into is not None or row.erased_at is not None:
            return None
        return None if email and row.email is None else _customer(row)

    def _oldest(self, ids: set[str]) -> tuple[str, list[str]]:
        live = {self.canonical_id(i) for i in ids}
        rows = self._conn.execute(
            sa.select(CUSTOMERS.c.id, CUSTOMERS.c.created_at).where(CUSTOMERS.c.id.in_(live))
        ).all()
        ordered = [r.id for r in sorted(rows, key=lambda r: (r.created_at, r.id))]
        return ordered[0], ordered[1:]

    def _insert_customer(self, *, email: str | None) -> Any:
        now = self._now()
        return self._conn.execute(
            sa.insert(CUSTOMERS)
            .values(id=new_id("cus"), email=email, traits={}, created_at=now, updated_at=now)
            .returning(*CUSTOMERS.columns)
        ).one()

    def _fill_email(self, customer_id: str, email: str) -> None:
        self._conn.execute(
            sa.update(CUSTOMERS)
            .where(CUSTOMERS.c.id == customer_id, CUSTOMERS.c.email.is_(None))
            .values(email=email, updated_at=self._now())
        )

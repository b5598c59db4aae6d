"""The unit of work: one connection, one transaction, and the repositories over it.

::

    with database.unit_of_work() as uow:
        customer = uow.customers.resolve(email="ann@example.com").customer
        uow.orders.upsert(order)
    # committed here; an exception inside the block rolls everything back

Repositories never commit: the unit of work does, on leaving the block without an error
(or on :meth:`UnitOfWork.commit`). A read-only unit of work (``read_only=True``) takes no
write lock on SQLite and is refused writes on both backends; use it for reads so they never
queue behind a writer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

if TYPE_CHECKING:
    from regulars.store.api_keys import ApiKeyRepository
    from regulars.store.consents import ConsentRepository
    from regulars.store.customers import CustomerRepository
    from regulars.store.engine import Database
    from regulars.store.events import EventRepository
    from regulars.store.gdpr import PrivacyRepository
    from regulars.store.orders import OrderRepository
    from regulars.store.scores import ScoreRepository

__all__ = ["Repository", "UnitOfWork", "run_in_transaction"]

T = TypeVar("T")


class UnitOfWork:
    """One transaction on the operational store, with a repository per aggregate.

    Parameters
    ----------
    database
        The open store.
    read_only
        A transaction that only reads (no write lock; writes are refused).

    Attributes
    ----------
    api_keys, customers, events, orders, consents, scores, privacy
        The repositories, valid inside the ``with`` block.
    """

    api_keys: ApiKeyRepository
    customers: CustomerRepository
    events: EventRepository
    orders: OrderRepository
    consents: ConsentRepository
    scores: ScoreRepository
    privacy: PrivacyRepository

    def __init__(self, database: Database, *, read_only: bool = False) -> None:
        self.database = database
        self.read_only = read_only
        self._connection: Connection | None = None
        self._serialized = False

    @property
    def connection(self) -> Connection:
        """The connection of this unit of work (only inside the ``with`` block)."""
        if self._connection is None:
            raise RuntimeError("The unit of work is used outside its `with` block.")
        return self._connection

    @property
    def backend(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.database.backend

    def now(self) -> datetime:
        """Return the current time from the database's clock (aware UTC)."""
        return self.database.clock()

    def __enter__(self) -> UnitOfWork:
        from regulars.store.api_keys import ApiKeyRepository
        from regulars.store.consents import ConsentRepository
        from regulars.store.customers import CustomerRepository
        from regulars.store.events import EventRepository
        from regulars.store.gdpr import PrivacyRepository
        from regulars.store.orders import OrderRepository
        from regulars.store.scores import ScoreRepository

        if self._connection is not None:
            raise RuntimeError("A unit of work cannot be entered twice.")
        self._serialized = self.backend == "sqlite" and not self.read_only
        if self._serialized:
            self.database.writer_lock.acquire()
        try:
            connection = self.database.engine.connect()
        except BaseException:
            self._release()
            raise
        self._connection = connection.execution_options(regulars_read_only=self.read_only)
        self.api_keys = ApiKeyRepository(self)
        self.customers = CustomerRepository(self)
        self.events = EventRepository(self)
        self.orders = OrderRepository(self)
        self.consents = ConsentRepository(self)
        self.scores = ScoreRepository(self)
        self.privacy = PrivacyRepository(self)
        return self

    def commit(self) -> None:
        """Commit the work so far; later statements run in a new transaction."""
        self.connection.commit()

    def rollback(self) -> None:
        """Undo the work since the last commit."""
        self.connection.rollback()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        connection = self.connection
        try:
            if exc_type is None:
                connection.commit()
            else:
                connection.rollback()
        finally:
            connection.close()
            self._connection = None
            self._release()

    def _release(self) -> None:
        if self._serialized:
            self._serialized = False
            self.database.writer_lock.release()


class Repository:
    """Base of the repositories: the unit of work's connection and clock."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    @property
    def _conn(self) -> Connection:
        return self._uow.connection

    def _now(self) -> datetime:
        return self._uow.now()


def _transient(error: sa.exc.DBAPIError) -> bool:
    """Whether retrying the whole transaction may succeed (deadlock, lock wait, conflict)."""
    code = getattr(error.orig, "sqlstate", None)
    if code in ("40001", "40P01"):  # serialization failure, deadlock detected
        return True
    return "database is locked" in str(error.orig)


def run_in_transaction(
    database: Database,
    work: Callable[[UnitOfWork], T],
    *,
    attempts: int = 3,
    read_only: bool = False,
) -> T:
    """Run ``work`` in a unit of work, retrying it when the database asks to.

    A deadlock or serialization failure (PostgreSQL) or a lock timeout (SQLite) rolls the
    transaction back; ``work`` then runs again from the start, up to ``attempts`` times.

    Parameters
    ----------
    database
        The open store.
    work
        The use case, called with the unit of work; it must not commit on its own.
    attempts
        How many times to try in all.
    read_only
        Run in a read-only unit of work.

    Returns
    -------
    T
        What ``work`` returned on the attempt that committed.
    """
    if attempts < 1:
        raise ValueError(f"attempts must be at least 1, not {attempts}")
    for attempt in range(1, attempts + 1):
        try:
            with UnitOfWork(database, read_only=read_only) as uow:
                return work(uow)
        except sa.exc.DBAPIError as err:
            if attempt == attempts or not _transient(err):
                raise
            time.sleep(0.01 * 2**attempt)
    raise AssertionError("unreachable: the last attempt returns or raises")

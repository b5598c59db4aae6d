"""The operational store: the live service's database (SQLite by default, PostgreSQL in production).

::

    from regulars.store import open_database

    database = open_database(path="regulars.db")   # or REGULARS_DATABASE_URL, or a URL
    database.migrate()
    with database.unit_of_work() as uow:
        customer = uow.customers.resolve(email="ann@example.com").customer
        event, created = uow.events.record({"messageId": "m-1", "type": "track",
                                            "event": "Product Viewed", "userId": "42"})

Layout: :mod:`~regulars.store.tables` (SQLAlchemy Core tables), :mod:`~regulars.store.engine`
(opening the database), :mod:`~regulars.store.migrate` (Alembic), :mod:`~regulars.store.uow`
(the unit of work), one module per repository, :mod:`~regulars.store.records` (the plain
dataclasses they return) and :mod:`~regulars.store.money`. See ``docs/store.md``.
"""

from regulars.store.engine import ENV_VAR, Database, open_database
from regulars.store.errors import ConflictError, NotFoundError, StoreError
from regulars.store.gdpr import Erasure
from regulars.store.migrate import current_revision, head_revision, migrate, schema_drift
from regulars.store.money import from_minor, to_minor
from regulars.store.records import (
    ApiKey,
    Consent,
    Customer,
    CustomerScore,
    Event,
    Identity,
    IssuedKey,
    Order,
    OrderLine,
    Refund,
    Resolution,
    ScoreVersion,
)
from regulars.store.uow import UnitOfWork, run_in_transaction

__all__ = [
    "ENV_VAR",
    "ApiKey",
    "ConflictError",
    "Consent",
    "Customer",
    "CustomerScore",
    "Database",
    "Erasure",
    "Event",
    "Identity",
    "IssuedKey",
    "NotFoundError",
    "Order",
    "OrderLine",
    "Refund",
    "Resolution",
    "ScoreVersion",
    "StoreError",
    "UnitOfWork",
    "current_revision",
    "from_minor",
    "head_revision",
    "migrate",
    "open_database",
    "run_in_transaction",
    "schema_drift",
    "to_minor",
]

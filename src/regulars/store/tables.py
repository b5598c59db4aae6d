"""The operational store's tables: SQLAlchemy Core ``Table`` objects on one ``MetaData``.

Why Core and not ORM mappings: the repositories are set-based (``INSERT ... ON CONFLICT``,
one ``UPDATE`` that moves every order of a merged customer, a scan of every table for GDPR),
and Core says exactly that, with no identity map or session state to keep in step across
threads. Rows come back as the plain frozen dataclasses of :mod:`regulars.store.records`,
so the domain never sees SQLAlchemy.

Conventions
-----------
- **Money** is an integer number of minor units (``BigInteger``: cents for EUR, yen for
  JPY) beside an ISO 4217 ``currency`` (an order's lines use the order's currency).
- **Time** is :class:`~regulars.store.types.UtcDateTime`: aware UTC in, aware UTC out.
- **Ids** the shop gave (order, refund, product ids) are kept as text as given; ids the
  store makes are random text (``cus_...``) or surrogate integers.
- **Constraint names** follow :data:`NAMING`, so migrations name them the same on SQLite
  and PostgreSQL.

Changing a table here needs a new Alembic revision in ``migrations/versions``; the drift
test fails until the migrated schema equals this metadata again.
"""

from __future__ import annotations

import sqlalchemy as sa

from regulars.schema import ORDER_STATUSES
from regulars.store.types import BigId, UtcDateTime

__all__ = [
    "API_KEYS",
    "CONSENTS",
    "CONSENT_STATUSES",
    "CUSTOMERS",
    "CUSTOMER_IDENTITIES",
    "CUSTOMER_SCORES",
    "CUSTOMER_SEGMENTS",
    "EVENTS",
    "IDENTITY_KINDS",
    "NAMING",
    "ORDERS",
    "ORDER_LINES",
    "REFUNDS",
    "SCOPES",
    "SCORE_VERSIONS",
    "metadata",
]

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Constraint and index names, the same on every backend."""

SCOPES = ("read", "write", "admin")
"""What an API key may do; ``admin`` includes the other two."""

IDENTITY_KINDS = ("email", "external_id", "anonymous_id")
"""How a customer can be recognised: an email, the shop's (Segment ``userId``) id, a
Segment ``anonymousId``."""

CONSENT_STATUSES = ("granted", "denied", "revoked")
"""What a consent row says about a channel."""

SCORE_STATUSES = ("building", "complete")

metadata = sa.MetaData(naming_convention=NAMING)
"""Every table of the operational store."""


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _owned_by_customer() -> sa.Column[str]:
    """Return the ``customer_id`` of a row that lives and dies with its customer."""
    return sa.Column(
        "customer_id",
        sa.String(40),
        sa.ForeignKey("customers.id", ondelete="CASCADE"),
        nullable=False,
    )


def _timestamps() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    ]


API_KEYS = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("prefix", sa.String(16), nullable=False, unique=True),
    sa.Column("secret_hash", sa.String(64), nullable=False),
    sa.Column("salt", sa.String(32), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("scopes", sa.String(100), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("revoked_at", UtcDateTime(), nullable=True),
    comment="API keys: only a salted SHA-256 of the secret is kept.",
)

CUSTOMERS = sa.Table(
    "customers",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("email", sa.String(320), nullable=True),
    sa.Column("first_name", sa.String(200), nullable=True),
    sa.Column("last_name", sa.String(200), nullable=True),
    sa.Column("phone", sa.String(50), nullable=True),
    sa.Column("traits", sa.JSON(), nullable=False),
    *_timestamps(),
    sa.Column("merged_into", sa.String(40), sa.ForeignKey("customers.id"), nullable=True),
    sa.Column("merged_at", UtcDateTime(), nullable=True),
    sa.Column("erased_at", UtcDateTime(), nullable=True),
    sa.Index(None, "merged_into"),
    comment="One row per customer record; a merged record points to its survivor.",
)

CUSTOMER_IDENTITIES = sa.Table(
    "customer_identities",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    _owned_by_customer(),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("value", sa.String(320), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.UniqueConstraint("kind", "value"),
    sa.CheckConstraint(_in("kind", IDENTITY_KINDS), name="kind"),
    sa.Index(None, "customer_id"),
    comment="Every email, external id and anonymous id known for a customer; each once.",
)

ORDERS = sa.Table(
    "orders",
    metadata,
    sa.Column("order_id", sa.String(100), primary_key=True),
    sa.Column("customer_id", sa.String(40), sa.ForeignKey("customers.id"), nullable=True),
    sa.Column("ordered_at", UtcDateTime(), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("subtotal", sa.BigInteger(), nullable=False),
    sa.Column("discount_total", sa.BigInteger(), nullable=False),
    sa.Column("shipping_total", sa.BigInteger(), nullable=False),
    sa.Column("tax_total", sa.BigInteger(), nullable=False),
    sa.Column("total", sa.BigInteger(), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("discount_codes", sa.JSON(), nullable=False),
    sa.Column("channel", sa.String(50), nullable=True),
    sa.Column("source_name", sa.String(200), nullable=True),
    *_timestamps(),
    sa.CheckConstraint(_in("status", ORDER_STATUSES), name="status"),
    sa.Index(None, "customer_id"),
    sa.Index(None, "ordered_at"),
    comment="One row per order, amounts in minor units of `currency`.",
)

ORDER_LINES = sa.Table(
    "order_lines",
    metadata,
    sa.Column(
        "order_id",
        sa.String(100),
        sa.ForeignKey("orders.order_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("line_no", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("product_id", sa.String(100), nullable=False),
    sa.Column("sku", sa.String(100), nullable=True),
    sa.Column("name", sa.String(500), nullable=True),
    sa.Column("category", sa.String(200), nullable=True),
    sa.Column("quantity", sa.BigInteger(), nullable=False),
    sa.Column("unit_price", sa.BigInteger(), nullable=False),
    sa.Column("line_total", sa.BigInteger(), nullable=False),
    comment="One row per product line, in the order's currency.",
)

REFUNDS = sa.Table(
    "refunds",
    metadata,
    sa.Column("refund_id", sa.String(100), primary_key=True),
    sa.Column(
        "order_id",
        sa.String(100),
        sa.ForeignKey("orders.order_id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("refunded_at", UtcDateTime(), nullable=False),
    sa.Column("amount", sa.BigInteger(), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("reason", sa.String(500), nullable=True),
    sa.Column("lines", sa.JSON(), nullable=False),
    *_timestamps(),
    sa.Index(None, "order_id"),
    comment="One row per refund credited against an order.",
)

EVENTS = sa.Table(
    "events",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("message_id", sa.String(255), nullable=False, unique=True),
    sa.Column("type", sa.String(20), nullable=False),
    sa.Column("event", sa.String(200), nullable=True),
    sa.Column("user_id", sa.String(255), nullable=True),
    sa.Column("anonymous_id", sa.String(255), nullable=True),
    sa.Column("customer_id", sa.String(40), sa.ForeignKey("customers.id"), nullable=True),
    sa.Column("occurred_at", UtcDateTime(), nullable=False),
    sa.Column("received_at", UtcDateTime(), nullable=False),
    sa.Column("payload", sa.JSON(), nullable=False),
    sa.Index(None, "customer_id"),
    sa.Index(None, "anonymous_id"),
    sa.Index(None, "user_id"),
    comment="Raw Segment messages as received, once per messageId.",
)

CONSENTS = sa.Table(
    "consents",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    _owned_by_customer(),
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("at", UtcDateTime(), nullable=False),
    sa.Column("source", sa.String(100), nullable=False),
    sa.Column("address", sa.String(320), nullable=True),
    sa.Column("evidence", sa.JSON(), nullable=True),
    sa.Column("recorded_at", UtcDateTime(), nullable=False),
    sa.CheckConstraint(_in("status", CONSENT_STATUSES), name="status"),
    sa.Index(None, "customer_id", "channel", "at"),
    comment="Consent history per customer and channel; the latest row per channel counts.",
)

SCORE_VERSIONS = sa.Table(
    "score_versions",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("as_of", UtcDateTime(), nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("currency", sa.String(3), nullable=True),
    sa.Column("customers", sa.Integer(), nullable=False),
    sa.Column("meta", sa.JSON(), nullable=False),
    sa.Column("started_at", UtcDateTime(), nullable=False),
    sa.Column("completed_at", UtcDateTime(), nullable=True),
    sa.CheckConstraint(_in("status", SCORE_STATUSES), name="status"),
    sa.Index(None, "status", "as_of"),
    comment="One row per computation of the customer table; served once complete.",
)

CUSTOMER_SCORES = sa.Table(
    "customer_scores",
    metadata,
    sa.Column(
        "version_id",
        BigId,
        sa.ForeignKey("score_versions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column(
        "customer_id",
        sa.String(40),
        sa.ForeignKey("customers.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("segment", sa.String(100), nullable=True),
    sa.Column("p_alive", sa.Double(), nullable=True),
    sa.Column("expected_orders", sa.Double(), nullable=True),
    sa.Column("churn_risk", sa.Double(), nullable=True),
    sa.Column("clv", sa.Double(), nullable=True),
    sa.Column("value_at_risk", sa.Double(), nullable=True),
    sa.Column("at_risk", sa.Boolean(), nullable=True),
    sa.Column("extra", sa.JSON(), nullable=False),
    sa.Index(None, "customer_id"),
    comment="The customer table (RFM, segment, CLV, churn risk, ...) of one score version.",
)

CUSTOMER_SEGMENTS = sa.Table(
    "customer_segments",
    metadata,
    sa.Column(
        "version_id",
        BigId,
        sa.ForeignKey("score_versions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("segment", sa.String(100), primary_key=True),
    sa.Column("customer_id", sa.String(40), primary_key=True),
    sa.ForeignKeyConstraint(
        ["version_id", "customer_id"],
        ["customer_scores.version_id", "customer_scores.customer_id"],
        ondelete="CASCADE",
    ),
    sa.Index(None, "version_id", "customer_id"),
    comment="Which segments each customer of a score version is in (RFM segment and others).",
)
"""Segment membership of a score version, for counts per segment and paging through one.

A row lives and dies with its ``customer_scores`` row (composite foreign key, cascading):
pruning a version, merging or erasing a customer drops its segment rows too.
"""

"""Initial schema: every table of the operational store.

Revision ID: 0001
Revises:
Create Date: 2026-12-02

Types are spelled out here (not imported from ``regulars.store.tables``) so that this
revision keeps creating the same schema whatever the tables become later.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)
CUSTOMER = sa.String(length=40)
ORDER = sa.String(length=100)


def _pk(table: str, *columns: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint(*columns, name=op.f(f"pk_{table}"))


def _fk(table: str, column: str, target: str, ondelete: str | None = None) -> sa.Constraint:
    referred = target.partition(".")[0]
    return sa.ForeignKeyConstraint(
        [column],
        [target],
        name=op.f(f"fk_{table}_{column}_{referred}"),
        ondelete=ondelete,
    )


def _check(table: str, name: str, sql: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(sql, name=op.f(f"ck_{table}_{name}"))


def _index(table: str, *columns: str) -> None:
    op.create_index(op.f(f"ix_{table}_{'_'.join(columns)}"), table, list(columns), unique=False)


def upgrade() -> None:
    """Create every table."""
    op.create_table(
        "api_keys",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("salt", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("scopes", sa.String(length=100), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("revoked_at", TIME, nullable=True),
        _pk("api_keys", "id"),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_keys_prefix")),
        comment="API keys: only a salted SHA-256 of the secret is kept.",
    )
    op.create_table(
        "customers",
        sa.Column("id", CUSTOMER, nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("first_name", sa.String(length=200), nullable=True),
        sa.Column("last_name", sa.String(length=200), nullable=True),
        sa.Column("phone", sa.String(length=50), nullable=True),
        sa.Column("traits", sa.JSON(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.Column("merged_into", CUSTOMER, nullable=True),
        sa.Column("merged_at", TIME, nullable=True),
        sa.Column("erased_at", TIME, nullable=True),
        _fk("customers", "merged_into", "customers.id"),
        _pk("customers", "id"),
        comment="One row per customer record; a merged record points to its survivor.",
    )
    _index("customers", "merged_into")
    op.create_table(
        "customer_identities",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("customer_id", CUSTOMER, nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("value", sa.String(length=320), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        _check("customer_identities", "kind", "kind IN ('email', 'external_id', 'anonymous_id')"),
        _fk("customer_identities", "customer_id", "customers.id", "CASCADE"),
        _pk("customer_identities", "id"),
        sa.UniqueConstraint("kind", "value", name=op.f("uq_customer_identities_kind_value")),
        comment="Every email, external id and anonymous id known for a customer; each once.",
    )
    _index("customer_identities", "customer_id")
    op.create_table(
        "orders",
        sa.Column("order_id", ORDER, nullable=False),
        sa.Column("customer_id", CUSTOMER, nullable=True),
        sa.Column("ordered_at", TIME, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("subtotal", sa.BigInteger(), nullable=False),
        sa.Column("discount_total", sa.BigInteger(), nullable=False),
        sa.Column("shipping_total", sa.BigInteger(), nullable=False),
        sa.Column("tax_total", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("discount_codes", sa.JSON(), nullable=False),
        sa.Column("channel", sa.String(length=50), nullable=True),
        sa.Column("source_name", sa.String(length=200), nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        _check(
            "orders",
            "status",
            "status IN ('paid', 'cancelled', 'refunded', 'partially_refunded')",
        ),
        _fk("orders", "customer_id", "customers.id"),
        _pk("orders", "order_id"),
        comment="One row per order, amounts in minor units of `currency`.",
    )
    _index("orders", "customer_id")
    _index("orders", "ordered_at")
    op.create_table(
        "order_lines",
        sa.Column("order_id", ORDER, nullable=False),
        sa.Column("line_no", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("product_id", sa.String(length=100), nullable=False),
        sa.Column("sku", sa.String(length=100), nullable=True),
        sa.Column("name", sa.String(length=500), nullable=True),
        sa.Column("category", sa.String(length=200), nullable=True),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("unit_price", sa.BigInteger(), nullable=False),
        sa.Column("line_total", sa.BigInteger(), nullable=False),
        _fk("order_lines", "order_id", "orders.order_id", "CASCADE"),
        _pk("order_lines", "order_id", "line_no"),
        comment="One row per product line, in the order's currency.",
    )
    op.create_table(
        "refunds",
        sa.Column("refund_id", ORDER, nullable=False),
        sa.Column("order_id", ORDER, nullable=False),
        sa.Column("refunded_at", TIME, nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        _fk("refunds", "order_id", "orders.order_id", "CASCADE"),
        _pk("refunds", "refund_id"),
        comment="One row per refund credited against an order.",
    )
    _index("refunds", "order_id")
    op.create_table(
        "events",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("event", sa.String(length=200), nullable=True),
        sa.Column("user_id", sa.String(length=255), nullable=True),
        sa.Column("anonymous_id", sa.String(length=255), nullable=True),
        sa.Column("customer_id", CUSTOMER, nullable=True),
        sa.Column("occurred_at", TIME, nullable=False),
        sa.Column("received_at", TIME, nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        _fk("events", "customer_id", "customers.id"),
        _pk("events", "id"),
        sa.UniqueConstraint("message_id", name=op.f("uq_events_message_id")),
        comment="Raw Segment messages as received, once per messageId.",
    )
    _index("events", "customer_id")
    _index("events", "anonymous_id")
    _index("events", "user_id")
    op.create_table(
        "consents",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("customer_id", CUSTOMER, nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=True),
        sa.Column("recorded_at", TIME, nullable=False),
        _check("consents", "status", "status IN ('granted', 'denied', 'revoked')"),
        _fk("consents", "customer_id", "customers.id", "CASCADE"),
        _pk("consents", "id"),
        comment="Consent history per customer and channel; the latest row per channel counts.",
    )
    _index("consents", "customer_id", "channel", "at")
    op.create_table(
        "score_versions",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("as_of", TIME, nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("customers", sa.Integer(), nullable=False),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.Column("started_at", TIME, nullable=False),
        sa.Column("completed_at", TIME, nullable=True),
        _check("score_versions", "status", "status IN ('building', 'complete')"),
        _pk("score_versions", "id"),
        comment="One row per computation of the customer table; served once complete.",
    )
    _index("score_versions", "status", "as_of")
    op.create_table(
        "customer_scores",
        sa.Column("version_id", ID, nullable=False),
        sa.Column("customer_id", CUSTOMER, nullable=False),
        sa.Column("segment", sa.String(length=100), nullable=True),
        sa.Column("p_alive", sa.Double(), nullable=True),
        sa.Column("expected_orders", sa.Double(), nullable=True),
        sa.Column("churn_risk", sa.Double(), nullable=True),
        sa.Column("clv", sa.Double(), nullable=True),
        sa.Column("value_at_risk", sa.Double(), nullable=True),
        sa.Column("at_risk", sa.Boolean(), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=False),
        _fk("customer_scores", "customer_id", "customers.id", "CASCADE"),
        _fk("customer_scores", "version_id", "score_versions.id", "CASCADE"),
        _pk("customer_scores", "version_id", "customer_id"),
        comment="The customer table (RFM, segment, CLV, churn risk, ...) of one score version.",
    )
    _index("customer_scores", "customer_id")


def downgrade() -> None:
    """Drop every table."""
    for table in (
        "customer_scores",
        "score_versions",
        "consents",
        "events",
        "refunds",
        "order_lines",
        "orders",
        "customer_identities",
        "customers",
        "api_keys",
    ):
        op.drop_table(table)

"""Customer segments: which segments each customer of a score version is in.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-09

Types are spelled out here (not imported from ``regulars.store.tables``) so that this
revision keeps creating the same schema whatever the tables become later.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
CUSTOMER = sa.String(length=40)
TABLE = "customer_segments"


def upgrade() -> None:
    """Create ``customer_segments``, its foreign keys and its index."""
    op.create_table(
        TABLE,
        sa.Column("version_id", ID, nullable=False),
        sa.Column("segment", sa.String(length=100), nullable=False),
        sa.Column("customer_id", CUSTOMER, nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["score_versions.id"],
            name=op.f("fk_customer_segments_version_id_score_versions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["version_id", "customer_id"],
            ["customer_scores.version_id", "customer_scores.customer_id"],
            name=op.f("fk_customer_segments_version_id_customer_scores"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "version_id", "segment", "customer_id", name=op.f("pk_customer_segments")
        ),
        comment="Which segments each customer of a score version is in (RFM segment and others).",
    )
    op.create_index(
        op.f("ix_customer_segments_version_id_customer_id"),
        TABLE,
        ["version_id", "customer_id"],
        unique=False,
    )


def downgrade() -> None:
    """Drop ``customer_segments``."""
    op.drop_index(op.f("ix_customer_segments_version_id_customer_id"), table_name=TABLE)
    op.drop_table(TABLE)

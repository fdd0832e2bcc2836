"""Date sort keys: one row per resource and date parameter (spidx_date_sort).

Run ``fhir-server reindex`` after upgrading a database that already holds
resources, so their sort rows are written.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BigIntKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "spidx_date_sort",
        sa.Column("pk", BigIntKey, autoincrement=True, nullable=False),
        sa.Column("resource_pk", BigIntKey, nullable=False),
        sa.Column("resource_type", sa.String(length=64), nullable=False),
        sa.Column("param", sa.String(length=100), nullable=False),
        sa.Column("low", sa.DateTime(timezone=True), nullable=False),
        sa.Column("high", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["resource_pk"], ["resource.pk"], name="fk_spidx_date_sort_resource_pk_resource", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("pk", name="pk_spidx_date_sort"),
    )
    op.create_index("ix_spidx_date_sort_low", "spidx_date_sort", ["resource_type", "param", "low", "resource_pk"])
    op.create_index("ix_spidx_date_sort_high", "spidx_date_sort", ["resource_type", "param", "high", "resource_pk"])
    op.create_index("ix_spidx_date_sort_resource_pk", "spidx_date_sort", ["resource_pk"])


def downgrade() -> None:
    op.drop_table("spidx_date_sort")

"""Resource store: current rows and full version history.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BigIntKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "resource",
        sa.Column("pk", BigIntKey, primary_key=True, autoincrement=True),
        sa.Column("resource_type", sa.String(64), nullable=False),
        sa.Column("fhir_id", sa.String(64), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("pk", name="pk_resource"),
        sa.UniqueConstraint("resource_type", "fhir_id", name="uq_resource_resource_type_fhir_id"),
    )
    op.create_table(
        "resource_history",
        sa.Column("pk", BigIntKey, primary_key=True, autoincrement=True),
        sa.Column("resource_pk", sa.BigInteger(), nullable=False),
        sa.Column("resource_type", sa.String(64), nullable=False),
        sa.Column("fhir_id", sa.String(64), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("pk", name="pk_resource_history"),
        sa.ForeignKeyConstraint(
            ["resource_pk"], ["resource.pk"], name="fk_resource_history_resource_pk_resource", ondelete="CASCADE"
        ),
        sa.UniqueConstraint(
            "resource_type", "fhir_id", "version_id", name="uq_resource_history_resource_type_fhir_id_version_id"
        ),
    )
    op.create_index("ix_resource_history_last_updated", "resource_history", ["last_updated"])
    op.create_index("ix_resource_history_type_pk", "resource_history", ["resource_type", "pk"])
    op.create_index("ix_resource_history_resource_pk", "resource_history", ["resource_pk"])


def downgrade() -> None:
    op.drop_table("resource_history")
    op.drop_table("resource")

"""Search parameter index tables (spidx_*), one per parameter type.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BigIntKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "spidx_date",
        sa.Column("pk", BigIntKey, autoincrement=True, nullable=False),
        sa.Column("resource_pk", BigIntKey, nullable=False),
        sa.Column("resource_type", sa.String(length=64), nullable=False),
        sa.Column("param", sa.String(length=100), nullable=False),
        sa.Column("low", sa.DateTime(timezone=True), nullable=True),
        sa.Column("high", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["resource_pk"], ["resource.pk"], name=("fk_spidx_date_resource_pk_resource"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("pk", name=("pk_spidx_date")),
    )
    op.create_index(
        "ix_spidx_date_lookup", "spidx_date", ["resource_type", "param", "low", "high", "resource_pk"], unique=False
    )
    op.create_index("ix_spidx_date_resource_pk", "spidx_date", ["resource_pk"], unique=False)
    op.create_table(
        "spidx_number",
        sa.Column("pk", BigIntKey, autoincrement=True, nullable=False),
        sa.Column("resource_pk", BigIntKey, nullable=False),
        sa.Column("resource_type", sa.String(length=64), nullable=False),
        sa.Column("param", sa.String(length=100), nullable=False),
        sa.Column("value", sa.Numeric(), nullable=False),
        sa.Column("low", sa.Numeric(), nullable=False),
        sa.Column("high", sa.Numeric(), nullable=False),
        sa.ForeignKeyConstraint(
            ["resource_pk"], ["resource.pk"], name=("fk_spidx_number_resource_pk_resource"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("pk", name=("pk_spidx_number")),
    )
    op.create_index(
        "ix_spidx_number_lookup", "spidx_number", ["resource_type", "param", "value", "resource_pk"], unique=False
    )
    op.create_index("ix_spidx_number_resource_pk", "spidx_number", ["resource_pk"], unique=False)
    op.create_table(
        "spidx_quantity",
        sa.Column("pk", BigIntKey, autoincrement=True, nullable=False),
        sa.Column("resource_pk", BigIntKey, nullable=False),
        sa.Column("resource_type", sa.String(length=64), nullable=False),
        sa.Column("param", sa.String(length=100), nullable=False),
        sa.Column("value", sa.Numeric(), nullable=False),
        sa.Column("low", sa.Numeric(), nullable=False),
        sa.Column("high", sa.Numeric(), nullable=False),
        sa.Column("system", sa.String(length=200), nullable=True),
        sa.Column("code", sa.String(length=200), nullable=True),
        sa.Column("unit", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["resource_pk"], ["resource.pk"], name=("fk_spidx_quantity_resource_pk_resource"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("pk", name=("pk_spidx_quantity")),
    )
    op.create_index(
        "ix_spidx_quantity_lookup",
        "spidx_quantity",
        ["resource_type", "param", "code", "value", "resource_pk"],
        unique=False,
    )
    op.create_index("ix_spidx_quantity_resource_pk", "spidx_quantity", ["resource_pk"], unique=False)
    op.create_table(
        "spidx_reference",
        sa.Column("pk", BigIntKey, autoincrement=True, nullable=False),
        sa.Column("resource_pk", BigIntKey, nullable=False),
        sa.Column("resource_type", sa.String(length=64), nullable=False),
        sa.Column("param", sa.String(length=100), nullable=False),
        sa.Column("target_type", sa.String(length=64), nullable=True),
        sa.Column("target_id", sa.String(length=64), nullable=True),
        sa.Column("url", sa.String(length=200), nullable=True),
        sa.Column("version", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["resource_pk"], ["resource.pk"], name=("fk_spidx_reference_resource_pk_resource"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("pk", name=("pk_spidx_reference")),
    )
    op.create_index(
        "ix_spidx_reference_lookup",
        "spidx_reference",
        ["resource_type", "param", "target_id", "target_type", "resource_pk"],
        unique=False,
    )
    op.create_index("ix_spidx_reference_resource_pk", "spidx_reference", ["resource_pk"], unique=False)
    op.create_index("ix_spidx_reference_target", "spidx_reference", ["target_type", "target_id"], unique=False)
    op.create_table(
        "spidx_string",
        sa.Column("pk", BigIntKey, autoincrement=True, nullable=False),
        sa.Column("resource_pk", BigIntKey, nullable=False),
        sa.Column("resource_type", sa.String(length=64), nullable=False),
        sa.Column("param", sa.String(length=100), nullable=False),
        sa.Column("normalized", sa.String(length=200), nullable=False),
        sa.Column("exact", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["resource_pk"], ["resource.pk"], name=("fk_spidx_string_resource_pk_resource"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("pk", name=("pk_spidx_string")),
    )
    op.create_index(
        "ix_spidx_string_lookup",
        "spidx_string",
        ["resource_type", "param", "normalized", "resource_pk"],
        unique=False,
        postgresql_ops={"normalized": "varchar_pattern_ops"},
    )
    op.create_index("ix_spidx_string_resource_pk", "spidx_string", ["resource_pk"], unique=False)
    op.create_table(
        "spidx_token",
        sa.Column("pk", BigIntKey, autoincrement=True, nullable=False),
        sa.Column("resource_pk", BigIntKey, nullable=False),
        sa.Column("resource_type", sa.String(length=64), nullable=False),
        sa.Column("param", sa.String(length=100), nullable=False),
        sa.Column("system", sa.String(length=200), nullable=True),
        sa.Column("code", sa.String(length=200), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("type_system", sa.String(length=200), nullable=True),
        sa.Column("type_code", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["resource_pk"], ["resource.pk"], name=("fk_spidx_token_resource_pk_resource"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("pk", name=("pk_spidx_token")),
    )
    op.create_index(
        "ix_spidx_token_lookup",
        "spidx_token",
        ["resource_type", "param", "code", "system", "resource_pk"],
        unique=False,
    )
    op.create_index("ix_spidx_token_resource_pk", "spidx_token", ["resource_pk"], unique=False)
    op.create_table(
        "spidx_uri",
        sa.Column("pk", BigIntKey, autoincrement=True, nullable=False),
        sa.Column("resource_pk", BigIntKey, nullable=False),
        sa.Column("resource_type", sa.String(length=64), nullable=False),
        sa.Column("param", sa.String(length=100), nullable=False),
        sa.Column("uri", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["resource_pk"], ["resource.pk"], name=("fk_spidx_uri_resource_pk_resource"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("pk", name=("pk_spidx_uri")),
    )
    op.create_index("ix_spidx_uri_lookup", "spidx_uri", ["resource_type", "param", "uri", "resource_pk"], unique=False)
    op.create_index("ix_spidx_uri_resource_pk", "spidx_uri", ["resource_pk"], unique=False)


def downgrade() -> None:
    op.drop_table("spidx_uri")
    op.drop_table("spidx_reference")
    op.drop_table("spidx_quantity")
    op.drop_table("spidx_number")
    op.drop_table("spidx_date")
    op.drop_table("spidx_token")
    op.drop_table("spidx_string")

"""Composite search parameter index (spidx_composite): one row per combination of component values.

Run ``fhir-server reindex`` after upgrading a database that already holds
resources, so their composite rows are written.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BigIntKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _text(name: str, length: int = 200) -> sa.Column:
    return sa.Column(name, sa.String(length=length), nullable=True)


def upgrade() -> None:
    op.create_table(
        "spidx_composite",
        sa.Column("pk", BigIntKey, autoincrement=True, nullable=False),
        sa.Column("resource_pk", BigIntKey, nullable=False),
        sa.Column("resource_type", sa.String(length=64), nullable=False),
        sa.Column("param", sa.String(length=100), nullable=False),
        _text("token1_system"),
        _text("token1_code"),
        _text("token2_system"),
        _text("token2_code"),
        sa.Column("number1", sa.Numeric(), nullable=True),
        sa.Column("number2", sa.Numeric(), nullable=True),
        sa.Column("quantity_value", sa.Numeric(), nullable=True),
        _text("quantity_system"),
        _text("quantity_code"),
        _text("quantity_unit"),
        sa.Column("date_low", sa.DateTime(timezone=True), nullable=True),
        sa.Column("date_high", sa.DateTime(timezone=True), nullable=True),
        _text("string"),
        _text("reference_type", 64),
        _text("reference_id", 64),
        _text("reference_url"),
        _text("reference_version", 64),
        _text("uri"),
        sa.ForeignKeyConstraint(
            ["resource_pk"], ["resource.pk"], name="fk_spidx_composite_resource_pk_resource", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("pk", name="pk_spidx_composite"),
    )
    op.create_index(
        "ix_spidx_composite_lookup",
        "spidx_composite",
        ["resource_type", "param", "token1_code", "token1_system", "resource_pk"],
    )
    op.create_index("ix_spidx_composite_resource_pk", "spidx_composite", ["resource_pk"])


def downgrade() -> None:
    op.drop_table("spidx_composite")

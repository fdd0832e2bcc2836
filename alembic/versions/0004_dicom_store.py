"""DICOM instance store.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BigIntKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "dicom_instance",
        sa.Column("pk", BigIntKey, primary_key=True, autoincrement=True),
        sa.Column("sop_instance_uid", sa.String(64), nullable=False),
        sa.Column("study_instance_uid", sa.String(64), nullable=False),
        sa.Column("series_instance_uid", sa.String(64), nullable=False),
        sa.Column("sop_class_uid", sa.String(64), nullable=False),
        sa.Column("transfer_syntax_uid", sa.String(64), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("header", sa.LargeBinary(), nullable=False),
        sa.Column("source", sa.String(80), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published", sa.Boolean(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("publish_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("pk", name="pk_dicom_instance"),
        sa.UniqueConstraint("sop_instance_uid", name="uq_dicom_instance_sop_instance_uid"),
    )
    op.create_index("ix_dicom_instance_study_instance_uid", "dicom_instance", ["study_instance_uid"])
    op.create_index(
        "ix_dicom_instance_published_study_instance_uid", "dicom_instance", ["published", "study_instance_uid"]
    )


def downgrade() -> None:
    op.drop_table("dicom_instance")

"""HL7 v2 inbox.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BigIntKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "hl7v2_inbox",
        sa.Column("pk", BigIntKey, primary_key=True, autoincrement=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("peer", sa.String(255), nullable=False),
        sa.Column("sending_application", sa.String(255), nullable=False),
        sa.Column("sending_facility", sa.String(255), nullable=False),
        sa.Column("control_id", sa.String(255), nullable=False),
        sa.Column("message_type", sa.String(16), nullable=False),
        sa.Column("trigger_event", sa.String(16), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("error_location", sa.String(32), nullable=True),
        sa.Column("ack", sa.LargeBinary(), nullable=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resources", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("pk", name="pk_hl7v2_inbox"),
        sa.UniqueConstraint(
            "sending_application",
            "sending_facility",
            "control_id",
            "content_sha256",
            name="uq_hl7v2_inbox_message_key",
        ),
    )
    op.create_index("ix_hl7v2_inbox_status_pk", "hl7v2_inbox", ["status", "pk"])


def downgrade() -> None:
    op.drop_index("ix_hl7v2_inbox_status_pk", table_name="hl7v2_inbox")
    op.drop_table("hl7v2_inbox")

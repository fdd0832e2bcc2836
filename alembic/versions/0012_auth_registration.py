"""Dynamic client registration (RFC 7591): initial access tokens, and the metadata a client registered with.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "auth_registration_token",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("created", _TIME, nullable=False),
        sa.Column("expires", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name="pk_auth_registration_token"),
    )
    with op.batch_alter_table("auth_client") as batch:
        batch.add_column(sa.Column("registration", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("auth_client") as batch:
        batch.drop_column("registration")
    op.drop_table("auth_registration_token")

"""SMART authorization-code flow: pending codes, EHR launch contexts, server-side secrets.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "auth_code",
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("client_id", sa.String(128), nullable=False),
        sa.Column("redirect_uri", sa.String(2000), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("code_challenge", sa.String(128), nullable=False),
        sa.Column("username", sa.String(128), nullable=False),
        sa.Column("fhir_user", sa.String(140), nullable=True),
        sa.Column("patient", sa.String(64), nullable=True),
        sa.Column("encounter", sa.String(64), nullable=True),
        sa.Column("need_patient_banner", sa.Boolean(), nullable=False),
        sa.Column("expires", _TIME, nullable=False),
        sa.Column("used", _TIME, nullable=True),
        sa.PrimaryKeyConstraint("code_hash", name="pk_auth_code"),
    )
    op.create_table(
        "auth_launch",
        sa.Column("launch_id", sa.String(64), nullable=False),
        sa.Column("patient", sa.String(64), nullable=True),
        sa.Column("encounter", sa.String(64), nullable=True),
        sa.Column("created", _TIME, nullable=False),
        sa.Column("expires", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("launch_id", name="pk_auth_launch"),
    )
    op.create_table(
        "auth_secret",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value", sa.String(256), nullable=False),
        sa.Column("created", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_auth_secret"),
    )


def downgrade() -> None:
    for table in ("auth_secret", "auth_launch", "auth_code"):
        op.drop_table(table)

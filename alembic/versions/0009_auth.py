"""SMART on FHIR authorization: users, clients, signing keys, revoked tokens, used assertion ids.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "auth_user",
        sa.Column("pk", _KEY, primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(128), nullable=False),
        sa.Column("password_hash", sa.String(256), nullable=False),
        sa.Column("fhir_user", sa.String(140), nullable=True),
        sa.Column("created", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("pk", name="pk_auth_user"),
        sa.UniqueConstraint("username", name="uq_auth_user_username"),
    )
    op.create_table(
        "auth_client",
        sa.Column("pk", _KEY, primary_key=True, autoincrement=True),
        sa.Column("client_id", sa.String(128), nullable=False),
        sa.Column("auth_method", sa.String(32), nullable=False),
        sa.Column("secret_hash", sa.String(256), nullable=True),
        sa.Column("jwks", sa.Text(), nullable=True),
        sa.Column("jwks_url", sa.String(2000), nullable=True),
        sa.Column("redirect_uris", sa.Text(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("created", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("pk", name="pk_auth_client"),
        sa.UniqueConstraint("client_id", name="uq_auth_client_client_id"),
    )
    op.create_table(
        "auth_signing_key",
        sa.Column("pk", _KEY, primary_key=True, autoincrement=True),
        sa.Column("kid", sa.String(64), nullable=False),
        sa.Column("private_jwk", sa.Text(), nullable=False),
        sa.Column("created", _TIME, nullable=False),
        sa.Column("retired", _TIME, nullable=True),
        sa.PrimaryKeyConstraint("pk", name="pk_auth_signing_key"),
        sa.UniqueConstraint("kid", name="uq_auth_signing_key_kid"),
    )
    op.create_table(
        "auth_revoked_token",
        sa.Column("jti", sa.String(64), nullable=False),
        sa.Column("expires", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("jti", name="pk_auth_revoked_token"),
    )
    op.create_table(
        "auth_assertion_jti",
        sa.Column("jti", sa.String(255), nullable=False),
        sa.Column("client_id", sa.String(128), nullable=False),
        sa.Column("expires", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("jti", name="pk_auth_assertion_jti"),
    )


def downgrade() -> None:
    for table in ("auth_assertion_jti", "auth_revoked_token", "auth_signing_key", "auth_client", "auth_user"):
        op.drop_table(table)

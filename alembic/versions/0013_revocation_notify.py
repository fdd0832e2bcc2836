"""Revocations announced to every server process (PostgreSQL NOTIFY), so none has to query per request.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04

A row inserted in ``auth_revoked_token``, by whatever path (the revocation endpoint, refresh-token
rotation, an administrator's SQL), sends ``NOTIFY fhir_server_revoked`` with its ``jti`` when its
transaction commits; :mod:`fhir_server.auth.revocations` listens. SQLite has no notifications: a
process there checks the table on every request, which costs no round trip.
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

CHANNEL = "fhir_server_revoked"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        f"""
        CREATE FUNCTION auth_revoked_token_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{CHANNEL}', NEW.jti);
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER auth_revoked_token_notify AFTER INSERT ON auth_revoked_token "
        "FOR EACH ROW EXECUTE FUNCTION auth_revoked_token_notify()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER auth_revoked_token_notify ON auth_revoked_token")
    op.execute("DROP FUNCTION auth_revoked_token_notify()")

"""Search-index tables without a foreign key to ``resource``.

Index rows are written only by the repository, in the same statement as the
resource row they belong to, and resource rows are never deleted (a delete is a
new version), so the key checked nothing the write path does not guarantee. It
cost a trigger per index row: about a quarter of PostgreSQL's time per written
resource (Synthea Bundles: 0.22-0.40 ms with the keys, 0.17 ms without). The
``resource_pk`` indexes stay. ``resource_history`` keeps its key (one row per
write).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TABLES = (
    "spidx_string",
    "spidx_token",
    "spidx_date",
    "spidx_number",
    "spidx_quantity",
    "spidx_reference",
    "spidx_uri",
    "spidx_date_sort",
    "spidx_composite",
)


def _name(table: str) -> str:
    return f"fk_{table}_resource_pk_resource"


def upgrade() -> None:
    for table in TABLES:
        # Batch mode: SQLite cannot drop a constraint in place, so the table is rebuilt there.
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(_name(table), type_="foreignkey")


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.create_foreign_key(_name(table), "resource", ["resource_pk"], ["pk"], ondelete="CASCADE")

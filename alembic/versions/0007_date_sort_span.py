"""Date sort spans: ``spidx_date_sort.span_seconds`` and partial indexes splitting rows on it.

``span_seconds`` is ``high - low`` when the resource has exactly one value of the
parameter, -1 for several, NULL for none. Rows of a single value spanning at most a day (nearly all)
*are* that value, so a sorted, date-filtered search reads them in an index range
bounded at both ends with the criteria as plain conditions, merged with the few
other rows (fhir_server.search.sort_bounds). Existing rows get their span computed
here from ``spidx_date``; no reindex is needed.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_EXACT = "(span_seconds >= 0 AND span_seconds <= 86400)"
_OTHER = "(span_seconds < 0 OR span_seconds > 86400)"
#: How many values of the parameter the row's resource has.
_COUNT = (
    "(SELECT count(*) FROM spidx_date d WHERE d.resource_pk = spidx_date_sort.resource_pk "
    "AND d.param = spidx_date_sort.param)"
)
_STATISTICS = "st_spidx_date_sort_span"
#: (name, columns, predicate) of the partial indexes; index columns bound by the walk first.
_INDEXES = (
    ("ix_spidx_date_sort_exact_low", ["resource_type", "param", "low", "high", "resource_pk"], _EXACT),
    ("ix_spidx_date_sort_exact_high", ["resource_type", "param", "high", "low", "resource_pk"], _EXACT),
    ("ix_spidx_date_sort_other_low", ["resource_type", "param", "low", "high", "resource_pk"], _OTHER),
    ("ix_spidx_date_sort_other_high", ["resource_type", "param", "high", "low", "resource_pk"], _OTHER),
)


def upgrade() -> None:
    op.add_column("spidx_date_sort", sa.Column("span_seconds", sa.Numeric(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        span = "ceil(extract(epoch FROM high - low))"
    else:
        # SQLite's date functions round to milliseconds (23:59:59.999999 becomes the next
        # day), so whole seconds come from the text before the fraction, and the
        # fractions ('.ffffff', as SQLAlchemy writes them) round the difference up.
        seconds = "strftime('%s', substr({0}, 1, 19))"
        span = f"{seconds.format('high')} - {seconds.format('low')} + (substr(high, 20) > substr(low, 20))"
    op.execute(
        f"UPDATE spidx_date_sort SET span_seconds = CASE {_COUNT} WHEN 0 THEN NULL WHEN 1 THEN {span} ELSE -1 END"
    )
    for name, columns, predicate in _INDEXES:
        where = sa.text(predicate)
        op.create_index(name, "spidx_date_sort", columns, postgresql_where=where, sqlite_where=where)
    if op.get_bind().dialect.name == "postgresql":
        # Without it PostgreSQL multiplies "param = 'date'" by "span_seconds <= 86400" as if
        # unrelated (they select the same rows), halves its estimate of a sorted walk and
        # may then prefer hashing every match over reading one page in order.
        op.execute(f"CREATE STATISTICS {_STATISTICS} (mcv) ON param, span_seconds FROM spidx_date_sort")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP STATISTICS IF EXISTS {_STATISTICS}")
    for name, _, _ in reversed(_INDEXES):
        op.drop_index(name, table_name="spidx_date_sort")
    with op.batch_alter_table("spidx_date_sort") as batch:
        batch.drop_column("span_seconds")

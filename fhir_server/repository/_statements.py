"""The SQL of the write path, one round trip per write on PostgreSQL.

Every write stores the current row and a history row. On PostgreSQL both go in
one statement (a data-modifying CTE), which saves a round trip and the Python
cost of a second execute on every create and update; SQLite, in-process, runs
the two statements. Core tables, not ORM entities, keep the ORM's per-statement
bookkeeping off the hot path.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, literal_column, select, update
from sqlalchemy.dialects import postgresql, sqlite

from models import ResourceHistory, ResourceRow

resource = ResourceRow.__table__
history = ResourceHistory.__table__
_HISTORY_COLUMNS = ["resource_pk", "resource_type", "fhir_id", "version_id", "last_updated", "method", "content"]
_ROW_VALUES = {
    "resource_type": bindparam("resource_type"),
    "fhir_id": bindparam("fhir_id"),
    "version_id": bindparam("version_id"),
    "last_updated": bindparam("last_updated"),
    "deleted": bindparam("deleted"),
    "content": bindparam("content"),
}


def _history_from(cte: Any) -> Any:
    """INSERT INTO resource_history SELECT ... FROM the CTE's returned row."""
    rows = select(
        cte.c.pk,
        cte.c.resource_type,
        cte.c.fhir_id,
        cte.c.version_id,
        cte.c.last_updated,
        bindparam("method"),
        cte.c.content,
    )
    return insert(history).from_select(_HISTORY_COLUMNS, rows).returning(literal_column("resource_pk"))


_returned = (resource.c.pk, resource.c.resource_type, resource.c.fhir_id, resource.c.version_id, resource.c.last_updated, resource.c.content)
#: PostgreSQL: insert both rows at once; no row back means the id already exists.
_PG_INSERT_NEW = _history_from(
    postgresql.insert(resource).values(_ROW_VALUES).on_conflict_do_nothing().returning(*_returned).cte("new_row")
)
#: PostgreSQL: move the current row to the next version and record it, at once.
_PG_WRITE_VERSION = _history_from(
    update(resource).where(resource.c.pk == bindparam("row_pk")).values(_ROW_VALUES).returning(*_returned).cte("new_version")
)
_SQLITE_INSERT_NEW = sqlite.insert(resource).values(_ROW_VALUES).on_conflict_do_nothing().returning(resource.c.pk)
_UPDATE_ROW = update(resource).where(resource.c.pk == bindparam("row_pk")).values(_ROW_VALUES)
_INSERT_HISTORY = insert(history)
LOCK_CURRENT = (
    select(resource.c.pk, resource.c.version_id, resource.c.deleted, resource.c.content)
    .where(resource.c.resource_type == bindparam("resource_type"), resource.c.fhir_id == bindparam("fhir_id"))
    .with_for_update()
)
READ_CURRENT = select(resource.c.version_id, resource.c.last_updated, resource.c.content).where(
    resource.c.resource_type == bindparam("resource_type"), resource.c.fhir_id == bindparam("fhir_id")
)


def _params(
    resource_type: str, fhir_id: str, version: int, now: datetime, content: bytes | None, method: str
) -> dict[str, Any]:
    return {
        "resource_type": resource_type,
        "fhir_id": fhir_id,
        "version_id": version,
        "last_updated": now,
        "deleted": content is None,
        "content": content,
        "method": method,
    }


def insert_new(
    connection: Connection, resource_type: str, fhir_id: str, now: datetime, content: bytes, method: str
) -> int | None:
    """Insert version 1 of a resource; its row key, or ``None`` if the id is taken."""
    params = _params(resource_type, fhir_id, 1, now, content, method)
    if connection.dialect.name == "postgresql":
        return connection.execute(_PG_INSERT_NEW, params).scalar_one_or_none()
    pk = connection.execute(_SQLITE_INSERT_NEW, params).scalar_one_or_none()
    if pk is not None:
        connection.execute(_INSERT_HISTORY, {**params, "resource_pk": pk})
    return pk


def write_version(
    connection: Connection,
    row_pk: int,
    resource_type: str,
    fhir_id: str,
    version: int,
    now: datetime,
    content: bytes | None,
    method: str,
) -> None:
    """Make ``version`` the current one (``content=None`` records a delete) and keep it in history."""
    params = {**_params(resource_type, fhir_id, version, now, content, method), "row_pk": row_pk}
    if connection.dialect.name == "postgresql":
        connection.execute(_PG_WRITE_VERSION, params)
        return
    connection.execute(_UPDATE_ROW, params)
    connection.execute(_INSERT_HISTORY, {**params, "resource_pk": row_pk})

"""Writes a resource's search-index rows, in the same transaction as its version.

The rows of a resource are always those of its current version: an update
replaces them, a delete removes them. One multi-row INSERT per index table that
has values (SQLAlchemy batches executemany into ``INSERT ... VALUES`` lists).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, Table, delete, insert, text

from fhir_server.search.index_values import (
    DateValue,
    IndexValue,
    NumberValue,
    QuantityValue,
    ReferenceValue,
    StringValue,
    TokenValue,
    UriValue,
)
from fhir_server.search.ranges import MAX_INSTANT, MIN_INSTANT
from models.search import (
    INDEX_TABLES,
    MAX_INDEXED_LENGTH,
    SpidxDate,
    SpidxNumber,
    SpidxQuantity,
    SpidxReference,
    SpidxString,
    SpidxToken,
    SpidxUri,
)

_TABLE_OF: dict[type, Table] = {
    StringValue: SpidxString.__table__,
    TokenValue: SpidxToken.__table__,
    DateValue: SpidxDate.__table__,
    NumberValue: SpidxNumber.__table__,
    QuantityValue: SpidxQuantity.__table__,
    ReferenceValue: SpidxReference.__table__,
    UriValue: SpidxUri.__table__,
}


def _cut(value: Any) -> Any:
    # Long strings are cut so btree entries stay small; searches cut their input the same way.
    return value[:MAX_INDEXED_LENGTH] if isinstance(value, str) else value


def _row(value: IndexValue, resource_pk: int, resource_type: str) -> dict[str, Any]:
    row = {name: _cut(getattr(value, name)) for name in value.__slots__}  # type: ignore[attr-defined]
    if isinstance(value, DateValue):
        # Open ends become sentinels so range conditions stay plain index comparisons.
        row["low"] = value.low or MIN_INSTANT
        row["high"] = value.high or MAX_INSTANT
    row["resource_pk"] = resource_pk
    row["resource_type"] = resource_type
    return row


def write_index(connection: Connection, resource_pk: int, resource_type: str, values: list[IndexValue]) -> None:
    """Insert the index rows of a newly stored version."""
    by_table: dict[Table, list[dict[str, Any]]] = defaultdict(list)
    for value in values:
        by_table[_TABLE_OF[type(value)]].append(_row(value, resource_pk, resource_type))
    for table, rows in by_table.items():
        connection.execute(insert(table), rows)


#: PostgreSQL: clear all index tables in one round trip (data-modifying CTEs).
_PG_CLEAR = text(
    "WITH "
    + ", ".join(f"d{i} AS (DELETE FROM {m.__tablename__} WHERE resource_pk = :pk)" for i, m in enumerate(INDEX_TABLES))
    + " SELECT 1"
)


def clear_index(connection: Connection, resource_pk: int) -> None:
    """Remove every index row of a resource (before re-indexing it, or when it is deleted)."""
    if connection.dialect.name == "postgresql":
        connection.execute(_PG_CLEAR, {"pk": resource_pk})
        return
    for model in INDEX_TABLES:
        table = model.__table__
        connection.execute(delete(table).where(table.c.resource_pk == resource_pk))

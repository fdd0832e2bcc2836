"""A resource's search-index rows, written in the same transaction as its version.

The rows of a resource are always those of its current version: an update
replaces them, a delete removes them. On PostgreSQL the rows travel as one
array per column and are inserted with ``unnest`` inside the write statement
itself (see :mod:`._statements`), so a write of any size is one round trip; on
SQLite, in-process, they are plain multi-row inserts.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, DateTime, Numeric, Table, delete, insert

from fhir_server.search.index_values import (
    CompositeValue,
    DateSortValue,
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
    SpidxComposite,
    SpidxDate,
    SpidxDateSort,
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
    DateSortValue: SpidxDateSort.__table__,
    CompositeValue: SpidxComposite.__table__,
}


def _pg_type(table: Table, column: str) -> str:
    """The PostgreSQL element type of a column, for the ``unnest`` array casts."""
    kind = table.c[column].type
    if isinstance(kind, DateTime):
        return "timestamptz"
    return "numeric" if isinstance(kind, Numeric) else "text"


def _value_columns(table: Table) -> list[str]:
    return [c.name for c in table.columns if c.name not in ("pk", "resource_pk", "resource_type")]


def _cut(value: Any) -> Any:
    # Long strings are cut so btree entries stay small; searches cut their input the same way.
    return value[:MAX_INDEXED_LENGTH] if isinstance(value, str) else value


def _fields(value: IndexValue) -> dict[str, Any]:
    row = {name: _cut(getattr(value, name)) for name in value.__slots__}
    if isinstance(value, DateValue):
        # Open ends become sentinels so range conditions stay plain index comparisons.
        row["low"] = value.low or MIN_INSTANT
        row["high"] = value.high or MAX_INSTANT
    return row


def pg_index_ctes(source: str, *, old_rows: str | None) -> str:
    """CTEs that write the index rows of the resources written by the CTE ``source``.

    ``source`` yields ``pk``, ``resource_type`` and ``ord``, the resource's position
    (from 1) among those the statement writes; each index row carries the ``ord``
    of its resource (:func:`pg_index_params`). ``old_rows`` is the condition on
    ``resource_pk`` that selects index rows to delete first (earlier versions), or
    ``None`` when every resource is new. The DELETEs and INSERTs run on one
    snapshot, so the deletes see only the old rows. New resources get statements
    without the deletes: a prepared statement's generic plan cannot see that there
    is nothing to delete, and one made while a table was small seq-scanned every
    index table on every write (6 ms per HL7 v2 message).
    """
    parts = []
    for i, model in enumerate(INDEX_TABLES):
        table = model.__table__
        columns = _value_columns(table)
        quoted = [f'"{c}"' for c in columns]
        arrays = ", ".join(f"CAST(:{table.name}__{c} AS {_pg_type(table, c)}[])" for c in columns)
        if old_rows is not None:
            parts.append(f"d{i} AS (DELETE FROM {table.name} WHERE {old_rows})")
        parts.append(
            f"i{i} AS (INSERT INTO {table.name} (resource_pk, resource_type, {', '.join(columns)}) "
            f"SELECT s.pk, s.resource_type, {', '.join('u.' + q for q in quoted)} "
            f"FROM unnest(CAST(:{table.name}__ord AS bigint[]), {arrays}) AS u(ord, {', '.join(quoted)}) "
            f"JOIN {source} AS s ON s.ord = u.ord)"
        )
    return ", ".join(parts)


#: The bind parameter names of :func:`pg_index_ctes`, computed once (this runs on every write).
_PG_PARAM_NAMES = tuple(f"{m.__table__.name}__{c}" for m in INDEX_TABLES for c in ("ord", *_value_columns(m.__table__)))


def pg_index_params(indexes: list[list[IndexValue]]) -> dict[str, list[Any]]:
    """One array per index column, the arrays :func:`pg_index_ctes` unnests.

    :param indexes: ``indexes[n]`` holds the values of the resource at position ``n + 1``.
    """
    params: dict[str, list[Any]] = {name: [] for name in _PG_PARAM_NAMES}
    for ord_, values in enumerate(indexes, start=1):
        for value in values:
            table = _TABLE_OF[type(value)].name
            params[f"{table}__ord"].append(ord_)
            for column, item in _fields(value).items():
                params[f"{table}__{column}"].append(item)
    return params


def write_index(connection: Connection, resource_pk: int, resource_type: str, values: list[IndexValue]) -> None:
    """Insert the index rows of a newly stored version (the SQLite path)."""
    by_table: dict[Table, list[dict[str, Any]]] = defaultdict(list)
    for value in values:
        row = _fields(value)
        row["resource_pk"] = resource_pk
        row["resource_type"] = resource_type
        by_table[_TABLE_OF[type(value)]].append(row)
    for table, rows in by_table.items():
        connection.execute(insert(table), rows)


def clear_index(connection: Connection, resource_pk: int) -> None:
    """Remove every index row of a resource (the SQLite path)."""
    for model in INDEX_TABLES:
        table = model.__table__
        connection.execute(delete(table).where(table.c.resource_pk == resource_pk))

"""``_sort`` expressions and keyset cursors, so pages stay stable under concurrent writes.

A cursor names the sort values and row key of the last (or first) entry of a
page; the next page continues strictly after it, so rows inserted or changed
elsewhere never shift an entry into two pages or out of all of them.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import ColumnElement, FromClause, and_, func, literal, or_, select

from conformance.search_parameters import SearchRegistry
from fhir_server.errors import BadRequest
from fhir_server.search.params._context import PlanContext, UnsupportedSearch
from fhir_server.search.query import Criterion, SortKey
from fhir_server.search.sort_bounds import sort_rows
from models.search import SpidxDateSort, SpidxNumber, SpidxQuantity, SpidxReference, SpidxString, SpidxToken, SpidxUri

#: Per parameter type: the index table and the column a resource sorts by.
_SORT_COLUMNS = {
    "string": (SpidxString.__table__, "normalized", ""),
    "token": (SpidxToken.__table__, "code", ""),
    "uri": (SpidxUri.__table__, "uri", ""),
    "reference": (SpidxReference.__table__, "target_id", ""),
    "number": (SpidxNumber.__table__, "value", Decimal("-1e30")),
    "quantity": (SpidxQuantity.__table__, "value", Decimal("-1e30")),
}


@dataclass(frozen=True, slots=True)
class SortColumn:
    """One ORDER BY expression and its direction, and the join it needs, if any."""

    expression: ColumnElement[Any]
    descending: bool
    #: ``(table alias, ON clause)`` to inner-join for this key.
    join: tuple[FromClause, ColumnElement[bool]] | None = None
    #: Search criteria the join already enforces, to leave out of the WHERE.
    enforces: tuple[Criterion, ...] = ()


def sort_columns(
    res: FromClause,
    resource_type: str,
    keys: list[SortKey],
    registry: SearchRegistry,
    criteria: tuple[list[Criterion], PlanContext] | None = None,
) -> list[SortColumn]:
    """ORDER BY expressions for ``_sort``, always ending in the row key as a tie-breaker.

    A resource with several values sorts by its lowest ascending and its highest
    descending; one with none sorts first ascending (a fixed sentinel stands in
    for "no value" so the keyset comparison stays total). ``criteria`` (with their
    plan context) on the first key, a date parameter, narrow its sort rows and may be
    enforced by its join (:func:`~fhir_server.search.sort_bounds.sort_rows`).
    """
    columns = []
    for key in keys:
        if key.code == "_id":
            columns.append(SortColumn(res.c.fhir_id, key.descending))
            continue
        if key.code == "_lastUpdated":
            columns.append(SortColumn(res.c.last_updated, key.descending))
            continue
        param = registry.get(resource_type, key.code)
        if param is None:
            raise UnsupportedSearch(f"Cannot sort by `{key.code}`: it is not a search parameter of `{resource_type}`.")
        if param.type == "date":
            # One span row per (resource, date param): an inner join in index order, no aggregate.
            name = f"sort_{len(columns)}"
            bounded = None
            if criteria is not None and not columns:
                bounded = sort_rows(name, resource_type, param.code, *criteria, descending=key.descending)
            if bounded is None:
                span: Any = SpidxDateSort.__table__.alias(name)
                narrowed = and_(span.c.resource_type == resource_type, span.c.param == param.code)
                enforces: tuple[Criterion, ...] = ()
            else:
                span, narrowed, enforces = bounded
            on = and_(span.c.resource_pk == res.c.pk, narrowed)
            expression = span.c.high if key.descending else span.c.low
            columns.append(SortColumn(expression, key.descending, (span, on), enforces))
            continue
        if param.type in _SORT_COLUMNS:
            table, name, empty = _SORT_COLUMNS[param.type]
            column = table.c[name]
        else:
            raise UnsupportedSearch(f"Cannot sort by `{key.code}`: parameters of type `{param.type}` are not sortable.")
        aggregate = func.max(column) if key.descending else func.min(column)
        value = (
            select(aggregate)
            .where(table.c.resource_pk == res.c.pk, table.c.resource_type == resource_type, table.c.param == param.code)
            .scalar_subquery()
        )
        columns.append(SortColumn(func.coalesce(value, literal(empty)), key.descending))
    columns.append(SortColumn(res.c.pk, False))
    return columns


def order_by(columns: list[SortColumn], *, backwards: bool) -> list[ColumnElement[Any]]:
    """ORDER BY clauses; ``backwards`` walks towards earlier pages."""
    return [c.expression.desc() if c.descending != backwards else c.expression.asc() for c in columns]


def after(columns: list[SortColumn], values: list[Any], *, backwards: bool) -> ColumnElement[bool]:
    """Rows strictly after (or, ``backwards``, before) the row with sort ``values``.

    The OR of alternatives mixes columns of several tables, so it is also stated as
    a plain bound on the first key, which the database can use as an index range
    (and push into a sort join's subqueries) instead of rereading earlier pages.
    """
    alternatives = []
    for i, column in enumerate(columns):
        equal = [columns[j].expression == values[j] for j in range(i)]
        later = column.expression < values[i] if column.descending != backwards else column.expression > values[i]
        alternatives.append(and_(*equal, later))
    first = columns[0].expression
    bound = first <= values[0] if columns[0].descending != backwards else first >= values[0]
    return and_(bound, or_(*alternatives))


def encode_cursor(values: list[Any], *, backwards: bool) -> str:
    """An opaque URL-safe cursor for the row with sort ``values``."""
    tagged = [_tag(v) for v in values]
    raw = orjson.dumps({"v": tagged, "b": backwards})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[list[Any], bool]:
    """Sort values and direction from :func:`encode_cursor`.

    :raises BadRequest: for a cursor this server did not issue.
    """
    try:
        data = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return [_untag(v) for v in data["v"]], bool(data["b"])
    except (ValueError, KeyError, TypeError) as exc:
        raise BadRequest(f"`_cursor={cursor}` is not a paging cursor issued by this server.") from exc


def _tag(value: Any) -> list[Any]:
    if isinstance(value, datetime):
        return ["t", value.isoformat()]
    if isinstance(value, Decimal):
        return ["d", str(value)]
    return ["s", value]


def _untag(item: list[Any]) -> Any:
    kind, value = item
    if kind == "t":
        return datetime.fromisoformat(value)
    if kind == "d":
        return Decimal(value)
    return value

"""Token parameters: ``code``, ``system|code``, ``|code``, ``system|``, ``:text``, ``:of-type``.

``:not`` and ``:missing`` apply to the whole criterion and live in the planner
(http://hl7.org/fhir/R4/search.html#token).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, FromClause, Table, and_

from fhir_server.search.params._context import PlanContext, UnsupportedSearch
from fhir_server.search.params.string import normalize
from fhir_server.search.query import split_escaped, unescape
from models.search import SpidxToken

TABLE: Table = SpidxToken.__table__
MODIFIERS = frozenset({"text", "of-type", "not"})


def condition(table: FromClause, modifier: str | None, value: str, context: PlanContext) -> ColumnElement[bool]:
    """The condition on one ``spidx_token`` row for one search value."""
    if modifier == "text":
        return table.c.text.like(f"%{normalize(unescape(value))}%")
    parts = [unescape(p) for p in split_escaped(value, "|")]
    if modifier == "of-type":
        if len(parts) != 3:
            raise UnsupportedSearch(f"`:of-type` needs `system|code|value`, not `{value}`.")
        return and_(table.c.type_system == parts[0], table.c.type_code == parts[1], table.c.code == parts[2])
    if modifier not in (None, "not"):
        raise UnsupportedSearch(f"Modifier `:{modifier}` is not supported on token parameters.")
    if len(parts) == 1:
        return table.c.code == parts[0]
    if len(parts) != 2:
        raise UnsupportedSearch(f"`{value}` is not a token: use `code`, `system|code`, `|code` or `system|`.")
    system, code = parts
    if system == "":
        return and_(table.c.system.is_(None), table.c.code == code)
    if code == "":
        return table.c.system == system
    return and_(table.c.system == system, table.c.code == code)

"""String parameters: starts-with by default, ``:exact``, ``:contains`` (http://hl7.org/fhir/R4/search.html#string)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, FromClause, Table

from fhir_server.search._extract_ranges import normalize_text
from fhir_server.search.params._context import PlanContext, UnsupportedSearch
from fhir_server.search.query import unescape
from models.search import MAX_INDEXED_LENGTH, SpidxString

TABLE: Table = SpidxString.__table__
MODIFIERS = frozenset({"exact", "contains"})


#: Case- and accent-insensitive form: the very function extraction stores, so index and query fold alike.
normalize = normalize_text


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def condition(table: FromClause, modifier: str | None, value: str, context: PlanContext) -> ColumnElement[bool]:
    """The condition on one ``spidx_string`` row for one search value."""
    text = unescape(value)
    if modifier == "exact":
        return table.c.exact == text[:MAX_INDEXED_LENGTH]
    needle = _like_escape(normalize(text)[:MAX_INDEXED_LENGTH])
    if modifier == "contains":
        return table.c.normalized.like(f"%{needle}%", escape="\\")
    if modifier is None:
        return table.c.normalized.like(f"{needle}%", escape="\\")
    raise UnsupportedSearch(f"Modifier `:{modifier}` is not supported on string parameters.")

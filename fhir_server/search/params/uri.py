"""URI parameters: exact by default, ``:below`` and ``:above`` (http://hl7.org/fhir/R4/search.html#uri)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, FromClause, Table, literal

from fhir_server.search.params._context import PlanContext, UnsupportedSearch
from fhir_server.search.query import unescape
from models.search import SpidxUri

TABLE: Table = SpidxUri.__table__
MODIFIERS = frozenset({"below", "above"})


def condition(table: FromClause, modifier: str | None, value: str, context: PlanContext) -> ColumnElement[bool]:
    """The condition on one ``spidx_uri`` row for one search value."""
    uri = unescape(value)
    if modifier is None:
        return table.c.uri == uri
    if modifier == "below":
        return table.c.uri.like(uri.replace("%", "\\%").replace("_", "\\_") + "%", escape="\\")
    if modifier == "above":
        # The stored URI is a prefix of the searched one.
        return literal(uri).like(table.c.uri + "%")
    raise UnsupportedSearch(f"Modifier `:{modifier}` is not supported on uri parameters.")

"""Quantity parameters: ``[prefix]value|system|code`` (http://hl7.org/fhir/R4/search.html#quantity).

``value||code`` matches the code against either the coded unit or the unit text.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, FromClause, Table, and_, or_

from fhir_server.search.params._context import PlanContext, UnsupportedSearch
from fhir_server.search.params.number import parse as parse_number
from fhir_server.search.params.number import value_condition
from fhir_server.search.query import split_escaped, unescape
from models.search import SpidxQuantity

TABLE: Table = SpidxQuantity.__table__
MODIFIERS: frozenset[str] = frozenset()


def condition(table: FromClause, modifier: str | None, value: str, context: PlanContext) -> ColumnElement[bool]:
    """The condition on one ``spidx_quantity`` row for one search value."""
    if modifier is not None:
        raise UnsupportedSearch(f"Modifier `:{modifier}` is not supported on quantity parameters.")
    parts = [unescape(p) for p in split_escaped(value, "|")]
    if len(parts) not in (1, 3):
        raise UnsupportedSearch(f"`{value}` is not a quantity search value such as `5.4|http://unitsofmeasure.org|mg`.")
    prefix, number, low, high = parse_number(parts[0])
    clauses = [value_condition(table, prefix, number, low, high)]
    if len(parts) == 3:
        system, code = parts[1], parts[2]
        if system:
            clauses.append(table.c.system == system)
            if code:
                clauses.append(table.c.code == code)
        elif code:
            clauses.append(or_(table.c.code == code, table.c.unit == code))
    return and_(*clauses)

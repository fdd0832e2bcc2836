"""Number parameters with prefixes and implicit precision (http://hl7.org/fhir/R4/search.html#number).

A number stands for the range its significant digits imply, on both sides: the
search value ``0.40`` is ``[0.395, 0.405)``, and a stored ``0.4049`` is
``[0.40485, 0.40495]`` (``spidx_number``/``spidx_quantity`` keep each value's
``low`` and ``high``, from the decimal as written). With ``S`` the search range
and ``R`` the stored one, after the R4 prefix table (search.html#prefix):

* ``eq``: S contains R; ``ne``: it does not. So ``0.40`` matches ``0.396`` and
  ``0.4049`` but not ``0.39``, ``0.405`` or a stored ``0.4`` (which could be 0.44).
* ``gt``/``lt``/``ge``/``le``: the stored value against the search value exactly,
  as the spec's examples read (``gt100``: "greater than exactly 100").
* ``sa``: R starts at or after the end of S; ``eb``: R ends at or before its start.
* ``ap``: R overlaps S widened to 10% of the value either side (the spec's recommendation).

Composite components (``spidx_composite``) keep only the value, so there R is that point.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, FromClause, Table, and_, not_

from fhir_server.search.params._context import PlanContext, UnsupportedSearch
from fhir_server.search.params._prefix import split_prefix
from fhir_server.search.ranges import decimal_range
from models.search import SpidxNumber

TABLE: Table = SpidxNumber.__table__
MODIFIERS: frozenset[str] = frozenset()


def value_condition(table: FromClause, prefix: str, value: Decimal, low: Decimal, high: Decimal) -> ColumnElement[bool]:
    """The prefix rule on a stored number for a search value with its precision range ``[low, high)``.

    :param table: has ``value``, and ``low``/``high`` when the stored range is indexed.
    """
    column: ColumnElement[Any] = table.c.value
    stored_low: ColumnElement[Any] | None = getattr(table.c, "low", None)
    stored_high: ColumnElement[Any] | None = getattr(table.c, "high", None)
    if stored_low is None or stored_high is None:
        stored_low = stored_high = column
        contained = and_(column >= low, column < high)
    else:
        # A stored range has low <= high; the bound on the value keeps the lookup index's range scan short.
        contained = and_(stored_low >= low, stored_high <= high, column >= low, column <= high)
    if prefix == "eq":
        return contained
    if prefix == "ne":
        return not_(contained)
    if prefix in ("gt", "lt", "ge", "le"):
        rules = {"gt": column > value, "lt": column < value, "ge": column >= value, "le": column <= value}
        return rules[prefix]
    if prefix == "sa":
        return stored_low >= high
    if prefix == "eb":
        return stored_high <= low
    # ap: the search range widened to 10% of the value, as far as it overlaps the stored range.
    margin = abs(value) / 10
    return and_(stored_low <= max(high, value + margin), stored_high >= min(low, value - margin))


def parse(value: str) -> tuple[str, Decimal, Decimal, Decimal]:
    """``(prefix, value, low, high)`` of a number search value.

    :raises UnsupportedSearch: when the value is not a number.
    """
    prefix, text = split_prefix(value)
    parsed = decimal_range(text)
    if parsed is None:
        raise UnsupportedSearch(f"`{value}` is not a number search value such as `gt5.4`.")
    return prefix, *parsed


def condition(table: FromClause, modifier: str | None, value: str, context: PlanContext) -> ColumnElement[bool]:
    """The condition on one ``spidx_number`` row for one search value."""
    if modifier is not None:
        raise UnsupportedSearch(f"Modifier `:{modifier}` is not supported on number parameters.")
    prefix, number, low, high = parse(value)
    return value_condition(table, prefix, number, low, high)

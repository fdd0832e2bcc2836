"""Number parameters with prefixes and implicit precision (http://hl7.org/fhir/R4/search.html#number)."""

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


def value_condition(
    column: ColumnElement[Any], prefix: str, value: Decimal, low: Decimal, high: Decimal
) -> ColumnElement[bool]:
    """The prefix rule on a stored value column for a search value with its precision range."""
    within = and_(column >= low, column < high)
    rules = {
        "eq": lambda: within,
        "ne": lambda: not_(within),
        "gt": lambda: column > value,
        "sa": lambda: column > value,
        "lt": lambda: column < value,
        "eb": lambda: column < value,
        "ge": lambda: column >= value,
        "le": lambda: column <= value,
        # ap: within 10% of the value (the spec's recommendation), and at least its precision.
        "ap": lambda: and_(column >= min(low, value - abs(value) / 10), column <= max(high, value + abs(value) / 10)),
    }
    return rules[prefix]()


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
    return value_condition(table.c.value, prefix, number, low, high)

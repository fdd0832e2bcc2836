"""Date parameters with every prefix, against stored ``[low, high]`` ranges.

Each search value is itself a range by its precision (``2020-03`` is all of March).
The rules are the R4 prefix table (http://hl7.org/fhir/R4/search.html#prefix),
with ``S`` the search range and ``R`` the stored range.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, FromClause, Table, and_, not_, or_

from fhir_server.search.params._context import PlanContext, UnsupportedSearch
from fhir_server.search.params._prefix import split_prefix
from fhir_server.search.ranges import date_range
from models.search import SpidxDate

TABLE: Table = SpidxDate.__table__
MODIFIERS: frozenset[str] = frozenset()


def range_condition(
    low: ColumnElement[Any], high: ColumnElement[Any], prefix: str, sl: datetime, sh: datetime, context: PlanContext
) -> ColumnElement[bool]:
    """The prefix rule for stored range ``[low, high]`` (columns) and search range ``[sl, sh]``."""
    # Stored ranges have low <= high, so "contained" implies low <= sh: the extra
    # bound on low (the leading index column) lets the index range scan stop early.
    contained = and_(low >= sl, high <= sh, low <= sh)
    if prefix == "eq":
        return contained
    if prefix == "ne":
        return not_(contained)
    if prefix == "gt":
        return high > sh
    if prefix == "lt":
        return low < sl
    if prefix == "ge":
        return and_(high >= sl, or_(high > sh, contained))
    if prefix == "le":
        return and_(low <= sh, or_(low < sl, contained))
    if prefix == "sa":
        return low > sh
    if prefix == "eb":
        return high < sl
    # ap: overlap with the search range widened by 10% of its distance from now.
    slack = abs(context.now - sl) / 10 + (sh - sl) / 2 + timedelta(seconds=1)
    return and_(low <= sh + slack, high >= sl - slack)


def parse(value: str) -> tuple[str, datetime, datetime]:
    """``(prefix, low, high)`` of a date search value.

    :raises UnsupportedSearch: when the value is not a FHIR date.
    """
    prefix, text = split_prefix(value)
    bounds = date_range(text)
    if bounds is None:
        raise UnsupportedSearch(
            f"`{value}` is not a date search value such as `ge2020-01-01` or `2020-03-04T10:00:00Z`."
        )
    return prefix, bounds[0], bounds[1]


def condition(table: FromClause, modifier: str | None, value: str, context: PlanContext) -> ColumnElement[bool]:
    """The condition on one ``spidx_date`` row for one search value."""
    if modifier is not None:
        raise UnsupportedSearch(f"Modifier `:{modifier}` is not supported on date parameters.")
    prefix, sl, sh = parse(value)
    return range_condition(table.c.low, table.c.high, prefix, sl, sh, context)

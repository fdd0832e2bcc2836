"""Date criteria on the parameter a search sorts by, planned on its ``spidx_date_sort`` rows.

``_sort=-date`` walks the sort rows in ``high`` order; without bounds that walk
starts at the newest row and tests every row against the criteria, which for
``date=ge2019&date=lt2020`` means most of the table. The criteria decide on the
``spidx_date`` rows (one per value), and each AND'ed criterion may be met by a
*different* value (http://hl7.org/fhir/R4/search.html#date). What the sort row
holds (``low = min(value lows)``, ``high = max(value highs)``) still implies bounds:

- a value with ``high >= A`` (``ge``, ``gt``, ``sa``, ``eq``) gives ``row.high >= A``;
- a value with ``low <= B`` (``lt``, ``le``, ``eb``, ``eq``) gives ``row.low <= B``.

A bound on ``low`` says nothing about ``high`` of a row spanning years, but a row
of a resource with a single value spanning at most ``SHORT_SPAN_SECONDS`` (nearly
all: instants, dateTimes, dates) *is* that value, so (1) ``high <= B + 1 day`` and
(2) the criteria hold exactly when they hold on the row itself. Such "exact" rows
(``0 <= span_seconds <= 86400``) are read in a range bounded at both ends with the
criteria as plain conditions; the other rows (several values, or a long one) are read
bounded at one end with the criteria checked on ``spidx_date``. Rows of resources
without a value (``span_seconds`` NULL) are in neither: no date criterion matches them. Each part comes
ordered from its partial index and PostgreSQL merges them (Merge Append), so a
page reads about a page's worth of rows. The criteria planned here leave the main
WHERE, which is also what lets PostgreSQL estimate the walk's yield correctly.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, FromClause, and_, case, literal_column, or_, select, union_all

from fhir_server.search.params import date
from fhir_server.search.params._context import PlanContext, UnsupportedSearch
from fhir_server.search.query import Criterion
from fhir_server.search.ranges import MAX_INSTANT, MIN_INSTANT
from models.search import SHORT_SPAN_SECONDS, SpidxDate, SpidxDateSort

_span = SpidxDateSort.__table__
_SHORT_SPAN = timedelta(seconds=SHORT_SPAN_SECONDS)


def _value_bounds(value: str) -> tuple[datetime | None, datetime | None]:
    """``(A, B)``: a resource with a value matching ``value`` has ``row.high >= A`` and ``row.low <= B``."""
    prefix, sl, sh = date.parse(value)
    if prefix == "eq":
        return sl, sh
    if prefix == "ge":
        return sl, None
    if prefix in ("gt", "sa"):
        return sh, None
    if prefix in ("lt", "eb"):
        return None, sl
    if prefix == "le":
        return None, sh
    return None, None  # ne and ap: no bound worth the bookkeeping


def _plannable(criterion: Criterion, code: str) -> bool:
    """A plain criterion on ``code`` whose every value parses (others are left to the planner)."""
    if criterion.code != code or criterion.modifier or criterion.chain or criterion.has or not criterion.values:
        return False
    try:
        for value in criterion.values:
            date.parse(value)
    except UnsupportedSearch:
        return False
    return True


def span_bounds(criteria: list[Criterion], code: str) -> tuple[datetime | None, datetime | None]:
    """``(A, B)`` with ``row.high >= A`` and ``row.low <= B`` for every match of ``criteria``.

    Only plannable criteria on parameter ``code`` count. Values of one criterion are
    OR'ed, so it bounds only if every value does (by the loosest).
    """
    highest_low: datetime | None = None
    lowest_high: datetime | None = None
    for criterion in criteria:
        if not _plannable(criterion, code):
            continue
        bounds = [_value_bounds(v) for v in criterion.values]
        lows = [a for a, _ in bounds if a is not None]
        highs = [b for _, b in bounds if b is not None]
        if len(lows) == len(bounds):
            a = min(lows)
            highest_low = a if highest_low is None else max(highest_low, a)
        if len(highs) == len(bounds):
            b = max(highs)
            lowest_high = b if lowest_high is None else min(lowest_high, b)
    return highest_low, lowest_high


def _shift(moment: datetime, delta: timedelta) -> datetime:
    try:
        return moment + delta
    except OverflowError:  # a bound at the end of the calendar: the sentinels are as far as rows go
        return MAX_INSTANT if delta > timedelta(0) else MIN_INSTANT


def _on_row(rows: FromClause, criterion: Criterion, context: PlanContext) -> ColumnElement[bool]:
    """``criterion`` on the sort row itself: exact for a resource whose only value the row is."""
    return or_(*(date.range_condition(rows.c.low, rows.c.high, *date.parse(v), context) for v in criterion.values))


def _nearly_always(condition: ColumnElement[bool]) -> ColumnElement[bool]:
    """``condition``, in a form PostgreSQL estimates to hold for nearly every row (``<> 0``).

    Within the walk's range almost every exact row meets the criteria (the range comes
    from them), but PostgreSQL would multiply in each criterion's selectivity over the
    whole table (``ge2023``: a fifth of all rows), underestimate the walk twentyfold
    and then hash every match of the other criteria instead of reading one page.
    """
    return case((condition, 1), else_=0) != 0


def _on_values(rows: FromClause, criterion: Criterion, resource_type: str, context: PlanContext) -> ColumnElement[bool]:
    """``criterion`` on the resource's ``spidx_date`` rows, probed per sort row.

    ``OFFSET 0`` keeps PostgreSQL from turning the EXISTS into a (hash) semi-join: its
    estimate of these rows is poor (the statistics do not know which rows are exact),
    and a hash over every date row of the type must be built before the first row
    comes out, while probing the index for each row read keeps the walk lazy.
    """
    values = SpidxDate.__table__.alias()
    conditions = [date.condition(values, None, v, context) for v in criterion.values]
    matching = select(values.c.resource_pk).where(
        values.c.resource_pk == rows.c.resource_pk,
        values.c.resource_type == resource_type,
        values.c.param == criterion.code,
        or_(*conditions),
    )
    return matching.offset(0).exists()


def _exact(rows: FromClause, exact: bool) -> ColumnElement[bool]:
    """The predicate of the ``exact`` (or ``other``) partial indexes, on ``rows``."""
    span = rows.c.span_seconds
    if exact:
        return and_(span >= 0, span <= SHORT_SPAN_SECONDS)
    return or_(span < 0, span > SHORT_SPAN_SECONDS)


def sort_rows(
    name: str, resource_type: str, code: str, criteria: list[Criterion], context: PlanContext, *, descending: bool
) -> tuple[FromClause, ColumnElement[bool], tuple[Criterion, ...]] | None:
    """The sort rows of ``code`` narrowed by ``criteria``: ``(rows, condition, enforced criteria)``.

    ``None`` when the criteria imply no bound. ``condition`` goes with the join on
    ``rows.resource_pk``. Only when the walk is bounded at its far end does this
    enforce the criteria on ``code`` itself (the caller drops them from its WHERE);
    otherwise it only adds the bounds they imply.

    The split is a UNION ALL of the table with itself, each copy tagged by a constant
    ``part`` column and no WHERE of its own, so PostgreSQL flattens it into an append
    relation: the condition reduces to the exact part's on one copy and the other
    part's on the other, each copy keeps every access path of the table (an ordered
    walk of its partial index, merged with the other's; or a lookup by
    ``resource_pk`` when another criterion, such as one patient, is more selective).
    """
    a, b = span_bounds(criteria, code)
    if a is None and b is None:
        return None
    own = [_span.c.resource_pk, _span.c.resource_type, _span.c.param, _span.c.low, _span.c.high, _span.c.span_seconds]
    if descending and b is not None:
        walk_bounds: list[Any] = [
            ("high", "<=", _shift(b, _SHORT_SPAN)),
            *([("high", ">=", a)] if a is not None else []),
        ]
    elif not descending and a is not None:
        walk_bounds = [("low", ">=", _shift(a, -_SHORT_SPAN)), *([("low", "<=", b)] if b is not None else [])]
    else:
        rows: FromClause = _span.alias(name)
        return rows, and_(rows.c.resource_type == resource_type, rows.c.param == code, *_implied(rows, a, b)), ()
    parts = [select(*own, literal_column(str(i)).label("part")) for i in (0, 1)]
    rows = union_all(*parts).subquery(name)
    enforced = tuple(c for c in criteria if _plannable(c, code))
    walk = [rows.c[column] <= bound if op == "<=" else rows.c[column] >= bound for column, op, bound in walk_bounds]
    exact = and_(
        rows.c.part == 0,
        _exact(rows, True),
        *walk,
        _nearly_always(and_(*(_on_row(rows, c, context) for c in enforced))),
    )
    per_value = [_on_values(rows, c, resource_type, context) for c in enforced]
    other = and_(rows.c.part == 1, _exact(rows, False), *_implied(rows, a, b), *per_value)
    return rows, and_(rows.c.resource_type == resource_type, rows.c.param == code, or_(exact, other)), enforced


def _implied(rows: FromClause, a: datetime | None, b: datetime | None) -> list[ColumnElement[bool]]:
    return [*([rows.c.high >= a] if a is not None else []), *([rows.c.low <= b] if b is not None else [])]

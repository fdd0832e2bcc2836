"""Runs a planned search: one page of matches, then includes, then the total."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, false, func, or_, select, text, tuple_
from sqlalchemy.orm import Session

from conformance.search_parameters import SearchRegistry
from fhir_server.repository._reach import compartment_condition, reach_condition, reachable_ids
from fhir_server.repository.context import Reach
from fhir_server.repository.protocol import StoredResource
from fhir_server.search.paging import after, decode_cursor, encode_cursor, order_by, sort_columns
from fhir_server.search.params._context import PlanContext
from fhir_server.search.planner import Planner
from fhir_server.search.query import Criterion, IncludeSpec, SearchQuery
from models.resource import ResourceRow
from models.search import SpidxReference

_resource = ResourceRow.__table__
_reference = SpidxReference.__table__
#: What a caller reaches of a resource type (see :meth:`AccessPolicy.restriction`).
ReachOf = Callable[[str], list[Reach] | None]
#: How many rounds of ``:iterate`` includes are followed at most.
MAX_INCLUDE_ROUNDS = 5


@dataclass
class SearchResult:
    """A page of search results."""

    matches: list[StoredResource]
    includes: list[StoredResource] = field(default_factory=list)
    total: int | None = None
    next_cursor: str | None = None
    previous_cursor: str | None = None
    #: (parameter, reason) for criteria that were ignored.
    ignored: list[tuple[str, str]] = field(default_factory=list)


def _stored(row: Row[Any]) -> StoredResource:
    moment = row.last_updated if row.last_updated.tzinfo else row.last_updated.replace(tzinfo=UTC)
    return StoredResource(row.resource_type, row.fhir_id, row.version_id, moment, row.content, "GET")


def run_search(
    session: Session,
    registry: SearchRegistry,
    context: PlanContext,
    types: list[str],
    query: SearchQuery,
    *,
    page_size: int,
    strict: bool,
    compartment: tuple[str, str] | None = None,
    reach: ReachOf = lambda resource_type: None,
) -> SearchResult:
    """Execute ``query`` over resources of ``types``.

    :param compartment: ``(CompartmentType, id)`` to restrict to that compartment.
    :param reach: what the caller reaches of a type (``None``: all); matches, includes
        and totals never leave it, so a restricted caller cannot learn of the rest.
    """
    planner = Planner(registry, context, resolve=lambda query: session.execute(query).all())
    res = _resource.alias("r")
    scope = _Scope(compartment, reach)
    condition = or_(*(_type_condition(planner, res, t, query.criteria, strict, scope) for t in types))
    # Across several types only the resource-table keys (_id, _lastUpdated) are comparable.
    keys = query.sort if len(types) == 1 else [k for k in query.sort if k.code in ("_id", "_lastUpdated")]
    criteria = (query.criteria, context) if len(types) == 1 else None
    columns = sort_columns(res, types[0], keys, registry, criteria)
    result = SearchResult(matches=[], ignored=planner.ignored)
    if query.summary == "count":
        result.total = session.execute(select(func.count()).select_from(res).where(condition)).scalar_one()
        return result
    cursor_values, backwards = decode_cursor(query.cursor) if query.cursor else (None, False)
    enforced = {c for column in columns for c in column.enforces}
    page_condition = condition
    if enforced:  # the sort join checks these; the count below still needs them
        rest = [c for c in query.criteria if c not in enforced]
        page_condition = _type_condition(replace(planner, ignored=[]), res, types[0], rest, strict, scope)
    source: Any = res
    for column in columns:
        if column.join is not None:
            source = source.join(*column.join)
    page = (
        select(res, *(c.expression.label(f"sk{i}") for i, c in enumerate(columns)))
        .select_from(source)
        .where(page_condition)
    )
    if cursor_values is not None:
        page = page.where(after(columns, cursor_values, backwards=backwards))
    page = page.order_by(*order_by(columns, backwards=backwards)).limit(page_size + 1)
    rows = list(session.execute(page))
    more = len(rows) > page_size
    rows = rows[:page_size]
    if backwards:
        rows.reverse()
    row_keys = [[row._mapping[f"sk{i}"] for i in range(len(columns))] for row in rows]
    if rows:
        if more or backwards:
            result.next_cursor = encode_cursor(row_keys[-1], backwards=False)
        if cursor_values is not None and (more or not backwards):
            result.previous_cursor = encode_cursor(row_keys[0], backwards=True)
    result.matches = [_stored(row) for row in rows]
    result.includes = _includes(session, result.matches, query.includes, _visible_filter(session, registry, reach))
    result.total = _total(
        session, res, condition, query.total, len(rows) if cursor_values is None and not more else None
    )
    return result


def _type_condition(
    planner: Planner,
    res: Any,
    resource_type: str,
    criteria: list[Criterion],
    strict: bool,
    scope: _Scope,
) -> ColumnElement[bool]:
    condition = planner.where(res, resource_type, criteria, strict=strict)
    if scope.compartment is not None:
        compartment_type, _ = scope.compartment
        if not planner.registry.compartment_params(compartment_type, resource_type):
            return false()
        condition = and_(condition, compartment_condition(res, resource_type, scope.compartment, planner.registry))
    reaches = scope.reach(resource_type)
    if reaches is not None:
        condition = and_(condition, reach_condition(res, resource_type, reaches, planner.registry, planner))
    return condition


@dataclass(frozen=True, slots=True)
class _Scope:
    """What a search is confined to besides its criteria: a compartment search, the caller's reach."""

    compartment: tuple[str, str] | None
    reach: ReachOf


def _visible_filter(
    session: Session, registry: SearchRegistry, reach: ReachOf
) -> Callable[[list[StoredResource]], list[StoredResource]]:
    """Drops the resources outside the caller's reach (one query per restricted type)."""

    def visible(found: list[StoredResource]) -> list[StoredResource]:
        by_type: dict[str, list[str]] = {}
        for stored in found:
            by_type.setdefault(stored.resource_type, []).append(stored.id)
        allowed: dict[str, set[str] | None] = {}
        for resource_type, ids in by_type.items():
            reaches = reach(resource_type)
            allowed[resource_type] = (
                None if reaches is None else reachable_ids(session, registry, resource_type, ids, reaches)
            )
        return [s for s in found if (reached := allowed[s.resource_type]) is None or s.id in reached]

    return visible


def _total(
    session: Session, res: Any, condition: ColumnElement[bool], mode: str | None, known: int | None
) -> int | None:
    if mode == "none":
        return None
    if mode is None:
        return known
    count = select(func.count()).select_from(res).where(condition)
    if mode == "estimate" and session.get_bind().dialect.name == "postgresql":
        compiled = count.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
        plan = session.execute(text(f"EXPLAIN (FORMAT JSON) {compiled}")).scalar_one()
        return int(plan[0]["Plan"].get("Plans", [plan[0]["Plan"]])[0]["Plan Rows"])
    return int(session.execute(count).scalar_one())


def _includes(
    session: Session,
    matches: list[StoredResource],
    specs: list[IncludeSpec],
    visible: Callable[[list[StoredResource]], list[StoredResource]],
) -> list[StoredResource]:
    seen = {(m.resource_type, m.id) for m in matches}
    found: list[StoredResource] = []
    frontier = matches
    for round_number in range(MAX_INCLUDE_ROUNDS):
        active = [s for s in specs if round_number == 0 or s.iterate]
        if not active or not frontier:
            break
        new = []
        for stored in visible(_include_round(session, frontier, active)):
            if (stored.resource_type, stored.id) not in seen:
                seen.add((stored.resource_type, stored.id))
                new.append(stored)
        found += new
        frontier = new
    return found


def _include_round(session: Session, frontier: list[StoredResource], specs: list[IncludeSpec]) -> list[StoredResource]:
    pairs = [(r.resource_type, r.id) for r in frontier]
    target = _resource.alias("t")
    out: list[StoredResource] = []
    for spec in specs:
        ref = _reference.alias("x")
        source = _resource.alias("s")
        if spec.reverse:
            query = (
                select(source)
                .select_from(ref.join(source, source.c.pk == ref.c.resource_pk))
                .where(tuple_(ref.c.target_type, ref.c.target_id).in_(pairs), source.c.deleted == false())
            )
            if spec.source_type != "*":
                query = query.where(ref.c.resource_type == spec.source_type)
        else:
            sources = select(_resource.c.pk).where(tuple_(_resource.c.resource_type, _resource.c.fhir_id).in_(pairs))
            if spec.source_type != "*":
                sources = sources.where(_resource.c.resource_type == spec.source_type)
            joined = ref.join(
                target, and_(target.c.resource_type == ref.c.target_type, target.c.fhir_id == ref.c.target_id)
            )
            query = (
                select(target).select_from(joined).where(ref.c.resource_pk.in_(sources), target.c.deleted == false())
            )
            if spec.target_type:
                query = query.where(ref.c.target_type == spec.target_type)
        if spec.param != "*":
            query = query.where(ref.c.param == spec.param)
        out += [_stored(row) for row in session.execute(query)]
    return out

"""What a caller reaches, as SQL: the conditions every read path adds for a restricted caller.

The access policy describes reach as :class:`Reach` alternatives (a compartment,
search criteria from a scope's query); this module turns them into conditions on
a ``resource`` alias, so search matches, includes, totals, reads and history all
filter in the database with the same rule.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_, select, true
from sqlalchemy.orm import Session

from conformance.search_parameters import SearchRegistry
from fhir_server.repository.context import Reach
from fhir_server.search.params._context import PlanContext
from fhir_server.search.planner import Planner
from fhir_server.search.query import parse_query
from models.resource import ResourceRow
from models.search import SpidxReference

_resource = ResourceRow.__table__
_reference = SpidxReference.__table__


def compartment_condition(
    res: Any, resource_type: str, compartment: tuple[str, str], registry: SearchRegistry
) -> ColumnElement[bool]:
    """Resources of ``resource_type`` (alias ``res``) in the compartment ``(Type, id)``.

    The compartment's own resource (``Patient/1`` for ``Patient/1``'s compartment)
    is in it; other resources of that type are not.
    """
    compartment_type, compartment_id = compartment
    if resource_type == compartment_type:
        return res.c.fhir_id == compartment_id
    params = registry.compartment_params(compartment_type, resource_type)
    if not params:
        return false()
    members = select(_reference.c.resource_pk).where(
        _reference.c.resource_type == resource_type,
        _reference.c.param.in_(params),
        _reference.c.target_type == compartment_type,
        _reference.c.target_id == compartment_id,
    )
    return res.c.pk.in_(members)


def reach_condition(
    res: Any, resource_type: str, reaches: list[Reach], registry: SearchRegistry, planner: Planner
) -> ColumnElement[bool]:
    """Resources of ``resource_type`` that match at least one of ``reaches``."""
    alternatives = []
    for reach in reaches:
        parts = []
        if reach.compartment is not None:
            parts.append(compartment_condition(res, resource_type, reach.compartment, registry))
        if reach.query:
            criteria = parse_query(reach.query).criteria
            parts.append(planner.where(res, resource_type, criteria, strict=True))
        alternatives.append(and_(*parts) if parts else true())
    return or_(*alternatives) if alternatives else false()


def planner_for(session: Session, registry: SearchRegistry, base_url: str = "") -> Planner:
    """A planner for reach conditions outside a search (reads, history)."""
    context = PlanContext(base_url=base_url, now=datetime.now(UTC))
    return Planner(registry, context, resolve=lambda query: session.execute(query).all())


def reachable(
    session: Session, registry: SearchRegistry, resource_type: str, resource_id: str, reaches: list[Reach]
) -> bool:
    """Whether the stored ``resource_type/resource_id`` is within ``reaches``."""
    res = _resource.alias("r")
    condition = reach_condition(res, resource_type, reaches, registry, planner_for(session, registry))
    query = select(res.c.pk).where(res.c.resource_type == resource_type, res.c.fhir_id == resource_id, condition)
    return session.execute(query).first() is not None


def reachable_ids(
    session: Session, registry: SearchRegistry, resource_type: str, ids: list[str], reaches: list[Reach]
) -> set[str]:
    """Which of ``ids`` (of one type) are within ``reaches``."""
    res = _resource.alias("r")
    condition = reach_condition(res, resource_type, reaches, registry, planner_for(session, registry))
    query = select(res.c.fhir_id).where(res.c.resource_type == resource_type, res.c.fhir_id.in_(ids), condition)
    return set(session.scalars(query))

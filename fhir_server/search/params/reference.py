"""Reference parameters: ``Type/id``, bare ``id``, absolute URLs, ``:Type`` (http://hl7.org/fhir/R4/search.html#reference).

``:identifier`` searches the reference's identifier and is planned as a token
search; chains (``subject:Patient.name``) are planned by the planner.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, FromClause, Table, and_

from conformance.resource_types import is_resource_type
from fhir_server.search.params._context import PlanContext, UnsupportedSearch
from fhir_server.search.query import unescape
from models.search import SpidxReference

TABLE: Table = SpidxReference.__table__


def local_target(reference: str, base_url: str) -> tuple[str | None, str] | None:
    """``(type, id)`` when ``reference`` points into this server, else ``None``."""
    text = reference[len(base_url) + 1 :] if reference.startswith(base_url + "/") else reference
    parts = text.split("/")
    if len(parts) >= 4 and parts[2] == "_history":
        parts = parts[:2]
    if len(parts) == 2 and is_resource_type(parts[0]):
        return parts[0], parts[1]
    if len(parts) == 1 and "://" not in text and ":" not in text:
        return None, parts[0]
    return None


def condition(table: FromClause, modifier: str | None, value: str, context: PlanContext) -> ColumnElement[bool]:
    """The condition on one ``spidx_reference`` row for one search value.

    :param modifier: ``None`` or a resource type (the ``:Type`` modifier).
    """
    reference = unescape(value)
    if modifier is not None and not is_resource_type(modifier):
        raise UnsupportedSearch(f"Modifier `:{modifier}` is not supported on reference parameters.")
    target = local_target(reference, context.base_url)
    if target is None:
        url, _, version = reference.partition("|")
        clause = table.c.url == url
        return and_(clause, table.c.version == version) if version else clause
    target_type, target_id = target
    if modifier and target_type and modifier != target_type:
        raise UnsupportedSearch(f"`:{modifier}` contradicts the reference `{reference}`.")
    target_type = target_type or modifier
    clause = table.c.target_id == target_id
    return and_(clause, table.c.target_type == target_type) if target_type else clause

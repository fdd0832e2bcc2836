"""The components of a composite search parameter and the index slot each one fills.

One function answers "what are this composite's components, of which type, in
which ``spidx_composite`` columns" for both the writer
(:mod:`fhir_server.search._extract_composite`) and the planner
(:mod:`fhir_server.search.params.composite`), so the two cannot disagree.
A component's type is that of the SearchParameter its ``definition`` names
(http://hl7.org/fhir/R4/searchparameter-definitions.html#SearchParameter.component).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from models.search import COMPOSITE_SLOTS

if TYPE_CHECKING:
    from collections.abc import Mapping

    from conformance.search_parameters import SearchParam, SearchRegistry

__all__ = ["ComponentShape", "UnsupportedComposite", "component_shapes"]

_SP = "http://hl7.org/fhir/SearchParameter/"
#: Published R4 definitions whose components are wrong, and the fix. R4's
#: DocumentReference ``relationship`` pairs the reference definition with the
#: ``code`` expression and the token one with ``target``; R5 swapped the
#: expressions back, and so do we: ``relationship=DocumentReference/1$replaces``.
_R4_ERRATA: dict[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]] = {
    ((f"{_SP}DocumentReference-relatesto", "code"), (f"{_SP}DocumentReference-relation", "target")): (
        (f"{_SP}DocumentReference-relatesto", "target"),
        (f"{_SP}DocumentReference-relation", "code"),
    ),
}


class UnsupportedComposite(ValueError):
    """A composite whose components this server cannot index; the message names the parameter and component."""


@dataclass(frozen=True, slots=True)
class ComponentShape:
    """One component of a composite as the index stores it."""

    #: The canonical URL of the component's SearchParameter definition.
    definition: str
    #: That definition's parameter type (``token``, ``quantity``...).
    type: str
    #: FHIRPath evaluated on each element the composite's own expression selects.
    expression: str
    #: Column of the plain index table (``code``) to the composite's column (``token1_code``).
    columns: Mapping[str, str]


def component_shapes(param: SearchParam, registry: SearchRegistry, resource_type: str) -> tuple[ComponentShape, ...]:
    """Return the components of composite ``param`` of ``resource_type``, in search-value order.

    Each type's components take that type's slots in order (:data:`models.search.COMPOSITE_SLOTS`).

    :raises UnsupportedComposite: when a component's definition is unknown, or the
        composite has more components of one type than the index has slots.
    """
    components = _R4_ERRATA.get(param.components, param.components)
    if not components:
        raise UnsupportedComposite(f"Composite search parameter `{param.code}` of `{resource_type}` has no components.")
    taken: dict[str, int] = {}
    shapes = []
    for url, expression in components:
        definition = registry.by_url(url, resource_type)
        if definition is None:
            raise UnsupportedComposite(
                f"Component `{url}` of composite search parameter `{param.code}` is not a search parameter of `{resource_type}`."
            )
        slots = COMPOSITE_SLOTS.get(definition.type, ())
        position = taken.get(definition.type, 0)
        if not slots:
            raise UnsupportedComposite(
                f"Component `{url}` of composite search parameter `{param.code}` has type `{definition.type}`, "
                "which composites do not support."
            )
        if position >= len(slots):
            raise UnsupportedComposite(
                f"Composite search parameter `{param.code}` of `{resource_type}` has {position + 1} or more "
                f"`{definition.type}` components; the index holds at most {len(slots)}."
            )
        taken[definition.type] = position + 1
        shapes.append(ComponentShape(url, definition.type, expression, slots[position]))
    return tuple(shapes)

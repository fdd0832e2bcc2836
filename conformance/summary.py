"""Element sets behind the ``_summary`` and ``_elements`` read parameters.

``_summary=true`` returns the elements marked ``isSummary`` in the R4
definitions; ``_elements`` returns the requested elements plus the mandatory
ones (https://hl7.org/fhir/R4/search.html#summary and #elements). Both work on
top-level JSON property names, with choice elements expanded (``valueQuantity``),
so a caller can filter a stored resource's keys directly.
"""

from __future__ import annotations

from functools import cache

from conformance._definitions import definitions

__all__ = ["mandatory_elements", "summary_elements"]

# Always kept: the spec says summaries carry id, meta and implicitRules (search.html#summary),
# and `Resource.id`/`meta` are summary elements anyway; implicitRules must never be dropped
# because it changes how the rest is to be read.
_ALWAYS = frozenset({"id", "meta", "implicitRules"})


def _context_elements(resource_type: str) -> dict[str, tuple[bool, int]]:
    defs = definitions()
    if resource_type not in defs.resource_types:
        raise KeyError(f"Resource type `{resource_type}` is not a FHIR R4 resource type.")
    return {name: (element.summary, element.min) for name, element in defs.contexts[resource_type].elements.items()}


@cache
def summary_elements(resource_type: str) -> frozenset[str]:
    """Return the top-level JSON names kept by ``_summary=true`` for a resource type.

    Choice elements are expanded (``Observation.value[x]`` gives ``valueQuantity``,
    ``valueString`` ...), and ``id``, ``meta`` and ``implicitRules`` are always included.
    ``resourceType`` is not an element and is left for the caller to keep.

    :param resource_type: an R4 resource type, e.g. ``"Patient"``.
    :raises KeyError: when ``resource_type`` is not an R4 resource type.

    .. versionadded:: 0.1
    """
    elements = _context_elements(resource_type)
    return frozenset(name for name, (summary, _) in elements.items() if summary) | _ALWAYS


@cache
def mandatory_elements(resource_type: str) -> frozenset[str]:
    """Return the top-level JSON names of elements with ``min >= 1`` for a resource type.

    ``_elements`` must return these whatever was asked for; a choice element
    contributes all of its JSON names.

    :param resource_type: an R4 resource type, e.g. ``"Observation"``.
    :raises KeyError: when ``resource_type`` is not an R4 resource type.

    .. versionadded:: 0.1
    """
    elements = _context_elements(resource_type)
    return frozenset(name for name, (_, minimum) in elements.items() if minimum >= 1)

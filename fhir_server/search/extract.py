"""Extract a resource's search-index values at write time (http://hl7.org/fhir/R4/search.html).

For each search parameter of the resource's type, the parameter's compiled
FHIRPath (:mod:`fhir_server.search.fhirpath`) yields typed elements and a
converter per ``(parameter type, element type)`` turns each into the values of
:mod:`fhir_server.search.index_values`:

* **string**: HumanName family, each given, prefix, suffix and text; Address
  lines, city, district, state, postalCode, country and text; plain strings.
* **token**: Coding (display as text), each coding of a CodeableConcept plus a
  text-only row for its ``text``, Identifier (one row per type coding, for
  ``:of-type``), ContactPoint (value as code, use as system), code/string/uri/id
  primitives (code only) and booleans (``"true"``/``"false"``).
* **date**: date/dateTime/instant as the UTC range their precision covers;
  Period as start-low to end-high, ``None`` for an open end; Timing as the outer
  limits of its events and bounds Period. A time without a zone is read as UTC.
* **number**, **quantity**: the value with the range of its significant digits;
  Quantity and its profiles (Age, Duration...), Money (system
  ``urn:iso:std:iso:4217``, code = currency), SampledData's origin, and a Range
  only when both its ends are set.
* **reference**: ``Type/id`` (history stripped), absolute URLs (with type and id
  when the URL ends in them), ``urn:uuid:``/``urn:oid:`` URLs, canonicals
  (URL and ``|version``). Contained (``#id``) and unresolved conditional
  references are skipped. ``Reference.identifier`` becomes a :class:`TokenValue`
  named ``"<code>.identifier"``, for the ``:identifier`` modifier.
* **uri**: uri/url/canonical/oid/uuid strings.
* **composite**: a :class:`CompositeValue` per combination of component values
  within one element the composite's expression selects
  (:mod:`fhir_server.search._extract_composite`), each component converted by
  the rules above for its definition's type.

Not extracted: ``_id`` and ``_lastUpdated`` (columns of the resource table),
parameters without an expression (``_text``, ``_content``, ``_query``), the
``special`` type (``near`` needs a geo index), and composites whose component
types the index has no slots for. Identical values are returned once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from conformance.search_parameters import SearchRegistry, default_registry
from fhir_server.search._extract_composite import CompositePlan, composite_plan
from fhir_server.search._extract_element import resolve_type
from fhir_server.search._extract_roots import expression_roots, present_roots
from fhir_server.search._extract_values import CONVERTERS, Converter
from fhir_server.search.fhirpath import compile_fhirpath

if TYPE_CHECKING:
    from fhir_server.search.index_values import IndexValue

__all__ = ["SKIPPED_CODES", "extract_index_values"]

#: Common parameters the resource table already answers.
SKIPPED_CODES = frozenset({"_id", "_lastUpdated"})
_SKIPPED_TYPES = frozenset({"composite", "special"})

#: ``(code, type, compiled path, root elements or None)`` per plain parameter.
_Plan = tuple[tuple[str, str, Callable[[dict[str, Any]], list[tuple[Any, str | None]]], frozenset[str] | None], ...]


def _plan(registry: SearchRegistry, resource_type: str) -> tuple[_Plan, CompositePlan | None]:
    """Return ``(code, type, compiled path)`` for each plain parameter of a type, and its composites' plan.

    Kept on the registry (:meth:`SearchRegistry.derived`), not in a module cache: a
    registry replaced after a SearchParameter change takes its plans with it.
    """
    return registry.derived((_plan, resource_type), lambda: _build_plan(registry, resource_type))


def _build_plan(registry: SearchRegistry, resource_type: str) -> tuple[_Plan, CompositePlan | None]:
    params = registry.for_type(resource_type)
    plan = tuple(
        (param.code, param.type, compile_fhirpath(param.expression), expression_roots(param.expression, resource_type))
        for param in params.values()
        if param.expression and param.code not in SKIPPED_CODES and param.type not in _SKIPPED_TYPES
    )
    return plan, composite_plan(registry, resource_type, params)


def extract_index_values(resource: dict[str, Any], registry: SearchRegistry | None = None) -> list[IndexValue]:
    """Return the search-index values of ``resource``, each distinct value once.

    :param resource: a resource as parsed JSON, with its ``resourceType``.
    :param registry: the parameters to index; the official R4 set when ``None``.
    """
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str):
        return []
    plan, composites = _plan(registry or default_registry(), resource_type)
    out: list[IndexValue] = []
    seen: set[IndexValue] = set()
    present = present_roots(resource)
    for code, param_type, path, roots in plan:
        if roots is not None and roots.isdisjoint(present):
            continue  # none of the elements the expression starts from is in the resource
        for found, found_type in path(resource):
            if found_type == "Extension" or found_type is None:
                value, fhir_type = resolve_type(found, found_type, param_type)
            else:
                value, fhir_type = found, found_type
            convert: Converter | None = CONVERTERS.get((param_type, fhir_type or ""))
            if convert is None:
                continue
            for item in convert(code, value):
                if item not in seen:
                    seen.add(item)
                    out.append(item)
    if composites is not None:
        out.extend(composites.values(resource))
    return out

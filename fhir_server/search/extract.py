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

Not extracted: ``_id`` and ``_lastUpdated`` (columns of the resource table),
parameters without an expression (``_text``, ``_content``, ``_query``), and the
``composite`` and ``special`` types, which produce nothing here: composites are
indexed by the caller from their component values (:meth:`FhirPath.evaluate`
gives those), ``near`` needs a geo index. Identical values are returned once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from conformance.search_parameters import SearchParam, SearchRegistry, default_registry
from fhir_server.search._extract_values import CONVERTERS, Converter
from fhir_server.search._fhirpath_model import primitive_codes
from fhir_server.search.fhirpath import compile_fhirpath

if TYPE_CHECKING:
    from fhir_server.search.index_values import IndexValue

__all__ = ["SKIPPED_CODES", "extract_index_values"]

#: Common parameters the resource table already answers.
SKIPPED_CODES = frozenset({"_id", "_lastUpdated"})
_SKIPPED_TYPES = frozenset({"composite", "special"})
# ContactPoint.system codes; an Identifier.system is a URI and never one of these.
_CONTACT_SYSTEMS = frozenset({"phone", "fax", "email", "pager", "url", "sms", "other"})

_Plan = tuple[tuple[str, str, Callable[[dict[str, Any]], list[tuple[Any, str | None]]]], ...]
# Registry view (held, so its id cannot be reused) and the plan built from it, per resource type.
_PLANS: dict[tuple[int, str], tuple[Mapping[str, SearchParam], _Plan]] = {}


def _plan(registry: SearchRegistry, resource_type: str) -> _Plan:
    """Return ``(code, type, compiled path)`` for each parameter of a type that extraction indexes."""
    params = registry.for_type(resource_type)
    cached = _PLANS.get((id(registry), resource_type))
    if cached is not None and cached[0] is params:
        return cached[1]
    plan = tuple(
        (param.code, param.type, compile_fhirpath(param.expression))
        for param in params.values()
        if param.expression and param.code not in SKIPPED_CODES and param.type not in _SKIPPED_TYPES
    )
    _PLANS[(id(registry), resource_type)] = (params, plan)
    return plan


def _extension_value(extension: dict[str, Any]) -> tuple[Any, str | None]:
    """Return an Extension's ``value[x]`` and its type, from the JSON name's suffix."""
    for key, value in extension.items():
        if key.startswith("value") and len(key) > 5:
            suffix = key[5:]
            lowered = suffix[0].lower() + suffix[1:]
            return value, lowered if lowered in primitive_codes() else suffix
    return None, None


def _shape_type(value: Any, param_type: str) -> str | None:
    """Guess a FHIR type from the JSON shape, where the model could not say (fhirpathpy fallback)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "decimal"
    if isinstance(value, str):
        return {"date": "dateTime", "reference": "uri"}.get(param_type, "string")
    if not isinstance(value, dict):
        return None
    keys = value.keys()
    for names, guess in (
        (("reference", "identifier"), "Reference"),
        (("coding",), "CodeableConcept"),
        (("family", "given"), "HumanName"),
        (("line", "city", "postalCode"), "Address"),
        (("currency",), "Money"),
        (("start", "end"), "Period"),
        (("event", "repeat"), "Timing"),
        (("low", "high"), "Range"),
        (("origin",), "SampledData"),
        (("url",), "Extension"),
    ):
        if any(name in keys for name in names):
            return guess
    if "value" in keys and not isinstance(value["value"], str):
        return "Quantity"
    if "value" in keys:
        return "ContactPoint" if value.get("system") in _CONTACT_SYSTEMS else "Identifier"
    return "Coding" if "code" in keys else None


def extract_index_values(resource: dict[str, Any], registry: SearchRegistry | None = None) -> list[IndexValue]:
    """Return the search-index values of ``resource``, each distinct value once.

    :param resource: a resource as parsed JSON, with its ``resourceType``.
    :param registry: the parameters to index; the official R4 set when ``None``.
    """
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str):
        return []
    plan = _plan(registry or default_registry(), resource_type)
    out: list[IndexValue] = []
    seen: set[IndexValue] = set()
    for code, param_type, path in plan:
        for value, fhir_type in path(resource):
            if fhir_type == "Extension" or fhir_type is None:
                if fhir_type is None:
                    fhir_type = _shape_type(value, param_type)
                if fhir_type == "Extension":
                    value, fhir_type = _extension_value(value)
            convert: Converter | None = CONVERTERS.get((param_type, fhir_type or ""))
            if convert is None:
                continue
            for item in convert(code, value):
                if item not in seen:
                    seen.add(item)
                    out.append(item)
    return out

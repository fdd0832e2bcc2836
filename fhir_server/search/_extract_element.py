"""The FHIR type of an extracted element, where the compiled path could not give it.

Shared by plain extraction (:mod:`fhir_server.search.extract`) and composite
extraction (:mod:`fhir_server.search._extract_composite`), so a component's
values are converted exactly as the plain parameter's are.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from fhir_server.search._extract_values import CONVERTERS
from fhir_server.search._fhirpath_model import primitive_codes

if TYPE_CHECKING:
    from fhir_server.search.index_values import IndexValue

__all__ = ["element_values", "resolve_type"]

# ContactPoint.system codes; an Identifier.system is a URI and never one of these.
_CONTACT_SYSTEMS = frozenset({"phone", "fax", "email", "pager", "url", "sms", "other"})


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


def resolve_type(value: Any, fhir_type: str | None, param_type: str) -> tuple[Any, str | None]:
    """Return the value to convert and its FHIR type: an Extension's ``value[x]``, or a guessed type.

    Callers test ``fhir_type == "Extension" or fhir_type is None`` first: the
    common, typed case then costs no call.
    """
    if fhir_type is None:
        fhir_type = _shape_type(value, param_type)
    if fhir_type == "Extension":
        return _extension_value(value)
    return value, fhir_type


def element_values(code: str, param_type: str, value: Any, fhir_type: str | None) -> Iterable[IndexValue]:
    """Return what a ``param_type`` parameter named ``code`` indexes for one element; nothing when no rule fits."""
    if fhir_type == "Extension" or fhir_type is None:
        value, fhir_type = resolve_type(value, fhir_type, param_type)
    convert = CONVERTERS.get((param_type, fhir_type or ""))
    return () if convert is None else convert(code, value)

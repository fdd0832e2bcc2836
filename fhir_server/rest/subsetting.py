"""``_summary`` and ``_elements`` (http://hl7.org/fhir/R4/search.html#summary, #elements).

Applied to stored JSON only when asked for: the plain read path never parses.
"""

from __future__ import annotations

from typing import Any

from conformance.summary import mandatory_elements, summary_elements
from fhir_server.errors import BadRequest

#: The tag a server puts on a resource it returns only in part.
SUBSETTED = {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "SUBSETTED"}
_ALWAYS = frozenset({"resourceType", "id", "meta"})
SUMMARY_MODES = ("true", "false", "text", "data", "count")


def check_summary(value: str | None, *, allow_count: bool) -> str | None:
    """Validate a ``_summary`` value.

    :raises BadRequest: for unknown values, or ``count`` where it makes no sense.
    """
    if value is None or value == "false":
        return None
    if value not in SUMMARY_MODES or (value == "count" and not allow_count):
        allowed = ", ".join(m for m in SUMMARY_MODES if allow_count or m != "count")
        raise BadRequest(f"`_summary={value}` is not supported here; use one of {allowed}.")
    return value


def subset(resource: dict[str, Any], summary: str | None, elements: list[str] | None) -> dict[str, Any]:
    """The part of ``resource`` to return for ``_summary``/``_elements``; the input is not changed."""
    resource_type = resource["resourceType"]
    if summary == "data":
        kept = {k: v for k, v in resource.items() if k != "text"}
    elif summary == "true":
        keep = summary_elements(resource_type) | _ALWAYS
        kept = {k: v for k, v in resource.items() if k in keep}
    elif summary == "text":
        keep = mandatory_elements(resource_type) | _ALWAYS | {"text"}
        kept = {k: v for k, v in resource.items() if k in keep}
    elif elements:
        keep = frozenset(elements) | _ALWAYS | mandatory_elements(resource_type)
        kept = {k: v for k, v in resource.items() if k in keep}
    else:
        return resource
    meta = dict(kept.get("meta") or {})
    meta["tag"] = [*meta.get("tag", []), SUBSETTED]
    kept["meta"] = meta
    return kept


def parse_elements(value: str | None) -> list[str] | None:
    """Element names from ``_elements=a,b``; names may be prefixed ``Type.`` as some clients send."""
    if not value:
        return None
    return [name.strip().split(".")[-1] for name in value.split(",") if name.strip()]

"""Builds the server's CapabilityStatement from what is actually routed.

No Flask here: the REST layer passes its route table in, so adding a route is
the only way to claim an interaction (http://hl7.org/fhir/R4/capabilitystatement.html).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from conformance.resource_types import R4_RESOURCE_TYPES
from conformance.search_parameters import SearchRegistry, default_registry

#: Parameter types the search planner implements (special is not yet).
SEARCHABLE_TYPES = frozenset({"string", "token", "date", "number", "quantity", "reference", "uri", "composite"})

SOFTWARE_NAME = "fhir-server"
SOFTWARE_VERSION = "0.1.0"
#: Definitions of the operations we implement, by ``$name``.
OPERATION_DEFINITIONS = {
    "$validate": "http://hl7.org/fhir/OperationDefinition/Resource-validate",
    "$everything": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
    "$lastn": "http://hl7.org/fhir/OperationDefinition/Observation-lastn",
    "$risk-assessment": "urn:fhir-server:OperationDefinition:risk-assessment",
}
#: Operations defined on some resource types only; the others apply to every type.
OPERATION_TYPES = {
    "$everything": ("Patient",),
    "$lastn": ("Observation",),
    "$risk-assessment": ("Patient", "Encounter"),
}
#: ``CapabilityStatement.rest.resource.operation.documentation`` for this server's own operations.
OPERATION_DOCUMENTATION = {
    "$risk-assessment": (
        "POST only. Scores NEWS2 and the in-hospital mortality model for the Patient's latest Encounter "
        "(or the given Encounter) from the patient's Observations, stores the RiskAssessments "
        "(probabilityDecimal, occurrenceDateTime, basis) and the high-risk Flag, and returns them as a "
        "collection Bundle. In: optional Parameters with `threshold` (valueDecimal, default 0.3)."
    )
}
#: Route codes that are not interactions but flags of the resource entry (``conditionalUpdate``...).
CONDITIONAL_CODES = frozenset({"conditional-update", "conditional-delete"})


def build_capability_statement(
    routed: Iterable[tuple[str, str]],
    base_url: str,
    registry: SearchRegistry | None = None,
    *,
    conditional_delete: str = "single",
) -> dict[str, Any]:
    """A CapabilityStatement for the given ``(level, interaction)`` pairs.

    :param routed: ``level`` is ``type``/``instance`` (per resource type) or ``system``;
        ``interaction`` is a RESTful interaction code or ``$operation``.
    :param registry: the search parameters to list per type (only when ``search-type`` is routed).
    :param conditional_delete: ``single`` or ``multiple``, when ``conditional-delete`` is routed.
    """
    registry = registry or default_registry()
    routed = list(routed)
    # dict.fromkeys: de-duplicate while keeping the route table's order.
    operations = list(dict.fromkeys(code for _, code in routed if code.startswith("$")))
    system_codes = list(dict.fromkeys(c for level, c in routed if level == "system" and not c.startswith("$")))
    type_codes = list(dict.fromkeys(c for level, c in routed if level != "system" and not c.startswith("$")))
    flags = {code for code in type_codes if code in CONDITIONAL_CODES}
    type_codes = [code for code in type_codes if code not in CONDITIONAL_CODES]
    if "transaction" in system_codes:
        system_codes.append("batch")  # the same route processes both Bundle types
    searchable = registry if "search-type" in type_codes else None
    resources = [
        _resource_entry(resource_type, type_codes, operations, searchable)
        for resource_type in sorted(R4_RESOURCE_TYPES)
    ]
    for entry in resources:
        entry["conditionalCreate"] = "create" in type_codes  # the create route honours If-None-Exist
        entry["conditionalUpdate"] = "conditional-update" in flags
        entry["conditionalDelete"] = conditional_delete if "conditional-delete" in flags else "not-supported"
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": datetime.now(UTC).date().isoformat(),
        "kind": "instance",
        "software": {"name": SOFTWARE_NAME, "version": SOFTWARE_VERSION},
        "implementation": {
            "description": "FHIR R4 server with HL7 v2, DICOM and risk-scoring adapters",
            "url": base_url,
        },
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "rest": [
            {
                "mode": "server",
                "resource": resources,
                "interaction": [{"code": code} for code in system_codes if code != "capabilities"],
            }
        ],
    }


def _search_params(registry: SearchRegistry, resource_type: str) -> list[dict[str, Any]]:
    """Every parameter the planner can search, as ``CapabilityStatement.rest.resource.searchParam``."""
    listed = []
    for code, param in sorted(registry.for_type(resource_type).items()):
        if param.type in SEARCHABLE_TYPES or code in ("_id", "_lastUpdated"):
            listed.append({"name": code, "definition": param.url, "type": param.type})
    return listed


def _resource_entry(
    resource_type: str, codes: list[str], operations: list[str], registry: SearchRegistry | None
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "type": resource_type,
        "profile": f"http://hl7.org/fhir/StructureDefinition/{resource_type}",
        "interaction": [{"code": code} for code in codes],
        "versioning": "versioned-update",
        "readHistory": "vread" in codes,
        "updateCreate": "update" in codes,
        "conditionalRead": "full-support" if "read" in codes else "not-supported",
        "conditionalUpdate": False,
        "conditionalDelete": "not-supported",
    }
    if registry is not None:
        params = _search_params(registry, resource_type)
        entry["searchInclude"] = ["*"] + [f"{resource_type}:{p['name']}" for p in params if p["type"] == "reference"]
        entry["searchRevInclude"] = ["*"]
        entry["searchParam"] = params
    mine = [name for name in operations if resource_type in OPERATION_TYPES.get(name, (resource_type,))]
    if mine:
        entry["operation"] = [
            {"name": name.lstrip("$"), "definition": OPERATION_DEFINITIONS[name]}
            | ({"documentation": OPERATION_DOCUMENTATION[name]} if name in OPERATION_DOCUMENTATION else {})
            for name in mine
        ]
    return entry

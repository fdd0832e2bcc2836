"""FHIR $risk-assessment operation (this server's own), on Patient and Encounter instances.

http://hl7.org/fhir/R4/operations.html - ``POST [base]/Patient/[id]/$risk-assessment``
scores the patient's latest stay, ``POST [base]/Encounter/[id]/$risk-assessment``
that stay. The patient's Observations are read by search; NEWS2 and the
mortality model are computed (:mod:`ml.scoring`) and their RiskAssessments
(``probabilityDecimal``, ``occurrenceDateTime``, ``basis``), plus the high-risk
Flag when it applies, are stored as new versions in this request's transaction.

The operation has one out parameter, ``return``, a Bundle; by the operations
framework's rule for a single resource named ``return`` the Bundle is the whole
response body, not wrapped in Parameters. It is a ``collection`` of the stored
resources, each with its ``meta.versionId``. Not idempotent (it writes), so POST only.
"""

from __future__ import annotations

from typing import Any

import orjson
from flask import Response, request

from fhir_server.errors import BadRequest, MethodNotAllowed
from fhir_server.repository import StoredResource
from fhir_server.rest.http import base_url, json_response, read_resource_body
from fhir_server.rest.request_scope import repository, transactional
from ml.service import DEFAULT_THRESHOLD, SCORABLE_TYPES, assess_and_store

#: Canonical URL of :data:`OPERATION_DEFINITION`.
CANONICAL = "urn:fhir-server:OperationDefinition:risk-assessment"
#: What the CapabilityStatement says about the operation.
DOCUMENTATION = (
    "Scores NEWS2 and the in-hospital mortality model (ml/MODEL_CARD.md) for the Patient's latest "
    "Encounter, or the given Encounter, from the patient's Observations; stores and returns the "
    "RiskAssessments (and the high-risk Flag) as a collection Bundle. In: optional `threshold` (decimal)."
)
OPERATION_DEFINITION: dict[str, Any] = {
    "resourceType": "OperationDefinition",
    "id": "risk-assessment",
    "url": CANONICAL,
    "name": "RiskAssessment",
    "status": "active",
    "kind": "operation",
    "description": DOCUMENTATION,
    "affectsState": True,
    "code": "risk-assessment",
    "resource": list(SCORABLE_TYPES),
    "system": False,
    "type": False,
    "instance": True,
    "parameter": [
        {
            "name": "threshold", "use": "in", "min": 0, "max": "1", "type": "decimal",
            "documentation": f"Probability at or above which the model raises a Flag (default {DEFAULT_THRESHOLD}).",
        },
        {
            "name": "return", "use": "out", "min": 1, "max": "1", "type": "Bundle",
            "documentation": "A collection Bundle of the stored RiskAssessments (NEWS2, model) and Flag.",
        },
    ],
}  # fmt: skip


def parse_in_params(body: dict[str, Any] | None) -> float:
    """Return the ``threshold`` from an optional Parameters body.

    :raises BadRequest: if the body is not a Parameters or the threshold is not in [0, 1].
    """
    if body is None:
        return DEFAULT_THRESHOLD
    if body.get("resourceType") != "Parameters":
        raise BadRequest(f"$risk-assessment takes a Parameters body, not `{body.get('resourceType')}`.")
    threshold = DEFAULT_THRESHOLD
    for param in body.get("parameter") or []:
        if param.get("name") == "threshold":
            value = param.get("valueDecimal")
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 1:
                raise BadRequest(f"`threshold` must be a valueDecimal between 0 and 1, not `{value}`.")
            threshold = float(value)
    return threshold


def render_out_params(base: str, stored: list[StoredResource]) -> dict[str, Any]:
    """Return the ``return`` Bundle: a collection of the stored resources."""
    # The stored bytes are embedded as they are, as search results are.
    entries = [{"fullUrl": f"{base}/{s.reference}", "resource": orjson.Fragment(s.content or b"{}")} for s in stored]
    return {"resourceType": "Bundle", "type": "collection", "total": len(entries), "entry": entries}


@transactional
def risk_assessment(resource_type: str, resource_id: str) -> Response:
    """``POST [base]/Patient|Encounter/[id]/$risk-assessment``."""
    if resource_type not in SCORABLE_TYPES:
        raise MethodNotAllowed(f"$risk-assessment is defined on Patient and Encounter, not `{resource_type}`.")
    threshold = parse_in_params(read_resource_body() if request.content_length else None)
    stored = assess_and_store(repository(), resource_type, resource_id, threshold=threshold)
    return json_response(render_out_params(base_url(), stored))

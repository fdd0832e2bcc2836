"""FHIR delete interaction.

http://hl7.org/fhir/R4/http.html#delete
"""

from __future__ import annotations

from flask import Response, request

from conformance.issues import ValidationIssue
from fhir_server.errors import operation_outcome
from fhir_server.rest.http import if_match_version, json_response, version_headers
from fhir_server.rest.negotiation import parse_prefer_return
from fhir_server.rest.request_scope import repository, transactional


@transactional
def delete(resource_type: str, resource_id: str) -> Response:
    """``DELETE [base]/[type]/[id]``: 200 with an OperationOutcome (204 with ``return=minimal``)."""
    stored = repository().delete(resource_type, resource_id, if_match=if_match_version())
    if parse_prefer_return(request.headers.get("Prefer")) == "minimal":
        response = Response(status=204)
    else:
        message = (
            f"Deleted `{resource_type}/{resource_id}`; version `{stored.version_id}` records the deletion."
            if stored
            else f"`{resource_type}/{resource_id}` does not exist or is already deleted; nothing changed."
        )
        response = json_response(operation_outcome([ValidationIssue("information", "informational", message, None)]))
    return version_headers(response, stored) if stored else response

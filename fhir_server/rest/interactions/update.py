"""FHIR update interaction (including update-as-create with a client-assigned id).

http://hl7.org/fhir/R4/http.html#update
"""

from __future__ import annotations

from flask import Response

from fhir_server.rest.http import if_match_version, read_resource_body, write_response
from fhir_server.rest.request_scope import repository, transactional


@transactional
def update(resource_type: str, resource_id: str) -> Response:
    """``PUT [base]/[type]/[id]``: 200 for a new version, 201 when it created the resource."""
    body = read_resource_body()
    result = repository().update(resource_type, resource_id, body, if_match=if_match_version())
    stored = result.stored
    verb = "Created" if result.created else "Updated"
    return write_response(
        stored, 201 if result.created else 200, f"{verb} `{stored.reference}` at version `{stored.version_id}`."
    )

"""FHIR create interaction.

http://hl7.org/fhir/R4/http.html#create
"""

from __future__ import annotations

from flask import Response, request

from fhir_server.errors import BadRequest
from fhir_server.repository import check_resource_type
from fhir_server.rest.http import read_resource_body, write_response
from fhir_server.rest.interactions.conditional import conditional_create
from fhir_server.rest.request_scope import repository, transactional


@transactional
def create(resource_type: str) -> Response:
    """``POST [base]/[type]``: 201 Created with Location, ETag and Last-Modified."""
    check_resource_type(resource_type)
    body = read_resource_body()
    if body.get("resourceType") != resource_type:
        raise BadRequest(
            f"The body's `resourceType` is `{body.get('resourceType')}`, but it was posted to `{resource_type}`.",
            expression="resourceType",
        )
    if request.headers.get("If-None-Exist"):
        return conditional_create(body, request.headers["If-None-Exist"])
    stored = repository().create(body)
    return write_response(stored, 201, f"Created `{stored.reference}` at version `{stored.version_id}`.")

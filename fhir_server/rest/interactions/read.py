"""FHIR read interaction.

http://hl7.org/fhir/R4/http.html#read (conditional read: #cread)
"""

from __future__ import annotations

from flask import Response

from fhir_server.rest.http import not_modified, not_modified_response, resource_response
from fhir_server.rest.request_scope import repository


def read(resource_type: str, resource_id: str) -> Response:
    """``GET [base]/[type]/[id]``."""
    stored = repository().read(resource_type, resource_id)
    if not_modified(stored):
        return not_modified_response(stored)
    return resource_response(stored)

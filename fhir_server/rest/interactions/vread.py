"""FHIR vread interaction.

http://hl7.org/fhir/R4/http.html#vread
"""

from __future__ import annotations

from flask import Response

from fhir_server.rest.http import resource_response
from fhir_server.rest.request_scope import repository


def vread(resource_type: str, resource_id: str, version_id: str) -> Response:
    """``GET [base]/[type]/[id]/_history/[vid]``."""
    return resource_response(repository().vread(resource_type, resource_id, version_id))

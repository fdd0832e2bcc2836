"""FHIR search interaction at system level (``_type`` names the types).

http://hl7.org/fhir/R4/http.html#search
"""

from __future__ import annotations

from flask import Response

from conformance.resource_types import R4_RESOURCE_TYPES
from fhir_server.repository import check_resource_type
from fhir_server.rest.search_support import request_pairs, run


def search_system() -> Response:
    """``GET [base]?_type=A,B&params`` and ``POST [base]/_search``; without ``_type``, every type."""
    pairs = request_pairs()
    types = [t for name, value in pairs if name == "_type" for t in value.split(",") if t]
    for resource_type in types:
        check_resource_type(resource_type)
    return run(types or sorted(R4_RESOURCE_TYPES), "", pairs)

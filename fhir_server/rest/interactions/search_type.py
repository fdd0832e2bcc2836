"""FHIR search interaction at type level, and compartment search.

http://hl7.org/fhir/R4/http.html#search, http://hl7.org/fhir/R4/search.html
"""

from __future__ import annotations

from flask import Response

from fhir_server.repository import check_resource_type
from fhir_server.rest.search_support import request_pairs, run


def search_type(resource_type: str) -> Response:
    """``GET [base]/[type]?params`` and ``POST [base]/[type]/_search``."""
    check_resource_type(resource_type)
    return run([resource_type], resource_type, request_pairs())


def search_compartment(compartment_type: str, compartment_id: str, resource_type: str) -> Response:
    """``GET [base]/[Compartment]/[id]/[type]?params`` (http://hl7.org/fhir/R4/compartmentdefinition.html)."""
    check_resource_type(compartment_type)
    check_resource_type(resource_type)
    path = f"{compartment_type}/{compartment_id}/{resource_type}"
    return run([resource_type], path, request_pairs(), compartment=(compartment_type, compartment_id))
